"""A tone's segments read again in its own narrow bins.

The activity segments place a tone's edges where its octave band steps. A motor inside the
wind's band at the wind's level lifts that band by a few dB, and gusts of the same size
move its edges by a second or split it in pieces (a 46 Hz motor under −36 dBFS wind was
three segments over 0.3-1 s of its 6.3 s), while the tone search, in ~1 Hz bins, hears it
20 dB above its background. The tone search keeps its decimated signal on disk (see
:class:`~zhurong_tk.audio.tonal.TonalTracker`); around each tonal segment's edges it is
looked at again in windows of a fifth of a second, in the bins of the tone's own harmonics,
and where the tone clearly lifts them its segments become the runs where it sounds there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from zhurong_tk.audio.segments import PAUSE_MIN_S, Segment
from zhurong_tk.audio.spectral import window_array
from zhurong_tk.audio.tonal import TonalLine

#: Window of the second look (s): ~5 Hz bins, and an edge blurred by a tenth of a second
WINDOW_S = 0.2
#: Hop of the second look (s)
HOP_S = 0.01
#: Seconds looked at either side of each edge: the segments' edges were off by up to ~3 s
REACH_S = 3.0
#: ... and between two such stretches up to this far apart: a fast clank train over a motor
#: took the frames of the motor's run, the motor's segments ended on both sides of it, and
#: the stretch between went unread (a 64-Hz motor 3-15 s was two segments around a 4-s train)
FILL_S = 30.0
#: The level without the tone is read this far (s) outside its outermost edges, the level
#: with it this far inside: the edges found so far are off by up to about a second
OUT_GAP_S = 1.0
#: The tone must lift its harmonics' bins this much (dB) over their level without it
CLEAR_DB = 8.0
#: Seconds of level without the tone needed to read that level
MIN_OUTSIDE_S = 0.5
#: ``edges_from`` of a segment placed here
NARROWBAND = "tone's own bins"


def harmonic_power(
    samples: np.ndarray,
    fs: float,
    first_s: float,
    fundamental: Callable[[np.ndarray], np.ndarray],
    numbers: list[int],
    n: int,
    hop: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Power in a tone's harmonic bins per short window.

    Parameters
    ----------
    samples : numpy.ndarray
        The (decimated) signal, float32; ``samples[0]`` at ``first_s`` seconds.
    fs : float
        Its sample rate in Hz.
    fundamental : callable
        The tone's fundamental in Hz at an array of times.
    numbers : list of int
        The harmonic numbers summed.
    n, hop : int
        Window length (Hann) and hop in samples.

    Returns
    -------
    times_s, power : numpy.ndarray
        Each window's centre, and the periodogram summed over the three bins nearest
        each harmonic (a Hann window's main lobe) at the fundamental of that time.
    """
    count = (len(samples) - n) // hop + 1
    if count <= 0:
        return np.empty(0), np.empty(0)
    frames = sliding_window_view(samples, n)[::hop][:count]
    spec = scipy.fft.rfft(frames * window_array("hann", n), axis=-1)
    power = spec.real**2 + spec.imag**2
    times = first_s + (np.arange(count) * hop + n / 2) / fs
    centre = np.rint(
        np.asarray(fundamental(times))[:, None] * np.asarray(numbers)[None, :] * n / fs
    ).astype(np.int64)
    total = np.zeros(count)
    rows = np.arange(count)
    for offset in (-1, 0, 1):
        bins = centre + offset
        inside = (bins >= 1) & (bins < power.shape[1] - 1)
        total += np.where(
            inside, power[rows[:, None], np.clip(bins, 0, power.shape[1] - 1)], 0.0
        ).sum(axis=1)
    return times, total


def _spans(points: list[float], reach: float, end_s: float) -> list[tuple[float, float]]:
    """The union of ``[p - reach, p + reach]`` over ``points``, within ``0..end_s``; a
    stretch of up to :data:`FILL_S` between two of them is looked at too."""
    spans: list[list[float]] = []
    for p in sorted(points):
        lo, hi = max(0.0, p - reach), min(end_s, p + reach)
        if spans and lo <= spans[-1][1] + FILL_S:
            spans[-1][1] = max(spans[-1][1], hi)
        elif hi > lo:
            spans.append([lo, hi])
    return [(a, b) for a, b in spans]


def _unshared(line: TonalLine, lines: list[TonalLine], bin_hz: float) -> list[int]:
    """``line``'s harmonic numbers that no other line sounding with it comes within two
    bins of (their step would be the other tone's too)."""
    others = [
        o
        for o in lines
        if o is not line
        and round(o.freq_hz, 3) != round(line.freq_hz, 3)
        and min(o.end_s, line.end_s) > max(o.start_s, line.start_s)
    ]
    keep = []
    for h in line.harmonics:
        if not any(abs(h.freq_hz - g.freq_hz) < 2 * bin_hz for o in others for g in o.harmonics):
            keep.append(h.number)
    return keep


def _crossing(times: np.ndarray, power: np.ndarray, i: int, half: float) -> float:
    """Where ``power`` crosses ``half`` between frames ``i`` and ``i + 1``."""
    a, b = power[i], power[i + 1]
    frac = 0.5 if a == b else min(1.0, max(0.0, (half - a) / (b - a)))
    return float(times[i] + frac * (times[i + 1] - times[i]))


def segments_by_line(lines: list[TonalLine], segments: list[Segment]) -> dict[int, list[int]]:
    """The indices of the tonal segments under the index of the line each names: of the
    lines at its frequency (``evidence["tonal_line_hz"]``), the one whose own extent
    overlaps it most (negative overlap: minus the distance to it)."""
    owned: dict[int, list[int]] = {}
    for k, sg in enumerate(segments):
        if sg.kind != "tonal":
            continue
        hz = sg.evidence.get("tonal_line_hz")
        matching = [i for i, line in enumerate(lines) if round(line.freq_hz, 3) == hz]
        if matching:
            best = max(
                matching,
                key=lambda i: min(lines[i].end_s, sg.end_s) - max(lines[i].start_s, sg.start_s),
            )
            owned.setdefault(best, []).append(k)
    return owned


def tone_segments_again(
    segments: list[Segment],
    lines: list[TonalLine],
    read: Callable[[int, int], np.ndarray],
    *,
    fs: float,
    delay_s: float,
    top_hz: float,
    duration_s: float,
    min_duration_s: float,
    merge_gap_s: float,
) -> list[Segment]:
    """The segments with each tone's read again in its own harmonics' bins.

    Parameters
    ----------
    segments : list of Segment
        All segments; a tonal one names its line (``evidence["tonal_line_hz"]``).
    lines : list of TonalLine
    read : callable
        ``read(i0, i1)``: decimated samples ``i0`` to ``i1`` (clipped to those there are);
        sample ``k`` holds the sound of ``k / fs - delay_s`` seconds.
    fs, delay_s : float
        The decimated signal's rate (Hz) and its filter's delay (s).
    top_hz : float
        Harmonics above this are not looked at (the decimating filter's pass band ends).
    duration_s : float
        The recording's length.
    min_duration_s, merge_gap_s : float
        Runs shorter are dropped; runs closer are joined.

    Returns
    -------
    list of Segment
        Sorted by start. A line's tonal segments are replaced by the runs where its bins
        sound (:func:`_runs`: above the middle in dB of their median levels inside its
        outermost edges and outside them, :data:`OUT_GAP_S` away, or a quarter of the
        level inside if higher; edges where they cross half-way in power), when the tone
        lifts them by :data:`CLEAR_DB`; runs closer than ``merge_gap_s`` or a pause
        (:data:`~.segments.PAUSE_MIN_S`) are one. Looked at within :data:`REACH_S` of the
        edges only, a stretch between counts as sounding where a segment of the line held
        it. Their evidence is their original's, with ``edges_from`` :data:`NARROWBAND`.
    """
    n = 1 << max(4, round(np.log2(WINDOW_S * fs)))
    hop = max(1, round(HOP_S * fs))
    bin_hz = fs / n
    replaced: set[int] = set()
    added: list[Segment] = []
    for i, held in segments_by_line(lines, segments).items():
        line = lines[i]
        own = sorted((segments[k] for k in held), key=lambda sg: sg.start_s)
        numbers = [k for k in _unshared(line, lines, bin_hz) if k * line.freq_hz < top_hz]
        if not numbers or line.freq_hz < 3 * bin_hz:
            continue
        first, last = min(own[0].start_s, line.start_s), max(own[-1].end_s, line.end_s)
        points = [first, last] + [t for sg in own for t in (sg.start_s, sg.end_s)]
        track_t = np.asarray(line.times_s, np.float64)
        track_f = np.asarray(line.freqs_hz, np.float64)

        def fundamental(t, track_t=track_t, track_f=track_f, hz=line.freq_hz):
            return np.interp(t, track_t, track_f) if len(track_t) else np.full(len(t), hz)

        times_parts, power_parts = [], []
        for lo, hi in _spans(points, REACH_S, duration_s):
            i0 = max(0, int((lo + delay_s) * fs))
            samples = read(i0, int((hi + delay_s) * fs) + 1)
            t, p = harmonic_power(samples, fs, i0 / fs - delay_s, fundamental, numbers, n, hop)
            times_parts.append(t)
            power_parts.append(p)
        times = np.concatenate(times_parts) if times_parts else np.empty(0)
        power = np.concatenate(power_parts) if power_parts else np.empty(0)
        outside = (times < first - OUT_GAP_S) | (times > last + OUT_GAP_S)
        inside = (times > first + OUT_GAP_S) & (times < last - OUT_GAP_S)
        if np.count_nonzero(outside) * HOP_S < MIN_OUTSIDE_S or not inside.any():
            continue
        p_out, p_in = float(np.median(power[outside])), float(np.median(power[inside]))
        if not p_in >= p_out * 10.0 ** (CLEAR_DB / 10.0):
            continue
        # sounding above the middle in dB (a quarter of the level with it, for a large
        # step): the tone's scatter over wind (±2 dB) dipped under half-way and split it;
        # the edges stay where half-way is crossed (the middle in dB of a 20-dB step lies
        # a window's tail, ~0.05 s, outside)
        runs = _runs(
            times,
            power,
            0.5 * (p_in + p_out),
            max(np.sqrt(p_in * p_out), p_in / 4.0),
            own,
            first,
            last,
            max(merge_gap_s, PAUSE_MIN_S),
        )
        runs = [(s, e) for s, e in runs if e - s >= min_duration_s]
        if not runs:
            continue
        replaced.update(held)
        for s, e in runs:
            origin = max(own, key=lambda sg: min(sg.end_s, e) - max(sg.start_s, s))
            evidence = {**origin.evidence, "edges_from": NARROWBAND}
            added.append(dataclasses.replace(origin, start_s=s, end_s=e, evidence=evidence))
    if not replaced:
        return segments
    kept = [sg for k, sg in enumerate(segments) if k not in replaced]
    return sorted(kept + added, key=lambda sg: (sg.start_s, sg.end_s))


def _runs(
    times: np.ndarray,
    power: np.ndarray,
    high: float,
    low: float,
    own: list[Segment],
    first: float,
    last: float,
    merge_gap_s: float,
) -> list[tuple[float, float]]:
    """The runs where the tone sounds, with hysteresis: stretches above ``low`` that reach
    ``high``, their edges where the power crosses ``high``. Between the stretches looked
    at, it sounds where one of its segments ``own`` held it. Runs closer than
    ``merge_gap_s`` are one; only runs reaching into ``first..last`` are kept."""
    stretches: list[list[int]] = []  # [first, last] frame of each stretch above low
    for j in range(len(times)):
        gap = j > 0 and times[j] - times[j - 1] > 1.5 * HOP_S
        held = gap and any(sg.start_s <= times[j - 1] and sg.end_s >= times[j] for sg in own)
        if power[j] <= low:
            continue
        if stretches and stretches[-1][1] == j - 1 and (not gap or held):
            stretches[-1][1] = j
        else:
            stretches.append([j, j])
    runs: list[list[float]] = []
    for a, b in stretches:
        loud = np.flatnonzero(power[a : b + 1] > high)
        if len(loud) == 0:
            continue
        k, m = a + int(loud[0]), a + int(loud[-1])
        start = _crossing(times, power, k - 1, high) if k > a else float(times[k])
        end = _crossing(times, power, m, high) if m < b else float(times[m])
        if runs and start - runs[-1][1] < merge_gap_s:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(s, e) for s, e in runs if e > first and s < last]
