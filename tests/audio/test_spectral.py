from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from zhurong_tk.audio.spectral import SpectrogramPool, StftConfig, power_block, welch_psd
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
