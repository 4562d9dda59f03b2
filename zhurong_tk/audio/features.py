"""Per-frame spectral features (fused in one numba pass over each frame)."""

from __future__ import annotations

import numpy as np

from zhurong_tk.audio import _kernels

#: Columns of :func:`frame_features`, in order.
FEATURE_NAMES = ("centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness", "flux")


def frame_features(
    power: np.ndarray,
    freqs: np.ndarray,
    *,
    prev_power: np.ndarray | None = None,
    roll_percent: float = 0.85,
    amin: float = 1e-10,
) -> np.ndarray:
    """Spectral centroid, bandwidth, roll-off, flatness and flux of each frame.

    Parameters
    ----------
    power : numpy.ndarray
        |X|² of the frames, float32 ``(n_frames, n_bins)``.
    freqs : numpy.ndarray
        Bin frequencies in Hz.
    prev_power : numpy.ndarray, optional
        |X|² of the frame before the first (flux of the first frame); zeros if None.
    roll_percent : float
        Fraction of the magnitude sum below the roll-off frequency.
    amin : float
        Floor of the power in the flatness measure.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_frames, 5)``, columns :data:`FEATURE_NAMES`.

    Notes
    -----
    Centroid, bandwidth (p = 2) and roll-off are computed on the magnitude
    spectrum and flatness on the power spectrum, as librosa defines them
    (``librosa.feature.spectral_*`` with ``S=|X|``); flux is the L2 norm of the
    positive magnitude increments from the previous frame.
    """
    power = np.ascontiguousarray(power, np.float32)
    out = np.empty((len(power), len(FEATURE_NAMES)), np.float32)
    if len(power) == 0:
        return out
    prev = (
        np.zeros(power.shape[1], np.float32)
        if prev_power is None
        else np.asarray(prev_power, np.float32)
    )
    scratch = np.empty_like(power)  # the magnitudes, allocated once per call, not per frame
    _kernels.frame_features(
        power, np.asarray(freqs, np.float64), prev, float(roll_percent), float(amin), scratch, out
    )
    return out


def band_energies(
    power: np.ndarray,
    bin_lo: np.ndarray,
    bin_hi: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Σ |X|² over each band's bins, float64 ``(n_frames, n_bands)``.

    ``weights`` ``(n_bands, 2)``: each band's share of its first and last bin (see
    :class:`~zhurong_tk.audio.bands.Band`); whole bins when not given.
    """
    out = np.empty((len(power), len(bin_lo)), np.float64)
    if weights is None:
        weights = np.ones((len(bin_lo), 2))
    if len(power) and len(bin_lo):
        _kernels.band_sums(
            np.ascontiguousarray(power, np.float32),
            np.asarray(bin_lo, np.int64),
            np.asarray(bin_hi, np.int64),
            np.ascontiguousarray(weights, np.float64),
            out,
        )
    return out
