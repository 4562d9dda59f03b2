"""Frame extraction in one streaming pass: decode, measure on a proxy, keep a few frames.

Decoding runs on its own thread; analysis reads a small grey proxy of each
frame; colour is converted only for the frames that are kept. Only those
candidates are held at full size (one per open interval or scene), so memory
does not grow with the video's length (the per-frame signals, about 100 bytes
per frame, are kept for the events and the plot; the contact sheet reads the
kept frames back from disk).
"""

from __future__ import annotations

import array
import dataclasses
import importlib
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.video import Frame, ImageSequenceReader, VideoReader, open_frames
from zhurong_tk.video.detect import CutConfig, CutDetector, scenes_from_cuts
from zhurong_tk.video.events import EdlConfig, edl_events
from zhurong_tk.video.motion import MotionConfig, MotionDetector, MotionSignal, motion_segments
from zhurong_tk.video.sheet import THUMB_WIDTH, contact_sheet, thumbnail
from zhurong_tk.video.signals import (
    PROXY_WIDTH,
    FrameSignals,
    SignalLog,
    SignalTracker,
    hash_distance,
    sharpness,
)

INDEX_SCHEMA = "zhurong-tk/video.frames/1"
IMAGE_FORMATS = ("jpg", "png")
EVENT_SETS = ("edl",)
#: Thumbnails on the contact sheet at most (spread evenly; event frames always shown).
MAX_SHEET_FRAMES = 48
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclasses.dataclass(frozen=True)
class FrameSelection:
    """Which frames to keep (selectors combine) and what to find.

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
        Only frames presented in ``[start_s, end_s)``. All times are the stream's own
        presentation times (a stream may start at 10 s), as the index reports them.
    scenes : bool
        One frame per scene (the sharpest in its first ``scene_pick_s``).
    events : str, optional
        ``"edl"``: find descent phases (see :mod:`zhurong_tk.video.events`) and keep
        a frame of each.
    motion : bool
        Fixed camera: keep frames while something moves (one per ``motion_every_s``),
        with the moving object's box.
    keyframes : bool
        Decode keyframes only and keep each (a fast overview; no scenes or events).
    max_frames : int, optional
        Keep at most this many interval, scene and keyframe picks (intervals are widened
        to fit when the length is known); frames named by ``at_s`` and found by events or
        motion are always kept.
    dedup_bits : int
        A frame within this many dHash bits of the last kept frame is a near-duplicate
        and dropped (not for ``at_s`` and events); -1 keeps everything.
    image_format : str
        ``"jpg"`` or ``"png"``.
    input_fps : float, optional
        Frame rate of an image-sequence input.
    """

    every_s: float | None = None
    fps: float | None = None
    count: int | None = None
    at_s: tuple[float, ...] = ()
    start_s: float | None = None
    end_s: float | None = None
    scenes: bool = False
    events: str | None = None
    motion: bool = False
    keyframes: bool = False
    max_frames: int | None = None
    dedup_bits: int = 4
    image_format: str = "jpg"
    input_fps: float | None = None
    scene_pick_s: float = 1.0
    motion_every_s: float = 0.5
    cut: CutConfig = dataclasses.field(default_factory=CutConfig)
    edl: EdlConfig = dataclasses.field(default_factory=EdlConfig)
    motion_config: MotionConfig = dataclasses.field(default_factory=MotionConfig)

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
        if self.events is not None and self.events not in EVENT_SETS:
            raise ParameterError(f"--events must be one of {EVENT_SETS}, got {self.events!r}")
        if self.keyframes and (self.scenes or self.events or self.motion):
            raise ParameterError(
                "--keyframes decodes keyframes only: it cannot be combined with "
                "--scenes, --events or --motion, which need every frame"
            )
        if not self.motion_every_s > 0:
            raise ParameterError(f"motion_every_s must be positive, got {self.motion_every_s}")

    def interval_s(self, duration_s: float | None) -> float | None:
        """Length of the interval selectors' intervals, widened to honour ``max_frames``."""
        step = self.every_s or (1.0 / self.fps if self.fps else None)
        if self.count is not None:
            # a span of unknown length (one image, no rate) is one interval
            step = min(step or math.inf, duration_s / self.count if duration_s else math.inf)
        if step is not None and self.max_frames is not None and duration_s:
            step = max(step, duration_s / self.max_frames)
        return step


@dataclasses.dataclass
class _Candidate:
    signals: FrameSignals
    frame_hash: int
    frame: Frame
    reasons: list[str]
    box: tuple[int, int, int, int] | None = None


class _Best:
    """The sharpest frame seen in one open interval."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.best: _Candidate | None = None

    def offer(self, cand: _Candidate) -> None:
        if self.best is None or cand.signals.sharpness > self.best.signals.sharpness:
            self.best = cand

    def take(self, reason: str) -> _Candidate | None:
        return None if self.best is None else dataclasses.replace(self.best, reasons=[reason])


class _Keeper:
    """Writes kept frames, merges reasons, drops near-duplicates."""

    def __init__(self, out: Any, selection: FrameSelection, rotation_deg: int) -> None:
        self.out = out
        self.selection = selection
        self.rotate = _ROTATE.get(rotation_deg % 360)
        self.entries: list[dict[str, Any]] = []
        self.by_frame: dict[int, dict[str, Any]] = {}
        self.last_hash: int | None = None
        self.duplicates = 0
        self.dropped_for_max = 0

    def add_reason(self, frame: int, reason: str) -> None:
        entry = self.by_frame[frame]
        entry["reason"] = "+".join(dict.fromkeys([*entry["reason"].split("+"), reason]))

    def keep(self, cand: _Candidate | None, *, forced: bool = False) -> dict[str, Any] | None:
        """Keep a candidate; ``forced`` (times asked for, events) skips de-duplication."""
        if cand is None:
            return None
        sel = self.selection
        s = cand.signals
        reason = "+".join(dict.fromkeys(cand.reasons))
        if s.index in self.by_frame:  # kept already by another selector
            entry = self.by_frame[s.index]
            self.add_reason(s.index, reason)
            if cand.box is not None and "box" not in entry:
                entry["box"] = list(cand.box)
            return entry
        if sel.max_frames is not None and len(self.entries) >= sel.max_frames and not forced:
            self.dropped_for_max += 1
            return None
        if (
            not forced
            and sel.dedup_bits >= 0
            and self.last_hash is not None
            and hash_distance(cand.frame_hash, self.last_hash) <= sel.dedup_bits
        ):
            self.duplicates += 1
            return None
        image = cand.frame.bgr()
        box = cand.box
        if self.rotate is not None:
            if box is not None:
                box = _rotate_box(box, image.shape[1], image.shape[0], self.rotate)
            image = cv2.rotate(image, self.rotate)
        name = f"t{s.time_s:08.3f}s_f{s.index:06d}.{sel.image_format}"
        ok, encoded = cv2.imencode(f".{sel.image_format}", image)
        if not ok:
            raise ParameterError(f"could not encode frame {s.index} as {sel.image_format}")
        self.out.bytes(name, encoded.tobytes())
        entry = {
            "frame": s.index,
            "time_s": round(s.time_s, 6),
            "path": name,
            "reason": reason,
            "sharpness": round(sharpness(cand.frame.grey()), 2),  # re-checked at full size
            "brightness": round(s.brightness, 2),
            "change": round(s.change, 3),
        }
        if box is not None:
            entry["box"] = list(box)
        self.by_frame[s.index] = entry
        self.entries.append(entry)
        self.last_hash = cand.frame_hash
        return entry


def _rotate_box(
    box: tuple[int, int, int, int], width: int, height: int, rotate: int
) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` in a ``width`` × ``height`` frame, after ``cv2.rotate(.., rotate)``."""
    x, y, w, h = box
    if rotate == cv2.ROTATE_90_CLOCKWISE:
        return (height - (y + h), x, h, w)
    if rotate == cv2.ROTATE_180:
        return (width - (x + w), height - (y + h), w, h)
    return (y, width - (x + w), h, w)  # 90° counter-clockwise


def extract_frames(
    path: str | os.PathLike[str],
    out: Any,
    selection: FrameSelection,
    *,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Analyse a video (or a folder of images) and write what it keeps into ``out``.

    Writes the kept frames, ``index.json``, ``metrics.csv``, ``contact_sheet.jpg``
    and ``signals.png``. ``out`` is an :class:`~zhurong_tk.io.outputs.OutputDir`.

    Returns
    -------
    dict
        The index (see ``index.json``).

    Raises
    ------
    ParameterError
        ``out`` is the folder of images itself (the next run would read the
        contact sheet and the figures as frames).
    """
    if os.path.isdir(path) and os.path.isdir(out.path) and os.path.samefile(path, out.path):
        raise ParameterError(
            f"{path}: --out is the image folder itself, where the contact sheet and figures"
            " would be read as frames next time: choose another folder"
        )
    threads = cv2.getNumThreads()
    # the decoder's threads already use the cores; cv2's own pool would only contend
    cv2.setNumThreads(1)
    try:
        with out:  # a failed run leaves none of its frames in the way of the next
            return _extract(path, out, selection, progress)
    finally:
        cv2.setNumThreads(threads)


def _span(duration_s: float | None, stream_t0: float, start: float, end: float) -> float | None:
    """Seconds of the stream within ``[start, end)``: the stream runs from its first
    frame's time ``stream_t0`` for ``duration_s``."""
    if not duration_s:
        return None
    return max(0.0, min(end, stream_t0 + duration_s) - max(start, stream_t0))


def _extract(
    path: str | os.PathLike[str],
    out: Any,
    selection: FrameSelection,
    progress: Callable[[float], None] | None,
) -> dict[str, Any]:
    reader = open_frames(path, keyframes_only=selection.keyframes, input_fps=selection.input_fps)
    # matplotlib takes ~0.5 s to import: do it while the decoder works, not after
    plotting = threading.Thread(target=importlib.import_module, args=("zhurong_tk.plot",))
    plotting.start()
    info = reader.info
    start = selection.start_s or 0.0
    end = selection.end_s if selection.end_s is not None else math.inf
    step: float | None = None  # the interval, set at the first frame in range
    stream_t0: float | None = None  # the first frame's time: a stream need not start at 0 s
    tracker = SignalTracker(motion_lag_s=selection.edl.motion_lag_s)
    detector = CutDetector(selection.cut)
    motion = MotionDetector(selection.motion_config, info.fps) if selection.motion else None
    keeper = _Keeper(out, selection, info.rotation_deg)
    log = SignalLog()
    motion_times = array.array("d")
    motion_flags = array.array("b")
    interval: _Best | None = None
    scene: _Best | None = None
    tentative: _Best | None = None
    moving: _Best | None = None
    scene_until = tentative_until = -math.inf
    at_pending = sorted(set(selection.at_s))
    at_best: dict[float, tuple[float, _Candidate]] = {}
    first_time: float | None = None
    candidate_cut: _Candidate | None = None  # frame of the cut candidate the detector holds

    metric_fields = list(FrameSignals.FIELDS)
    if motion is not None:
        metric_fields += ["motion_area", "motion_x", "motion_y", "motion_w", "motion_h"]
    with out.atomic("metrics.csv") as tmp, open(tmp, "w", newline="") as metrics:
        metrics.write(",".join(metric_fields) + "\n")
        for frame in reader.frames():
            t = frame.time_s
            if not math.isfinite(t):
                continue
            stream_t0 = t if stream_t0 is None else stream_t0
            if t < start:
                continue
            if t >= end:
                break
            if first_time is None:
                first_time = t
                step = selection.interval_s(_span(info.duration_s, stream_t0, start, end))
            proxy, scale = frame.proxy(PROXY_WIDTH)
            signals, frame_hash = tracker.update(frame.index, t, proxy, scale)
            log.append(signals)
            row = [f"{v:.6g}" for v in signals.row()]
            cand = _Candidate(signals, frame_hash, frame, [])
            if motion is not None:
                m = motion.update(t, proxy, scale)
                motion_times.append(t)
                motion_flags.append(m.moving)
                row += _motion_row(m)
                cand.box = m.bbox
            metrics.write(",".join(row) + "\n")

            if selection.keyframes:
                # seconds apart: no cut, scene or rate can be told from keyframes alone
                keeper.keep(dataclasses.replace(cand, reasons=["keyframe"]))
                if progress is not None:
                    progress(t)
                continue
            flashes_before = len(detector.flashes)
            pending_before = detector.pending
            confirmed = detector.update(signals, frame_hash)
            # --events: cut and flash frames are kept as soon as they are known
            if selection.events and len(detector.flashes) > flashes_before and candidate_cut:
                keeper.keep(_reason(candidate_cut, "event:flash"), forced=True)
            for cut in confirmed:
                if selection.events and candidate_cut and candidate_cut.signals.index == cut.frame:
                    keeper.keep(_reason(candidate_cut, "event:abrupt_change"), forced=True)
            if detector.pending is not None and detector.pending is not pending_before:
                candidate_cut = cand
            if selection.scenes:
                # the current scene takes frames until a candidate cut; frames after a
                # candidate go to a tentative scene, made current on confirmation and
                # dropped if the candidate was a flash
                if scene is None:
                    scene, scene_until = _Best(0), t + selection.scene_pick_s
                for cut in confirmed:
                    keeper.keep(scene.take("scene"))
                    scene, scene_until = tentative or _Best(cut.frame), tentative_until
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
                key = int((t - first_time) // step)
                if interval is None or key != interval.key:
                    if interval is not None:
                        keeper.keep(interval.take("interval"))
                    interval = _Best(key)
                interval.offer(cand)
            if motion is not None:
                key = int((t - first_time) // selection.motion_every_s)
                if moving is not None and key != moving.key:
                    # a small object barely changes the picture's hash: no de-duplication
                    keeper.keep(moving.take("motion"), forced=True)
                    moving = None
                if cand.box is not None:
                    moving = moving or _Best(key)
                    moving.offer(cand)
            for target in at_pending:
                gap = abs(t - target)
                if target not in at_best or gap < at_best[target][0]:
                    at_best[target] = (gap, cand)
            if progress is not None:
                progress(t)
        for cut in detector.finish():
            if selection.events and candidate_cut and candidate_cut.signals.index == cut.frame:
                keeper.keep(_reason(candidate_cut, "event:abrupt_change"), forced=True)
            if selection.scenes and scene is not None:
                # a cut confirmed only at the end (in the last ~0.5 s) opens a scene too
                keeper.keep(scene.take("scene"))
                scene, tentative = tentative or _Best(cut.frame), None
        if scene is not None:
            keeper.keep(scene.take("scene"))
        if interval is not None:
            keeper.keep(interval.take("interval"))
        if moving is not None:
            keeper.keep(moving.take("motion"), forced=True)
        at_notes = []
        last_time = log.column("time_s")[-1] if at_best else None
        for target in at_pending:
            if target in at_best:
                gap, nearest = at_best[target]
                keeper.keep(dataclasses.replace(nearest, reasons=["at"]), forced=True)
                # times are the stream's own: it may start at 10 s, not 0
                if target < first_time - 1.0 or target > last_time + 1.0:
                    at_notes.append(
                        f"--at {target:g} s lies outside the frames analysed "
                        f"({first_time:.3f}-{last_time:.3f} s, the stream's "
                        f"own times): the nearest, at {nearest.signals.time_s:.3f} s, was kept"
                    )

    times = log.column("time_s")
    events: list[dict[str, Any]] = []
    if selection.events == "edl" and len(times):
        columns = {
            name: log.column(name)
            for name in (
                "index", "sharpness", "brightness", "contrast", "motion", "shift_px",
                "shift_confidence",
            )
        }  # fmt: skip
        events = edl_events(
            times,
            columns,
            detector.cuts,
            detector.flashes,
            selection.edl,
            cut_ratio=selection.cut.ratio,
            frame_width=info.width,
        )
    if motion is not None and len(motion_times):
        events += _motion_events(
            np.frombuffer(motion_times, np.float64),
            np.frombuffer(motion_flags, np.int8).astype(bool),
            log.column("index"),
        )
    _keep_event_frames(reader, keeper, events, log)
    keeper.entries.sort(key=lambda k: k["time_s"])
    index = _index(reader, times, log, detector, keeper, events, selection, step, at_notes)
    if keeper.entries:
        out.bytes("contact_sheet.jpg", _sheet_jpeg(keeper, events, reader))
    plotting.join()
    if len(times) > 1:
        from zhurong_tk.plot import video_signals_figure

        columns = {n: log.column(n) for n in ("brightness", "contrast", "sharpness", "change")}
        columns["motion"] = log.column("motion")
        fig = video_signals_figure(
            times,
            columns,
            events=events,
            kept_s=[e["time_s"] for e in keeper.entries],
            title=os.path.basename(os.fspath(path)),
        )
        out.figure("signals.png", fig)
    out.json("index.json", index)
    out.finish("video frames")
    return index


def _motion_row(m: MotionSignal) -> list[str]:
    box = m.bbox or ("", "", "", "")
    return [f"{m.area:.5g}", *(str(v) for v in box)]


def _motion_events(times: np.ndarray, moving: np.ndarray, index: np.ndarray) -> list[dict]:
    events = []
    n = len(times)
    for a, b in motion_segments(times, moving):
        end_s = float(times[b]) if b < n else float(times[-1])
        events.append(
            {
                "kind": "motion",
                "time_s": round(float(times[a]), 6),
                "start_s": round(float(times[a]), 6),
                "end_s": round(end_s, 6),
                "start_frame": int(index[a]),
                "end_frame": int(index[b]) if b < n else int(index[-1]) + 1,
                "confidence": round(float(np.mean(moving[a:b])), 3),
                "evidence": {"moving_fraction_of_frames": round(float(np.mean(moving[a:b])), 3)},
            }
        )
    return events


def _representative(event: dict[str, Any], times: np.ndarray, index: np.ndarray) -> int:
    """The frame that shows an event best: the spike itself, a phase's middle, dust
    half a second into the plume."""
    kind = event["kind"]
    if kind in ("abrupt_change", "flash", "recovery"):
        return int(event["start_frame"])
    if kind == "dust":
        target = min(event["start_s"] + 0.5, (event["start_s"] + event["end_s"]) / 2)
    else:
        target = (event["start_s"] + event["end_s"]) / 2
    pos = int(np.clip(np.searchsorted(times, target), 0, len(times) - 1))
    return int(index[pos])


def _reason(cand: _Candidate, reason: str) -> _Candidate:
    return dataclasses.replace(cand, reasons=[reason])


#: Where a kept frame can stand for a phase: seconds from its start it may lie.
_PHASE_REACH_S = {"hover": math.inf, "motion": math.inf, "dust": 1.5, "recovery": 1.0}


def _keep_event_frames(
    reader: VideoReader | ImageSequenceReader,
    keeper: _Keeper,
    events: list[dict[str, Any]],
    log: SignalLog,
) -> None:
    """Name a frame for each event: the spike frames kept during the pass, else a kept
    frame inside the phase (near its representative time), else the exact frame fetched
    by seeking (one group of pictures per event)."""
    if not events:
        return
    times = log.column("time_s")
    index = log.column("index").astype(np.int64)
    fetch: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        frame = _representative(event, times, index)
        event["frame"] = frame
        reason = f"event:{event['kind']}"
        if frame in keeper.by_frame:
            keeper.add_reason(frame, reason)
            continue
        reach = _PHASE_REACH_S.get(event["kind"])
        if reach is not None:
            target = times[min(int(np.searchsorted(index, frame)), len(times) - 1)]
            start = event["start_s"]
            stop = (
                min(event["end_s"], start + reach) if event["kind"] != "recovery" else start + reach
            )
            inside = [e for e in keeper.entries if start <= e["time_s"] < max(stop, start + 1e-9)]
            if inside:
                best = min(inside, key=lambda e: abs(e["time_s"] - target))
                event["frame"] = best["frame"]
                keeper.add_reason(best["frame"], reason)
                continue
        fetch.setdefault(frame, []).append(event)
    if not fetch:
        return
    wanted = []
    for frame in fetch:
        pos = int(np.searchsorted(index, frame))
        if pos < len(index) and index[pos] == frame:
            wanted.append((frame, float(times[pos])))
    columns = {name: log.column(name) for name in FrameSignals.FIELDS}
    for fetched in reader.frames_at(wanted):
        pos = int(np.searchsorted(index, fetched.index))
        values = {name: float(col[pos]) for name, col in columns.items()}
        values["index"] = int(values["index"])
        values["hash_distance"] = int(values["hash_distance"])
        signals = FrameSignals(**values)
        for event in fetch[fetched.index]:
            keeper.keep(_Candidate(signals, 0, fetched, [f"event:{event['kind']}"]), forced=True)


def _read_thumbnail(path: os.PathLike[str]) -> np.ndarray:
    """A kept frame read back small (JPEG decodes at a quarter size directly)."""
    data = np.fromfile(os.fspath(path), dtype=np.uint8)
    flag = cv2.IMREAD_REDUCED_COLOR_4 if os.fspath(path).endswith(".jpg") else cv2.IMREAD_COLOR
    image = cv2.imdecode(data, flag)
    if image is None or image.shape[1] < THUMB_WIDTH:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return thumbnail(image)


def _sheet_jpeg(keeper: _Keeper, events: list[dict[str, Any]], reader: Any) -> bytes:
    entries = keeper.entries
    must = [e for e in entries if "event:" in e["reason"]]
    rest = [e for e in entries if "event:" not in e["reason"]]
    room = max(0, MAX_SHEET_FRAMES - len(must))
    if len(rest) > room:
        picks = np.linspace(0, len(rest) - 1, room).round().astype(int) if room else []
        rest = [rest[i] for i in sorted(set(picks))]
    shown = sorted(must + rest, key=lambda e: e["time_s"])
    labels = [f"{e['time_s']:.2f}s {e['reason'].replace('event:', '')}" for e in shown]
    thumbs = []
    for e in shown:
        thumb = _read_thumbnail(keeper.out / e["path"])
        if "box" in e:
            thumb = thumb.copy()
            upright = reader.info.height if reader.info.rotation_deg in (90, 270) else None
            f = thumb.shape[1] / (upright or reader.info.width or thumb.shape[1])
            x, y, w, h = (round(v * f) for v in e["box"])
            cv2.rectangle(thumb, (x, y), (x + w, y + h), (0, 255, 255), 1)
        thumbs.append(thumb)
    title = (
        f"{os.path.basename(os.fspath(reader.path))}: {len(entries)} frames kept"
        + (f", {len(shown)} shown" if len(shown) < len(entries) else "")
        + (f"; events: {', '.join(sorted({e['kind'] for e in events}))}" if events else "")
    )
    sheet = contact_sheet(thumbs, labels, title=title)
    ok, encoded = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ParameterError("could not encode the contact sheet")
    return encoded.tobytes()


def _index(reader, times, log, detector, keeper, events, selection, step, notes) -> dict[str, Any]:
    info = reader.info
    intervals = np.diff(times) if len(times) > 1 else np.empty(0)
    measured_fps = (
        (len(times) - 1) / (times[-1] - times[0])
        if len(times) > 1 and not selection.keyframes
        else None
    )
    variable = False
    if len(intervals):
        # beyond the rounding of a coarse time base (WebM: 1 ms, so 33/34-ms steps at 30 fps)
        median = float(np.median(intervals))
        off = np.abs(intervals - median) > max(0.05 * median, 0.0015)
        variable = bool(off.mean() > 0.01)
    warnings = list(notes)
    if reader.decode_failures:
        what = "images" if isinstance(reader, ImageSequenceReader) else "video packets"
        warnings.append(
            f"{reader.decode_failures} {what} could not be decoded; every other frame was analysed"
        )
    if not len(times):
        warnings.append("no frame decoded in the selected time range")
    reported = info.frame_count_reported
    whole = selection.start_s is None and selection.end_s is None and not selection.keyframes
    if whole and reported and reader.frames_read < reported - 1:
        if not info.frame_count_estimated:
            warnings.append(
                f"decoded {reader.frames_read} of the {reported} frames the container reports "
                "(truncated or damaged file?)"
            )
        elif info.duration_s and (
            not len(times)
            or info.duration_s - (times[-1] - times[0])
            > max(3 * (times[-1] - times[0]) / max(len(times) - 1, 1), 0.01 * info.duration_s)
        ):
            # an estimated count (duration × average rate) is wrong for a variable rate: the
            # time decoded, against the duration, says whether frames are missing
            reached = f"{times[-1] - times[0]:.2f}" if len(times) else "0"
            warnings.append(
                f"decoded {reached} s of the {info.duration_s:.2f} s the container reports "
                "(truncated or damaged file?)"
            )
    if reader.timestamps_assumed and not isinstance(reader, ImageSequenceReader):
        warnings.append(
            f"{reader.timestamps_assumed} frames carry no timestamp (raw stream?): their "
            f"times assume {info.fps or 25:g} fps"
        )
    if selection.count is not None and step == math.inf and len(times) > 1:
        warnings.append(
            f"--count {selection.count}: the video's length is unknown, so its frames were "
            "taken as one interval (one frame kept); use --every instead"
        )
    if keeper.dropped_for_max:
        warnings.append(f"--max-frames reached: {keeper.dropped_for_max} more frames not kept")
    index_col = log.column("index").astype(np.int64) if len(times) else np.empty(0, np.int64)
    return {
        "schema": INDEX_SCHEMA,
        "video": {
            "path": str(reader.path),
            "container": info.format,
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
            "timestamps_assumed": reader.timestamps_assumed,
            "rotation_applied": info.rotation_deg in _ROTATE,
            "keyframes_only": selection.keyframes,
            "notes": list(info.notes),
            "product": info.product,
        },
        "selection": {
            "interval_s": step if step != math.inf else None,
            "at_s": list(selection.at_s),
            "start_s": selection.start_s,
            "end_s": selection.end_s,
            "scenes": selection.scenes,
            "events": selection.events,
            "motion": selection.motion,
            "keyframes": selection.keyframes,
            "max_frames": selection.max_frames,
            "dedup_bits": selection.dedup_bits,
            "near_duplicates_dropped": keeper.duplicates,
        },
        "scenes": scenes_from_cuts(detector.cuts, times, index_col),
        "cuts": [c.to_dict() for c in detector.cuts],
        "flashes": [c.to_dict() for c in detector.flashes],
        "events": events,
        "frames": keeper.entries,
        "warnings": warnings,
    }
