"""Write processed audio: spectral gating against the noise floor, and band-pass.

The gate is gains on the STFT, applied with weighted overlap-add (Hann analysis
and synthesis windows at a quarter-frame hop, whose squared sum is constant). The
band-pass is a linear-phase FIR (Kaiser-windowed sinc, FFT overlap-add): gains on
an STFT cannot reject a tone within the window's main lobe of a band edge. Both
stream in one pass with flat memory, and their delays are taken out, so the
output has exactly the input's length and alignment, and unit gain where nothing
is changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import scipy.fft
import soundfile as sf
from scipy import ndimage

from zhurong_tk.audio.levels import usable_samples
from zhurong_tk.audio.spectral import window_array
from zhurong_tk.errors import ParameterError
from zhurong_tk.io.audio import AudioReader
from zhurong_tk.io.outputs import atomic_path
from zhurong_tk.io.pds4 import SignalRequest


def gate_gains(
    power_density: np.ndarray,
    noise_floor: np.ndarray,
    *,
    threshold_db: float = 6.0,
    reduction_db: float = 20.0,
    smooth_bins: int = 3,
) -> np.ndarray:
    """Spectral-gate gains: 1 where a bin stands ``threshold_db`` above the mean noise, else
    ``-reduction_db``; smoothed across frequency to avoid musical noise.

    ``noise_floor`` is the mean noise PSD (the analysis's ``noise_floor``). Noise
    periodogram values are exponentially distributed, so pure noise opens the gate in
    ``exp(-10^(threshold_db/10))`` of the bins (2 % at 6 dB).
    """
    open_ = power_density >= noise_floor * 10 ** (threshold_db / 10)
    # widen each opening by a bin either side: a narrow tone keeps its full gain
    open_ = ndimage.maximum_filter1d(open_, smooth_bins, axis=-1, mode="nearest")
    gains = np.where(open_, 1.0, 10 ** (-reduction_db / 20)).astype(np.float32)
    return ndimage.uniform_filter1d(gains, 3, axis=-1, mode="nearest")


#: The containers exports are written in (float WAV; 24-bit FLAC).
EXPORT_SUFFIXES = (".wav", ".flac")

#: Rejection the band-pass promises outside its band, dB.
BAND_STOP_DB = 60.0
#: Each edge's transition band, in octaves inside the band: full level from
#: LO·2^(1/6) to HI/2^(1/6), at least BAND_STOP_DB down at and beyond LO and HI.
BAND_TRANSITION_OCTAVES = 1 / 6
#: Longest band-pass kernel (~11 s at 48 kHz): its FFTs stay near 16 MB a channel. A band
#: whose edges need more gets wider transitions (a later full level), never less rejection.
MAX_FIR_TAPS = (1 << 19) + 1


def check_band(lo_hz: float, hi_hz: float) -> None:
    """Raise :class:`ParameterError` unless ``0 <= lo_hz < hi_hz``."""
    if not 0 <= lo_hz < hi_hz:
        raise ParameterError(f"band-pass needs 0 <= LO < HI, got {lo_hz}, {hi_hz}")


def bandpass_fir(
    lo_hz: float, hi_hz: float, *, sr: float, stop_db: float = BAND_STOP_DB
) -> tuple[np.ndarray, tuple[float, float]]:
    """A linear-phase FIR band-pass: at least ``stop_db`` down at and beyond both edges.

    Parameters
    ----------
    lo_hz, hi_hz : float
        Band edges in Hz; ``lo_hz = 0`` leaves out the high-pass, ``hi_hz >= sr/2`` the
        low-pass.
    sr : float
        Sample rate in Hz.
    stop_db : float
        Stopband attenuation, dB.

    Returns
    -------
    h : numpy.ndarray
        The kernel (float64, odd length, symmetric: a delay of ``(len(h) - 1) / 2``
        samples). A single impulse when the band is the whole of 0..Nyquist.
    (full_lo, full_hi) : (float, float)
        Where the full level (within ±0.01 dB) begins and ends, Hz.

    Notes
    -----
    A Kaiser-windowed sinc high-pass and low-pass (Kaiser 1974), convolved. Each edge's
    transition lies inside the band, 1/6 octave wide (narrowed together to two thirds of
    the band for a narrow one, widened where a kernel would exceed :data:`MAX_FIR_TAPS`).
    The design asks 6 dB more than ``stop_db``: Kaiser's length formula is approximate.
    """
    from scipy import signal as sps  # the export path only

    check_band(lo_hz, hi_hz)
    nyquist = sr / 2
    has_lo, has_hi = lo_hz > 0, hi_hz < nyquist
    if not has_lo and not has_hi:
        return np.ones(1), (0.0, nyquist)
    design_db = stop_db + 6.0
    factor = 2.0**BAND_TRANSITION_OCTAVES
    tw_lo = lo_hz * (factor - 1) if has_lo else 0.0
    tw_hi = hi_hz * (1 - 1 / factor) if has_hi else 0.0
    top = min(hi_hz, nyquist)
    if tw_lo + tw_hi > 2 / 3 * (top - lo_hz):
        shrink = 2 / 3 * (top - lo_hz) / (tw_lo + tw_hi)
        tw_lo, tw_hi = tw_lo * shrink, tw_hi * shrink
    # the narrowest transition a kernel of MAX_FIR_TAPS taps reaches (Kaiser's formula)
    tw_min = (design_db - 7.95) / (2.285 * 2 * np.pi * (MAX_FIR_TAPS - 1) / sr)
    tw_lo = max(tw_lo, tw_min) if has_lo else 0.0
    tw_hi = max(tw_hi, tw_min) if has_hi else 0.0
    full_lo, full_hi = lo_hz + tw_lo, top - tw_hi
    if full_lo >= full_hi:
        raise ParameterError(
            f"band-pass {lo_hz:g}-{hi_hz:g} Hz is too narrow for {stop_db:g} dB rejection"
            f" with at most {MAX_FIR_TAPS} taps at {sr:g} Hz: make it at least"
            f" {(has_lo + has_hi) * tw_min:.3g} Hz wide"
        )

    def kernel(cutoff: float, width: float, pass_zero: bool) -> np.ndarray:
        taps, beta = sps.kaiserord(design_db, width / nyquist)
        taps |= 1  # odd: a whole-sample delay, and a high-pass needs it
        return sps.firwin(
            taps, cutoff, window=("kaiser", beta), pass_zero=pass_zero, fs=sr, scale=True
        )

    parts = []
    if has_lo:
        parts.append(kernel(lo_hz + tw_lo / 2, tw_lo, False))
    if has_hi:
        parts.append(kernel(top - tw_hi / 2, tw_hi, True))
    h = parts[0] if len(parts) == 1 else sps.fftconvolve(parts[0], parts[1])
    return h, (float(full_lo), float(full_hi))


class _FirStream:
    """Streaming FFT overlap-add convolution of ``(n, channels)`` blocks with a kernel:
    the causal output, emitted whole blocks at a time; memory is the kernel's FFTs."""

    def __init__(self, h: np.ndarray, channels: int) -> None:
        self.taps = len(h)
        self.nfft = scipy.fft.next_fast_len(max(4 * self.taps, 1 << 14), real=True)
        self.step = self.nfft - self.taps + 1
        self.kernel = scipy.fft.rfft(h, n=self.nfft)[:, None]
        self.pending = np.zeros((0, channels), np.float64)
        self.overlap = np.zeros((self.taps - 1, channels), np.float64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.pending = np.concatenate([self.pending, x])
        outs = []
        while len(self.pending) >= self.step:
            seg, self.pending = self.pending[: self.step], self.pending[self.step :]
            y = scipy.fft.irfft(scipy.fft.rfft(seg, n=self.nfft, axis=0) * self.kernel, axis=0)
            y = y[: self.step + self.taps - 1]
            y[: self.taps - 1] += self.overlap
            self.overlap = y[self.step :].copy()
            outs.append(y[: self.step])
        return np.concatenate(outs) if outs else self.pending[:0]


def export(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    n_fft: int,
    noise_floors: list[np.ndarray] | None = None,
    band_hz: tuple[float, float] | None = None,
    mix: bool = False,
    stream: int = 0,
    signal: SignalRequest | None = None,
    threshold_db: float = 6.0,
    reduction_db: float = 20.0,
    overwrite: bool = False,
) -> list[str]:
    """Stream ``path`` through the gate and/or band-pass and write ``out_path`` (WAV/FLAC, float).

    Parameters
    ----------
    noise_floors : list of numpy.ndarray, optional
        Per channel (or one for the mix) noise-floor PSD from the analysis, to gate against.
        A channel whose floor is not finite (no frame to estimate it from) passes unchanged.
    band_hz : (lo, hi), optional
        Keep only this band.

    Returns
    -------
    list of str
        Warnings about the export, for the report.
    """
    if noise_floors is None and band_hz is None:
        raise ParameterError("nothing to export: give a noise floor to gate against or a band")
    suffix = os.path.splitext(os.fspath(out_path))[1].lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ParameterError(f"exports are written as .wav or .flac, not {suffix or 'no suffix'!r}")
    warnings: list[str] = []
    if band_hz is not None:
        check_band(*band_hz)
    reader = AudioReader(path, stream=stream, signal=signal)
    sr = reader.info.samplerate
    channels = 1 if mix else reader.info.channels
    # a file shorter than one frame has no noise-floor estimate (NaN); `power >= NaN` is
    # False and shut the gate everywhere, 20 dB down: with nothing to gate against, pass
    gated = [noise_floors is not None and bool(np.isfinite(f).all()) for f in noise_floors or []]
    if noise_floors is not None and not all(gated):
        which = (
            ""
            if not any(gated)
            else " in channel " + ", ".join(str(c) for c, ok in enumerate(gated) if not ok)
        )
        warnings.append(
            f"no noise floor (shorter than one frame){which}: samples passed unchanged, not gated"
        )
    # each stage maps (n, channels) samples to the same stream delayed by its latency
    stages: list[Callable[[np.ndarray], np.ndarray]] = []
    latency = 0
    if noise_floors is not None and any(gated):
        gate = _GateStream(
            noise_floors,
            gated,
            sr=sr,
            n_fft=n_fft,
            threshold_db=threshold_db,
            reduction_db=reduction_db,
        )
        stages.append(gate)
        latency += gate.latency
    if band_hz is not None:
        h, (full_lo, full_hi) = bandpass_fir(*band_hz, sr=sr)
        if len(h) > 1:
            stages.append(_FirStream(h, channels))
            latency += (len(h) - 1) // 2  # the linear-phase kernel's group delay
        factor = 2.0**BAND_TRANSITION_OCTAVES
        if (band_hz[0] > 0 and full_lo > band_hz[0] * factor * 1.001) or (
            band_hz[1] < sr / 2 and full_hi < band_hz[1] / factor / 1.001
        ):
            warnings.append(
                f"full level only from {full_lo:.4g} to {full_hi:.4g} Hz: the band is too"
                f" narrow for 1/6-octave transitions ({BAND_STOP_DB:g} dB down at"
                f" {band_hz[0]:g} and {band_hz[1]:g} Hz)"
            )

    def run(x: np.ndarray) -> np.ndarray:
        for stage in stages:
            x = stage(x)
        return x.astype(np.float32, copy=False)

    subtype = "FLOAT" if suffix == ".wav" else "PCM_24"  # FLAC holds integers only
    with (
        atomic_path(out_path, overwrite=overwrite) as tmp,
        sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, subtype=subtype) as fh,
    ):
        total = 0  # input samples
        over, peak = 0, 0.0  # samples a 24-bit FLAC cannot hold, and their largest
        produced = 0  # output samples of the stages; the first `latency` are dropped
        written = 0

        def write(chunk: np.ndarray, limit: int | None) -> None:
            nonlocal produced, written, over, peak
            skip = max(0, latency - produced)
            produced += len(chunk)
            chunk = chunk[skip:]
            if limit is not None:
                chunk = chunk[: limit - written]
            if len(chunk):
                if subtype == "PCM_24":
                    # libsndfile clips float to integer silently: count what it clips
                    beyond = np.abs(chunk) > 1.0
                    if beyond.any():
                        over += int(np.count_nonzero(beyond))
                        peak = max(peak, float(np.max(np.abs(chunk))))
                fh.write(chunk)
                written += len(chunk)

        for block in reader.blocks(1 << 16):
            # the analysis's rule: NaN, Inf and corrupt values beyond ±MAX_SAMPLE become 0
            # (per channel, before a mix, so one bad channel does not silence the others)
            block = np.where(usable_samples(block), block, np.float32(0.0))
            data = block.mean(axis=1, keepdims=True) if mix else block
            total += len(block)
            write(run(data), None)
        # push the last samples out with zeros: as many as the stages hold back
        while written < total:
            write(run(np.zeros((1 << 16, channels), np.float32)), total)
    if over:
        warnings.append(
            f"{over} samples beyond full scale (peak {peak:.3f}) were clipped to fit 24-bit"
            " FLAC; a .wav export keeps them"
        )
    return warnings


class _GateStream:
    """The spectral gate as a stream (see :func:`gate_gains`): Hann analysis and
    synthesis windows at a quarter-frame hop, weighted overlap-add; the output is the
    input delayed by ``latency`` samples where the gate is open."""

    def __init__(
        self,
        noise_floors: list[np.ndarray],
        gated: list[bool],
        *,
        sr: float,
        n_fft: int,
        threshold_db: float,
        reduction_db: float,
    ) -> None:
        self.floors, self.gated = noise_floors, gated
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.window = window_array("hann", n_fft)
        # Σ w² over the overlapping frames is 1.5 at N/4
        self.norm = np.float32(1.0 / np.sum(self.window**2 / self.hop))
        self.scale = 2.0 / (sr * np.sum(self.window.astype(np.float64) ** 2))
        self.threshold_db, self.reduction_db = threshold_db, reduction_db
        self.latency = n_fft - self.hop  # leading zeros: every sample lies in 4 frames
        self.tails = [np.zeros(self.latency, np.float32) for _ in gated]
        self.accum = [np.zeros(n_fft, np.float32) for _ in gated]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self._channel(c, x[:, c]) for c in range(x.shape[1])], axis=1)

    def _channel(self, c: int, x: np.ndarray) -> np.ndarray:
        n_fft, hop = self.n_fft, self.hop
        buf = np.concatenate([self.tails[c], x])
        n_frames = (len(buf) - n_fft) // hop + 1 if len(buf) >= n_fft else 0
        out = np.zeros(n_frames * hop, np.float32)
        if n_frames:
            frames = np.lib.stride_tricks.sliding_window_view(buf, n_fft)[::hop][:n_frames]
            spec = scipy.fft.rfft(frames * self.window, axis=-1)
            if self.gated[c]:
                power = (spec.real**2 + spec.imag**2) * self.scale
                spec *= gate_gains(
                    power,
                    self.floors[c],
                    threshold_db=self.threshold_db,
                    reduction_db=self.reduction_db,
                )
            y = scipy.fft.irfft(spec, n=n_fft, axis=-1).astype(np.float32)
            y *= self.window * self.norm
            acc = self.accum[c]
            for i in range(n_frames):
                acc[:] += y[i]
                out[i * hop : (i + 1) * hop] = acc[:hop]
                acc[:-hop] = acc[hop:]
                acc[-hop:] = 0.0
        self.tails[c] = buf[n_frames * hop :]
        return out
