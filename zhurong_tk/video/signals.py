"""Per-frame signals of a video, computed on a small grey proxy.

Plain functions over arrays plus :class:`SignalTracker`, which is fed one
frame at a time and keeps only the previous proxy: memory does not depend on
the video's length. The full-size image is only needed for the frames that
are kept (see :func:`sharpness`).
"""

from __future__ import annotations

import array
import collections
import dataclasses
import math

import numpy as np

from zhurong_tk.io._ffmpeg import cv2

#: Width of the analysis proxy in pixels (height follows the aspect ratio).
PROXY_WIDTH = 192


def grey_proxy(image: np.ndarray, width: int = PROXY_WIDTH) -> np.ndarray:
    """Grey uint8 copy of ``image`` (BGR or grey) reduced by area averaging to ``width``."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = grey.shape
    if w <= width:
        return np.ascontiguousarray(grey, np.uint8)
    height = max(1, round(h * width / w))
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)


def dhash(grey: np.ndarray) -> int:
    """64-bit difference hash: signs of horizontal gradients on a 9×8 reduction."""
    while grey.shape[1] >= 72 and grey.shape[0] >= 64:  # halve first: area reduction is slow
        grey = cv2.pyrDown(grey)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = np.packbits(small[:, 1:] > small[:, :-1])
    return int.from_bytes(bits.tobytes(), "big")


def hash_distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit hashes (0 = same picture, ~32 = unrelated)."""
    return (a ^ b).bit_count()


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian after a light Gaussian blur (σ = 1 pixel); higher = sharper.

    The blur keeps sensor grain (high-gain frames near touchdown are grainy
    but show nothing) from scoring as detail. Comparable between frames of one size.
    """
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.0)
    # 16-bit integer Laplacian of 8-bit grey is exact and 4x faster than float
    laplacian = cv2.Laplacian(smooth, cv2.CV_16S if grey.dtype == np.uint8 else cv2.CV_32F, ksize=3)
    return float(cv2.meanStdDev(laplacian)[1][0, 0] ** 2)


@dataclasses.dataclass
class FrameSignals:
    """What the analysis measures on each frame (proxy scale, grey levels 0..255).

    Attributes
    ----------
    index, time_s : frame number (presentation order) and presentation time
    brightness, contrast : mean and standard deviation of the grey proxy
    sharpness : variance of the proxy's Laplacian after a σ = 1 px blur (see :func:`sharpness`)
    change : mean absolute difference to the previous frame after undoing the
        global shift between them (a pan scores low, a cut high)
    raw_change : the same without motion compensation
    hash_distance : bits differing between this frame's and the previous frame's dHash
    shift_px : global translation from the previous frame, in full-size pixels
    shift_confidence : phase-correlation peak response (0..1; low for cuts and noise)
    motion : mean absolute difference of the smoothed proxy to the frame about
        ``motion_lag_s`` earlier: global motion accumulated over that lag, well
        above sensor noise while the camera moves (near zero in a hover)
    """

    index: int
    time_s: float
    brightness: float
    contrast: float
    sharpness: float
    change: float
    raw_change: float
    hash_distance: int
    shift_px: float
    shift_confidence: float
    motion: float

    FIELDS = (
        "index",
        "time_s",
        "brightness",
        "contrast",
        "sharpness",
        "change",
        "raw_change",
        "hash_distance",
        "shift_px",
        "shift_confidence",
        "motion",
    )

    def row(self) -> list[float]:
        return [getattr(self, name) for name in self.FIELDS]


class SignalTracker:
    """Feed grey proxies in presentation order; get their :class:`FrameSignals`.

    Keeps the previous proxy and a few smoothed ones (about ``motion_lag_s``
    of them), so memory does not depend on the video's length.

    Parameters
    ----------
    motion_lag_s : float
        Lag of the :attr:`FrameSignals.motion` difference.
    """

    #: Raw change (grey levels) above which the shift is undone before comparing.
    compensate_above = 2.0

    def __init__(self, motion_lag_s: float = 0.2) -> None:
        self.motion_lag_s = motion_lag_s
        self._prev: np.ndarray | None = None
        self._prev_hash = 0
        self._window: np.ndarray | None = None
        self._smoothed: collections.deque[tuple[float, np.ndarray]] = collections.deque()
        self.scale = 1.0  # full-size pixels per proxy pixel

    def update(
        self, index: int, time_s: float, proxy: np.ndarray, scale: float = 1.0
    ) -> tuple[FrameSignals, int]:
        """Signals of the next frame, and its dHash (kept by detectors that look back).

        ``proxy`` is the frame's grey proxy, ``scale`` full-size pixels per proxy pixel.
        """
        self.scale = scale
        value = dhash(proxy)
        mean, std = cv2.meanStdDev(proxy)
        signals = FrameSignals(
            index=index,
            time_s=time_s,
            brightness=float(mean[0, 0]),
            contrast=float(std[0, 0]),
            sharpness=sharpness(proxy),
            change=0.0,
            raw_change=0.0,
            hash_distance=0,
            shift_px=0.0,
            shift_confidence=1.0,
            motion=0.0,
        )
        prev = self._prev
        if prev is not None and prev.shape == proxy.shape:
            signals.raw_change = cv2.mean(cv2.absdiff(prev, proxy))[0]
            signals.hash_distance = hash_distance(value, self._prev_hash)
            signals.change, signals.shift_px, signals.shift_confidence = self._compensated(
                prev, proxy, signals.raw_change
            )
        signals.motion = self._lagged_motion(time_s, proxy)
        self._prev, self._prev_hash = proxy, value
        return signals, value

    def _lagged_motion(self, time_s: float, proxy: np.ndarray) -> float:
        smooth = cv2.blur(proxy, (3, 3))  # sensor noise averages out, structure stays
        history = self._smoothed
        if history and history[-1][1].shape != smooth.shape:
            history.clear()
        motion = 0.0
        # the newest frame at least motion_lag_s old (the oldest one early in the video)
        while len(history) > 1 and time_s - history[1][0] >= self.motion_lag_s:
            history.popleft()
        if history:
            motion = cv2.mean(cv2.absdiff(history[0][1], smooth))[0]
        history.append((time_s, smooth))
        return motion

    def _compensated(
        self, prev: np.ndarray, cur: np.ndarray, raw: float
    ) -> tuple[float, float, float]:
        # phase correlation at half the proxy's size: 6x cheaper, still sub-pixel
        prev_half, cur_half = cv2.pyrDown(prev), cv2.pyrDown(cur)
        if self._window is None or self._window.shape != cur_half.shape:
            self._window = cv2.createHanningWindow(cur_half.shape[::-1], cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(
            prev_half.astype(np.float32), cur_half.astype(np.float32), self._window
        )
        dx, dy = 2 * dx, 2 * dy
        shift = math.hypot(dx, dy)
        # below a couple of grey levels the compensated change cannot matter for a cut
        if shift < 0.5 or not math.isfinite(shift) or raw < self.compensate_above:
            return raw, shift * self.scale, float(response)
        # undo the shift and compare the overlap only (the edges that slid in are new)
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        h, w = cur.shape
        moved = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_LINEAR)
        x0, x1 = max(0, math.ceil(dx)), min(w, w + math.floor(dx))
        y0, y1 = max(0, math.ceil(dy)), min(h, h + math.floor(dy))
        if x1 - x0 < w // 4 or y1 - y0 < h // 4:
            return raw, shift * self.scale, float(response)
        diff = cv2.mean(cv2.absdiff(moved[y0:y1, x0:x1], cur[y0:y1, x0:x1]))[0]
        return float(min(raw, diff)), shift * self.scale, float(response)


class SignalLog:
    """Every frame's :class:`FrameSignals`, stored by column (8 bytes per value).

    An hour at 30 fps takes about 10 MB; events are found on these columns at
    the end of the pass.
    """

    def __init__(self) -> None:
        self._columns = {name: array.array("d") for name in FrameSignals.FIELDS}

    def append(self, signals: FrameSignals) -> None:
        for name, column in self._columns.items():
            column.append(getattr(signals, name))

    def __len__(self) -> int:
        return len(self._columns["index"])

    def column(self, name: str) -> np.ndarray:
        """One signal over all frames, as a float64 copy."""
        return np.frombuffer(self._columns[name], dtype=np.float64).copy()
