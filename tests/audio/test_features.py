from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.audio.features import FEATURE_NAMES, band_energies, frame_features
from zhurong_tk.audio.spectral import StftConfig, stft_block

librosa = pytest.importorskip(
    "librosa", reason="librosa (test extra) defines the reference features"
)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(3)
    sr = 22_050
    t = np.arange(3 * sr) / sr
    x = (0.5 * np.sin(2 * np.pi * 440 * t) * (t > 1) + 0.05 * rng.standard_normal(len(t))).astype(
        np.float32
    )
    config = StftConfig(sr=sr, n_fft=2048, hop=512)
    spec = stft_block(x, config)
    return sr, config, spec


def test_features_equal_librosa_on_the_same_frames(frames):
    sr, config, spec = frames
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    ours = frame_features(power, config.freqs)
    magnitude = np.abs(spec).T.astype(np.float64)  # librosa's layout: (bins, frames)
    reference = {
        "centroid_hz": librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=2048)[0],
        "bandwidth_hz": librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, n_fft=2048)[0],
        "rolloff_hz": librosa.feature.spectral_rolloff(S=magnitude, sr=sr, n_fft=2048)[0],
        "flatness": librosa.feature.spectral_flatness(S=magnitude)[0],
    }
    for name, expected in reference.items():
        got = ours[:, FEATURE_NAMES.index(name)]
        assert np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)) <= 1e-4, name


def test_flux_rises_at_the_tone_onset(frames):
    _, config, spec = frames
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    flux = frame_features(power, config.freqs)[:, FEATURE_NAMES.index("flux")]
    onset_frame = int(np.argmax(flux))
    onset_s = (onset_frame * config.hop + config.n_fft / 2) / config.sr
    assert abs(onset_s - 1.0) < config.n_fft / config.sr  # the tone starts at 1 s


def test_band_energies_sum_bins():
    power = np.arange(20, dtype=np.float32).reshape(2, 10)
    out = band_energies(power, np.array([0, 5]), np.array([5, 10]))
    np.testing.assert_allclose(out, [[10, 35], [60, 85]])
