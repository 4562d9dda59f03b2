from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.audio.tonal import TonalConfig, TonalTracker, _explained, _related
from zhurong_tk.synth import audio as synth_audio


def track(scene, sr):
    tracker = TonalTracker(sr)
    for block in synth_audio.render(scene, sr=sr):
        tracker.update(block)
    return tracker.lines()


@pytest.mark.parametrize(
    ("seed", "sr"), [(0, 48_000), (1, 16_000), (2, 100_000), (3, 44_100), (4, 8_000)]
)
def test_motor_fundamentals_within_half_a_hertz(seed, sr):
    scene = synth_audio.egress_scene(seed=seed)
    lines = sorted(track(scene, sr), key=lambda line: line.start_s)
    truth = [s for s in scene["segments"] if s["kind"] == "tonal"]
    assert len(lines) == len(truth)
    for line, seg in zip(lines, truth, strict=True):
        assert line.freq_start_hz == pytest.approx(seg["f0_hz"], abs=0.5)
        assert line.freq_end_hz == pytest.approx(seg["f1_hz"], abs=0.5)
        assert [h.number for h in line.harmonics] == seg["harmonics"]
        assert line.drift_hz_per_s == pytest.approx(
            (seg["f1_hz"] - seg["f0_hz"]) / (seg["end_s"] - seg["start_s"]), abs=0.1
        )


@pytest.mark.parametrize(("seed", "sr"), [(0, 48_000), (1, 100_000), (2, 44_100), (3, 8_000)])
def test_rotor_tone_buried_10_db_under_wind_is_found(seed, sr):
    scene = synth_audio.tone_in_wind_scene(f0_hz=84.0, harmonics=(1, 2), snr_db=-10.0, seed=seed)
    lines = track(scene, sr)
    assert len(lines) == 1
    line = lines[0]
    assert line.freq_hz == pytest.approx(84.0, abs=0.5)
    assert [h.number for h in line.harmonics] == [1, 2]
    assert line.harmonics[1].freq_hz == pytest.approx(168.0, abs=1.0)
    assert line.start_s == pytest.approx(4.0, abs=1.5) and line.end_s == pytest.approx(
        16.0, abs=1.5
    )


def test_wind_alone_has_no_tonal_lines():
    scene = {**synth_audio.egress_scene(duration_s=60.0, seed=8), "segments": [], "impulses": []}
    assert track(scene, 48_000) == []


def test_harmonic_relations():
    assert _related(84.0, 168.2) and _related(300.0, 100.0) and not _related(119.0, 178.5)
    assert _explained([357.4, 476.6], 119.16) and not _explained([357.4, 500.0], 119.16)


@pytest.mark.parametrize("blocks", [[50_000], [1, 9, 100, 7_000, 42_890], [30_000, 20_000]])
def test_decimation_does_not_depend_on_how_the_stream_is_cut(blocks):
    sr = 48_000
    x = np.random.default_rng(3).normal(0, 0.2, sum(blocks)).astype(np.float32)
    tracker = TonalTracker(sr)
    kept, start = [], 0
    for size in blocks:
        kept.append(tracker._decimate(x[start : start + size]))
        tracker._samples_in += size
        start += size
    out = np.concatenate(kept)
    # the filter over the stream with zero history, taken at multiples of q
    full = np.convolve(x.astype(np.float64), tracker.taps.astype(np.float64))[: len(x)]
    np.testing.assert_allclose(out, full[:: tracker.q], rtol=1e-4, atol=1e-5)


def test_the_shortest_line_is_kept_to_in_long_recordings():
    # a 2-s tone in 30 s: reported at min_duration_s 1, not at 4 (short windows are only
    # for short recordings)
    sr = 8000
    t = np.arange(30 * sr) / sr
    x = 0.05 * np.sin(2 * np.pi * 150 * t) * ((t >= 8) & (t < 10))
    x = (x + 0.005 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)
    found = {}
    for shortest in (1.0, 4.0):
        tracker = TonalTracker(sr, TonalConfig(min_duration_s=shortest), duration_s=30.0)
        tracker.update(x)
        found[shortest] = [round(line.freq_hz) for line in tracker.lines()]
    assert found == {1.0: [150], 4.0: []}
