"""Impulsive onsets (metallic clanks of a pinion on a rack, wheel strikes) and their cadence."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from zhurong_tk.audio import _kernels


@dataclasses.dataclass
class Impulse:
    time_s: float
    # onset strength (dB of positive band-level increase, summed); for an onset the envelope
    # found beside those of the frames (fill_in_onsets), its frame's
    strength: float
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


#: A band more than this far under its frame's loudest band counts as that far under it: the
#: float32 spectra's rounding lies about 140 dB down, and a steady 24-bit tone's far bands,
#: flickering at that level, summed to phantom onsets of 30 dB
ONSET_RANGE_DB = 120.0


def onset_strength(band_db: np.ndarray, range_db: float = ONSET_RANGE_DB) -> np.ndarray:
    """Positive frame-to-frame increase of band levels, summed over bands (dB).

    ``band_db`` is ``(n_frames, n_bands)`` (third-octave band levels). This is
    spectral flux on a log filterbank, as librosa's onset strength on a
    mel spectrogram, but on fractional-octave bands. Levels more than
    ``range_db`` under the frame's loudest band are raised to that floor.
    """
    if len(band_db) < 2:
        return np.zeros(len(band_db))
    finite = np.where(np.isfinite(band_db), band_db, -300.0)  # silence: a very low, finite level
    finite = np.maximum(finite, finite.max(axis=1, keepdims=True) - range_db)
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
    # frames closer than min_separation_s: rounded, 80 ms at a 21-ms hop was 4 frames, and a
    # 10-per-second click train lost every other click that fell 4 frames after the last
    sep = max(1, math.ceil(min_separation_s / hop_s - 1e-9) - 1)
    nearby_max = np.empty(n)
    _kernels.running_max(strength, 2 * sep + 1, nearby_max)
    local_max = strength == nearby_max
    peaks = np.flatnonzero(local_max & (strength > threshold))
    out = []
    last = -np.inf
    for i in peaks:
        if i - last <= sep:  # (a plateau's second frame)
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


#: Steps of the onset envelope per second (a third of a millisecond): onsets are placed to
#: about a tenth of that, well inside the 2 ms a cadence needs
ENVELOPE_RATE_HZ = 3000.0


def envelope_step(sr: float) -> int:
    """Samples per step of the onset envelope at sample rate ``sr`` (Hz)."""
    return max(1, round(sr / ENVELOPE_RATE_HZ))


def refine_onsets(
    impulses: list[Impulse],
    envelope: np.ndarray,
    *,
    step_s: float,
    search_s: float,
    min_rise: float = 4.0,
) -> list[Impulse]:
    """Place each onset where the signal's high-passed energy is half-way up its rise.

    Parameters
    ----------
    impulses : list of Impulse
        Onsets at frame resolution (:func:`detect_impulses`), in time order.
    envelope : numpy.ndarray
        Energy of the first difference of the samples in steps of ``step_s`` seconds
        (:func:`~zhurong_tk.audio._kernels.onset_envelope`); step ``j`` spans
        ``[j, j + 1) · step_s``.
    step_s : float
        Envelope step in seconds.
    search_s : float
        How far from its frame-resolution time an onset is looked for (a hop and a half:
        those times lie within about half a hop of the truth).
    min_rise : float
        The envelope's rise, peak over the level before it, that an onset needs to move;
        a sound with no high-frequency attack keeps its frame time.

    Returns
    -------
    list of Impulse
        The same impulses, their times refined.

    Notes
    -----
    Frame times are quantised to the STFT hop (21 ms at 48 kHz): a perfect 10/s metronome
    read a median interval of 0.1067 s and a CV of 0.1. The envelope, smoothed over five
    steps (a linear ramp across an instant attack, centred on it), crosses half-way between
    the level before the onset and its peak at the onset itself; that crossing is placed by
    linear interpolation between steps. The search stops half-way to the neighbouring
    onsets.
    """
    out = []
    n = len(envelope)
    times = [imp.time_s for imp in impulses]
    kernel = np.full(5, 0.2)
    for k, imp in enumerate(impulses):
        lo_s = imp.time_s - search_s
        hi_s = imp.time_s + search_s
        if k > 0:
            lo_s = max(lo_s, (times[k - 1] + imp.time_s) / 2)
        if k + 1 < len(times):
            hi_s = min(hi_s, (imp.time_s + times[k + 1]) / 2)
        lo, hi = max(int(lo_s / step_s), 0), min(int(hi_s / step_s) + 1, n)
        if hi - lo < 8:
            out.append(imp)
            continue
        smooth = np.convolve(np.asarray(envelope[lo:hi], np.float64), kernel, mode="same")
        inner = smooth[2:-2]  # the ends average fewer steps
        top = int(np.argmax(inner))
        before = inner[: top + 1]
        base, peak = float(np.min(before)), float(inner[top])
        if not peak >= min_rise * base or peak <= 0:
            out.append(imp)
            continue
        half = base + 0.5 * (peak - base)
        below = np.flatnonzero(before < half)
        if len(below) == 0:
            out.append(imp)
            continue
        j = int(below[-1])  # the last step under half-way before the peak; j + 1 is over
        frac = (half - inner[j]) / (inner[j + 1] - inner[j])
        # step i's centre is (i + 0.5) step_s; inner[j] is step lo + 2 + j
        time_s = (lo + 2 + j + 0.5 + frac) * step_s
        out.append(dataclasses.replace(imp, time_s=float(time_s)))
    return out


#: A rise in the onset envelope: the mean over RISE_AFTER_S at least MIN_RISE_DB over the
#: mean of the RISE_PARTS · RISE_AFTER_S before it. Ten milliseconds before: a motor's
#: 120 Hz waveform, read in windows shorter than its period, rose 8 dB every cycle
RISE_AFTER_S = 0.002
RISE_PARTS = 5
MIN_RISE_DB = 8.0
#: Of rises closer than this, the larger (a clank's ring can rise twice as its modes beat)
RISE_SEPARATION_S = 0.015


#: Envelope steps scanned at a time (4 MB of float32)
PIECE_STEPS = 1 << 20


def envelope_rises(
    envelope: np.ndarray, step_s: float, *, min_rise_db: float = MIN_RISE_DB
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sharp rises of the onset envelope: attacks, resolved to a step.

    Parameters
    ----------
    envelope : numpy.ndarray
        The high-passed energy in steps of ``step_s`` (as for :func:`refine_onsets`): an
        array, or anything with ``len()`` whose slices are arrays (a stored column, see
        :meth:`~zhurong_tk.audio.framestore.FrameStore.column`), read once, in order, a
        piece of ``PIECE_STEPS`` at a time.
    step_s : float
        Envelope step in seconds.
    min_rise_db : float
        How far the level over the next ``RISE_AFTER_S`` must stand over the level of the
        ``RISE_PARTS`` times as long before.

    Returns
    -------
    times_s, rise_db, level_db : numpy.ndarray
        Each rise's time (the middle of the step it starts in), its size, and the level it
        rose to (dB of the envelope's mean per step), rises closer than
        ``RISE_SEPARATION_S`` merged into the larger.
    """
    after = max(2, round(RISE_AFTER_S / step_s))
    span = RISE_PARTS * after
    ratio_min = 10.0 ** (min_rise_db / 10.0)
    at, ratio, mean = np.empty(4096, np.int64), np.empty(4096), np.empty(4096)
    found = [(np.empty(0, np.int64), np.empty(0), np.empty(0))]
    n, piece_steps = len(envelope), PIECE_STEPS
    start = 0  # the next step to scan
    while True:
        # a piece at a time, with the span before its first step: memory stays at one
        # piece (a stored envelope is read, not mapped)
        lo = max(0, start - span)
        hi = min(n, lo + max(piece_steps, 2 * (span + after)))
        final = hi == n
        piece = np.ascontiguousarray(envelope[lo:hi], np.float32)
        count, resume = _kernels.envelope_rises(
            piece, after, RISE_PARTS, ratio_min, start - lo, at, ratio, mean, final
        )
        found.append((at[:count] + lo, ratio[:count].copy(), mean[:count].copy()))
        if final and resume >= len(piece):
            break
        if count == 0 and lo + resume <= start:
            piece_steps *= 2  # one run rising through a whole piece: take a longer piece
        start = lo + resume
    steps, ratios, means = (np.concatenate(parts) for parts in zip(*found, strict=True))
    keep: list[int] = []
    sep = RISE_SEPARATION_S / step_s
    for k in range(len(steps)):
        if keep and steps[k] - steps[keep[-1]] <= sep:
            if ratios[k] > ratios[keep[-1]]:
                keep[-1] = k
            continue
        keep.append(k)
    steps, ratios, means = steps[keep], ratios[keep], means[keep]
    return (
        (steps + 0.5) * step_s,
        10.0 * np.log10(ratios),
        10.0 * np.log10(np.maximum(means, 1e-300)),
    )


def attack_levels(times_s: np.ndarray, envelope: np.ndarray, step_s: float) -> np.ndarray:
    """Level of the onset envelope over ``RISE_AFTER_S`` from each of ``times_s`` (dB of its
    mean per step): how loud an attack is in the high-passed signal, where a clank stands
    well clear of wind that its broadband level is buried in."""
    after = max(2, round(RISE_AFTER_S / step_s))
    out = np.full(len(times_s), -300.0)
    for k, t in enumerate(times_s):
        j = min(max(int(t / step_s), 0), max(len(envelope) - after, 0))
        part = np.asarray(envelope[j : j + after], np.float64)
        if len(part) and part.mean() > 0:
            out[k] = 10.0 * np.log10(part.mean())
    return out


#: Intervals regular enough for a clank train's cadence (their CV)
REGULAR_CV = 0.3


def _cv(times: np.ndarray) -> float:
    intervals = np.diff(times)
    return float(np.std(intervals) / np.mean(intervals)) if len(intervals) else 0.0


def fill_in_onsets(
    impulses: list[Impulse],
    envelope: np.ndarray,
    step_s: float,
    strength: np.ndarray,
    times_s: np.ndarray,
    levels_dbfs: np.ndarray,
    *,
    hop_s: float,
    onset_offset_s: float,
    reach_s: float = 1.5,
    below_db: float = 10.0,
    seed_s: float = 0.003,
    same_s: float = 0.010,
    max_cv: float = REGULAR_CV,
) -> list[Impulse]:
    """Onsets the frames missed, found as rises of the envelope beside those they caught.

    A frame holds several clanks of a fast train (four frames of 85 ms at 48 kHz, three
    of 256 ms at 16 kHz, overlap each instant), and its flux counts only what changed since
    the frame before: at 16 clanks a second 5 of 40 were found. Each impulse that opens
    with a rise of the envelope (within ``seed_s``) vouches for rises within ``reach_s`` of
    it that reach no more than ``below_db`` under its own level, and each rise taken
    vouches in turn, at the level of the impulse the chain began at (one pass forwards, one
    back). A rise within ``same_s`` of an impulse is that impulse. The onsets added are
    kept only where they make a regular train with the others (intervals' CV at most
    ``max_cv``): a clank train's cadence.

    The cadence is what tells a train from wind. Real wind below ~200 Hz has few degrees
    of freedom in a few milliseconds, even differenced: 40 s of it rose 8-12 dB 500 times,
    as much as the clanks of a fast train over the ring before (11-25 dB); chained from
    its frame onsets, 154 of its rises were taken. The bursts of a clipped video
    soundtrack, 6 ms long at irregular 20-100 ms gaps, made a "train" at 36 a second.
    Neither kept any.

    Parameters
    ----------
    impulses : list of Impulse
        Onsets found on frames, their times refined (:func:`refine_onsets`).
    envelope : numpy.ndarray
        The onset envelope (:func:`refine_onsets`), its rises read by :func:`envelope_rises`.
    step_s : float
        Its step in seconds.
    strength, times_s, levels_dbfs : numpy.ndarray
        The frames' onset strength, centre times and levels, as for
        :func:`detect_impulses`; an onset found here takes those of its frame.
    hop_s, onset_offset_s : float
        As for :func:`detect_impulses`.
    reach_s, below_db, seed_s, same_s, max_cv : float
        As above; ``reach_s`` is :func:`impulse_trains`' largest gap within a train.

    Returns
    -------
    list of Impulse
        ``impulses`` and the onsets added, in time order.
    """
    rise_t, _, rise_level = envelope_rises(envelope, step_s)
    known = np.array(sorted(imp.time_s for imp in impulses), np.float64)
    if len(rise_t) == 0 or len(known) == 0:
        return impulses
    near = np.clip(np.searchsorted(known, rise_t), 1, len(known)) - 1
    gap = np.minimum(
        np.abs(rise_t - known[near]), np.abs(rise_t - known[np.minimum(near + 1, len(known) - 1)])
    )
    seed = gap <= seed_s
    taken = np.zeros(len(rise_t), bool)
    for order in (range(len(rise_t)), range(len(rise_t) - 1, -1, -1)):
        ref, last = -np.inf, -np.inf
        for k in order:
            if abs(rise_t[k] - last) > reach_s:
                ref = -np.inf  # the chain broke
            if seed[k]:
                ref, last = max(ref, rise_level[k]), rise_t[k]
            elif ref > -np.inf and rise_level[k] >= ref - below_db:
                taken[k], last = True, rise_t[k]
    added = []
    for k in np.flatnonzero(taken & (gap > same_s)):
        frame = round((rise_t[k] + onset_offset_s - times_s[0]) / hop_s)
        i = int(np.clip(frame, 0, len(times_s) - 1))
        added.append(
            Impulse(
                time_s=float(rise_t[k]),
                strength=float(strength[i]),
                level_dbfs=float(np.max(levels_dbfs[i : i + 3])),
            )
        )
    if not added:
        return impulses
    together = sorted(impulses + added, key=lambda imp: imp.time_s)
    loudness = attack_levels(np.array([imp.time_s for imp in together]), envelope, step_s)
    trains = impulse_trains(together, loudness=loudness)
    regular = [t for t in trains if t.regularity_cv <= max_cv]
    added = [imp for imp in added if any(t.start_s <= imp.time_s <= t.end_s for t in regular)]
    return sorted(impulses + added, key=lambda imp: imp.time_s)


def impulse_trains(
    impulses: list[Impulse],
    *,
    loudness: np.ndarray | None = None,
    max_gap_s: float = 1.5,
    min_count: int = 3,
    slow_max_gap_s: float = 4.0,
    slow_min_count: int = 4,
) -> list[ImpulseTrain]:
    """Group impulses into trains: clank sequences with their cadence.

    A train is a run of at least ``min_count`` impulses with gaps of at most
    ``max_gap_s``. An end impulse whose interval is off the train's cadence (by
    more than 30 % of the median interval and three robust deviations) is left
    out: it is the next sound's onset, and it skewed the cadence. Impulses in no
    such train form a slow train when at least ``slow_min_count`` of them follow
    one another at gaps up to ``slow_max_gap_s``, each interval within 25 % of
    their median (a slow drive's clanks, every 2-3 s; isolated onsets that far
    apart are regular only by design).

    With ``loudness`` (each impulse's :func:`attack_levels`), a run whose intervals are
    irregular is read again from its loud impulses alone: those above a gap of
    ``LOUDNESS_GAP_DB`` in its attack levels. Where they make regular trains, those are
    its trains, and the rest are grouped apart. In real Mars wind the frames find a
    weak onset every half second (8-12 dB rises of its envelope): a 4-per-second clank
    train 20 dB over the wind joined them in one run of 76 with a CV of 0.78.
    """
    times = np.array([imp.time_s for imp in impulses], np.float64)
    groups = [_trimmed(times, g) for g in _runs(times, np.arange(len(times)), max_gap_s)]
    if loudness is not None:
        groups = [
            part for g in groups for part in _loud_core(times, loudness, g, max_gap_s, min_count)
        ]
    dense = [g for g in groups if len(g) >= min_count]
    used = np.zeros(len(times), bool)
    for g in dense:
        used[g] = True
    # the rest, split where a train took impulses, for the slow cadences
    slow = []
    for free in _runs(times, np.flatnonzero(~used), slow_max_gap_s):
        slow += [g for g in _regular_runs(times, free) if len(g) >= slow_min_count]
    found = sorted(dense + slow, key=lambda g: times[g[0]])
    return [_train(times[g]) for g in found]


#: A gap this wide in a run's sorted attack levels parts its loud impulses from the rest
LOUDNESS_GAP_DB = 6.0


def _loud_core(
    times: np.ndarray, loudness: np.ndarray, group: np.ndarray, max_gap_s: float, min_count: int
) -> list[np.ndarray]:
    """``group`` as is when regular; else the regular trains of its loud impulses, and
    the rest. "Loud" is above a gap of ``LOUDNESS_GAP_DB`` in the run's sorted attack
    levels, each such gap tried from the top until one gives a regular train."""
    if len(group) < min_count or _cv(times[group]) <= REGULAR_CV:
        return [group]
    level = loudness[group]
    ranked = np.sort(level)[::-1]
    for k in np.flatnonzero(ranked[:-1] - ranked[1:] >= LOUDNESS_GAP_DB):
        if k + 1 < min_count:
            continue
        loud = group[level >= ranked[k]]
        # the loud ones split at time gaps only: the quiet ones between are no break
        breaks = np.flatnonzero(np.diff(times[loud]) > max_gap_s) + 1
        cores = [_trimmed(times, h) for h in np.split(loud, breaks)]
        cores = [h for h in cores if len(h) >= min_count and _cv(times[h]) <= REGULAR_CV]
        if cores:
            taken = np.zeros(len(times), bool)
            for h in cores:
                taken[h] = True
            rest = group[~taken[group]]
            return cores + [_trimmed(times, g) for g in _runs(times, rest, max_gap_s)]
    return [group]


def _runs(times: np.ndarray, index: np.ndarray, max_gap_s: float) -> list[np.ndarray]:
    """Split ``index`` (into ``times``, ascending) where consecutive times, or the indices
    themselves, are not neighbours: gaps over ``max_gap_s``, or a taken impulse between."""
    if len(index) == 0:
        return []
    breaks = (np.diff(times[index]) > max_gap_s) | (np.diff(index) > 1)
    return np.split(index, np.flatnonzero(breaks) + 1)


def _off_cadence(interval: float, others: np.ndarray) -> bool:
    median = float(np.median(others))
    spread = 1.4826 * float(np.median(np.abs(others - median)))
    return abs(interval - median) > max(0.3 * median, 3.0 * spread)


def _trimmed(times: np.ndarray, group: np.ndarray) -> np.ndarray:
    """``group`` without end impulses off the cadence of its other intervals (two at least)."""
    while len(group) >= 4:
        intervals = np.diff(times[group])
        if _off_cadence(intervals[-1], intervals[:-1]):
            group = group[:-1]
        elif _off_cadence(intervals[0], intervals[1:]):
            group = group[1:]
        else:
            break
    return group


def _regular_runs(times: np.ndarray, index: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of ``index`` whose intervals stay within 25 % of the run's median."""
    out: list[np.ndarray] = []
    i = 0
    while i < len(index):
        j = i + 1
        while j < len(index):
            intervals = np.diff(times[index[i : j + 1]])
            median = np.median(intervals)
            if np.any(np.abs(intervals - median) > 0.25 * median):
                break
            j += 1
        out.append(index[i:j])
        i = j if j - i > 1 else i + 1
    return out


def _train(times: np.ndarray) -> ImpulseTrain:
    intervals = np.diff(times)
    return ImpulseTrain(
        start_s=float(times[0]),
        end_s=float(times[-1]),
        count=len(times),
        rate_hz=float((len(times) - 1) / (times[-1] - times[0])),
        median_interval_s=float(np.median(intervals)),
        regularity_cv=_cv(times),
    )
