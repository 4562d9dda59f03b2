"""Frame extraction in one streaming pass: decode, measure on a proxy, keep a few frames.

Only the frames that are kept are held at full size (one candidate per open
interval or scene), so memory does not grow with the video's length.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.video import VideoReader
from zhurong_tk.video.detect import CutConfig, CutDetector, scenes_from_cuts
from zhurong_tk.video.signals import FrameSignals, SignalTracker, hash_distance, sharpness

INDEX_SCHEMA = "zhurong-tk/video.frames/1"
IMAGE_FORMATS = ("jpg", "png")


@dataclasses.dataclass(frozen=True)
class FrameSelection:
    """Which frames to keep (selectors combine).

    Attributes
    ----------
    every_s : float, optional
        One frame per interval of this many seconds (the sharpest in it).
    fps : float, optional
        The same as ``every_s = 1 / fps``.
    count : int, optional
        This many frames spread evenly over the (clipped) video.
    at_s : tuple of float
        The frames nearest to these times.
    start_s, end_s : float, optional
        Only frames presented in ``[start_s, end_s)``.
    scenes : bool
        One frame per scene (the sharpest in its first ``scene_pick_s``).
    max_frames : int, optional
        Keep at most this many (intervals are widened to fit when the length is known).
    dedup_bits : int
        A frame within this many dHash bits of the last kept frame is a near-duplicate
        and dropped (not for ``at_s``); -1 keeps everything.
    image_format : str
        ``"jpg"`` or ``"png"``.
    """

    every_s: float | None = None
    fps: float | None = None
    count: int | None = None
    at_s: tuple[float, ...] = ()
    start_s: float | None = None
    end_s: float | None = None
    scenes: bool = False
    max_frames: int | None = None
    dedup_bits: int = 4
    image_format: str = "jpg"
    scene_pick_s: float = 1.0
    cut: CutConfig = dataclasses.field(default_factory=CutConfig)

    def __post_init__(self) -> None:
        if self.every_s is not None and not self.every_s > 0:
            raise ParameterError(f"--every must be positive, got {self.every_s}")
        if self.fps is not None and not self.fps > 0:
            raise ParameterError(f"--fps must be positive, got {self.fps}")
        if self.count is not None and self.count < 1:
            raise ParameterError(f"--count must be at least 1, got {self.count}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ParameterError(f"--max-frames must be at least 1, got {self.max_frames}")
        if self.image_format not in IMAGE_FORMATS:
            raise ParameterError(f"--format must be one of {IMAGE_FORMATS}: {self.image_format}")
        if self.start_s is not None and self.end_s is not None and not self.end_s > self.start_s:
            raise ParameterError(f"--end ({self.end_s}) must be after --start ({self.start_s})")
        if any(not math.isfinite(t) or t < 0 for t in self.at_s):
            raise ParameterError(f"--at times must be finite and >= 0, got {self.at_s}")

    def interval_s(self, duration_s: float | None) -> float | None:
        """Length of the interval selectors' intervals, widened to honour ``max_frames``."""
        step = self.every_s or (1.0 / self.fps if self.fps else None)
        if self.count is not None and duration_s:
            step = min(step or math.inf, duration_s / self.count)
        if step is not None and self.max_frames is not None and duration_s:
            step = max(step, duration_s / self.max_frames)
        return step


@dataclasses.dataclass
class _Candidate:
    signals: FrameSignals
    frame_hash: int
    image: np.ndarray
    reasons: list[str]


class _Best:
    """The sharpest frame seen in one open interval."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.best: _Candidate | None = None

    def offer(self, cand: _Candidate) -> None:
        if self.best is None or cand.signals.sharpness > self.best.signals.sharpness:
            self.best = cand


def extract_frames(
    path: str | os.PathLike[str],
    out: Any,
    selection: FrameSelection,
    *,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Analyse a video and write the kept frames, ``index.json`` and ``metrics.csv`` into ``out``.

    ``out`` is an :class:`~zhurong_tk.io.outputs.OutputDir`. Returns the index.
    """
    reader = VideoReader(path)
    info = reader.info
    start = selection.start_s or 0.0
    end = selection.end_s if selection.end_s is not None else math.inf
    span = None
    if info.duration_s:
        span = max(0.0, min(end, info.duration_s) - start)
    step = selection.interval_s(span)
    tracker = SignalTracker()
    detector = CutDetector(selection.cut)
    kept: list[dict[str, Any]] = []
    by_frame: dict[int, dict[str, Any]] = {}
    last_kept_hash: int | None = None
    times: list[float] = []
    duplicates = 0
    interval: _Best | None = None
    scene: _Best | None = None
    tentative: _Best | None = None
    scene_until = tentative_until = -math.inf
    at_pending = sorted(set(selection.at_s))
    at_best: dict[float, tuple[float, _Candidate]] = {}
    first_time: float | None = None
    first_frame = 0

    def keep(cand: _Candidate, *, allow_duplicate: bool = False) -> None:
        nonlocal last_kept_hash, duplicates
        s = cand.signals
        reason = "+".join(dict.fromkeys(cand.reasons))
        if s.index in by_frame:  # kept already by another selector
            entry = by_frame[s.index]
            entry["reason"] = "+".join(dict.fromkeys([*entry["reason"].split("+"), reason]))
            return
        if selection.max_frames is not None and len(kept) >= selection.max_frames:
            return
        if (
            not allow_duplicate
            and selection.dedup_bits >= 0
            and last_kept_hash is not None
            and hash_distance(cand.frame_hash, last_kept_hash) <= selection.dedup_bits
        ):
            duplicates += 1
            return
        name = f"t{s.time_s:08.3f}s_f{s.index:06d}.{selection.image_format}"
        ok, encoded = cv2.imencode(f".{selection.image_format}", cand.image)
        if not ok:
            raise ParameterError(f"could not encode frame {s.index} as {selection.image_format}")
        out.bytes(name, encoded.tobytes())
        grey = cv2.cvtColor(cand.image, cv2.COLOR_BGR2GRAY)
        by_frame[s.index] = entry = {
            "frame": s.index,
            "time_s": round(s.time_s, 6),
            "path": name,
            "reason": reason,
            "sharpness": round(sharpness(grey), 2),  # re-checked at full size
            "brightness": round(s.brightness, 2),
            "change": round(s.change, 3),
        }
        kept.append(entry)
        last_kept_hash = cand.frame_hash

    with out.atomic("metrics.csv") as tmp, open(tmp, "w", newline="") as metrics:
        metrics.write(",".join(FrameSignals.FIELDS) + "\n")
        for frame in reader.frames():
            t = frame.time_s
            if t < start or not math.isfinite(t):
                continue
            if t >= end:
                break
            if first_time is None:
                first_time, first_frame = t, frame.index
            signals, frame_hash = tracker.update(frame.index, t, frame.image)
            times.append(t)
            metrics.write(",".join(f"{v:.6g}" for v in signals.row()) + "\n")
            cand = _Candidate(signals, frame_hash, frame.image, [])
            flashes_before = len(detector.flashes)
            confirmed = detector.update(signals, frame_hash)
            if selection.scenes:
                # the current scene takes frames until a candidate cut; frames after a
                # candidate go to a tentative scene, made current on confirmation and
                # dropped if the candidate was a flash
                if scene is None:
                    scene, scene_until = _Best(0), t + selection.scene_pick_s
                for _cut in confirmed:
                    if scene.best is not None:
                        keep(dataclasses.replace(scene.best, reasons=["scene"]))
                    scene, scene_until = tentative or _Best(_cut.frame), tentative_until
                    tentative = None
                if len(detector.flashes) > flashes_before:
                    tentative = None
                pending = detector.pending
                if pending is not None:
                    if tentative is None or tentative.key != pending.frame:
                        tentative = _Best(pending.frame)
                        tentative_until = pending.time_s + selection.scene_pick_s
                    if t <= tentative_until:
                        tentative.offer(cand)
                elif t <= scene_until:
                    scene.offer(cand)
            if step is not None:
                key = int((t - (first_time or 0.0)) // step)
                if interval is None or key != interval.key:
                    if interval is not None and interval.best is not None:
                        keep(dataclasses.replace(interval.best, reasons=["interval"]))
                    interval = _Best(key)
                interval.offer(cand)
            for target in at_pending:
                gap = abs(t - target)
                if target not in at_best or gap < at_best[target][0]:
                    at_best[target] = (gap, cand)
            if progress is not None:
                progress(t)
        detector.finish()
        if scene is not None and scene.best is not None:
            keep(dataclasses.replace(scene.best, reasons=["scene"]))
        if interval is not None and interval.best is not None:
            keep(dataclasses.replace(interval.best, reasons=["interval"]))
        for target in at_pending:
            if target in at_best:
                keep(dataclasses.replace(at_best[target][1], reasons=["at"]), allow_duplicate=True)
    kept.sort(key=lambda k: k["time_s"])
    index = _index(reader, times, first_frame, detector, kept, duplicates, selection, step)
    out.json("index.json", index)
    return index


def _index(
    reader, times, first_frame, detector, kept, duplicates, selection, step
) -> dict[str, Any]:
    info = reader.info
    intervals = np.diff(times) if len(times) > 1 else np.empty(0)
    measured_fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None
    variable = bool(len(intervals) and np.ptp(intervals) > 0.01 * np.median(intervals))
    warnings = []
    if reader.decode_failures:
        warnings.append(f"{reader.decode_failures} video packets could not be decoded")
    if not times:
        warnings.append("no frame decoded in the selected time range")
    return {
        "schema": INDEX_SCHEMA,
        "video": {
            "path": str(reader.path),
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "rotation_deg": info.rotation_deg,
            "fps_reported": info.fps,
            "fps_measured": round(measured_fps, 4) if measured_fps else None,
            "variable_frame_rate": variable,
            "frames_decoded": reader.frames_read,
            "frames_analysed": len(times),
            "frame_count_reported": info.frame_count_reported,
            "duration_s": info.duration_s,
            "decode_failures": reader.decode_failures,
            "timestamps_repaired": reader.timestamps_repaired,
        },
        "selection": {
            "interval_s": step,
            "at_s": list(selection.at_s),
            "start_s": selection.start_s,
            "end_s": selection.end_s,
            "scenes": selection.scenes,
            "max_frames": selection.max_frames,
            "near_duplicates_dropped": duplicates,
        },
        "scenes": scenes_from_cuts(detector.cuts, times, first_frame),
        "cuts": [c.to_dict() for c in detector.cuts],
        "flashes": [c.to_dict() for c in detector.flashes],
        "events": [],
        "frames": kept,
        "warnings": warnings,
    }
