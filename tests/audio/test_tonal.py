from __future__ import annotations

import dataclasses

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


@pytest.mark.parametrize("seed", [22, 30])
def test_a_clank_train_at_the_band_top_is_no_tone(seed):
    # its 1850 Hz ringing's skirt once read as an 11 dB tone at 1998 Hz, the top bins'
    # background cut short by the band's end
    scene = synth_audio.egress_scene(seed=seed, duration_s=40.0)
    lines = track(scene, 24_000)
    truth = [s["f0_hz"] for s in scene["segments"] if s["kind"] == "tonal"]
    assert [round(line.freq_start_hz) for line in lines] == [round(f) for f in truth]


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


def _pure_tone(f_hz, sr, duration_s, amplitude, noise, seed):
    rng = np.random.default_rng(seed)
    n = int(sr * duration_s)
    hiss = rng.standard_normal(n)
    if noise == "pink":  # 1/f power: the low band loud, as wind is
        spectrum = np.fft.rfft(hiss) / np.sqrt(np.maximum(np.arange(n // 2 + 1), 1))
        hiss = np.fft.irfft(spectrum, n)
        hiss /= hiss.std()
    t = np.arange(n) / sr
    return (amplitude * np.sin(2 * np.pi * f_hz * t) + 0.01 * hiss).astype(np.float32)


@pytest.mark.parametrize("noise", ["white", "pink"])
@pytest.mark.parametrize("sr", [8_000, 44_100, 100_000])
@pytest.mark.parametrize("f_hz", [525.0, 700.0, 1400.0])
def test_a_pure_tone_is_one_line_at_its_own_frequency(f_hz, sr, noise):
    # Noise at the other harmonics of f/2 can out-score the tone's own candidate: a tone is
    # not its subharmonic when every harmonic heard is even. 1400 Hz lies above f0_max_hz
    # (1000): only its subharmonic candidates see it, and it must still be 1400 Hz, h1.
    x = _pure_tone(f_hz, sr, 20.0, 0.03, noise, seed=int(f_hz) + sr)
    tracker = TonalTracker(sr, duration_s=20.0)
    tracker.update(x)
    lines = tracker.lines()
    assert [(round(line.freq_hz), [h.number for h in line.harmonics]) for line in lines] == [
        (round(f_hz), [1])
    ]
    assert lines[0].start_s < 1.5 and lines[0].end_s > 18.5


def _mixture(sr, duration_s, parts, noise_db=-50.0, seed=0):
    """Sines ``(freq_hz, amplitude[, on_s, off_s])`` in white noise at ``noise_db`` dBFS."""
    t = np.arange(int(sr * duration_s)) / sr
    x = np.zeros_like(t)
    for freq, amplitude, *span in parts:
        on = ((t >= span[0]) & (t < span[1])) if span else 1.0
        x += amplitude * np.sin(2 * np.pi * freq * t) * on
    if noise_db is not None:
        x += np.random.default_rng(seed).standard_normal(len(t)) * 10 ** (noise_db / 20)
    return x.astype(np.float32)


@pytest.mark.parametrize(
    ("sr", "parts", "noise_db", "expected"),
    [
        # an unrelated tone near a high multiple of a lower line is its own line
        (8_000, [(84, 0.05), (1500, 0.05)], -50, [84, 1500]),
        (8_000, [(84, 0.05), (833, 0.05)], -50, [84, 833]),
        (8_000, [(84, 0.05), (337, 0.05)], -50, [84, 337]),  # 1 Hz off 4 × 84
        # two resolved tones a few per cent apart are two tones
        (48_000, [(1000, 0.05), (1015, 0.05)], -50, [1000, 1015]),
        (8_000, [(500, 0.05), (508, 0.05)], -50, [500, 508]),
        # a harmonic read on another tone's skirt makes no fundamental between them
        (48_000, [(100, 0.1), (710, 0.1)], -50, [100, 710]),
        (48_000, [(100, 0.05), (350, 0.05)], -50, [100, 350]),  # not 50 Hz with h2, h7
        # a strong low tone's window sidelobes (2-3 bins out) are no tones
        (48_000, [(60, 0.3)], -80, [60]),
        (48_000, [(30, 0.3)], -80, [30]),
        (8_000, [(53, 0.3)], -80, [53]),
        # a clean digital tone: rounding spurs 140 dB down are no tones
        (48_000, [(1234, 0.1)], None, [1234]),
        (48_000, [(84, 0.1)], None, [84]),
    ],
)
def test_tones_are_reported_as_the_tones_they_are(sr, parts, noise_db, expected):
    tracker = TonalTracker(sr, duration_s=10.0)
    tracker.update(_mixture(sr, 10.0, parts, noise_db))
    found = sorted(line.freq_hz for line in tracker.lines())
    assert found == pytest.approx(expected, abs=0.3)


def test_a_flat_comb_is_one_line_at_its_fundamental():
    # a buzz of 40 equal harmonics of 49 Hz: f0, 2f0, 3f0... score alike in one window;
    # the fundamental, heard at harmonics the others miss, explains them all
    sr = 8_000
    parts = [(49 * k, 0.02) for k in range(1, 9)]
    tracker = TonalTracker(sr, duration_s=10.0)
    tracker.update(_mixture(sr, 10.0, parts, -60))
    lines = tracker.lines()
    assert [round(line.freq_hz) for line in lines] == [49]
    assert [h.number for h in lines[0].harmonics] == list(range(1, 9))


def test_a_loud_tone_switched_off_for_seconds_is_two_lines():
    sr = 48_000
    x = _mixture(sr, 26.0, [(300, 0.05, 2.0, 10.0), (300, 0.05, 16.0, 24.0)])
    tracker = TonalTracker(sr, duration_s=26.0)
    tracker.update(x)
    spans = [(line.start_s, line.end_s) for line in tracker.lines()]
    assert len(spans) == 2 and spans[0][1] < 13.0 < spans[1][0]


def _wind_with_a_burst(sr, burst_s, level_dbfs, length_s, seed, tone=None):
    """20 s of low-passed noise (wind, -30 dBFS) with a burst of white noise; optionally a
    tone ``(f0, dBFS)`` with its octave from 4 to 16 s."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    sos = scipy.signal.butter(2, 250, fs=sr, output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal(20 * sr))
    x *= 10 ** (-30 / 20) / x.std()
    a, b = int(burst_s * sr), int((burst_s + length_s) * sr)
    x[a:b] += rng.standard_normal(b - a) * 10 ** (level_dbfs / 20)
    if tone is not None:
        t = np.arange(len(x)) / sr
        on = (t >= 4.0) & (t < 16.0)
        x += (
            on
            * 10 ** (tone[1] / 20)
            * (np.sin(2 * np.pi * tone[0] * t) + np.sin(4 * np.pi * tone[0] * t))
        )
    tracker = TonalTracker(sr)
    tracker.update(x.astype(np.float32))
    return tracker.lines()


@pytest.mark.parametrize(
    ("burst_s", "level_dbfs", "length_s", "seed"),
    [
        (5.3, -20, 0.5, 1),
        (11.9, -20, 0.5, 5),
        (6.2, -15, 0.3, 14),
        (10.3, -20, 1.0, 17),
        (5.4, -15, 0.3, 20),
        (6.8, -15, 0.3, 21),
        (6.8, -20, 1.0, 21),
    ],
)
def test_a_short_loud_burst_of_noise_is_no_tone(burst_s, level_dbfs, length_s, seed):
    # a burst lies in one window, but in all three averaged with it: its random peaks stood
    # still over three spectra and made a line (each of these did; on 36 other bursts, 9
    # false lines, now 1). Open: a burst split over two windows can still read as a lone
    # tone above 1 kHz (1 s at -20 dBFS, seed 9 at 8.3 s: 1050 Hz).
    assert _wind_with_a_burst(24_000, burst_s, level_dbfs, length_s, seed) == []


def test_a_tone_through_a_burst_of_noise_is_still_one_line():
    (line,) = _wind_with_a_burst(24_000, 10.0, -20, 0.5, 9, tone=(84.0, -40))
    assert line.freq_hz == pytest.approx(84.0, abs=0.5)
    assert line.start_s == pytest.approx(4.0, abs=1.0) and line.end_s == pytest.approx(
        16.0, abs=1.0
    )


@pytest.mark.parametrize("f_hz", [12_000.0, 20_000.0, 24_000.0])
@pytest.mark.parametrize("with_tone", [False, True])
def test_a_tone_above_the_searched_band_does_not_fold_into_it(f_hz, with_tone):
    # the search runs on a decimated copy (48 kHz / 9 here): 12 kHz folds to 1333 Hz, and
    # the 80 dB the filter stops was read as an 88-dB-clean tone where nothing else was
    sr = 48_000
    n = 10 * sr
    t = np.arange(n) / sr
    rng = np.random.default_rng(int(f_hz))
    x = 0.5 * np.cos(2 * np.pi * f_hz * t) + 10 ** (-100 / 20) * rng.standard_normal(n)
    if with_tone:  # a real tone 60 dB under the loud one is still heard
        x += 5e-4 * np.sin(2 * np.pi * 440.0 * t)
    tracker = TonalTracker(sr, duration_s=10.0)
    tracker.update(x.astype(np.float32))
    assert [round(line.freq_hz) for line in tracker.lines()] == ([440] if with_tone else [])


@pytest.mark.parametrize(("f0", "sr"), [(100.0, 48_000), (200.0, 48_000), (84.0, 44_100)])
def test_a_clean_comb_is_one_line_at_its_fundamental(f0, sr):
    # eight equal harmonics, no noise: some fall on exact bins, where their background is
    # empty and they stand ~100 dB up, the others ~50 dB against their skirts. That one
    # harmonic outweighed the rest: 100 Hz read as 300, 400, 500 and 700 Hz
    t = np.arange(10 * sr) / sr
    x = sum(0.05 * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 9)).astype(np.float32)
    tracker = TonalTracker(sr, duration_s=10.0)
    tracker.update(x)
    (line,) = tracker.lines()
    assert line.freq_hz == pytest.approx(f0, abs=0.5)
    assert [h.number for h in line.harmonics] == list(range(1, 9))


# --- rover-like scenes with a known truth: wind, motors (steady or sweeping), clank trains ---


def _rover_scene(sr, duration_s, *, motors=(), clank_period_s=None, seed=0):
    """Wind (2nd-order low pass at 250 Hz, -40 dBFS) with motors and a clank train.

    ``motors``: ``(f_start_hz, f_end_hz, on_s, off_s, levels_db)``, a fundamental sweeping
    linearly from ``f_start_hz`` to ``f_end_hz`` between ``on_s`` and ``off_s`` (50 ms
    fades), its harmonics 1, 2, ... at ``levels_db`` relative to each other, -30 dBFS in all;
    or with a function of time (s) giving the fundamental (Hz) for ``f_start_hz`` (and
    ``f_end_hz`` None).
    ``clank_period_s``: a pinion's clanks from 2 s to 12 s (-14 dBFS rings at 1850, 3120 and
    4700 Hz decaying in 30, 22 and 15 ms, as :mod:`zhurong_tk.synth.audio` makes them).
    """
    import scipy.signal

    rng = np.random.default_rng(seed)
    n = int(sr * duration_s)
    t = np.arange(n) / sr
    sos = scipy.signal.butter(2, 250, fs=sr, output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    x *= 10 ** (-40 / 20) / x.std()
    for f_start, f_end, on_s, off_s, levels_db in motors:
        tau = t - on_s
        if callable(f_start):
            phase = 2 * np.pi * np.cumsum(f_start(t)) / sr
        else:
            phase = 2 * np.pi * (f_start * tau + 0.5 * (f_end - f_start) / (off_s - on_s) * tau**2)
        amplitudes = 10 ** (np.asarray(levels_db) / 20)
        amplitudes *= 10 ** (-30 / 20) * np.sqrt(2) / np.sqrt(np.sum(amplitudes**2))
        fade = np.clip(np.minimum(t - on_s, off_s - t) / 0.05, 0, 1)
        envelope = 0.5 - 0.5 * np.cos(np.pi * fade)
        for number, amplitude in enumerate(amplitudes, start=1):
            x += envelope * amplitude * np.sin(number * phase)
    if clank_period_s is not None:
        for onset in np.arange(2.0, 12.0 - 1e-9, clank_period_s):
            i = int(onset * sr + 0.5)
            tau = np.arange(int(0.2 * sr)) / sr
            ring = sum(
                np.exp(-tau / decay) * np.sin(2 * np.pi * f * tau)
                for f, decay in ((1850.0, 0.030), (3120.0, 0.022), (4700.0, 0.015))
                if f < 0.45 * sr
            )
            x[i : i + len(tau)] += 10 ** (-14 / 20) * ring[: n - i]
    return x.astype(np.float32)


def _lines_of(x, sr):
    tracker = TonalTracker(sr, duration_s=len(x) / sr)
    tracker.update(x)
    return tracker.lines()


@pytest.mark.parametrize(
    ("period_s", "sr"),
    [(0.1, 16_000), (0.15, 16_000), (0.2, 16_000), (0.25, 16_000), (0.3, 16_000), (0.3, 96_000)],
)
def test_a_regular_clank_train_is_no_tone(period_s, sr):
    # The train's spectrum is a comb at multiples of its rate (10 Hz at 0.1 s) shaped by the
    # clank's rings: any multiple of the rate found its "harmonics" on the comb's teeth
    # (0.1 s: 8 lines at 220-330 Hz, their fundamentals never heard; 0.3 s: 1643 Hz).
    lines = _lines_of(_rover_scene(sr, 14.0, clank_period_s=period_s), sr)
    assert [round(line.freq_hz, 1) for line in lines] == []


@pytest.mark.parametrize(("period_s", "f0_hz"), [(0.1, 120.0), (0.15, 123.4), (0.25, 97.3)])
def test_a_motor_heard_through_a_clank_train_is_one_line(period_s, f0_hz):
    # 120 Hz is a multiple of the 10 Hz comb: the motor's harmonics lie on its teeth
    sr = 16_000
    motor = (f0_hz, f0_hz, 1.0, 13.0, [0, -4, -8])
    lines = _lines_of(_rover_scene(sr, 14.0, motors=[motor], clank_period_s=period_s), sr)
    assert [[h.number for h in line.harmonics] for line in lines] == [[1, 2, 3]]
    assert lines[0].freq_hz == pytest.approx(f0_hz, abs=0.5)
    assert lines[0].start_s == pytest.approx(1.0, abs=0.5)
    assert lines[0].end_s == pytest.approx(13.0, abs=0.5)


def _summary(lines):
    return [(round(line.freq_hz, 1), [h.number for h in line.harmonics]) for line in lines]


@pytest.mark.parametrize(
    ("fa", "fb", "seed"),
    [(100.0, 150.0, 0), (90.0, 135.0, 2), (100.0, 133.3, 3), (120.0, 180.0, 1)],
)
def test_two_motors_at_a_small_ratio_are_two_lines(fa, fb, seed):
    # 100 and 150 Hz share a subharmonic, 50 Hz, whose harmonics 2, 3, 4 and 6 are all
    # heard: it was reported (harmonics [2, 3, 4, 6]) and the two motors cut in pieces
    sr = 16_000
    motors = [(fa, fa, 4.0, 16.0, [0, -4, -8]), (fb, fb, 6.0, 14.0, [0, -4, -8])]
    lines = sorted(
        _lines_of(_rover_scene(sr, 20.0, motors=motors, seed=seed), sr),
        key=lambda line: line.freq_hz,
    )
    assert [round(line.freq_hz) for line in lines] == [round(fa), round(fb)], _summary(lines)
    for line, f0, on_s, off_s in zip(lines, (fa, fb), (4.0, 6.0), (16.0, 14.0), strict=True):
        assert line.freq_hz == pytest.approx(f0, abs=0.5)
        # 4 x 100 Hz is 3 x 133.3 Hz: the lower line may claim it
        assert [h.number for h in line.harmonics][:3] == [1, 2, 3]
        # the long windows blur the edges by about a window (analyze refines them)
        assert line.start_s == pytest.approx(on_s, abs=1.5)
        assert line.end_s == pytest.approx(off_s, abs=1.5)


@pytest.mark.parametrize("seed", [257, 1, 2, 3, 4])
def test_a_motor_whose_third_harmonic_is_loudest_is_one_line(seed):
    # wind is weaker at 772 Hz than at 257 Hz: the 3rd harmonic stood 42 dB up, the
    # fundamental and octave 29 and 34, and the power of the two did not reach a quarter of
    # the 3rd's; 515 and 772.5 Hz were reported as tones of their own (seeds 257, 1, 3, 4)
    # and the fundamental split around them
    sr = 8_000
    motor = (257.5, 257.5, 3.0, 11.0, [0, -3, -6])
    lines = _lines_of(_rover_scene(sr, 14.0, motors=[motor], seed=seed), sr)
    assert _summary(lines) == [(257.5, [1, 2, 3])]
    assert lines[0].start_s == pytest.approx(3.0, abs=1.0)
    assert lines[0].end_s == pytest.approx(11.0, abs=1.0)


@pytest.mark.parametrize(
    ("f0_hz", "f0_min_hz", "expected"),
    [
        (15.0, None, [(15.0, [1, 2, 3])]),  # was 30 and 45 Hz, each "harmonic 1"
        (10.5, 10.0, [(10.5, [1, 2, 3])]),
        (8.0, 10.0, []),  # below the range: not reported, and not as its harmonics
        (15.0, 20.0, []),
        (22.0, 20.0, [(22.0, [1, 2, 3])]),
    ],
)
def test_a_low_tone_is_one_line_or_none(f0_hz, f0_min_hz, expected):
    sr = 16_000
    x = _rover_scene(sr, 20.0, motors=[(f0_hz, f0_hz, 4.0, 16.0, [0, -3, -6])])
    config = TonalConfig() if f0_min_hz is None else TonalConfig(f0_min_hz=f0_min_hz)
    tracker = TonalTracker(sr, config, duration_s=20.0)
    tracker.update(x)
    lines = tracker.lines()
    assert _summary(lines) == expected
    for line in lines:
        assert line.freq_hz == pytest.approx(f0_hz, abs=0.5)


def _sweep(f_start_hz, f_end_hz, on_s=4.0, off_s=16.0):
    """The true fundamental of a motor sweeping linearly between ``on_s`` and ``off_s``."""
    return lambda t: f_start_hz + (f_end_hz - f_start_hz) * (np.asarray(t) - on_s) / (off_s - on_s)


@pytest.mark.parametrize(
    ("sr", "f_start_hz", "f_end_hz"),
    [
        (16_000, 100.0, 120.0),  # was 7 lines, harmonics [1, 2] or [1, 3]
        (16_000, 100.0, 140.0),  # 4 lines, each [1]
        (16_000, 140.0, 100.0),  # 3 lines
        (16_000, 200.0, 150.0),  # none
        (48_000, 100.0, 110.0),  # one line, and a ghost 3rd harmonic at 313 Hz
        (16_000, 120.0, 120.0),  # steady: the long windows' line, as before
    ],
)
def test_a_sweeping_motor_is_one_line_along_its_sweep(sr, f_start_hz, f_end_hz):
    # 1.5-s windows, three averaged: a motor sweeping 1.7 Hz/s is in each averaged spectrum
    # at three frequencies, its 3rd harmonic smeared over 15 Hz
    x = _rover_scene(sr, 20.0, motors=[(f_start_hz, f_end_hz, 4.0, 16.0, [0, -4, -8])])
    lines = _lines_of(x, sr)
    assert len(lines) == 1, _summary(lines)
    (line,) = lines
    truth = _sweep(f_start_hz, f_end_hz)
    assert [h.number for h in line.harmonics] == [1, 2, 3]
    assert line.drift_hz_per_s == pytest.approx((f_end_hz - f_start_hz) / 12.0, abs=0.1)
    inside = (line.times_s > 4.5) & (line.times_s < 15.5)
    assert np.abs(line.freqs_hz[inside] - truth(line.times_s[inside])).max() < 0.5
    if f_start_hz != f_end_hz:  # a steady tone's edges are the long windows' (within one)
        assert line.start_s == pytest.approx(4.0, abs=0.25)
        assert line.end_s == pytest.approx(16.0, abs=0.25)
    assert line.freq_start_hz == pytest.approx(float(truth(line.start_s)), abs=0.5)
    assert line.freq_end_hz == pytest.approx(float(truth(line.end_s)), abs=0.5)


def test_a_line_given_new_edges_reads_its_frequencies_there():
    # analyze gives a line the edges of the segment it explains: its frequencies there are
    # read from its track, not kept from its old edges (107.4 Hz was reported at a start
    # where the motor ran at 100 Hz)
    sr = 16_000
    x = _rover_scene(sr, 20.0, motors=[(100.0, 140.0, 4.0, 16.0, [0, -4, -8])])
    (line,) = _lines_of(x, sr)
    truth = _sweep(100.0, 140.0)
    for start_s, end_s in [(4.0, 16.0), (6.0, 12.0), (4.5, 9.0), (11.0, 15.9)]:
        piece = dataclasses.replace(line, start_s=start_s, end_s=end_s, edges_from="segment")
        assert piece.freq_start_hz == pytest.approx(float(truth(start_s)), abs=0.5)
        assert piece.freq_end_hz == pytest.approx(float(truth(end_s)), abs=0.5)
        assert piece.to_dict()["freq_start_hz"] == round(piece.freq_start_hz, 3)


def test_a_sweeping_motor_in_the_analysis_starts_at_its_own_frequency():
    # end to end: the segment's edges, the line's frequencies at them (at 16 kHz the
    # segment itself starts 4 s late, not the tone finder's doing)
    from zhurong_tk.audio.analyze import AudioAnalyzer

    sr = 48_000
    x = _rover_scene(sr, 20.0, motors=[(100.0, 140.0, 4.0, 16.0, [0, -4, -8])])
    analyzer = AudioAnalyzer(sr=sr, channels=1)
    try:
        analyzer.update(x)
        result = analyzer.result()
    finally:
        analyzer.close()
    (line,) = result.channels[0].tonal_lines
    truth = _sweep(100.0, 140.0)
    assert line.start_s == pytest.approx(4.0, abs=0.25)
    assert line.end_s == pytest.approx(16.0, abs=0.25)
    assert line.freq_start_hz == pytest.approx(float(truth(line.start_s)), abs=0.5)
    assert line.freq_end_hz == pytest.approx(float(truth(line.end_s)), abs=0.5)


def _up_and_down(t):
    """100 Hz up to 120 Hz from 4 to 10 s, and back down by 16 s (3.3 Hz/s)."""
    return np.where(t < 10.0, 100.0 + 20.0 * (t - 4.0) / 6.0, 120.0 - 20.0 * (t - 10.0) / 6.0)


@pytest.mark.parametrize(
    "frequency",
    [_up_and_down, lambda t: 120.0 + 3.0 * np.sin(2 * np.pi * 0.2 * t)],  # 3.8 Hz/s at most
    ids=["up and down", "wobbling"],
)
def test_a_motor_speeding_up_and_slowing_down_is_one_line(frequency):
    # its line's drift (one slope) is nil: how fast it moves is read along its track
    sr = 16_000
    x = _rover_scene(sr, 20.0, motors=[(frequency, None, 4.0, 16.0, [0, -4, -8])])
    lines = _lines_of(x, sr)
    assert len(lines) == 1, _summary(lines)
    (line,) = lines
    assert [h.number for h in line.harmonics] == [1, 2, 3]
    assert line.start_s == pytest.approx(4.0, abs=0.25)
    assert line.end_s == pytest.approx(16.0, abs=0.25)
    # away from the ends and the turn (the averaged spectra round a corner off)
    inside = (line.times_s > 4.5) & (line.times_s < 15.5) & (np.abs(line.times_s - 10.0) > 1.0)
    assert np.abs(line.freqs_hz[inside] - frequency(line.times_s[inside])).max() < 0.5
    assert line.freq_start_hz == pytest.approx(float(frequency(line.start_s)), abs=0.5)
    assert line.freq_end_hz == pytest.approx(float(frequency(line.end_s)), abs=0.5)


def test_a_motor_sweeping_across_a_steady_one_is_one_line():
    # where the two are within a few hertz they read as one peak: the sweep's line lost
    # 3.5 s and was two pieces, too loud to be joined across the gap
    sr = 16_000
    motors = [(127.0, 127.0, 2.0, 18.0, [0, -4, -8]), (100.0, 140.0, 4.0, 16.0, [0, -4, -8])]
    lines = _lines_of(_rover_scene(sr, 20.0, motors=motors), sr)
    lines.sort(key=lambda line: line.drift_hz_per_s)
    assert len(lines) == 2, _summary(lines)
    steady, sweep = lines
    assert steady.freq_hz == pytest.approx(127.0, abs=0.5)
    assert [h.number for h in steady.harmonics] == [1, 2, 3]
    assert sweep.drift_hz_per_s == pytest.approx(40.0 / 12.0, abs=0.1)
    assert [h.number for h in sweep.harmonics] == [1, 2, 3]
    truth = _sweep(100.0, 140.0)
    assert sweep.start_s == pytest.approx(4.0, abs=0.25)
    assert sweep.end_s == pytest.approx(16.0, abs=0.25)
    assert sweep.freq_start_hz == pytest.approx(float(truth(sweep.start_s)), abs=0.5)
    assert sweep.freq_end_hz == pytest.approx(float(truth(sweep.end_s)), abs=0.5)
