"""numba kernels of the audio analysis (private; each has a numpy twin in the tests).

Compiled with ``cache=True`` so that the command line pays the compilation
once per machine, not once per run. Thread counts are set by the caller
(:func:`numba.set_num_threads`), never read here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True, fastmath=False)
def frame_features(power, freqs, prev_power, roll_percent, amin, out):  # pragma: no cover - jitted
    """Fused per-frame spectral features from a power spectrogram.

    power : (n_frames, n_bins) float32, |X|²
    freqs : (n_bins,) float64, bin centre frequencies
    prev_power : (n_bins,) float32, power of the frame before the first (for flux)
    out : (n_frames, 5) float32 — centroid, bandwidth, rolloff, flatness, flux

    Definitions follow librosa on the magnitude |X| (centroid, bandwidth with
    p = 2, rolloff) and on the power |X|² (flatness with ``amin``); flux is the
    L2 norm of the positive magnitude differences between consecutive frames.
    """
    n_frames, n_bins = power.shape
    for t in prange(n_frames):
        s_sum = 0.0
        s_f = 0.0
        log_sum = 0.0
        p_sum = 0.0
        flux = 0.0
        for k in range(n_bins):
            p = power[t, k]
            m = np.sqrt(p)
            s_sum += m
            s_f += m * freqs[k]
            pt = p if p > amin else amin
            log_sum += np.log(pt)
            p_sum += pt
            before = power[t - 1, k] if t > 0 else prev_power[k]
            d = m - np.sqrt(before)
            if d > 0.0:
                flux += d * d
        if s_sum > 0.0:
            centroid = s_f / s_sum
            var = 0.0
            for k in range(n_bins):
                dev = freqs[k] - centroid
                var += np.sqrt(power[t, k]) / s_sum * dev * dev
            bandwidth = np.sqrt(var)
            threshold = roll_percent * s_sum
            acc = 0.0
            rolloff = freqs[n_bins - 1]
            for k in range(n_bins):
                acc += np.sqrt(power[t, k])
                if acc >= threshold:
                    rolloff = freqs[k]
                    break
        else:
            centroid = 0.0
            bandwidth = 0.0
            rolloff = 0.0
        out[t, 0] = centroid
        out[t, 1] = bandwidth
        out[t, 2] = rolloff
        out[t, 3] = np.exp(log_sum / n_bins) / (p_sum / n_bins)
        out[t, 4] = np.sqrt(flux)


@njit(cache=True, nogil=True, parallel=True)
def band_sums(power, lo, hi, out):  # pragma: no cover - jitted
    """Sum power over bins ``lo[b] <= k < hi[b]`` for every frame and band."""
    n_frames = power.shape[0]
    n_bands = lo.shape[0]
    for t in prange(n_frames):
        for b in range(n_bands):
            acc = 0.0
            for k in range(lo[b], hi[b]):
                acc += power[t, k]
            out[t, b] = acc


@njit(cache=True, nogil=True)
def level_histogram_update(power, scale, db_min, db_step, hist):  # pragma: no cover - jitted
    """Count ``10·log10(power·scale)`` of every frame and bin into per-bin dB histograms.

    hist : (n_bins, n_levels) int64; levels below/above the range land in the end cells.
    """
    n_frames, n_bins = power.shape
    n_levels = hist.shape[1]
    for t in range(n_frames):
        for k in range(n_bins):
            v = power[t, k] * scale[k]
            idx = int((10.0 * np.log10(v) - db_min) / db_step) if v > 0.0 else 0
            if idx < 0:
                idx = 0
            elif idx >= n_levels:
                idx = n_levels - 1
            hist[k, idx] += 1


@njit(cache=True, nogil=True)
def harmonic_salience(white_db, f0_bins, n_harmonics, weights, out):  # pragma: no cover - jitted
    """Harmonic summation: for each candidate fundamental (in fractional bins),
    sum the weighted positive whitened level at its harmonics (max over ±1 bin).

    white_db : (n_bins,) float32, spectrum in dB above its local background
    f0_bins : (n_candidates,) float64
    out : (n_candidates,) float32
    """
    n_bins = white_db.shape[0]
    for c in range(f0_bins.shape[0]):
        acc = 0.0
        for h in range(1, n_harmonics + 1):
            centre = f0_bins[c] * h
            k = int(centre + 0.5)
            if k + 1 >= n_bins:
                break
            best = white_db[k]
            if white_db[k - 1] > best:
                best = white_db[k - 1]
            if white_db[k + 1] > best:
                best = white_db[k + 1]
            if best > 0.0:
                acc += weights[h - 1] * best
        out[c] = acc
