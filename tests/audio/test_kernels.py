"""Each numba kernel against a plain numpy twin on small random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.audio import _kernels


@np.errstate(
    divide="ignore", invalid="ignore"
)  # the silent frame; the kernel's answer is checked apart
def features_reference(power, freqs, prev, roll_percent, amin):
    mag = np.sqrt(power.astype(np.float64))
    total = mag.sum(axis=1)
    centroid = (mag * freqs).sum(axis=1) / total
    bandwidth = np.sqrt(
        (mag / total[:, None] * (freqs[None, :] - centroid[:, None]) ** 2).sum(axis=1)
    )
    cumulative = np.cumsum(mag, axis=1)
    rolloff = freqs[np.argmax(cumulative >= roll_percent * total[:, None], axis=1)]
    p = np.maximum(power.astype(np.float64), amin)
    flatness = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
    before = np.sqrt(np.vstack([prev[None, :], power[:-1]]).astype(np.float64))
    flux = np.sqrt((np.maximum(mag - before, 0) ** 2).sum(axis=1))
    return np.column_stack([centroid, bandwidth, rolloff, flatness, flux])


def test_frame_features_match_numpy(rng):
    power = (rng.random((37, 129)) ** 3).astype(np.float32)
    power[5] = 0.0  # a silent frame
    power[5, 0] = 0.0
    freqs = np.linspace(0, 8000, 129)
    prev = rng.random(129).astype(np.float32)
    out = np.empty((37, 5), np.float32)
    _kernels.frame_features(power, freqs, prev, 0.85, 1e-10, np.empty_like(power), out)
    ref = features_reference(power, freqs, prev, 0.85, 1e-10)
    live = np.arange(37) != 5
    np.testing.assert_allclose(out[live], ref[live], rtol=2e-5, atol=1e-6)
    assert out[5, 0] == 0.0 and out[5, 1] == 0.0 and out[5, 2] == 0.0  # no NaN for silence
    assert out[5, 3] == pytest.approx(1.0)  # all bins at amin: perfectly flat


def test_band_sums_match_numpy(rng):
    power = rng.random((11, 64)).astype(np.float32)
    lo = np.array([0, 3, 10, 10, 63])
    hi = np.array([3, 10, 40, 11, 64])
    out = np.empty((11, 5))
    _kernels.band_sums(power, lo, hi, out)
    ref = np.column_stack(
        [power[:, a:b].sum(axis=1, dtype=np.float64) for a, b in zip(lo, hi, strict=True)]
    )
    np.testing.assert_allclose(out, ref, rtol=1e-6)


@pytest.mark.parametrize("frame_step", [1, 2, 3])
def test_level_histogram_matches_numpy(rng, frame_step):
    power = (rng.random((50, 16)) * 10.0 ** rng.uniform(-8, 2, (50, 16))).astype(np.float32)
    power[0, 0] = 0.0
    scale = rng.uniform(0.5, 2.0, 16)
    hist = np.zeros((16, 400), np.int32)
    _kernels.level_histogram_update(
        power.view(np.int32), np.log2(scale), -100.0, 0.5, frame_step, hist
    )
    used = power[::frame_step]
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(used.astype(np.float64) * scale)
    idx = np.clip(np.floor((db - -100.0) / 0.5), 0, 399).astype(int)
    ref = np.zeros_like(hist)
    for k in range(16):
        np.add.at(ref[k], idx[:, k], 1)
    assert hist.sum() == ref.sum() == used.size
    # the kernel's log2 is a polynomial (error < 1e-4 dB): a value on a cell edge may land next door
    assert np.abs(hist - ref).sum() <= 2


def test_harmonic_levels_match_numpy(rng):
    white = rng.normal(0, 3, 300).astype(np.float32)
    log_power = rng.normal(0, 1, 300)
    f0_bins = np.array([7.3, 20.0, 45.6])
    levels = np.empty((3, 8))
    positions = np.empty((3, 8))
    _kernels.harmonic_levels(white, log_power, f0_bins, 8, levels, positions)
    for c, f0 in enumerate(f0_bins):
        for h in range(1, 9):
            k = int(f0 * h + 0.5)
            if k + 2 >= 300:
                assert np.isnan(levels[c, h - 1])
                continue
            best = k - 1 + int(np.argmax(white[k - 1 : k + 2]))
            a, b, d = log_power[best - 1 : best + 2]
            den = a - 2 * b + d
            offset = np.clip(0.5 * (a - d) / den, -0.5, 0.5) if den < 0 else 0.0
            assert levels[c, h - 1] == white[best]
            assert positions[c, h - 1] == pytest.approx(best + offset)


def test_harmonic_salience_matches_numpy(rng):
    white = rng.normal(0, 3, 500).astype(np.float32)
    f0_bins = np.arange(10.0, 120.0, 0.5)
    weights = 1 / np.sqrt(np.arange(1, 7))
    out = np.empty(len(f0_bins), np.float32)
    _kernels.harmonic_salience(white, f0_bins, 6, weights, out)
    ref = []
    for f0 in f0_bins:
        acc = 0.0
        for h in range(1, 7):
            k = int(f0 * h + 0.5)
            if k + 1 >= len(white):
                break
            acc += weights[h - 1] * max(0.0, white[k - 1 : k + 2].max())
        ref.append(acc)
    np.testing.assert_allclose(out, ref, rtol=1e-5)
