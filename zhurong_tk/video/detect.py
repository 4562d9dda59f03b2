"""Streaming detectors fed one frame's signals at a time (the PySceneDetect model).

:class:`CutDetector` finds hard cuts and abrupt changes. A descent video is
one continuous shot full of things a plain frame-difference threshold takes
for cuts: pyro flashes and sun glints (a frame or two over-exposed, then the
same scene again), fast pans (everything moves, nothing is new). So a
candidate must

- stand out from the recent motion-compensated change (adaptive threshold),
- change the picture's structure (perceptual-hash distance), and
- not return: if a frame within ``flash_window_s`` matches the frame before
  the candidate again, it was a flash.
"""

from __future__ import annotations

import collections
import dataclasses
import statistics
from collections.abc import Sequence

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.video.signals import FrameSignals, hash_distance


@dataclasses.dataclass(frozen=True)
class CutConfig:
    """Thresholds of :class:`CutDetector`.

    Attributes
    ----------
    ratio : float
        A candidate's change must exceed ``ratio`` × the median change of the last
        ``history_s`` seconds.
    min_change : float
        ... and this many grey levels (mean absolute difference, 0..255).
    min_hash_bits : int
        ... and change this many of the 64 dHash bits.
    flash_window_s : float
        A candidate followed within this time by a frame matching the frame before it
        (≤ ``return_hash_bits`` bits apart) is a flash, not a cut.
    return_hash_bits : int
    min_scene_s : float
        Cuts closer than this to the previous cut are ignored.
    history_s : float
    """

    ratio: float = 3.0
    min_change: float = 10.0
    min_hash_bits: int = 10
    flash_window_s: float = 0.5
    return_hash_bits: int = 8
    min_scene_s: float = 0.5
    history_s: float = 2.0

    def __post_init__(self) -> None:
        if self.ratio <= 1 or self.min_change < 0 or not 0 < self.min_hash_bits <= 64:
            raise ParameterError(f"bad cut thresholds: {self}")
        if self.flash_window_s < 0 or self.min_scene_s < 0 or self.history_s <= 0:
            raise ParameterError(f"bad cut time windows: {self}")


@dataclasses.dataclass
class Cut:
    """First frame of a new scene, with the evidence."""

    frame: int
    time_s: float
    change: float
    hash_distance: int
    ratio: float

    def to_dict(self) -> dict:
        return {
            "frame": self.frame,
            "time_s": round(self.time_s, 6),
            "change": round(self.change, 3),
            "hash_distance": self.hash_distance,
            "ratio": round(self.ratio, 2),
        }


class CutDetector:
    """Feed :class:`FrameSignals` (with each frame's dHash) in order; collect cuts.

    :meth:`update` returns the cuts confirmed by that frame: a candidate is
    confirmed once ``flash_window_s`` has passed without the picture
    returning, so cuts arrive with that delay. :meth:`finish` confirms the
    last pending one. Flashes that were rejected are in :attr:`flashes`.
    """

    def __init__(self, config: CutConfig | None = None) -> None:
        self.config = config or CutConfig()
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        self._prev_hash: int | None = None
        self._pending: tuple[Cut, int] | None = None  # candidate, hash of the frame before it
        self._last_cut_s = -float("inf")
        self.cuts: list[Cut] = []
        self.flashes: list[Cut] = []

    def update(self, signals: FrameSignals, frame_hash: int) -> list[Cut]:
        cfg = self.config
        confirmed: list[Cut] = []
        t = signals.time_s
        if self._pending is not None:
            candidate, before_hash = self._pending
            if hash_distance(frame_hash, before_hash) <= cfg.return_hash_bits:
                self.flashes.append(candidate)  # the picture came back: a flash
                self._pending = None
                # this frame's jump back is the flash's end, not a new candidate
                self._prev_hash = frame_hash
                return confirmed
            elif t - candidate.time_s > cfg.flash_window_s:
                confirmed.append(self._confirm(candidate))
        baseline = statistics.median(v for _, v in self._recent) if self._recent else 0.0
        ratio = signals.change / max(baseline, 0.5)
        if (
            self._pending is None
            and self._prev_hash is not None
            and signals.change >= cfg.min_change
            and ratio >= cfg.ratio
            and signals.hash_distance >= cfg.min_hash_bits
            and t - self._last_cut_s >= cfg.min_scene_s
        ):
            cut = Cut(signals.index, t, signals.change, signals.hash_distance, ratio)
            self._pending = (cut, self._prev_hash)
        else:
            # candidates stay out of the baseline, so a cut does not raise the next threshold
            self._recent.append((t, signals.change))
        while self._recent and t - self._recent[0][0] > cfg.history_s:
            self._recent.popleft()
        self._prev_hash = frame_hash
        return confirmed

    @property
    def pending(self) -> Cut | None:
        """The candidate cut waiting for its flash window to pass, if any."""
        return self._pending[0] if self._pending is not None else None

    def finish(self) -> list[Cut]:
        """Confirm a candidate still waiting at the end of the video."""
        if self._pending is None:
            return []
        return [self._confirm(self._pending[0])]

    def _confirm(self, cut: Cut) -> Cut:
        self._pending = None
        self._last_cut_s = cut.time_s
        self.cuts.append(cut)
        return cut


def scenes_from_cuts(
    cuts: list[Cut], times_s: Sequence[float], frames: Sequence[int] | None = None
) -> list[dict]:
    """``[{"start_frame","end_frame","start_s","end_s"}]`` (end exclusive) between cuts.

    Parameters
    ----------
    cuts : list of Cut
        The detector's cuts, in order; each at the first frame of its new scene.
    times_s : sequence of float
        Presentation times of the frames analysed, in order.
    frames : sequence of int, optional
        Their frame numbers [default: 0, 1, 2, ...]. They have gaps where frames
        did not decode (an image sequence's broken files), so a scene's frames are
        found by number, never by position.
    """
    n_frames = len(times_s)
    if n_frames == 0:
        return []
    numbers = np.arange(n_frames) if frames is None else np.asarray(frames, np.int64)
    starts = [0]
    for cut in cuts:
        position = int(np.searchsorted(numbers, cut.frame))
        if starts[-1] < position < n_frames:
            starts.append(position)
    ends = [*starts[1:], n_frames]
    last_end_s = times_s[-1] + (times_s[-1] - times_s[-2] if n_frames > 1 else 0.0)
    return [
        {
            "start_frame": int(numbers[a]),
            "end_frame": int(numbers[b]) if b < n_frames else int(numbers[-1]) + 1,
            "start_s": round(float(times_s[a]), 6),
            "end_s": round(float(times_s[b]) if b < n_frames else float(last_end_s), 6),
        }
        for a, b in zip(starts, ends, strict=True)
    ]
