"""Moving objects seen by a fixed camera (``--motion``): the drop camera filming the rover.

Objects are the blobs that differ from the learnt background (OpenCV's MOG2
mixture model), and a blob counts only if part of it also changed over a
short lag. That removes the "ghost" a background model leaves where a parked
rover drove away from (the revealed ground is new to the model but does not
move) and stops a rover that has parked from counting as motion, while the
box still covers the whole rover (a uniform body changes only at its edges
from frame to frame).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import cv2


@dataclasses.dataclass(frozen=True)
class MotionConfig:
    """Thresholds of :class:`MotionDetector`.

    Attributes
    ----------
    min_area : float
        Fraction of the picture that must move for a frame to count as moving.
    max_area : float
        Above this fraction the whole picture changed (exposure, camera knocked):
        not an object.
    difference : float
        Grey levels a pixel must change over ``lag_s`` to move.
    lag_s : float
    history_s : float
        Memory of the background model.
    warmup_s : float
        The model learns the scene first; no motion is reported before.
    """

    min_area: float = 0.002
    max_area: float = 0.6
    difference: float = 8.0
    lag_s: float = 0.2
    history_s: float = 10.0
    warmup_s: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.min_area < self.max_area <= 1:
            raise ParameterError(f"motion areas must satisfy 0 < min < max <= 1: {self}")
        if self.difference <= 0 or self.lag_s <= 0 or self.history_s <= 0:
            raise ParameterError(f"motion thresholds must be positive: {self}")


@dataclasses.dataclass(frozen=True)
class MotionSignal:
    """Motion in one frame.

    Attributes
    ----------
    area : float
        Fraction of the picture that moves.
    bbox : tuple of int or None
        ``(x, y, width, height)`` of the moving object(s) in full-size pixels, or None.
    moving : bool
        ``min_area <= area <= max_area`` after the warm-up.
    """

    area: float
    bbox: tuple[int, int, int, int] | None
    moving: bool


class MotionDetector:
    """Feed grey proxies of a fixed camera's frames in order; get their :class:`MotionSignal`.

    Memory: the background model and about ``lag_s`` of proxies.
    """

    def __init__(self, config: MotionConfig | None = None, fps: float | None = None) -> None:
        self.config = config or MotionConfig()
        history = max(10, round(self.config.history_s * (fps or 30.0)))
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=16, detectShadows=False
        )
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._recent: collections.deque[tuple[float, np.ndarray]] = collections.deque()
        self._first_s: float | None = None

    def update(self, time_s: float, proxy: np.ndarray, scale: float = 1.0) -> MotionSignal:
        """Motion in the next frame; ``scale`` is full-size pixels per proxy pixel."""
        cfg = self.config
        smooth = cv2.GaussianBlur(proxy, (3, 3), 0)
        foreground = self._model.apply(smooth)
        if self._first_s is None:
            self._first_s = time_s
        recent = self._recent
        if recent and recent[-1][1].shape != smooth.shape:
            recent.clear()
        while len(recent) > 1 and time_s - recent[1][0] >= cfg.lag_s:
            recent.popleft()
        before = recent[0][1] if recent else None
        recent.append((time_s, smooth))
        if before is None or time_s - self._first_s < cfg.warmup_s:
            return MotionSignal(0.0, None, False)
        changed = cv2.absdiff(smooth, before) > cfg.difference
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self._kernel)
        return _moving_objects(foreground, changed, scale, cfg)


def _moving_objects(
    foreground: np.ndarray, changed: np.ndarray, scale: float, cfg: MotionConfig
) -> MotionSignal:
    """Blobs of the foreground that changed over the lag, their area and joint box."""
    # join an object's fragments (a body and its wheels) before labelling
    joined = cv2.dilate(foreground, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    if count <= 1:
        return MotionSignal(0.0, None, False)
    moved = np.bincount(labels[changed], minlength=count)[1:]
    areas = stats[1:, cv2.CC_STAT_AREA]
    live = (moved >= np.maximum(2, 0.02 * areas)) & (areas >= 4)
    if not live.any():
        return MotionSignal(0.0, None, False)
    live &= areas >= 0.2 * areas[live].max()
    mask = (foreground > 0) & np.isin(labels, 1 + np.flatnonzero(live))
    area = float(np.count_nonzero(mask)) / mask.size
    if not cfg.min_area <= area <= cfg.max_area:
        return MotionSignal(area, None, False)
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    box = (round(x0 * scale), round(y0 * scale), round((x1 - x0) * scale), round((y1 - y0) * scale))
    return MotionSignal(area, box, True)


def motion_segments(
    times: np.ndarray, moving: np.ndarray, *, min_s: float = 0.3, max_gap_s: float = 0.5
) -> list[tuple[int, int]]:
    """``[first, end)`` runs of moving frames, bridging gaps up to ``max_gap_s`` and
    dropping runs shorter than ``min_s``."""
    runs: list[tuple[int, int]] = []
    n = len(times)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], moving.astype(np.int8), [0]])))
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and times[a] - times[runs[-1][1] - 1] <= max_gap_s:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    step = float(np.median(np.diff(times))) if n > 1 else 0.0
    return [(a, b) for a, b in runs if (times[b - 1] - times[a]) + step >= min_s]
