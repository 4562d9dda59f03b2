"""Phases of a descent video found in its per-frame signals (``--events edl``).

A lander's descent video is a single shot, so shot-cut detectors see almost
nothing in it. What an EDL analyst looks for shows in the signals instead:

- **abrupt changes** (parachute deployment, heat-shield or backshell
  separation): the confirmed cuts of :class:`~zhurong_tk.video.detect.CutDetector`;
- **flashes** (pyrotechnics, sun glint): its rejected candidates;
- **hover** (hazard avoidance): the global motion accumulated over a short lag
  falls to a small fraction of the video's moving level and stays there;
- **dust** (touchdown): sharpness collapses while the picture brightens or
  loses contrast, and stays so against the picture before it;
- **recovery**: the dust settles and sharpness returns.

Everything here is a pure function of the signal columns (one value per
frame), computed after the streaming pass.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.video.detect import Cut

EVENT_KINDS = ("abrupt_change", "flash", "hover", "dust", "recovery")


@dataclasses.dataclass(frozen=True)
class EdlConfig:
    """Thresholds of :func:`edl_events`.

    Attributes
    ----------
    hover_ratio : float
        A frame is still when its motion is below ``hover_ratio`` × the moving level
        (the 75th percentile of motion outside dust).
    min_moving_level : float
        Below this moving level (grey levels) the camera never moves and no hover is
        reported (a fixed camera is not hovering).
    min_hover_s : float
        Shortest hover.
    dust_sharpness_ratio : float
        Dust: sharpness below this fraction of the picture before it ...
    dust_brightness_rise : float
        ... and brightness up by at least this many grey levels (lit dust), or
    dust_contrast_ratio : float
        ... contrast below this fraction (a dark plume).
    min_dust_s : float
        Shortest dust phase (shorter only where the video ends).
    min_frames : int
        Fewest frames in a hover or dust phase (image sequences are sparse).
    confirm_s : float
        A veil (brightness rise or contrast drop) is dust only if sharpness collapses
        within this time of its start.
    onset_sharpness_ratio : float
        ... and it starts where sharpness has fallen below this fraction.
    reference_s : float
        Length of the reference window before a frame.
    reference_gap_s : float
        Gap between the reference window and the frame.
    recovery_sharpness_ratio : float
        Dust has settled when sharpness is back above this fraction of the reference.
    motion_lag_s : float
        Lag of the motion signal (see :class:`~zhurong_tk.video.signals.SignalTracker`).
    pan_view_fraction : float
        A pan (consecutive frames each shifted confidently by 2 % of the frame's width
        or more) that moves the view this fraction of the width or farther shows new
        ground: dust is judged against the picture after it, as after a cut.
    """

    hover_ratio: float = 0.25
    min_moving_level: float = 1.0
    min_hover_s: float = 1.0
    dust_sharpness_ratio: float = 0.5
    dust_brightness_rise: float = 5.0
    dust_contrast_ratio: float = 0.75
    min_dust_s: float = 1.0
    min_frames: int = 3
    confirm_s: float = 2.0
    onset_sharpness_ratio: float = 0.7
    reference_s: float = 2.0
    reference_gap_s: float = 0.5
    recovery_sharpness_ratio: float = 0.85
    motion_lag_s: float = 0.2
    pan_view_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.hover_ratio < 1 or not 0 < self.dust_sharpness_ratio < 1:
            raise ParameterError(f"EDL ratios must be within (0, 1): {self}")
        if min(self.min_hover_s, self.min_dust_s, self.reference_s) <= 0:
            raise ParameterError(f"EDL durations must be positive: {self}")


def _event(
    kind: str,
    times: np.ndarray,
    first: int,
    end: int,
    confidence: float,
    evidence: dict[str, Any],
    *,
    start_s: float | None = None,
) -> dict[str, Any]:
    """An event over frames ``[first, end)``; ``end_s`` is the next frame's time."""
    n = len(times)
    step = float(np.median(np.diff(times))) if n > 1 else 0.0
    end_s = float(times[end]) if end < n else float(times[-1] + step)
    start = float(times[first]) if start_s is None else start_s
    return {
        "kind": kind,
        "time_s": round(start, 6),
        "start_s": round(start, 6),
        "end_s": round(end_s, 6),
        "start_frame": int(first),
        "end_frame": int(end),
        "confidence": round(float(np.clip(confidence, 0.0, 1.0)), 3),
        "evidence": {k: round(float(v), 4) for k, v in evidence.items()},
    }


def _cut_event(kind: str, cut: Cut, times: np.ndarray, index: np.ndarray, ratio: float) -> dict:
    i = int(np.searchsorted(index, cut.frame))
    i = min(i, len(times) - 1)
    evidence = {"change": cut.change, "hash_distance": cut.hash_distance, "ratio": cut.ratio}
    confidence = min(1.0, cut.ratio / (2 * ratio)) * min(1.0, cut.hash_distance / 20)
    event = _event(kind, times, i, i + 1, confidence, evidence)
    event["start_frame"] = event["end_frame"] = cut.frame
    event["end_frame"] += 1
    return event


def _runs(mask: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """``[first, end)`` runs of True, bridging gaps of up to ``max_gap`` False values."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= max_gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _frames_for(seconds: float, times: np.ndarray) -> int:
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    return max(1, round(seconds / step)) if step > 0 else 1


def _reference(values: np.ndarray, gap: int, width: int, segment_start: np.ndarray) -> np.ndarray:
    """Median of ``values[i-gap-width : i-gap]`` within the frame's own scene; NaN if empty."""
    n = len(values)
    ref = np.full(n, np.nan)
    for i in range(n):
        hi = i - gap + 1
        lo = max(segment_start[i], hi - width)
        if hi > lo:
            ref[i] = np.median(values[lo:hi])
    return ref


def _knee(values: np.ndarray, i: int, gap: int, floor: int, ceiling: int) -> int:
    """Where a rise that crossed a threshold at ``i`` began.

    The threshold is crossed late in a rise, so the onset is the bend of the
    curve around ``i`` (the point furthest below the chord of
    ``values[i - 2 gap : i + gap]``), provided the curve climbs clearly faster
    after the bend than before it; a steady drift has no bend and the onset
    stays at ``i``.
    """
    lo, hi = max(floor, i - 2 * gap), min(ceiling, i + gap + 1)
    if i - lo < 2 or hi - lo < 4:
        return i
    seg = values[lo:hi]
    if seg[-1] <= seg[0]:
        return i
    chord = np.linspace(seg[0], seg[-1], len(seg))
    k = int(np.argmax(chord - seg))
    if k == 0 or k >= len(seg) - 1:
        return i
    before = (seg[k] - seg[0]) / k
    after = (seg[-1] - seg[k]) / (len(seg) - 1 - k)
    if after <= 0 or after <= 3 * max(before, 0.0):
        return i
    return min(i, lo + k + 1)  # the first frame after the bend


def dust_phases(
    times: np.ndarray,
    sharpness: np.ndarray,
    brightness: np.ndarray,
    contrast: np.ndarray,
    scene_start: np.ndarray,
    config: EdlConfig | None = None,
) -> list[dict[str, Any]]:
    """Dust phases (and the recoveries that end them) from per-frame signals.

    Parameters
    ----------
    times, sharpness, brightness, contrast : numpy.ndarray
        One value per frame (see :class:`~zhurong_tk.video.signals.FrameSignals`).
    scene_start : numpy.ndarray of int
        For each frame, the position of the first frame of its scene: reference
        windows never reach across a cut.
    config : EdlConfig, optional

    Returns
    -------
    list of dict
        Frames are positions in the arrays. ``dust`` events, each followed by a
        ``recovery`` event when sharpness comes back before the video ends.
    """
    cfg = config or EdlConfig()
    n = len(times)
    if n < 3:
        return []
    log_sharp = np.log(np.maximum(sharpness, 1e-6))
    log_contrast = np.log(np.maximum(contrast, 1e-6))
    gap = _frames_for(cfg.reference_gap_s, times)
    width = max(cfg.min_frames, _frames_for(cfg.reference_s, times))
    ref_sharp = _reference(log_sharp, gap, width, scene_start)
    ref_bright = _reference(brightness, gap, width, scene_start)
    ref_contrast = _reference(log_contrast, gap, width, scene_start)
    min_frames = max(cfg.min_frames, _frames_for(cfg.min_dust_s, times))
    sharp_drop = math.log(cfg.dust_sharpness_ratio)
    contrast_drop = math.log(cfg.dust_contrast_ratio)
    recovered = math.log(cfg.recovery_sharpness_ratio)
    slide = math.log(cfg.onset_sharpness_ratio)

    def veiled(j: int, rb: float, rc: float) -> bool:
        return (
            brightness[j] - rb >= cfg.dust_brightness_rise or log_contrast[j] - rc < contrast_drop
        )

    def collapses(j: int, low: float, rb: float, rc: float) -> bool:
        # sharpness halved; or, where the picture had little fine detail (its sharpness
        # partly the sensor's noise, which no veil takes away), down by a third while the
        # picture both brightens and loses contrast: a plume over soft ground (0.58 of
        # the sharpness, +60 grey levels, 0.4 of the contrast) was missed
        return low < sharp_drop or (
            low < slide
            and brightness[j] - rb >= cfg.dust_brightness_rise
            and log_contrast[j] - rc < contrast_drop
        )

    confirm = max(cfg.min_frames, _frames_for(cfg.confirm_s, times))
    events: list[dict[str, Any]] = []
    i = 0
    while i < n:
        rs, rb, rc = ref_sharp[i], ref_bright[i], ref_contrast[i]
        # a veil with sharpness already sliding starts a candidate (a veil alone may be
        # brighter ground coming into view)
        if math.isnan(rs) or not veiled(i, rb, rc) or log_sharp[i] - rs >= slide:
            i += 1
            continue
        # The veil (brighter or flatter picture) triggers; the phase is followed against
        # the picture before it (a moving reference would absorb a slowly rising plume)
        # and counts as dust only if sharpness collapses within confirm_s.
        j, misses, collapsed = i, 0, False
        while j < n and scene_start[j] == scene_start[i]:
            low = log_sharp[j] - rs
            collapsed |= j - i < confirm and collapses(j, low, rb, rc)
            if veiled(j, rb, rc) or low < sharp_drop:
                misses = 0
            else:
                misses += 1
                if misses > 2 or low >= recovered:
                    break
            j += 1
        end = j - misses
        reaches_end = end >= n or (end < n and scene_start[min(end, n - 1)] != scene_start[i])
        full_length = end - i >= min_frames
        long_enough = full_length or (reaches_end and end - i >= cfg.min_frames)
        # shorter, cut off by the video's or the shot's end: sharpness must stay collapsed
        # through it, not dip once. A pan's motion blur dips it for a few frames, and the
        # ground it pans to can be brighter: that read as 0.8 s of dust up to the next cut
        held = full_length or (long_enough and np.median(log_sharp[i:end]) - rs < sharp_drop)
        if not (collapsed and long_enough and held):
            i += 1
            continue
        first = _knee(
            brightness if brightness[i] - rb >= 1.0 else -log_contrast,
            i,
            gap,
            scene_start[i],
            end,
        )
        phase = slice(i, end)
        sharp_ratio = float(np.exp(np.median(log_sharp[phase]) - rs))
        rise = float(np.median(brightness[phase]) - rb)
        contrast_ratio = float(np.exp(np.median(log_contrast[phase]) - rc))
        confidence = min(1.0, (1 - sharp_ratio) / (1 - cfg.dust_sharpness_ratio) / 2) + min(
            0.5, max(rise / (4 * cfg.dust_brightness_rise), (1 - contrast_ratio) / 0.8)
        )
        evidence = {
            "sharpness_ratio": sharp_ratio,
            "brightness_rise": rise,
            "contrast_ratio": contrast_ratio,
            "reference_sharpness": math.exp(rs),
            "reference_brightness": rb,
        }
        events.append(_event("dust", times, first, end, confidence, evidence))
        if end < n and scene_start[end] == scene_start[i]:
            back = float(np.exp(log_sharp[end] - rs))
            events.append(
                _event(
                    "recovery",
                    times,
                    end,
                    min(end + 1, n),
                    min(1.0, back),
                    {"sharpness_ratio": back, "brightness_rise": brightness[end] - rb},
                )
            )
        i = max(end, i + 1)
    return events


def hover_phases(
    times: np.ndarray,
    motion: np.ndarray,
    excluded: np.ndarray,
    config: EdlConfig | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Hover phases: sustained near-absence of global motion in a moving video.

    Parameters
    ----------
    times, motion : numpy.ndarray
        Per-frame presentation times and lagged motion
        (:attr:`~zhurong_tk.video.signals.FrameSignals.motion`).
    excluded : numpy.ndarray of bool
        Frames that cannot be a hover (dust; the lag after a cut or flash).
    config : EdlConfig, optional

    Returns
    -------
    events : list of dict
    moving_level : float
        The 75th percentile of motion outside excluded frames (0 if none).
    """
    cfg = config or EdlConfig()
    n = len(times)
    usable = ~excluded
    usable[: _frames_for(cfg.motion_lag_s, times)] = False  # no lagged frame yet
    if n < 3 or not usable.any():
        return [], 0.0
    moving = float(np.percentile(motion[usable], 75))
    if moving < cfg.min_moving_level:
        return [], moving
    # a 5-frame running median keeps one noisy frame from breaking a hover
    padded = np.pad(motion, 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    threshold = cfg.hover_ratio * moving
    still = (smooth < threshold) & usable
    events = []
    lag = cfg.motion_lag_s
    for a, b in _runs(still, max_gap=1):
        # the lagged difference only falls once the lag has passed: the hover began
        # about one lag before its first still frame
        start_s = max(float(times[a]) - lag, float(times[0]))
        end_s = float(times[b]) if b < n else float(times[-1])
        if end_s - start_s < cfg.min_hover_s or b - a < cfg.min_frames:
            continue
        level = float(np.median(motion[a:b]))
        event = _event(
            "hover",
            times,
            a,
            b,
            1.0 - level / moving,
            {"motion": level, "moving_level": moving, "threshold": threshold},
            start_s=start_s,
        )
        event["start_frame"] = int(np.searchsorted(times, start_s - 1e-9))
        events.append(event)
    return events, moving


def pan_ends(
    shift_px: np.ndarray, confidence: np.ndarray, frame_width: int, config: EdlConfig | None = None
) -> list[int]:
    """Positions of the first frames after pans that moved the view onto new ground.

    A pan is a run of consecutive frames each shifted from the one before by 2 % of
    ``frame_width`` or more with a phase-correlation confidence of 0.5 or more (a cut
    or noise gives a low one); it moves the view when its shifts add up to
    ``pan_view_fraction`` of the width.
    """
    cfg = config or EdlConfig()
    shift_px = np.asarray(shift_px, dtype=np.float64)
    panning = (shift_px >= 0.02 * frame_width) & (np.asarray(confidence) >= 0.5)
    ends: list[int] = []
    run = 0.0
    for k, moving in enumerate([*panning, False]):  # a still frame after the last ends a run
        if moving:
            run += float(shift_px[k])
            continue
        if run >= cfg.pan_view_fraction * frame_width:
            ends.append(k)
        run = 0.0
    return ends


def edl_events(
    times: np.ndarray,
    signals: dict[str, np.ndarray],
    cuts: list[Cut],
    flashes: list[Cut],
    config: EdlConfig | None = None,
    *,
    cut_ratio: float = 3.0,
    frame_width: int | None = None,
) -> list[dict[str, Any]]:
    """All EDL events of a video, sorted by time.

    Parameters
    ----------
    times : numpy.ndarray
        Presentation times of the analysed frames.
    signals : dict of numpy.ndarray
        Columns ``index``, ``sharpness``, ``brightness``, ``contrast``, ``motion``
        (one value per analysed frame).
    cuts, flashes : list of Cut
        From the :class:`~zhurong_tk.video.detect.CutDetector` of the same pass.
    config : EdlConfig, optional
    cut_ratio : float
        The cut detector's ratio threshold (scales the confidence of abrupt changes).
    frame_width : int, optional
        The frames' width in the pixels of ``signals["shift_px"]``: with the columns
        ``shift_px`` and ``shift_confidence``, pans onto new ground are found
        (see :func:`pan_ends`).

    Returns
    -------
    list of dict
        ``{"kind", "time_s", "start_s", "end_s", "start_frame", "end_frame",
        "confidence", "evidence"}`` with ``kind`` one of :data:`EVENT_KINDS`.
    """
    cfg = config or EdlConfig()
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n == 0:
        return []
    index = np.asarray(signals["index"], dtype=np.int64)
    events = [_cut_event("abrupt_change", c, times, index, cut_ratio) for c in cuts]
    events += [_cut_event("flash", c, times, index, cut_ratio) for c in flashes]
    scene_start = np.zeros(n, dtype=np.int64)
    for cut in cuts:
        pos = int(np.searchsorted(index, cut.frame))
        scene_start[pos:] = pos
    # the view starts anew after each cut and each pan onto new ground
    view_start = scene_start.copy()
    if frame_width and "shift_px" in signals:
        for pos in pan_ends(signals["shift_px"], signals["shift_confidence"], frame_width, cfg):
            view_start[pos:] = np.maximum(view_start[pos:], pos)
    dust = dust_phases(
        times, signals["sharpness"], signals["brightness"], signals["contrast"], view_start, cfg
    )
    excluded = np.zeros(n, dtype=bool)
    for event in dust:
        if event["kind"] == "dust":
            excluded[event["start_frame"] : event["end_frame"]] = True
    settle = cfg.motion_lag_s + 0.1
    for spike in [*cuts, *flashes]:
        pos = int(np.searchsorted(index, spike.frame))
        excluded[pos : int(np.searchsorted(times, times[min(pos, n - 1)] + settle))] = True
    hovers, _ = hover_phases(times, signals["motion"], excluded, cfg)
    for event in dust + hovers:  # positions in the analysed range -> frame numbers
        for key in ("start_frame", "end_frame"):
            pos = event[key]
            event[key] = int(index[pos]) if pos < n else int(index[-1]) + pos - n + 1
    events += dust + hovers
    events.sort(key=lambda e: (e["start_s"], EVENT_KINDS.index(e["kind"])))
    return events
