from __future__ import annotations

import errno
import io
import json
import math

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from tests.conftest import BAD, sample_path
from zhurong_tk.audio import AnalysisParams, AudioAnalyzer, analyze, close_analysis
from zhurong_tk.audio.analyze import analyze_to_folder, write_frames_csv
from zhurong_tk.audio.frames_csv import FramesCsv
from zhurong_tk.cli.main import cli
from zhurong_tk.demo import match_segments
from zhurong_tk.errors import (
    MediaReadError,
    OutputWriteError,
    ParameterError,
    UnsupportedFormatError,
)
from zhurong_tk.io.outputs import dumps_json
from zhurong_tk.synth import audio as synth_audio


@pytest.fixture
def run():
    results = []

    def _run(path, params=None):
        result = analyze(path, params)
        results.append(result)
        return result

    yield _run
    for r in results:
        close_analysis(r)


def test_result_does_not_depend_on_block_size(rng):
    x = rng.standard_normal((50_000, 2)).astype(np.float32) * 0.1
    outs = []
    for block in (1000, 4096, 50_000):
        analyzer = AudioAnalyzer(sr=16_000, channels=2)
        for start in range(0, len(x), block):
            analyzer.update(x[start : start + block])
        result = analyzer.result()
        outs.append(
            (
                np.array(result.channels[1].frames),
                result.channels[1].psd.mean,
                result.channels[0].levels["rms"]["dbfs"],
            )
        )
        analyzer.close()
    for frames, psd, rms in outs[1:]:
        np.testing.assert_array_equal(frames, outs[0][0])
        np.testing.assert_allclose(psd, outs[0][1], rtol=1e-6)
        assert rms == pytest.approx(outs[0][2], abs=1e-4)  # float32 sums within a block


@pytest.mark.parametrize("channels", [1, 2])
def test_frames_csv_written_during_the_pass_equals_the_finished_table(tmp_path, rng, channels):
    x = rng.standard_normal((40_000, channels)).astype(np.float32) * 0.1
    x[8000:16000] = 0.0  # silence: empty dB cells
    path = tmp_path / "noise.wav"
    sf.write(path, x, 16_000, subtype="FLOAT")
    streamed = tmp_path / "streamed.csv"
    with FramesCsv(streamed) as sink:
        result = analyze(path, frame_sink=sink)
        sink.finish()
    after = io.StringIO()
    write_frames_csv(result, after)
    n_frames = len(result.channels[0].frames)
    close_analysis(result)
    text = streamed.read_text()
    assert text == after.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("channel,time_s," if channels > 1 else "time_s,rms,")
    assert len(lines) == 1 + n_frames * channels
    if channels > 1:  # channel after channel
        assert [line.split(",")[0] for line in lines[1:]] == ["0"] * n_frames + ["1"] * n_frames
    assert ",," in text  # the silent frames' band levels
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.wav", "streamed.csv"]


def test_frames_csv_is_in_pascals_and_db_spl_with_a_sensitivity(tmp_path):
    sr = 48_000
    t = np.arange(2 * sr) / sr
    path = tmp_path / "sine.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr, subtype="FLOAT")
    tables = {}
    for sensitivity in (None, 2.0):
        out = tmp_path / f"out_{sensitivity}"
        result, _ = analyze_to_folder(path, out, AnalysisParams(sensitivity_pa=sensitivity))
        close_analysis(result)
        lines = (out / "frames.csv").read_text().splitlines()
        header = lines[0].split(",")
        middle = dict(zip(header, map(float, lines[len(lines) // 2].split(",")), strict=True))
        tables[sensitivity] = middle
    plain, spl = tables[None], tables[2.0]
    assert plain["rms"] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert spl["rms_pa"] == pytest.approx(2.0 * plain["rms"], rel=1e-5)
    assert spl["octave_1000Hz_db_spl"] == pytest.approx(
        plain["octave_1000Hz_db"] + 20 * np.log10(2.0 / 20e-6), abs=1e-3
    )
    assert spl["octave_1000Hz_db_spl"] == pytest.approx(
        20 * np.log10(0.5 / np.sqrt(2) * 2.0 / 20e-6), abs=0.1
    )


def test_an_unreadable_input_is_a_read_error_and_leaves_no_folder(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(MediaReadError, match="truncated") as info:
        analyze_to_folder(BAD / "truncated.wav", out)
    assert not isinstance(info.value, OutputWriteError)  # not blamed on frames.csv
    assert not out.exists()


def test_frames_csv_on_a_full_disk_is_a_write_error_naming_it(tmp_path, monkeypatch):
    def full(self, channel, rows):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FramesCsv, "add", full)
    path = tmp_path / "egress.wav"
    synth_audio.write(path, synth_audio.egress_scene(duration_s=10.0), sr=8000, truth=False)
    with pytest.raises(OutputWriteError, match=r"frames\.csv: .*No space left") as info:
        analyze_to_folder(path, tmp_path / "out")
    assert info.value.errno == errno.ENOSPC
    assert not (tmp_path / "out").exists()


def test_a_run_failing_in_its_last_export_leaves_nothing_for_the_rerun(tmp_path, monkeypatch):
    # report.json, frames.csv, the figures and the first export were written: they stayed,
    # and the re-run without --overwrite refused them
    from zhurong_tk.audio import export as export_mod

    real_export = export_mod.export

    def export(path, target, **kw):
        if "band_hz" in kw:
            raise OSError(errno.EIO, "Input/output error")
        return real_export(path, target, **kw)

    path = tmp_path / "egress.wav"
    synth_audio.write(path, synth_audio.egress_scene(duration_s=10.0), sr=8000, truth=False)
    monkeypatch.setattr(export_mod, "export", export)
    kw = {"export_denoised": "denoised.wav", "bandpass": (100.0, 1000.0)}
    with pytest.raises(OSError, match="Input/output"):
        analyze_to_folder(path, tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(export_mod, "export", real_export)
    _, names = analyze_to_folder(path, tmp_path / "out", **kw)
    assert names[:2] == ["report.json", "frames.csv"]
    assert {"denoised.wav", "bandpass_100-1000Hz.wav"} <= set(names)
    assert all((tmp_path / "out" / name).is_file() for name in names)


def test_levels_of_a_known_sine_in_dbfs_and_spl(tmp_path, run):
    sr = 48_000
    t = np.arange(2 * sr) / sr
    path = tmp_path / "sine.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr, subtype="FLOAT")
    result = run(path, AnalysisParams(sensitivity_pa=2.0))
    levels = result.channels[0].levels
    assert levels["rms"]["dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert levels["peak"]["dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert levels["rms"]["pa"] == pytest.approx(0.5 / np.sqrt(2) * 2.0, rel=1e-4)
    assert levels["rms"]["db_spl"] == pytest.approx(
        20 * np.log10(0.5 / np.sqrt(2) * 2.0 / 20e-6), abs=0.01
    )
    band = next(b for b in result.channels[0].bands["octave"] if b.label == "1000 Hz")
    assert band.level_db == pytest.approx(
        levels["rms"]["db_spl"], abs=0.1
    )  # all power in one octave


def test_a_steady_tone_s_noise_floor_is_not_above_its_level(tmp_path, run, rng):
    # a tone's periodograms do not scatter as noise's do: the exponential-noise correction
    # of the floor's percentile must not lift it above the level (it read SNR -9.7 dB)
    sr = 16_000
    t = np.arange(4 * sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 997 * t) + 1e-3 * rng.standard_normal(len(t))
    path = tmp_path / "tone.wav"
    sf.write(path, x.astype(np.float32), sr, subtype="FLOAT")
    ch = run(path).channels[0]
    assert np.all(ch.noise_floor <= ch.psd.mean)
    band = next(b for b in ch.bands["octave"] if b.label == "1000 Hz")
    assert band.snr_db >= 0.0
    # the bands of noise alone keep their floor near their level (SNR about 0 dB)
    quiet = next(b for b in ch.bands["octave"] if b.label == "4000 Hz")
    assert abs(quiet.snr_db) < 1.0


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_a_steady_pure_tone_has_no_impulses_and_no_activity(tmp_path, run, subtype):
    # a 24-bit tone's far bands flicker at the float32 spectra's rounding, 140 dB down:
    # summed over thirty bands they made a phantom 30-dB onset every few frames
    sr = 48_000
    t = np.arange(10 * sr) / sr
    path = tmp_path / "tone.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), sr, subtype=subtype)
    ch = run(path).channels[0]
    assert ch.impulses == []
    assert ch.segments == []


def test_a_click_in_a_noise_free_tone_is_one_short_impulsive_segment(tmp_path, run):
    # the tone's bands 120-150 dB down swing 8 dB with its phase: they kept the click's
    # segment alive from the file's start to its end, labelled broadband
    sr = 48_000
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(10 * sr) / sr)
    x[5 * sr] += 0.45
    sf.write(tmp_path / "click.wav", x.astype(np.float32), sr, subtype="FLOAT")
    ch = run(tmp_path / "click.wav").channels[0]
    (click,) = ch.impulses
    assert click.time_s == pytest.approx(5.0, abs=0.015)  # a hop is 10.7 ms
    (seg,) = ch.segments
    assert seg.kind == "impulsive"
    assert seg.start_s == pytest.approx(5.0, abs=0.05) and seg.end_s - seg.start_s < 0.2


@pytest.mark.parametrize("block", [4096, 1 << 20])
def test_a_zero_filled_nan_gap_makes_no_impulse_or_segment(block):
    # the repair's edges are steps in the waveform; split across blocks they stay one stretch
    sr = 48_000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(10 * sr) / sr)).astype(np.float32)
    x[4 * sr : 4 * sr + 4800] = np.nan
    x[7 * sr] += 0.45  # a real click stays
    analyzer = AudioAnalyzer(sr=sr, channels=1)
    try:
        for i in range(0, len(x), block):
            analyzer.update(x[i : i + block])
        result = analyzer.result()
    finally:
        analyzer.close()
    ch = result.channels[0]
    assert ch.levels["non_finite_samples"] == 4800
    assert ch.levels["zero_filled_stretches"] == 1
    (click,) = ch.impulses
    assert click.time_s == pytest.approx(7.0, abs=0.015)
    assert [(round(s.start_s), s.kind) for s in ch.segments] == [(7, "impulsive")]
    assert any("edges of zero-filled samples were left out" in w for w in result.warnings)
    close_analysis(result)


def test_near_spans_and_zero_filled_stretches():
    from zhurong_tk.audio.analyze import _add_repairs, near_spans

    repairs: list[list[int]] = []
    _add_repairs(repairs, np.array([1, 0, 0, 1, 0], bool), 0)
    _add_repairs(repairs, np.array([0, 1, 1, 0, 0], bool), 5)  # continues the last stretch
    assert repairs == [[1, 3], [4, 6], [8, 10]]
    spans = np.array([[1.0, 2.0], [5.0, 5.5]])
    near = near_spans([0.85, 0.95, 1.5, 2.05, 2.2, 4.95, 5.58, 9.0], spans, 0.1)
    assert near.tolist() == [False, True, True, True, False, True, True, False]


def test_spectrogram_columns_are_in_the_psd_units(rng):
    # white noise of variance 0.01 at 8 kHz: a flat one-sided PSD of 2 * 0.01 / 8000 per Hz
    x = rng.standard_normal(8000 * 30).astype(np.float32) * 0.1
    for sensitivity in (None, 3.0):
        analyzer = AudioAnalyzer(
            sr=8000,
            channels=1,
            params=AnalysisParams(n_fft=256, hop=64, max_columns=50, sensitivity_pa=sensitivity),
            expected_frames=len(x),
        )
        analyzer.update(x)
        channel = analyzer.result().channels[0]
        analyzer.close()
        times, freqs, columns = channel.spectrogram
        assert columns.shape == (len(times), len(freqs)) and 45 <= len(times) <= 51
        gain = (sensitivity or 1.0) ** 2
        inner = columns[:, 5:-5]
        assert np.median(inner) == pytest.approx(2 * 0.01 / 8000 * gain, rel=0.03)
        np.testing.assert_allclose(columns.mean(axis=0)[5:-5], channel.psd.mean[5:-5], rtol=0.02)


def test_channels_are_analysed_apart_or_mixed(tmp_path, run):
    sr = 16_000
    t = np.arange(3 * sr) / sr
    left, right = 0.3 * np.sin(2 * np.pi * 200 * t), 0.1 * np.sin(2 * np.pi * 2000 * t)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.column_stack([left, right]).astype(np.float32), sr)
    apart = run(path)
    assert [ch.channel for ch in apart.channels] == [0, 1]
    centroids = [np.median(np.asarray(ch.frames)[:, 2]) for ch in apart.channels]
    assert centroids[0] == pytest.approx(200, abs=30) and centroids[1] == pytest.approx(
        2000, abs=60
    )
    mixed = run(path, AnalysisParams(mix=True))
    assert [ch.channel for ch in mixed.channels] == ["mix"]


def test_all_zeros_gives_a_report_without_nan(tmp_path, run):
    path = tmp_path / "zeros.wav"
    sf.write(path, np.zeros(20_000, np.float32), 16_000)
    result = run(path)
    report = json.loads(dumps_json(result.to_report()))  # strict JSON: would fail on NaN
    ch = report["channels"][0]
    assert ch["levels"]["rms"]["dbfs"] is None and ch["segments"] == [] and ch["tonal_lines"] == []
    assert "digital silence: every sample is zero" in ch["warnings"]


def test_one_sample(tmp_path, run):
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.25], np.float32), 8000, subtype="FLOAT")
    result = run(path)
    ch = result.channels[0]
    assert ch.levels["peak"]["dbfs"] == pytest.approx(20 * np.log10(0.25))
    assert any("shorter than one analysis frame" in w for w in ch.warnings)
    json.loads(dumps_json(result.to_report()))


def test_a_short_container_gets_the_frames_a_short_wav_gets(tmp_path, run):
    # an M4A's length is only estimated from its header; a short one is read first
    from zhurong_tk.synth.audio import _write_aac

    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2400) / 48_000)).astype(np.float32)
    sf.write(tmp_path / "short.wav", tone, 48_000)
    _write_aac(tmp_path / "short.m4a", iter([tone]), sr=48_000, channels=1)
    for name in ("short.wav", "short.m4a"):
        result = run(tmp_path / name)
        assert result.stft.n_fft == 2048, name
        ch = result.channels[0]
        assert not any("levels only" in w for w in ch.warnings), name
        peak = ch.psd.freqs[np.argmax(ch.psd.mean)]
        assert peak == pytest.approx(440, abs=48_000 / 2048), name


@pytest.mark.parametrize(
    ("seconds", "tone"), [(3.0, (0.0, 3.0)), (4.0, (1.0, 3.0)), (3.0, (0.5, 2.5))]
)
def test_tones_in_recordings_of_a_few_seconds(seconds, tone, tmp_path, run):
    # shorter than three averaged tone-search windows of the usual ~1.6 s: shorter ones fit
    sr, f0 = 48_000, 117.3
    t = np.arange(int(seconds * sr)) / sr
    on = (t >= tone[0]) & (t < tone[1])
    x = on * sum(0.05 / h * np.sin(2 * np.pi * f0 * h * t) for h in (1, 2, 3, 4))
    x = x + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    sf.write(tmp_path / "motor.wav", x.astype(np.float32), sr)
    ch = run(tmp_path / "motor.wav").channels[0]
    (line,) = ch.tonal_lines
    assert line.freq_hz == pytest.approx(f0, abs=0.5)
    assert [h.number for h in line.harmonics][:4] == [1, 2, 3, 4]
    # a tone through the whole file runs to its edges; a shorter one's edges are measured
    assert line.start_s == pytest.approx(tone[0], abs=0.1)
    assert line.end_s == pytest.approx(tone[1], abs=0.1)


def test_non_finite_samples_are_reported_not_propagated(run):
    result = run(BAD / "nan_samples.wav")
    ch = result.channels[0]
    assert ch.levels["non_finite_samples"] == 11
    assert "11 non-finite samples (NaN/Inf) were replaced by 0" in result.warnings
    assert np.isfinite(ch.psd.mean).all() and np.isfinite(np.asarray(ch.frames)).all()


def test_clipping_is_reported(tmp_path, run):
    sr = 8000
    x = np.clip(1.5 * np.sin(2 * np.pi * 100 * np.arange(sr) / sr), -1, 1).astype(np.float32)
    path = tmp_path / "clipped.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    ch = run(path).channels[0]
    expected = int(np.count_nonzero(np.abs(x) >= 0.999))
    assert ch.levels["clipped_samples"] == expected > 1000
    assert ch.levels["clipped_fraction"] == pytest.approx(expected / sr)


def test_clipping_in_one_input_of_a_mix_is_reported(tmp_path, run):
    # the mean of a clipped channel and a quiet one is no longer at full scale
    sr = 8000
    loud = np.clip(1.5 * np.sin(2 * np.pi * 100 * np.arange(sr) / sr), -1, 1)
    quiet = 0.01 * np.sin(2 * np.pi * 300 * np.arange(sr) / sr)
    path = tmp_path / "clipped_left.wav"
    sf.write(path, np.stack([loud, quiet], 1).astype(np.float32), sr, subtype="FLOAT")
    result = run(path, AnalysisParams(mix=True))
    expected = int(np.count_nonzero(np.abs(loud.astype(np.float32)) >= 0.999))
    assert result.channels[0].levels["clipped_samples"] == expected > 1000
    assert any("in an input channel of the mix (clipping)" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("no_such_file.wav", MediaReadError, "no such file"),
        ("empty.wav", MediaReadError, "empty file"),
        ("header_only.wav", MediaReadError, "no audio samples"),
        ("truncated.wav", MediaReadError, "truncated"),
        ("not_audio.wav", UnsupportedFormatError, "not an audio file"),
        ("image_named.wav", UnsupportedFormatError, "not an audio file"),
    ],
)
def test_bad_files_raise_clear_errors(name, error, message):
    with pytest.raises(error, match=message) as info:
        analyze(BAD / name)
    assert str(BAD / name) in str(info.value)


def test_parameters_are_checked():
    with pytest.raises(ParameterError, match="sensitivity must be positive"):
        AnalysisParams(sensitivity_pa=-1.0)
    with pytest.raises(ParameterError, match="n_fft must be a power of two"):
        AudioAnalyzer(sr=8000, channels=1, params=AnalysisParams(n_fft=1000))


@pytest.mark.samples
def test_video_without_audio_track(samples_root):
    with pytest.raises(UnsupportedFormatError, match="has no audio track"):
        analyze(sample_path(samples_root, "video/m2020_edl_downlook_reprojected.webm"))


def _low_fraction(channel, below_hz):
    f, p = channel.psd.freqs, channel.psd.mean
    return np.sum(p[f < below_hz]) / np.sum(p)


@pytest.mark.samples
@pytest.mark.parametrize(
    "name",
    [
        "audio/mars_wind.flac",
        "audio/mars_wind.m4a",
        "audio/m2020_dust_devil.flac",
        "audio/m2020_dust_devil.m4a",
    ],
)
def test_martian_wind_carries_its_energy_low(samples_root, run, name):
    result = run(sample_path(samples_root, name))
    assert [ch.channel for ch in result.channels] == [0, 1]
    for ch in result.channels:
        assert _low_fraction(ch, 300.0) > 0.8  # SOURCES.md: energy concentrated below ~150-200 Hz
        assert ch.spectral_slope["db_per_octave"] < -3  # a red spectrum
        assert ch.levels["clipped_samples"] == 0 and ch.levels["non_finite_samples"] == 0
    # the two channels are nearly identical copies
    assert result.channels[0].levels["rms"]["dbfs"] == pytest.approx(
        result.channels[1].levels["rms"]["dbfs"], abs=0.5
    )


@pytest.mark.samples
def test_flac_and_m4a_of_the_same_recording_agree(samples_root, run):
    a = run(sample_path(samples_root, "audio/mars_wind.flac")).channels[0]
    b = run(sample_path(samples_root, "audio/mars_wind.m4a")).channels[0]
    assert a.levels["rms"]["dbfs"] == pytest.approx(b.levels["rms"]["dbfs"], abs=0.1)
    oct_a = {x.label: x.level_db for x in a.bands["octave"]}
    oct_b = {x.label: x.level_db for x in b.bands["octave"]}
    for label in ("62.5 Hz", "125 Hz", "250 Hz", "500 Hz"):
        assert oct_a[label] == pytest.approx(oct_b[label], abs=0.5)


@pytest.mark.samples
def test_features_of_real_wind_equal_librosa_s_on_the_same_frames(samples_root, run):
    # the wind's flatness is ~1e-7, set by bins 80 dB down: a float32 FFT of its own (librosa's
    # stft) rounds those differently, 6e-4 apart; on the same frames the definitions agree
    import soundfile as sf

    librosa = pytest.importorskip("librosa", reason="librosa (test extra) defines the features")
    from zhurong_tk.audio.spectral import StftConfig, stft_block

    path = sample_path(samples_root, "audio/mars_wind.flac")
    ch = run(path).channels[0]
    samples, sr = sf.read(path, dtype="float32")
    spec = stft_block(np.ascontiguousarray(samples[:, 0]), StftConfig(sr=sr, n_fft=4096, hop=1024))
    magnitude = np.abs(spec).T.astype(np.float64)
    assert ch.frames.shape[0] == magnitude.shape[1]
    reference = {
        "flatness": librosa.feature.spectral_flatness(S=magnitude)[0],
        "centroid_hz": librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=4096)[0],
        "bandwidth_hz": librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, n_fft=4096)[0],
    }
    for name, expected in reference.items():
        got = ch.frames[:, ch.frame_columns.index(name)].astype(np.float64)
        assert np.max(np.abs(got - expected) / expected) <= 1e-4, name


@pytest.mark.samples
def test_supercam_sol1_at_100_khz(samples_root, run):
    result = run(sample_path(samples_root, "audio/m2020_supercam_mic_sol001_run001.ogg"))
    ch = result.channels[0]
    assert result.sr == 100_000 and result.stft.n_fft == 8192
    assert ch.psd.freqs[-1] == pytest.approx(50_000)
    assert _low_fraction(ch, 1000.0) > 0.5  # faint wind: low frequencies dominate
    assert all(s.kind == "wind-like" for s in ch.segments)
    assert ch.tonal_lines == []


@pytest.mark.samples
def test_audio_track_of_a_video(samples_root, run):
    result = run(sample_path(samples_root, "video/generic/opencv_box.mp4"))
    assert result.info.codec == "mp3float"
    ch = result.channels[0]
    assert ch.samples == pytest.approx(667_008, abs=2)
    assert ch.levels["peak"]["dbfs"] > 0  # the decoded MP3 overshoots full scale ...
    assert ch.levels["clipped_samples"] > 0  # ... and that is reported


def test_192_khz_recording(tmp_path, run):
    scene = synth_audio.egress_scene(seed=6, duration_s=40.0)
    path = synth_audio.write(tmp_path / "e192.flac", scene, sr=192_000)
    result = run(path)
    assert result.stft.n_fft == 16384  # ~85 ms at 192 kHz
    ch = result.channels[0]
    hits, truths, found = match_segments([s.to_dict() for s in ch.segments], scene["segments"])
    assert hits == truths == found == 4
    tones = [s for s in scene["segments"] if s["kind"] == "tonal"]
    lines = sorted(ch.tonal_lines, key=lambda line: line.start_s)
    for line, seg in zip(lines, tones, strict=True):
        assert line.freq_start_hz == pytest.approx(seg["f0_hz"], abs=0.5)
        assert line.freq_end_hz == pytest.approx(seg["f1_hz"], abs=0.5)


def test_frames_csv_layout_falls_back_to_python_beyond_the_kernels_range():
    from zhurong_tk.audio.frames_csv import N_PLAIN, CsvLayout

    columns = ["time_s", "rms"] + [f"f{i}" for i in range(N_PLAIN - 2)] + ["octave_1k"]
    layout = CsvLayout.for_columns(columns, multi=True)
    rows = np.full((2, len(columns)), 0.25, np.float32)
    rows[1, 2] = 3e30  # %.6g beyond the kernel's exact range: Python formats the block
    rows[0, -1] = 0.0  # silent band: an empty dB cell
    text = layout.format(rows, 1).splitlines()
    assert text[0] == "1,0.250000," + "0.25," * (N_PLAIN - 1) + ""
    assert text[1] == "1,0.250000,0.25,3e+30," + "0.25," * (N_PLAIN - 3) + "-6.021"


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_absurd_float_samples_are_reported_not_propagated(tmp_path, subtype):
    """A float file holding 3e38 (corrupt data): its square overflowed float32 spectra,
    and the figures raised 'Axis limits cannot be NaN or Inf' (exit 3)."""
    sr = 48_000
    t = np.arange(3 * sr) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    x[50_000] = 3e38
    x[90_000] = -1e20
    path = tmp_path / "huge.wav"
    sf.write(path, x, sr, subtype=subtype)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["audio", "analyze", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    levels = report["channels"][0]["levels"]
    assert levels["out_of_range_samples"] == 2 and levels["non_finite_samples"] == 0
    assert levels["peak"]["dbfs"] == pytest.approx(20 * math.log10(0.3), abs=0.01)
    assert levels["rms"]["dbfs"] == pytest.approx(20 * math.log10(0.3 / math.sqrt(2)), abs=0.05)
    assert any("2 samples beyond ±1e+06 full scale" in w for w in report["warnings"])
    assert "inf" not in (out / "frames.csv").read_text().lower()


def test_mix_counts_non_finite_samples_as_such_not_as_clipping(tmp_path):
    sr = 48_000
    x = np.zeros((sr, 2), np.float32)
    x[:, 0] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    x[100, 0] = np.inf
    path = tmp_path / "inf.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    result = analyze(path, AnalysisParams(mix=True))
    levels = result.channels[0].levels
    assert levels["clipped_samples"] == 0  # was 1: the Inf counted as clipping too
    assert levels["non_finite_samples"] == 1


def test_a_mix_with_one_all_nan_channel_is_the_good_channel_halved(tmp_path, run):
    # the mix was the mean before NaN handling: NaN throughout, "digital silence"
    sr = 16_000
    a = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr)).astype(np.float32)
    path = tmp_path / "mixnan.wav"
    sf.write(path, np.stack([a, np.full_like(a, np.nan)], 1), sr, subtype="FLOAT")
    result = run(path, AnalysisParams(mix=True))
    levels = result.channels[0].levels
    assert not any("digital silence" in w for w in result.warnings)
    assert levels["non_finite_samples"] == 3 * sr
    # the mean of the sine and 0: its RMS is 0.15/sqrt(2)
    assert levels["rms"]["dbfs"] == pytest.approx(20 * math.log10(0.15 / math.sqrt(2)), abs=0.01)
    assert levels["peak"]["dbfs"] == pytest.approx(20 * math.log10(0.15), abs=0.01)
    assert [line.freq_hz for line in result.channels[0].tonal_lines] == [pytest.approx(440, abs=2)]


@pytest.mark.parametrize(("subtype", "suffix"), [("PCM_U8", ".wav"), ("PCM_S8", ".flac")])
def test_8_bit_clipping_counts_both_rails(tmp_path, run, subtype, suffix):
    # 8-bit full scale is -128..127: the positive rail reads 127/128 = 0.9922 and was not
    # counted against a fixed 0.999
    sr = 8000
    x = np.clip(2.0 * np.sin(2 * np.pi * 300 * np.arange(3 * sr) / sr), -1, 1)
    path = (tmp_path / "eight_bit").with_suffix(suffix)
    sf.write(path, x, sr, subtype=subtype)
    y, _ = sf.read(path)
    at_rails = int(np.count_nonzero(y == y.max()) + np.count_nonzero(y == y.min()))
    assert y.max() == 127 / 128 and y.min() == -1.0
    ch = run(path).channels[0]
    assert ch.levels["clipped_samples"] == at_rails > 0.5 * len(y)


def test_16_bit_clip_level_stays_0_999(tmp_path, run):
    sr = 8000
    x = 0.9995 * np.sin(2 * np.pi * 100 * np.arange(sr) / sr)
    path = tmp_path / "s16.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    y, _ = sf.read(path)
    ch = run(path).channels[0]
    assert ch.levels["clipped_samples"] == int(np.count_nonzero(np.abs(y) >= 0.999)) > 0


def test_clip_level_follows_the_integer_encoding():
    from zhurong_tk.audio.analyze import default_clip_level
    from zhurong_tk.io.audio import integer_pcm_bits

    names = ["PCM_U8", "PCM_S8", "PCM_16", "pcm_s24le", "pcm_u8", "FLOAT", "pcm_f32le", "VORBIS"]
    assert [integer_pcm_bits(n) for n in names] == [8, 8, 16, 24, 8, None, None, None]
    assert default_clip_level(8) == 127 / 128
    assert default_clip_level(16) == default_clip_level(None) == 0.999


@pytest.mark.parametrize(("dc", "warned"), [(0.0, False), (0.2, True), (-0.002, True)])
def test_a_dc_offset_is_reported_and_warned_of(tmp_path, run, rng, dc, warned):
    sr = 16_000
    x = (dc + 0.01 * rng.standard_normal(4 * sr)).astype(np.float32)
    path = tmp_path / "dc.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    result = run(path)
    levels = result.channels[0].levels
    assert levels["dc_offset"]["fs"] == pytest.approx(float(np.mean(x, dtype=np.float64)), abs=1e-7)
    assert abs(levels["dc_offset"]["fs"] - dc) < 3 * 0.01 / math.sqrt(len(x))
    assert any("DC offset" in w for w in result.warnings) is warned


@pytest.mark.parametrize("clank", [False, True])
@pytest.mark.parametrize("step_db", [6.0, 10.0, 15.0])
def test_a_segment_s_snr_is_its_rise_over_the_background(tmp_path, run, step_db, clank):
    # the SNR was a segment's mean power over the 20th percentile of the band's log level,
    # the largest of all octave bands: the 1-2-bin bands' levels scatter most, and steps of
    # 6, 10, 15 dB read 9.6, 13.4, 18.3 dB; a clank in a gust gave the gust the clank's SNR
    sr = 8_000
    t = np.arange(20 * sr) / sr
    ramp = np.clip(np.minimum(t - 6.0, 14.0 - t) / 0.5, 0.0, 1.0)
    gain = 10.0 ** (step_db * (0.5 - 0.5 * np.cos(np.pi * ramp)) / 20.0)
    x = 0.003 * np.random.default_rng(1).standard_normal(len(t)) * gain
    if clank:
        tau = t - 10.0
        ring = (tau >= 0) & (tau < 0.2)
        for f, decay in [(1850.0, 0.030), (3120.0, 0.022)]:
            x[ring] += 0.3 * np.exp(-tau[ring] / decay) * np.sin(2 * np.pi * f * tau[ring])
    path = tmp_path / "step.wav"
    sf.write(path, x.astype(np.float32), sr, subtype="FLOAT")
    ch = run(path).channels[0]
    (gust,) = [s for s in ch.segments if s.kind == "wind-like"]
    inside = (t >= gust.start_s) & (t <= gust.end_s)
    truth = 10.0 * np.log10(np.mean(gain[inside] ** 2))
    assert gust.evidence["snr_db"] == pytest.approx(truth, abs=0.5)


def _power_law_noise(sr, exponent, seconds=10.0, seed=5):
    """Noise whose spectrum is exactly ``f^exponent`` (random phases, exact magnitudes)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    f = np.fft.rfftfreq(n, 1 / sr)
    f[0] = f[1]
    x = np.fft.irfft(np.exp(2j * np.pi * rng.random(len(f))) * f ** (exponent / 2), n)
    return (0.05 * x / np.std(x)).astype(np.float32)


@pytest.mark.parametrize(("sr", "n_fft"), [(8_000, 512), (48_000, 4096)])
@pytest.mark.parametrize("exponent", [0.0, -1.0, -2.0, -3.0])
def test_the_spectral_slope_of_a_power_law_is_its_exponent(sr, n_fft, exponent):
    # the Hann window averages a steep spectrum over its main lobe, and the lowest bins
    # take the power under the first bin: f^-3 read -3.09 at 8 kHz and -3.06 at 48 kHz
    from scipy import signal

    from zhurong_tk.audio.analyze import spectral_slope
    from zhurong_tk.audio.spectral import window_array

    x = _power_law_noise(sr, exponent)
    freqs, psd = signal.welch(x, sr, nperseg=n_fft, noverlap=3 * n_fft // 4, detrend=False)
    fit = spectral_slope(freqs, psd, window=window_array("hann", n_fft))
    assert fit["exponent"] == pytest.approx(exponent, abs=0.01)
    assert fit["fmin_hz"] == pytest.approx(6 * sr / n_fft)  # six bins up: see the docstring


def test_the_report_s_spectral_slope_is_the_power_law_s(tmp_path, run):
    path = tmp_path / "red.wav"
    sf.write(path, _power_law_noise(8_000, -3.0), 8_000, subtype="FLOAT")
    slope = run(path).channels[0].spectral_slope
    assert slope["exponent"] == pytest.approx(-3.0, abs=0.01)
