from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from zhurong_tk.audio.spectral import (
    SpectrogramPool,
    StftConfig,
    lowpass_taps,
    power_block,
    welch_psd,
    window_array,
)
from zhurong_tk.errors import ParameterError


@pytest.mark.parametrize(
    ("sr", "n_fft", "hop", "window", "block_frames"),
    [
        (48_000, 4096, 2048, "hann", 256),
        (48_000, 4096, 1024, "hann", 7),
        (100_000, 1024, 256, "hamming", 33),
        (8_000, 256, 256, "blackman", 1),
    ],
)
def test_welch_equals_scipy(rng, sr, n_fft, hop, window, block_frames):
    x = rng.standard_normal(150_007).astype(np.float32) * 0.1 + np.sin(
        np.arange(150_007) * 0.3
    ).astype(np.float32)
    f, expected = signal.welch(
        x, fs=sr, window=window, nperseg=n_fft, noverlap=n_fft - hop, detrend=False
    )
    psd = welch_psd(x, sr=sr, n_fft=n_fft, hop=hop, window=window, block_frames=block_frames)
    np.testing.assert_allclose(psd.freqs, f)
    assert np.max(np.abs(psd.mean - expected) / expected) <= 1e-5
    assert psd.n_segments == (len(x) - n_fft) // hop + 1


def test_density_scale_integrates_to_the_variance(rng):
    x = rng.standard_normal(1 << 18).astype(np.float32) * 0.25
    psd = welch_psd(x, sr=1000.0, n_fft=1024)
    assert np.sum(psd.mean) * (1000.0 / 1024) == pytest.approx(0.0625, rel=0.02)  # Parseval


def test_pool_bounds_columns_and_averages(rng):
    config = StftConfig(sr=1000.0, n_fft=64, hop=16)
    pool = SpectrogramPool(config, expected_frames=1000, max_columns=100)
    power = rng.random((1000, 33)).astype(np.float32)
    for start in range(0, 1000, 77):
        pool.update(power[start : start + 77])
    times, _freqs, mean = pool.result()
    assert mean.shape == (100, 33) and pool.pool == 10
    np.testing.assert_allclose(mean[3], power[30:40].mean(axis=0), rtol=1e-5)
    assert times[0] == pytest.approx((4.5 * 16 + 32) / 1000)


def test_short_block_has_no_frames():
    config = StftConfig(sr=8000.0, n_fft=256, hop=64)
    assert power_block(np.zeros(255, np.float32), config).shape == (0, 129)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_fft": 1000}, "n_fft must be a power of two >= 16, got 1000"),
        ({"hop": 0}, r"hop must be in 1\.\.n_fft \(4096\), got 0"),
        ({"sr": 0}, "sample rate must be positive, got 0"),
    ],
)
def test_config_is_checked(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        StftConfig(**{"sr": 48_000.0, **kwargs})


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman"])
def test_window_array_is_scipys_periodic_window(name):
    ours = window_array(name, 512)
    np.testing.assert_allclose(ours, signal.get_window(name, 512, fftbins=True), atol=1e-7)
    assert ours.dtype == np.float32 and not ours.flags.writeable


@pytest.mark.parametrize(
    ("sr", "pass_hz", "stop_hz"), [(48_000, 2000, 3333), (100_000, 2000, 9000)]
)
def test_lowpass_taps_meet_their_specification(sr, pass_hz, stop_hz):
    taps = lowpass_taps(sr, pass_hz=pass_hz, stop_hz=stop_hz, atten_db=80.0)
    assert len(taps) % 2 == 1 and taps.dtype == np.float32
    np.testing.assert_allclose(taps, taps[::-1], atol=1e-7)  # linear phase
    freqs, response = signal.freqz(taps.astype(np.float64), worN=1 << 16, fs=sr)
    gain_db = 20 * np.log10(np.maximum(np.abs(response), 1e-12))
    assert np.max(np.abs(gain_db[freqs <= pass_hz])) < 0.01  # flat pass band
    assert np.max(gain_db[freqs >= stop_hz]) < -80.0
    # the same design as scipy's firwin with a Kaiser window
    beta = signal.kaiser_beta(82.0)  # designed with a 2 dB margin
    reference = signal.firwin(len(taps), (pass_hz + stop_hz) / 2, window=("kaiser", beta), fs=sr)
    np.testing.assert_allclose(taps, reference, atol=1e-6)


def test_lowpass_taps_refuse_a_band_beyond_nyquist():
    with pytest.raises(ParameterError, match="stop_hz"):
        lowpass_taps(8000, pass_hz=3000, stop_hz=5000)
