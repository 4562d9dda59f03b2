"""Write processed audio: spectral gating against the noise floor, and band-pass.

Both are gains on the STFT, applied in one streaming pass with weighted
overlap-add (Hann analysis and synthesis windows at a quarter-frame hop, whose
squared sum is constant), so the output has exactly the input's length and
alignment and unit gain where nothing is changed.
"""

from __future__ import annotations

import os

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


def band_gains(freqs: np.ndarray, lo_hz: float, hi_hz: float, *, taper_bins: int = 2) -> np.ndarray:
    """1 inside ``[lo_hz, hi_hz]``, 0 outside, with raised-cosine tapers of a few bins."""
    if not 0 <= lo_hz < hi_hz:
        raise ParameterError(f"band-pass needs 0 <= LO < HI, got {lo_hz}, {hi_hz}")
    df = freqs[1] - freqs[0]
    rise = (
        np.clip((freqs - (lo_hz - taper_bins * df)) / (taper_bins * df), 0, 1)
        if lo_hz > 0
        else np.ones_like(freqs)
    )
    fall = np.clip(((hi_hz + taper_bins * df) - freqs) / (taper_bins * df), 0, 1)
    return (0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))).astype(np.float32)


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
    reader = AudioReader(path, stream=stream, signal=signal)
    sr = reader.info.samplerate
    hop = n_fft // 4
    window = window_array("hann", n_fft)
    norm = np.float32(1.0 / np.sum(window**2 / hop))  # Σ w² over overlapping frames = 1.5 at N/4
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    scale = (2.0 / (sr * np.sum(window.astype(np.float64) ** 2))) * np.ones(len(freqs))
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
    fixed = band_gains(freqs, *band_hz) if band_hz else np.ones(len(freqs), np.float32)
    pad = n_fft - hop
    tails = [
        np.zeros(pad, np.float32) for _ in range(channels)
    ]  # leading zeros: every sample in 4 frames
    accum = [np.zeros(n_fft, np.float32) for _ in range(channels)]
    subtype = "FLOAT" if suffix == ".wav" else "PCM_24"  # FLAC holds integers only
    with (
        atomic_path(out_path, overwrite=overwrite) as tmp,
        sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, subtype=subtype) as fh,
    ):
        written = 0
        total = 0

        def process(c: int, x: np.ndarray) -> np.ndarray:
            buf = np.concatenate([tails[c], x])
            n_frames = (len(buf) - n_fft) // hop + 1 if len(buf) >= n_fft else 0
            out = np.zeros(n_frames * hop, np.float32)
            if n_frames:
                frames = np.lib.stride_tricks.sliding_window_view(buf, n_fft)[::hop][:n_frames]
                spec = scipy.fft.rfft(frames * window, axis=-1)
                gains = np.broadcast_to(fixed, spec.shape).copy()
                if noise_floors is not None and gated[c]:
                    power = (spec.real**2 + spec.imag**2) * scale
                    gains *= gate_gains(
                        power,
                        noise_floors[c],
                        threshold_db=threshold_db,
                        reduction_db=reduction_db,
                    )
                y = (
                    scipy.fft.irfft(spec * gains, n=n_fft, axis=-1).astype(np.float32)
                    * window
                    * norm
                )
                acc = accum[c]
                for i in range(n_frames):
                    acc[:] += y[i]
                    out[i * hop : (i + 1) * hop] = acc[:hop]
                    acc[:-hop] = acc[hop:]
                    acc[-hop:] = 0.0
            tails[c] = buf[n_frames * hop :]
            return out

        for block in reader.blocks(1 << 16):
            # the analysis's rule: NaN, Inf and corrupt values beyond ±MAX_SAMPLE become 0
            # (per channel, before a mix, so one bad channel does not silence the others)
            block = np.where(usable_samples(block), block, np.float32(0.0))
            data = [block.mean(axis=1)] if mix else [block[:, c] for c in range(channels)]
            total += len(block)
            outs = [process(c, x) for c, x in enumerate(data)]
            # the first `pad` output samples belong to the leading zeros
            chunk = np.stack(outs, axis=1)
            skip = max(0, pad - written)
            written += len(chunk)
            if len(chunk) > skip:
                fh.write(chunk[skip:])
        flush = [process(c, np.zeros(pad + hop, np.float32)) for c in range(channels)]
        chunk = np.stack(flush, axis=1)
        skip = max(0, pad - written)
        remaining = total - max(0, written - pad)
        fh.write(chunk[skip : skip + remaining])
    return warnings
