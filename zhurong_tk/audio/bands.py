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
    """A frequency band ``[lo_hz, hi_hz)`` with a label and the FFT bins it overlaps.

    Each bin stands for the ``bin_hz`` around its frequency; a band takes the share of a
    bin that it overlaps: ``weight_lo`` of bin ``bin_lo``, ``weight_hi`` of bin
    ``bin_hi - 1`` (the same bin, and then ``weight_lo`` alone counts, for a band inside
    one bin), all of the bins between. So a band narrower than a bin or two reads white
    noise at its own width (counting the bins it held whole read it up to 6.5 dB high), and
    no band is left without a bin.
    """

    label: str
    lo_hz: float
    hi_hz: float
    centre_hz: float
    bin_lo: int
    bin_hi: int  # exclusive
    weight_lo: float = 1.0
    weight_hi: float = 1.0

    def bins(self, bin_hz: float) -> float:
        """The band's width in FFT bins (may be below 1)."""
        return (self.hi_hz - self.lo_hz) / bin_hz

    def total(self, values: np.ndarray) -> float:
        """Σ over the band of per-bin ``values`` (power, or density × bin width)."""
        return band_total(values, self.bin_lo, self.bin_hi, self.weight_lo, self.weight_hi)


def band_total(values: np.ndarray, lo: int, hi: int, weight_lo: float, weight_hi: float) -> float:
    """Weighted sum of ``values[lo:hi]`` (see :class:`Band`)."""
    if hi - lo == 1:
        return float(weight_lo * values[lo])
    inner = float(np.sum(values[lo + 1 : hi - 1], dtype=np.float64))
    return float(weight_lo * values[lo] + inner + weight_hi * values[hi - 1])


def fractional_octave_bands(
    *, fraction: int, fmin: float, fmax: float, freqs: np.ndarray, clip_top: bool = False
) -> list[Band]:
    """Octave (``fraction=1``) or third-octave (``3``) bands between ``fmin`` and ``fmax``.

    Centres are ``1000·2^(k/fraction)`` Hz, edges ``centre·2^(±1/(2·fraction))``
    (IEC 61260-1 base-2). Bands whose upper edge exceeds ``fmax`` (Nyquist) are left out,
    unless ``clip_top``: then the band holding ``fmax`` ends there, labelled
    ``"<centre> Hz (clipped)"``, so that what lies between the last whole band and Nyquist
    (up to half the spectrum: 11.3-22 kHz at 44.1 kHz) is not unseen — if what remains
    spans at least a third of the band's width in octaves. A thinner sliver (22.6-24 kHz
    at 48 kHz, 0.09 octave) is where anti-aliasing filters leave next to nothing, and a
    band 110 dB down made a click's segment open a frame early. A band narrower than a
    bin takes its share of the bins it overlaps (see :class:`Band`).
    """
    if fraction not in (1, 3):
        raise ParameterError(f"fraction must be 1 or 3, got {fraction}")
    k_lo = int(np.floor(fraction * np.log2(fmin / 1000.0)))
    k_hi = int(np.ceil(fraction * np.log2(fmax / 1000.0)))
    bands = []
    for k in range(k_lo, k_hi + 1):
        centre = 1000.0 * 2.0 ** (k / fraction)
        lo, hi = centre * 2.0 ** (-0.5 / fraction), centre * 2.0 ** (0.5 / fraction)
        if lo < fmin * 0.999 or lo >= fmax:
            continue
        if hi > fmax and not (clip_top and np.log2(fmax / lo) >= 1 / (3 * fraction)):
            continue
        label = _nominal(centre) if hi <= fmax else f"{_nominal(centre)} (clipped)"
        band = _make_band(label, lo, min(hi, fmax), centre, freqs)
        if band is not None:
            bands.append(band)
    return bands


def _nominal(centre: float) -> str:
    return f"{centre:.0f} Hz" if centre >= 100 else f"{centre:.3g} Hz"


def _make_band(label: str, lo: float, hi: float, centre: float, freqs: np.ndarray) -> Band | None:
    """The band with the bins it overlaps; None when it holds none (outside 0..Nyquist)."""
    if len(freqs) < 2:
        return None
    bin_hz = float(freqs[1] - freqs[0])
    top = float(freqs[-1])
    # bin k stands for [(k - 1/2)·df, (k + 1/2)·df), cut to 0..Nyquist at the ends
    first = max(0, int(np.floor(lo / bin_hz + 0.5)))
    last = min(len(freqs) - 1, int(np.ceil(hi / bin_hz - 0.5)))

    def share(k: int) -> float:
        a, b = max((k - 0.5) * bin_hz, 0.0), min((k + 0.5) * bin_hz, top)
        return max(0.0, min(b, hi) - max(a, lo)) / (b - a)

    while last >= first and share(last) <= 0.0:
        last -= 1
    while first <= last and share(first) <= 0.0:
        first += 1
    if last < first:
        return None
    weight_lo = share(first)
    weight_hi = share(last) if last > first else weight_lo
    return Band(label, float(lo), float(hi), float(centre), first, last + 1, weight_lo, weight_hi)


def user_bands(
    edges: tuple[tuple[float, float], ...],
    *,
    freqs: np.ndarray,
    nyquist: float,
    notes: list[str] | None = None,
) -> list[Band]:
    """Bands from ``(lo, hi)`` pairs in Hz, clipped to Nyquist; ones above Nyquist are left
    out, and ``notes`` (when given) says so, and names a band narrower than one bin: a band
    the user asked for does not vanish, or go unresolved, without a word."""
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
        if band is None:
            continue
        bands.append(band)
        bin_hz = float(freqs[1] - freqs[0])
        if notes is not None and band.bins(bin_hz) < 1.0:
            notes.append(
                f"user band {lo:g}-{hi:g} Hz is narrower than one frequency bin (bins"
                f" {bin_hz:g} Hz apart): its level is its share of that bin, not resolved"
            )
    return bands
