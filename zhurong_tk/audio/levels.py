"""Levels: RMS and peak in dBFS (or Pa and dB SPL), statistical levels, and a
streaming per-frequency level distribution (noise floor, median PSD)."""

from __future__ import annotations

import numpy as np

from zhurong_tk.audio import _kernels
from zhurong_tk.errors import ParameterError

P_REF = 20e-6  # Pa, reference of dB SPL

#: Float samples beyond this (full scale = 1) are corrupt data, reported and replaced by 0
#: like NaN: 120 dB over full scale, far above any real headroom or unscaled 16-bit floats
#: (±32768), and far below where a frame's float32 power would overflow (~1e16).
MAX_SAMPLE = 1e6


def usable_samples(x: np.ndarray) -> np.ndarray:
    """Where samples are finite and within ±:data:`MAX_SAMPLE` (the rest are replaced by 0).

    Parameters
    ----------
    x : numpy.ndarray
        Samples, full scale 1.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``x``.
    """
    return np.isfinite(x) & (np.abs(x) <= np.float32(MAX_SAMPLE))


def to_db(power: np.ndarray | float, floor: float = 1e-30) -> np.ndarray:
    """``10·log10(power)``; zero power gives ``-inf`` (never NaN), which reports write as null."""
    p = np.asarray(power, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(p > 0, 10.0 * np.log10(np.maximum(p, floor)), -np.inf)


def statistical_levels(levels_db: np.ndarray) -> dict[str, float]:
    """L10, L50, L90: the levels exceeded 10, 50 and 90 % of the time (ISO 1996 usage)."""
    finite = levels_db[np.isfinite(levels_db)]
    if len(finite) == 0:
        return {"L10": -np.inf, "L50": -np.inf, "L90": -np.inf}
    p90, p50, p10 = np.percentile(finite, [90, 50, 10])
    return {"L10": float(p90), "L50": float(p50), "L90": float(p10)}


def calibrate(dbfs: float, sensitivity_pa: float | None) -> dict[str, float]:
    """A level in dBFS, and in dB SPL when the full-scale sensitivity (Pa) is known."""
    out = {"dbfs": dbfs}
    if sensitivity_pa is not None:
        out["db_spl"] = dbfs + 20.0 * np.log10(sensitivity_pa / P_REF)
    return out


# Level histograms of band series over time (L10/L50/L90 without keeping the series):
# 0.1 dB cells from -300 dB up.
LEVEL_MIN_DB, LEVEL_STEP_DB, LEVEL_CELLS = -300.0, 0.1, 5000


def level_cells(power: np.ndarray) -> np.ndarray:
    """Histogram cell of each power value (zero power: cell 0)."""
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(power)
    cells = np.floor((db - LEVEL_MIN_DB) / LEVEL_STEP_DB)
    return np.clip(np.nan_to_num(cells, nan=0.0, neginf=0.0), 0, LEVEL_CELLS - 1).astype(np.int64)


def levels_from_histogram(counts: np.ndarray, offset_db: float = 0.0) -> dict[str, float]:
    """L10, L50, L90 (dB) from a level histogram; cell 0 (silence) reads as -inf."""
    total = counts.sum()
    if total == 0:
        return {"L10": -np.inf, "L50": -np.inf, "L90": -np.inf}
    cumulative = np.cumsum(counts)
    out = {}
    for name, q in (("L10", 90.0), ("L50", 50.0), ("L90", 10.0)):
        cell = int(np.searchsorted(cumulative, q / 100.0 * total))
        out[name] = (
            -np.inf if cell == 0 else LEVEL_MIN_DB + (cell + 0.5) * LEVEL_STEP_DB + offset_db
        )
    return out


class LevelHistogram:
    """Per-frequency histograms of periodogram levels, updated frame by frame.

    Gives any percentile of each bin's level over time with bounded memory:
    the 10th percentile is the noise floor (the level a bin sits at when
    nothing happens), the median gives Welch's median-averaged PSD.

    Parameters
    ----------
    scale : numpy.ndarray
        Per-bin factor applied to |X|² before taking dB (PSD density scaling).
    frame_step : int
        Count every n-th frame only. The analysis counts non-overlapping
        periodograms (every 4th at a quarter-frame hop): overlapped ones add
        little to a level distribution and cost the most in this pass.
    db_min, db_max : float
        Range of the histograms; levels outside land in the end cells. By default
        ``db_max`` is the largest periodogram level samples within ±:data:`MAX_SAMPLE`
        can reach (+117 dB re FS²/Hz at 4096 points and 48 kHz): a fixed +40 dB capped
        the median PSD and noise floor of float input in 16-bit units (±32768), whose
        tones reach +60 dB and more.
    db_step : float
        Resolution: percentiles are exact to within one step (0.1 dB ≈ 2.3 %).
    """

    PENDING_FRAMES = 64  # counted frames buffered before they are added bin by bin

    def __init__(
        self,
        scale: np.ndarray,
        *,
        db_min: float = -200.0,
        db_max: float | None = None,
        db_step: float = 0.1,
        frame_step: int = 1,
    ) -> None:
        if db_max is None:
            # |X|² of a frame is at most (Σ|w|·MAX_SAMPLE)² <= (n_fft·MAX_SAMPLE)²
            n_fft = 2 * (len(scale) - 1)
            top = MAX_SAMPLE**2 * max(n_fft, 1) ** 2 * float(np.max(scale))
            db_max = 10.0 * np.ceil(np.log10(top))
        if not db_step > 0 or not db_max > db_min:
            raise ParameterError(f"bad histogram range {db_min}..{db_max} step {db_step}")
        self.scale = np.asarray(scale, np.float64)
        self.log2_scale = np.log2(self.scale)
        self.frame_step = max(1, int(frame_step))
        self._seen = 0  # frames offered so far: the stride runs over the whole stream
        self.db_min = db_min
        self.db_step = db_step
        n_levels = int(np.ceil((db_max - db_min) / db_step))
        # int32 counts (2^31 frames is 2 years at 48 kHz with a 1024 hop): half the cache traffic
        self.hist = np.zeros((len(scale), n_levels), np.int32)
        self.count = 0
        # cells of counted frames waiting to be added to ``hist`` (kernels that count frames
        # themselves fill it; see :meth:`flush`)
        cell_type = np.int16 if n_levels <= np.iinfo(np.int16).max else np.int32
        self.pending = np.zeros((self.PENDING_FRAMES, len(scale)), cell_type)
        self.pending_count = np.zeros(1, np.int64)

    def update(self, power: np.ndarray) -> None:
        """Count frames of |X|² (float32 ``(n_frames, n_bins)``), every ``frame_step``-th one."""
        power = np.ascontiguousarray(power, np.float32)
        used = power[self.take(len(power))]
        if len(used):
            _kernels.level_histogram_update(
                used.view(np.int32), self.log2_scale, self.db_min, self.db_step, 1, self.hist
            )

    def take(self, n_frames: int) -> np.ndarray:
        """Which of the next ``n_frames`` frames are counted (every ``frame_step``-th of the
        whole stream); advances the stream position and :attr:`count`. Kernels that update
        :attr:`hist` themselves use it too."""
        take = (self._seen + np.arange(n_frames)) % self.frame_step == 0
        self._seen += n_frames
        self.count += int(take.sum())
        return take

    def flush(self) -> None:
        """Add the pending frames' cells into :attr:`hist`."""
        if self.pending_count[0]:
            _kernels.count_pending(self.pending, self.pending_count, self.hist)

    def percentile(self, q: float) -> np.ndarray:
        """The ``q``-th percentile (0..100) of each bin's level, as power (not dB)."""
        self.flush()
        if self.count == 0:
            return np.full(self.hist.shape[0], np.nan)
        target = max(q / 100.0 * self.count, 1e-9)
        idx = np.empty(self.hist.shape[0], np.int64)
        for start in range(0, len(idx), 256):  # row chunks: no full-size cumulative copy
            cumulative = np.cumsum(self.hist[start : start + 256], axis=1, dtype=np.int64)
            idx[start : start + 256] = np.argmax(cumulative >= target, axis=1)
        db = self.db_min + (idx + 0.5) * self.db_step
        power = 10.0 ** (db / 10.0)
        power[(idx == 0) & (self.hist[:, 0] > 0)] = 0.0  # digital silence stays zero
        return power

    def median_psd(self) -> np.ndarray:
        """Welch's median average: the median periodogram divided by its bias (as scipy)."""
        return self.percentile(50.0) / _median_bias(self.count)


def _median_bias(n: int) -> float:
    # scipy.signal._spectral_py._median_bias: the median of n chi²(2)/2 variates is biased low
    ii_2 = 2 * np.arange(1.0, (n - 1) // 2 + 1)
    return 1 + np.sum(1.0 / (ii_2 + 1) - 1.0 / ii_2)
