from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from zhurong_tk.audio import analyze, close_analysis
from zhurong_tk.audio.export import export
from zhurong_tk.errors import OutputExistsError, ParameterError
from zhurong_tk.synth import audio as synth_audio


@pytest.fixture
def noise(tmp_path, rng):
    x = (rng.standard_normal((40_003, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, x, 16_000, subtype="FLOAT")
    return path, x


def test_full_band_is_the_identity(tmp_path, noise):
    path, x = noise
    export(path, tmp_path / "same.wav", n_fft=512, band_hz=(0.0, 8000.0))
    y, sr = sf.read(tmp_path / "same.wav", dtype="float32")
    assert sr == 16_000 and y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-5


def test_exports_are_wav_or_flac(tmp_path, noise):
    path, _ = noise
    with pytest.raises(ParameterError, match=r"\.wav or \.flac, not '\.txt'"):
        export(path, tmp_path / "x.txt", n_fft=512, band_hz=(0.0, 8000.0))
    assert not (tmp_path / "x.txt").exists()


def test_bandpass_keeps_its_band(tmp_path, noise):
    path, x = noise
    export(path, tmp_path / "band.flac", n_fft=1024, band_hz=(1000.0, 2000.0), mix=True)
    y, _ = sf.read(tmp_path / "band.flac")
    assert y.ndim == 1 and len(y) == len(x)
    f, p = signal.welch(y, 16_000, nperseg=1024)
    _, q = signal.welch(x.mean(axis=1), 16_000, nperseg=1024)
    inside, outside = (f > 1200) & (f < 1800), (f > 3000) & (f < 7000)
    assert 10 * np.log10(p[inside].mean() / q[inside].mean()) == pytest.approx(0.0, abs=0.5)
    assert 10 * np.log10(p[outside].mean() / q[outside].mean()) < -60


def test_gating_quiets_the_background_and_keeps_the_events(tmp_path):
    scene = synth_audio.egress_scene(duration_s=20.0, seed=1)
    path = synth_audio.write(tmp_path / "egress.wav", scene, sr=16_000)
    result = analyze(path)
    floor = [result.channels[0].noise_floor]
    n_fft = result.stft.n_fft
    close_analysis(result)
    export(path, tmp_path / "gated.wav", n_fft=n_fft, noise_floors=floor)
    x, sr = sf.read(path)
    y, _ = sf.read(tmp_path / "gated.wav")
    first = scene["segments"][0]  # the motors; wind alone before them
    quiet = slice(0, int((first["start_s"] - 0.2) * sr))
    motor = slice(int((first["start_s"] + 0.5) * sr), int((first["end_s"] - 0.5) * sr))

    def db(v):
        return 10 * np.log10(np.mean(v**2))

    # wind alone is attenuated (gusty wind against a stationary floor: ~8 dB of the 20 possible)
    assert db(y[quiet]) < db(x[quiet]) - 6
    assert db(y[motor]) == pytest.approx(db(x[motor]), abs=0.5)  # the motor passes untouched


def test_export_refuses_to_overwrite_and_needs_something_to_do(tmp_path, noise):
    path, _ = noise
    (tmp_path / "taken.wav").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        export(path, tmp_path / "taken.wav", n_fft=512, band_hz=(0.0, 100.0))
    assert (tmp_path / "taken.wav").read_bytes() == b"keep me"
    with pytest.raises(ParameterError, match="nothing to export"):
        export(path, tmp_path / "x.wav", n_fft=512)
    with pytest.raises(ParameterError, match=r"band-pass needs 0 <= LO < HI, got 500\.0, 100\.0"):
        export(path, tmp_path / "x.wav", n_fft=512, band_hz=(500.0, 100.0))


def test_exports_replace_corrupt_samples_as_the_analysis_does(tmp_path, rng):
    # the analysis replaces samples beyond ±1e6 full scale by 0; the exports kept them
    sr = 16_000
    x = (0.05 * rng.standard_normal(3 * sr)).astype(np.float32)
    x[sr : sr + 10] = 1e9
    x[2 * sr] = -3e20
    x[2 * sr + 5] = np.nan
    path = tmp_path / "corrupt.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    good = np.abs(x) <= 1e6
    export(path, tmp_path / "full.wav", n_fft=512, band_hz=(0.0, sr / 2))
    y, _ = sf.read(tmp_path / "full.wav", dtype="float32")
    assert len(y) == len(x)
    assert np.max(np.abs(y[~good])) < 1e-5  # was 1e9
    assert np.max(np.abs(y[good] - x[good])) < 1e-5
    floor = np.full(257, 1e-12)  # far below the noise: the gate stays open
    export(path, tmp_path / "gated.wav", n_fft=512, noise_floors=[floor])
    y, _ = sf.read(tmp_path / "gated.wav", dtype="float32")
    assert np.max(np.abs(y)) < 1.0  # was 1e9
    assert np.max(np.abs(y[good] - x[good])) < 1e-4


def test_a_mix_with_one_all_nan_channel_exports_the_good_one_halved(tmp_path, rng):
    sr = 16_000
    a = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    path = tmp_path / "mixnan.wav"
    sf.write(path, np.stack([a, np.full_like(a, np.nan)], 1), sr, subtype="FLOAT")
    export(path, tmp_path / "mix.wav", n_fft=512, band_hz=(0.0, sr / 2), mix=True)
    y, _ = sf.read(tmp_path / "mix.wav", dtype="float32")
    assert np.max(np.abs(y - a / 2)) < 1e-5


def test_a_file_shorter_than_a_frame_is_exported_unchanged_with_a_warning(tmp_path, rng):
    # no frame, no noise floor (NaN): `power >= NaN` shut the gate, 20 dB down throughout
    from zhurong_tk.audio.analyze import analyze_to_folder

    x = (0.1 * rng.standard_normal(10)).astype(np.float32)
    path = tmp_path / "short.wav"
    sf.write(path, x, 48_000, subtype="FLOAT")
    _, names = analyze_to_folder(path, tmp_path / "out", export_denoised="d.wav")
    y, _ = sf.read(tmp_path / "out" / "d.wav", dtype="float32")
    assert "d.wav" in names and len(y) == len(x)
    assert np.max(np.abs(y - x)) < 1e-6  # was x / 10
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    expected = "--export-denoised d.wav: no noise floor (shorter than one frame): samples passed"
    assert any(w.startswith(expected) for w in report["warnings"])


def _tone_gain_db(tmp_path, sr, f0, band, seconds=6.0):
    """Gain of the band-pass export for a cosine at ``f0``, measured away from the ends
    (where the filter's response to the tone's switching on and off lies)."""
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.cos(2 * np.pi * f0 * t)).astype(np.float32)
    path = tmp_path / "tone.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    export(path, tmp_path / "band.wav", n_fft=1024, band_hz=band, overwrite=True)
    y, _ = sf.read(tmp_path / "band.wav", dtype="float64")
    assert len(y) == len(x)
    mid = slice(int(2 * sr), int(4 * sr))
    return 10 * np.log10(np.mean(y[mid] ** 2) / np.mean(x[mid].astype(np.float64) ** 2)), x, y


@pytest.mark.parametrize(
    ("sr", "band", "f0"),
    [
        (48_000, (20.0, 100.0), 15.0),  # passed at -2 dB through the STFT mask
        (48_000, (20.0, 100.0), 20.0),  # at the edge itself
        (48_000, (20.0, 100.0), 100.0),
        (48_000, (20.0, 100.0), 5.0),
        (48_000, (20.0, 100.0), 0.0),
        (48_000, (20.0, 100.0), 130.0),
        (8_000, (20.0, 100.0), 15.0),
        (16_000, (100.0, 1000.0), 1050.0),
        (16_000, (100.0, 1000.0), 90.0),
        (16_000, (100.0, 1000.0), 5000.0),
    ],
)
def test_bandpass_rejects_tones_outside_the_band_by_60_db(tmp_path, sr, band, f0):
    gain_db, _, _ = _tone_gain_db(tmp_path, sr, f0, band)
    assert gain_db < -60


@pytest.mark.parametrize(
    ("sr", "band", "f0"),
    [
        (48_000, (20.0, 100.0), 30.0),
        (48_000, (20.0, 100.0), 60.0),
        (48_000, (20.0, 100.0), 89.0),  # 100 / 2^(1/6) = 89.1
        (16_000, (100.0, 1000.0), 113.0),
        (16_000, (100.0, 1000.0), 440.0),
        (16_000, (100.0, 1000.0), 890.0),
        (8_000, (1000.0, 4000.0), 3000.0),  # HI at Nyquist: no low-pass
    ],
)
def test_bandpass_passes_tones_inside_the_band_whole_and_in_time(tmp_path, sr, band, f0):
    gain_db, x, y = _tone_gain_db(tmp_path, sr, f0, band)
    assert gain_db == pytest.approx(0.0, abs=0.02)
    mid = slice(int(2 * sr), int(4 * sr))
    # no delay: the FIR's group delay is taken out, sample for sample
    assert np.max(np.abs(y[mid] - x[mid])) < 2e-3


def test_bandpass_fir_design():
    from zhurong_tk.audio.export import bandpass_fir

    h, (full_lo, full_hi) = bandpass_fir(20.0, 100.0, sr=48_000)
    assert len(h) % 2 == 1 and np.allclose(h, h[::-1])  # linear phase, integer delay
    assert full_lo == pytest.approx(20 * 2 ** (1 / 6))
    assert full_hi == pytest.approx(100 / 2 ** (1 / 6))
    f, resp = signal.freqz(h, worN=2**20, fs=48_000)
    db = 20 * np.log10(np.maximum(np.abs(resp), 1e-20))
    assert db[(f <= 20.0) | (f >= 100.0)].max() < -60
    assert np.abs(db[(f >= full_lo) & (f <= full_hi)]).max() < 0.02
    with pytest.raises(ParameterError, match="0 <= LO < HI"):
        bandpass_fir(100.0, 20.0, sr=48_000)


def test_flac_export_counts_the_samples_it_clips(tmp_path):
    # a band-limited square wave overshoots (Gibbs): 24-bit FLAC cannot hold it above 1
    sr = 16_000
    t = np.arange(2 * sr) / sr
    x = (0.98 * signal.square(2 * np.pi * 200 * t)).astype(np.float32)
    path = tmp_path / "square.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    assert export(path, tmp_path / "band.wav", n_fft=512, band_hz=(0.0, 4000.0)) == []
    y, _ = sf.read(tmp_path / "band.wav", dtype="float32")
    over = int(np.count_nonzero(np.abs(y) > 1.0))
    assert over > 100
    notes = export(path, tmp_path / "band.flac", n_fft=512, band_hz=(0.0, 4000.0))
    assert notes == [
        f"{over} samples beyond full scale (peak {np.max(np.abs(y)):.3f}) were clipped to fit"
        " 24-bit FLAC; a .wav export keeps them"
    ]
    z, _ = sf.read(tmp_path / "band.flac", dtype="float32")
    assert np.max(np.abs(z)) <= 1.0
