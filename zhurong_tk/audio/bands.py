"""Frequency bands: octave and third-octave (IEC 61260 base-2 centres) and user bands."""

from __future__ import annotations

import dataclasses

import numpy as np

from zhurong_tk.errors import ParameterError

#: Default user bands (Hz): infrasonic wind / low rumble, motors, gears, hiss.
DEFAULT_USER_BANDS: tuple[tuple[float, float], ...] = (
    (20, 100),
    (100, 500),
    (500, 2000),
    (2000, 10000),
)


@dataclasses.dataclass(frozen=True)
class Band:
    """A frequency band ``[lo_hz, hi_hz)`` with a label and its FFT bin range."""

    label: str
    lo_hz: float
    hi_hz: float
    centre_hz: float
    bin_lo: int
    bin_hi: int  # exclusive


def fractional_octave_bands(
    *, fraction: int, fmin: float, fmax: float, freqs: np.ndarray
) -> list[Band]:
    """Octave (``fraction=1``) or third-octave (``3``) bands between ``fmin`` and ``fmax``.

    Centres are ``1000·2^(k/fraction)`` Hz, edges ``centre·2^(±1/(2·fraction))``
    (IEC 61260-1 base-2). Bands whose upper edge exceeds ``fmax`` (Nyquist) or
    that contain no FFT bin are left out.
    """
    if fraction not in (1, 3):
        raise ParameterError(f"fraction must be 1 or 3, got {fraction}")
    k_lo = int(np.floor(fraction * np.log2(fmin / 1000.0)))
    k_hi = int(np.ceil(fraction * np.log2(fmax / 1000.0)))
    bands = []
    for k in range(k_lo, k_hi + 1):
        centre = 1000.0 * 2.0 ** (k / fraction)
        lo, hi = centre * 2.0 ** (-0.5 / fraction), centre * 2.0 ** (0.5 / fraction)
        if lo < fmin * 0.999 or hi > fmax:
            continue
        band = _make_band(_nominal(centre), lo, hi, centre, freqs)
        if band is not None:
            bands.append(band)
    return bands


def _nominal(centre: float) -> str:
    return f"{centre:.0f} Hz" if centre >= 100 else f"{centre:.3g} Hz"


def _make_band(label: str, lo: float, hi: float, centre: float, freqs: np.ndarray) -> Band | None:
    bin_lo = int(np.searchsorted(freqs, lo, side="left"))
    bin_hi = int(np.searchsorted(freqs, hi, side="left"))
    if bin_hi <= bin_lo:
        return None
    return Band(label, float(lo), float(hi), float(centre), bin_lo, bin_hi)


def user_bands(
    edges: tuple[tuple[float, float], ...],
    *,
    freqs: np.ndarray,
    nyquist: float,
    notes: list[str] | None = None,
) -> list[Band]:
    """Bands from ``(lo, hi)`` pairs in Hz, clipped to Nyquist; empty ones are left out
    (and said why in ``notes``, when given: a band the user asked for does not vanish
    without a word)."""
    bands = []
    for lo, hi in edges:
        if not 0 <= lo < hi:
            raise ParameterError(f"a band must have 0 <= lo < hi, got ({lo}, {hi})")
        if lo >= nyquist:
            if notes is not None:
                notes.append(
                    f"user band {lo:g}-{hi:g} Hz lies above the Nyquist frequency"
                    f" ({nyquist:g} Hz): left out"
                )
            continue
        top = min(hi, nyquist)
        band = _make_band(
            f"{lo:g}-{hi:g} Hz" if top == hi else f"{lo:g}-{top:g} Hz (clipped)",
            lo,
            top,
            float(np.sqrt(max(lo, 1.0) * top)),
            freqs,
        )
        if band is not None:
            bands.append(band)
        elif notes is not None:
            notes.append(
                f"user band {lo:g}-{hi:g} Hz holds no frequency bin"
                f" (bins {freqs[1] - freqs[0]:g} Hz apart): left out"
            )
    return bands
