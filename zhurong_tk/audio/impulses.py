"""Impulsive onsets (metallic clanks of a pinion on a rack, wheel strikes) and their cadence."""

from __future__ import annotations

import dataclasses

import numpy as np

from zhurong_tk.audio import _kernels


@dataclasses.dataclass
class Impulse:
    time_s: float
    strength: float  # onset strength (dB of positive band-level increase, summed)
    level_dbfs: float  # short-term level of the frame after the onset


@dataclasses.dataclass
class ImpulseTrain:
    """Impulses spaced at most ``max_gap_s`` apart: a clank sequence with its cadence."""

    start_s: float
    end_s: float
    count: int
    rate_hz: float
    median_interval_s: float
    regularity_cv: float  # std/mean of the intervals: 0 is a perfect metronome


def onset_strength(band_db: np.ndarray) -> np.ndarray:
    """Positive frame-to-frame increase of band levels, summed over bands (dB).

    ``band_db`` is ``(n_frames, n_bands)`` (third-octave band levels). This is
    spectral flux on a log filterbank, as librosa's onset strength on a
    mel spectrogram, but on fractional-octave bands.
    """
    if len(band_db) < 2:
        return np.zeros(len(band_db))
    finite = np.where(np.isfinite(band_db), band_db, -300.0)  # silence: a very low, finite level
    diff = np.diff(finite, axis=0, prepend=finite[:1])
    return np.maximum(diff, 0.0).sum(axis=1)


def detect_impulses(
    strength: np.ndarray,
    times_s: np.ndarray,
    levels_dbfs: np.ndarray,
    *,
    hop_s: float,
    onset_offset_s: float,
    k: float = 6.0,
    min_strength: float = 20.0,
    min_separation_s: float = 0.08,
) -> list[Impulse]:
    """Peaks of the onset strength above an adaptive threshold.

    Threshold: running median over ±1 s plus ``k`` times the recording's
    median absolute deviation of the strength, and at least
    ``min_strength`` dB. Peaks closer than ``min_separation_s`` keep the
    stronger one. ``onset_offset_s`` is subtracted from the frame centre: the
    dB flux jumps as soon as an impulse enters a frame's leading edge, so the
    onset lies about a quarter frame *after* the centre (pass ``-n_fft/4/sr``).
    """
    n = len(strength)
    if n < 3:
        return []
    span = max(3, round(1.0 / hop_s) | 1)
    # running median and maximum as scipy.ndimage's median_filter and maximum_filter1d
    # (mode "nearest") compute them; scipy.ndimage's import alone costs ~0.2 s
    strength = np.ascontiguousarray(strength, np.float64)
    background = np.empty(n)
    _kernels.running_median(strength, 2 * span + 1, background)
    mad = np.median(np.abs(strength - np.median(strength))) + 1e-9
    threshold = np.maximum(background + k * 1.4826 * mad, min_strength)
    sep = max(1, round(min_separation_s / hop_s))
    nearby_max = np.empty(n)
    _kernels.running_max(strength, 2 * sep + 1, nearby_max)
    local_max = strength == nearby_max
    peaks = np.flatnonzero(local_max & (strength > threshold))
    out = []
    last = -np.inf
    for i in peaks:
        if i - last <= sep:
            continue
        level = float(np.max(levels_dbfs[i : min(n, i + 3)]))
        out.append(
            Impulse(
                time_s=float(times_s[i] - onset_offset_s),
                strength=float(strength[i]),
                level_dbfs=level,
            )
        )
        last = i
    return out


def impulse_trains(
    impulses: list[Impulse], *, max_gap_s: float = 1.5, min_count: int = 3
) -> list[ImpulseTrain]:
    """Group impulses into trains (gaps ≤ ``max_gap_s``) of at least ``min_count``."""
    trains: list[ImpulseTrain] = []
    group: list[Impulse] = []
    for imp in [*impulses, None]:
        if imp is not None and (not group or imp.time_s - group[-1].time_s <= max_gap_s):
            group.append(imp)
            continue
        if len(group) >= min_count:
            times = np.array([g.time_s for g in group])
            intervals = np.diff(times)
            trains.append(
                ImpulseTrain(
                    start_s=float(times[0]),
                    end_s=float(times[-1]),
                    count=len(group),
                    rate_hz=float((len(group) - 1) / (times[-1] - times[0])),
                    median_interval_s=float(np.median(intervals)),
                    regularity_cv=float(np.std(intervals) / np.mean(intervals)),
                )
            )
        group = [imp] if imp is not None else []
    return trains
