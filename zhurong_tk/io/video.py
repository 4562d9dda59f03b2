"""Read video: stream facts and frames with their presentation times.

Frames are decoded with cv2 (FFmpeg backend); the container, codec, duration
and audio tracks come from PyAV, which reads them from the streams rather
than from cv2's frame-count estimate. Times of frames are the stream's
presentation timestamps, never ``index / fps``.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from zhurong_tk.errors import MediaReadError, UnsupportedFormatError
from zhurong_tk.io._ffmpeg import av, cv2, open_container
from zhurong_tk.io.audio import AudioInfo, probe_audio_streams
from zhurong_tk.io.sniff import Kind, sniff

log = logging.getLogger(__name__)

#: Frame rates outside this range (Hz) are treated as missing metadata.
PLAUSIBLE_FPS = (0.01, 1000.0)


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video file is.

    Attributes
    ----------
    path : str
    format : str
        Container as FFmpeg names it (``"matroska,webm"``, ``"mov,mp4,m4a,3gp,3g2,mj2"``).
    codec : str
        Video codec (``"h264"``, ``"vp9"`` ...).
    fourcc : str or None
        cv2's four-character code.
    width, height : int
        Coded frame size in pixels (before any rotation).
    fps : float or None
        Average frame rate from the stream; None when absent or absurd.
    frame_count_reported : int or None
        Frames as the container / cv2 claim; an estimate for many files.
    duration_s : float or None
        Duration of the video stream in seconds, from the stream.
    rotation_deg : int
        Display rotation from metadata (0, 90, 180, 270).
    audio : list of AudioInfo
        Audio tracks in the same container.
    notes : list of str
        Anything suspicious in the metadata.
    """

    path: str
    format: str
    codec: str
    fourcc: str | None
    width: int
    height: int
    fps: float | None
    frame_count_reported: int | None
    duration_s: float | None
    rotation_deg: int
    audio: list[AudioInfo]
    notes: list[str]


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video file.

    Raises
    ------
    MediaReadError
        Missing, empty, truncated beyond opening, or corrupt.
    UnsupportedFormatError
        Not a video, or a container without a video stream.
    """
    kind, fmt = sniff(path)
    if kind is not Kind.CONTAINER:
        raise UnsupportedFormatError(path, f"not a video container (content looks like {fmt})")
    notes: list[str] = []
    with open_container(path) as container:
        if not container.streams.video:
            raise UnsupportedFormatError(path, f"{fmt} file has no video stream")
        st = container.streams.video[0]
        ctx = st.codec_context
        codec = ctx.name
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        rate = st.average_rate or st.guessed_rate
        fps = float(rate) if rate else None
        if st.duration is not None and st.time_base is not None:
            duration = float(st.duration * st.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        container_frames = int(st.frames) if st.frames else None
        container_format = container.format.name
    audio = probe_audio_streams(path)

    cap = cv2.VideoCapture(os.fspath(path))
    try:
        if cap.isOpened():
            fourcc = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
            cv2_fps = cap.get(cv2.CAP_PROP_FPS)
            cv2_count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
            rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
            width = width or int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = height or int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        else:
            fourcc, cv2_fps, cv2_count, rotation = None, 0.0, -1.0, 0
            notes.append("cv2 cannot open this file; frames will be decoded with PyAV")
    finally:
        cap.release()

    if fps is None and PLAUSIBLE_FPS[0] <= cv2_fps <= PLAUSIBLE_FPS[1]:
        fps = float(cv2_fps)
    if fps is not None and not PLAUSIBLE_FPS[0] <= fps <= PLAUSIBLE_FPS[1]:
        notes.append(f"implausible frame rate {fps:g} in metadata ignored")
        fps = None
    reported = container_frames
    if reported is None and math.isfinite(cv2_count) and cv2_count > 0:
        reported = int(cv2_count)
    if cv2_count is not None and math.isfinite(cv2_count) and cv2_count < 0 and fourcc is not None:
        notes.append("negative frame count in metadata ignored")
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        notes.append(f"implausible duration {duration:g} s in metadata ignored")
        duration = None
    if width <= 0 or height <= 0:
        raise MediaReadError(path, f"video stream has no frame size ({width}×{height})")
    return VideoInfo(
        path=os.fspath(path),
        format=container_format,
        codec=codec,
        fourcc=fourcc,
        width=width,
        height=height,
        fps=fps,
        frame_count_reported=reported,
        duration_s=duration,
        rotation_deg=rotation,
        audio=audio,
        notes=notes,
    )


def _fourcc(value: float) -> str | None:
    code = int(value)
    if code <= 0:
        return None
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else None


@dataclasses.dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        Position in decode order, from 0.
    time_s : float
        Presentation time in seconds from the stream.
    image : numpy.ndarray
        ``(height, width, 3)`` uint8, BGR.
    """

    index: int
    time_s: float
    image: np.ndarray


class VideoReader:
    """Decode a video's frames one at a time with their presentation times.

    Memory stays at one frame whatever the video's length. Packets that fail
    to decode are counted in :attr:`decode_failures`, so a truncated file
    yields every frame that decodes.

    Notes
    -----
    Frames come from PyAV: ``frame.time`` is the presentation timestamp.
    cv2's ``CAP_PROP_POS_MSEC`` follows decode order around B-frames (on
    ``opencv_box.mp4`` it reads 0.000, 0.101, 0.067 s for the first three
    frames), so it cannot be trusted for times.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.info = probe_video(path)
        self.frames_read = 0
        self.decode_failures = 0
        self.timestamps_repaired = 0

    #: Frames held back to repair timestamps (deeper than any B-frame pyramid in practice).
    REORDER_WINDOW = 8

    def frames(self) -> Iterator[Frame]:
        """Yield every decodable frame in presentation order with its presentation time."""
        pending_images: collections.deque[np.ndarray] = collections.deque()
        pending_times: list[float] = []  # heap
        index = 0
        for image, time_s in self._decoded():
            pending_images.append(image)
            heapq.heappush(pending_times, time_s)
            if len(pending_images) > self.REORDER_WINDOW:
                yield self._emit(index, pending_images, pending_times)
                index += 1
        while pending_images:
            yield self._emit(index, pending_images, pending_times)
            index += 1
        if self.timestamps_repaired:
            log.info(
                "%s: %d frame timestamps were out of order and reassigned",
                self.path,
                self.timestamps_repaired,
            )

    def _emit(self, index: int, images: collections.deque, times: list[float]) -> Frame:
        # Decoders output frames in display order; some muxers (pts == dts with
        # B-frames) attach the wrong packet's pts. The smallest pending pts is
        # the time of the oldest pending frame.
        time_s = heapq.heappop(times)
        if time_s != self._last_raw_time.popleft():
            self.timestamps_repaired += 1
        return Frame(index=index, time_s=time_s, image=images.popleft())

    def _decoded(self) -> Iterator[tuple[np.ndarray, float]]:
        self.timestamps_repaired = 0
        self._last_raw_time: collections.deque[float] = collections.deque()
        with open_container(self.path) as container:
            st = container.streams.video[0]
            st.thread_type = "AUTO"
            for packet in container.demux(st):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    self.decode_failures += 1
                    continue
                for frame in decoded:
                    time_s = float(frame.time) if frame.time is not None else math.nan
                    self.frames_read += 1
                    self._last_raw_time.append(time_s)
                    yield frame.to_ndarray(format="bgr24"), time_s
        if self.decode_failures:
            log.warning(
                "%s: %d video packets could not be decoded", self.path, self.decode_failures
            )


def count_video_frames(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Decode a whole video with PyAV; return ``(frames decoded, packets that failed)``.

    Used by ``info --verify``: the container's frame count is only a claim.
    """
    decoded = failed = 0
    with open_container(path) as container:
        st = container.streams.video[0]
        st.thread_type = "AUTO"
        for packet in container.demux(st):
            try:
                decoded += len(packet.decode())
            except av.error.FFmpegError:
                failed += 1
    return decoded, failed
