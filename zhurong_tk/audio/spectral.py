"""Short-time spectra of long recordings, in blocks: STFT frames, Welch PSD, pooled spectrogram.

Framing matches :func:`scipy.signal.welch` with ``detrend=False``: frames of
``n_fft`` samples every ``hop`` samples from sample 0, no padding, incomplete
final frames dropped. A block of ``n_fft + (k - 1)·hop`` samples holds exactly
``k`` frames, and consecutive blocks overlap by ``n_fft - hop`` samples, so a
recording of any length is transformed with bounded memory and the result
does not depend on the block size.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from zhurong_tk.errors import ParameterError


@dataclasses.dataclass(frozen=True)
class StftConfig:
    """Framing of the analysis.

    Attributes
    ----------
    sr : float
        Sample rate in Hz.
    n_fft : int
        Frame (and FFT) length in samples.
    hop : int
        Step between frames in samples.
    window : str
        A window name understood by :func:`scipy.signal.get_window` (periodic form).
    """

    sr: float
    n_fft: int = 4096
    hop: int = 1024
    window: str = "hann"

    def __post_init__(self) -> None:
        if not self.sr > 0:
            raise ParameterError(f"sample rate must be positive, got {self.sr}")
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            raise ParameterError(f"n_fft must be a power of two >= 16, got {self.n_fft}")
        if not 0 < self.hop <= self.n_fft:
            raise ParameterError(f"hop must be in 1..n_fft ({self.n_fft}), got {self.hop}")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def freqs(self) -> np.ndarray:
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)

    def window_array(self) -> np.ndarray:
        """The window as float32 (read-only, shared: computed once per name and length)."""
        return window_array(self.window, self.n_fft)

    def block_samples(self, frames_per_block: int) -> int:
        """Samples in a block holding ``frames_per_block`` frames."""
        return self.n_fft + (frames_per_block - 1) * self.hop

    def density_scale(self) -> np.ndarray:
        """Per-bin factor turning |X|² into a one-sided PSD (units²/Hz), as scipy's welch."""
        w = self.window_array().astype(np.float64)
        scale = np.full(self.n_bins, 2.0 / (self.sr * np.sum(w * w)))
        scale[0] /= 2.0
        if self.n_fft % 2 == 0:
            scale[-1] /= 2.0
        return scale

    def frame_times(self, first: int, count: int) -> np.ndarray:
        """Centre time (s) of frames ``first .. first + count - 1``."""
        return ((first + np.arange(count)) * self.hop + self.n_fft / 2) / self.sr


@functools.lru_cache(maxsize=16)
def window_array(name: str, n: int) -> np.ndarray:
    """Periodic (DFT-even) window ``name`` of length ``n`` as float32, read-only and cached.

    Hann, the default, is computed here; other names go to :func:`scipy.signal.get_window`
    (imported only then: scipy.signal costs ~0.6 s and ~50 MB to import, per run).
    """
    if name == "hann":
        window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)
    else:
        from scipy import signal

        window = signal.get_window(name, n, fftbins=True).astype(np.float32)
    window.flags.writeable = False
    return window


def lowpass_taps(
    sr: float, *, pass_hz: float, stop_hz: float, atten_db: float = 80.0
) -> np.ndarray:
    """Linear-phase FIR low-pass by the Kaiser window method (as :func:`scipy.signal.firwin`).

    Flat to ``pass_hz``, at least ``atten_db`` down from ``stop_hz``; unit gain at DC;
    float32, odd length. Written out (numpy has the sinc and the Kaiser window) so the
    analysis does not import scipy.signal for one filter.
    """
    if not 0 < pass_hz < stop_hz <= sr / 2:
        raise ParameterError(f"need 0 < pass_hz < stop_hz <= sr/2, got {pass_hz}, {stop_hz}, {sr}")
    width = 2 * np.pi * (stop_hz - pass_hz) / sr  # transition width, rad/sample
    design_db = atten_db + 2.0  # Kaiser's formulas are estimates: leave a margin
    n_taps = int(np.ceil((design_db - 7.95) / (2.285 * width))) + 1
    n_taps += 1 - n_taps % 2  # odd: a whole-sample delay
    if design_db > 50:
        beta = 0.1102 * (design_db - 8.7)
    else:
        beta = 0.5842 * max(design_db - 21, 0.0) ** 0.4 + 0.07886 * max(design_db - 21, 0.0)
    cutoff = (pass_hz + stop_hz) / sr  # (pass + stop) / 2, as a fraction of sr / 2
    taps = cutoff * np.sinc(cutoff * (np.arange(n_taps) - (n_taps - 1) / 2))
    taps *= np.kaiser(n_taps, beta)
    return (taps / taps.sum()).astype(np.float32)


def stft_block(
    x: np.ndarray,
    config: StftConfig,
    *,
    workers: int = 1,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Complex spectra of every complete frame of a 1-D block.

    Parameters
    ----------
    x : numpy.ndarray
        float32 samples, shape ``(n,)``.
    config : StftConfig
    workers : int
        Threads for :func:`scipy.fft.rfft`.
    scratch : numpy.ndarray, optional
        float32 ``(>= n_frames, n_fft)`` space for the windowed frames, reused from block to
        block: a fresh array per block is returned to the system when freed and faulted in
        again for the next one (glibc's defaults; ~0.5 s per hour of 48 kHz audio).

    Returns
    -------
    numpy.ndarray
        complex64, shape ``(n_frames, n_fft // 2 + 1)``; ``n_frames`` may be 0.
    """
    if len(x) < config.n_fft:
        return np.empty((0, config.n_bins), np.complex64)
    frames = sliding_window_view(np.asarray(x, np.float32), config.n_fft)[:: config.hop]
    out = None if scratch is None else scratch[: len(frames)]
    windowed = np.multiply(frames, config.window_array(), out=out)
    return scipy.fft.rfft(windowed, axis=-1, workers=workers)


def power_block(x: np.ndarray, config: StftConfig, *, workers: int = 1) -> np.ndarray:
    """|X|² of every complete frame of a block, float32 ``(n_frames, n_bins)``."""
    spec = stft_block(x, config, workers=workers)
    return (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32, copy=False)


@dataclasses.dataclass
class Psd:
    """A one-sided power spectral density.

    Attributes
    ----------
    freqs : numpy.ndarray
        Bin frequencies in Hz.
    mean : numpy.ndarray
        Welch estimate, mean of the periodograms (units²/Hz).
    median : numpy.ndarray or None
        Median of the periodograms, bias-corrected as scipy does (quantised to
        the level histogram's step when estimated in a stream).
    n_segments : int
        Periodograms averaged.
    """

    freqs: np.ndarray
    mean: np.ndarray
    median: np.ndarray | None
    n_segments: int


class WelchAccumulator:
    """Running mean of periodograms: the Welch PSD of everything fed so far."""

    def __init__(self, config: StftConfig) -> None:
        self.config = config
        self._sum = np.zeros(config.n_bins, np.float64)
        self.n_segments = 0
        self._scale = config.density_scale()

    def update(self, power: np.ndarray) -> None:
        """Add frames of |X|² (``(n_frames, n_bins)``)."""
        if len(power):
            self._sum += power.sum(axis=0, dtype=np.float64)
            self.n_segments += len(power)

    def mean(self) -> np.ndarray:
        if self.n_segments == 0:
            return np.full(self.config.n_bins, np.nan)
        return self._sum / self.n_segments * self._scale


def welch_psd(
    x: np.ndarray,
    *,
    sr: float,
    n_fft: int = 4096,
    hop: int | None = None,
    window: str = "hann",
    block_frames: int = 256,
) -> Psd:
    """Welch PSD of a 1-D array, computed block by block (equals :func:`scipy.signal.welch`).

    Parameters
    ----------
    x : numpy.ndarray
        Samples, shape ``(n,)``.
    sr : float
        Sample rate in Hz.
    n_fft : int
        Segment length (``nperseg``).
    hop : int, optional
        Step between segments; default ``n_fft // 2`` (scipy's default overlap).
    window : str
        Window name.

    Notes
    -----
    Welch (1967), doi:10.1109/TAU.1967.1161901. Same window, overlap and
    density scaling as scipy, with ``detrend=False``.
    """
    config = StftConfig(sr=sr, n_fft=n_fft, hop=hop or n_fft // 2, window=window)
    acc = WelchAccumulator(config)
    x = np.asarray(x, np.float32)
    step = block_frames * config.hop
    for start in range(0, max(len(x) - config.n_fft + 1, 0), step):
        acc.update(power_block(x[start : start + config.block_samples(block_frames)], config))
    return Psd(freqs=config.freqs, mean=acc.mean(), median=None, n_segments=acc.n_segments)


class SpectrogramPool:
    """Average power spectra into at most ``max_columns`` time columns.

    A long recording is drawn as a bounded image: frames are assigned to
    columns by their index (``pool = ceil(expected_frames / max_columns)``
    frames per column), so memory is ``max_columns × n_bins`` whatever the
    duration.
    """

    def __init__(
        self, config: StftConfig, *, expected_frames: int, max_columns: int = 2000
    ) -> None:
        self.config = config
        self.pool = max(1, -(-max(expected_frames, 1) // max_columns))
        self.max_columns = max_columns
        self._sum = np.zeros((max_columns + 1, config.n_bins), np.float32)
        self._count = np.zeros(max_columns + 1, np.int64)
        self.frames_seen = 0

    def update(self, power: np.ndarray) -> None:
        n = len(power)
        if n == 0:
            return
        cols = self.columns(n)
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        self._sum[cols[starts]] += np.add.reduceat(power, starts, axis=0)
        self.counted(cols)

    def columns(self, n_frames: int) -> np.ndarray:
        """Column of each of the next ``n_frames`` frames (kernels add into :attr:`_sum`)."""
        return np.minimum((self.frames_seen + np.arange(n_frames)) // self.pool, self.max_columns)

    def counted(self, cols: np.ndarray) -> None:
        """Record that frames were added into ``cols`` (see :meth:`columns`)."""
        np.add.at(self._count, cols, 1)
        self.frames_seen += len(cols)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(times_s, freqs, mean power (n_columns, n_bins))`` of the filled columns.

        Divides the sums in place (no second image in memory): call it once, at the end.
        """
        index = np.flatnonzero(self._count)
        counts = self._count[index]
        if len(index) and index[-1] == len(index) - 1:  # filled from the first column on
            mean = self._sum[: len(index)]
            mean /= counts[:, None].astype(np.float32)
        else:
            mean = self._sum[index] / counts[:, None].astype(np.float32)
        centre_frame = index * self.pool + (np.minimum(counts, self.pool) - 1) / 2
        times = (centre_frame * self.config.hop + self.config.n_fft / 2) / self.config.sr
        return times, self.config.freqs, mean
