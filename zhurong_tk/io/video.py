"""Read video: stream facts and frames with their presentation times.

Frames are decoded with cv2 (FFmpeg backend); the container, codec, duration
and audio tracks come from PyAV, which reads them from the streams rather
than from cv2's frame-count estimate. Times of frames are the stream's
presentation timestamps, never ``index / fps``.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import heapq
import itertools
import logging
import math
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io._ffmpeg import av, cv2, open_container
from zhurong_tk.io.audio import AudioInfo, probe_audio_streams
from zhurong_tk.io.image import probe_image, read_image
from zhurong_tk.io.sniff import Kind, describe, sniff

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
    frame_count_estimated : bool
        The count is cv2's duration × rate, not a count the container stores: wrong
        for a variable-rate stream.
    duration_s : float or None
        Duration of the video stream in seconds, from the stream.
    rotation_deg : int
        Display rotation from metadata (0, 90, 180, 270).
    audio : list of AudioInfo
        Audio tracks in the same container.
    notes : list of str
        Anything suspicious in the metadata.
    product : dict or None
        For a PDS4 product: its label's facts and the video file it names, or,
        for a folder of PDS4 camera products, the first and last product.
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
    product: dict | None = None
    frame_count_estimated: bool = False


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
        wrapped = _pds4_video(path, kind)
        if wrapped is not None:  # a PDS4 label naming a video file: that file is read
            return dataclasses.replace(probe_video(wrapped[0]), product=wrapped[1])
        raise UnsupportedFormatError(
            path, f"not a video container (content is {describe(kind, fmt)})"
        )
    notes: list[str] = []
    with open_container(path) as container:
        if not container.streams.video:
            raise UnsupportedFormatError(path, f"{fmt} file has no video stream")
        st = container.streams.video[0]
        ctx = st.codec_context
        if ctx is None or ctx.codec is None:
            tag = getattr(st, "codec_tag", None) or "unknown"
            raise UnsupportedFormatError(path, f"no decoder for its video codec (tag {tag!r})")
        codec = ctx.name
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        rate = st.average_rate or st.guessed_rate
        fps = float(rate) if rate else None
        if st.duration is not None and st.time_base is not None:
            duration = float(st.duration * st.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
            start = (container.start_time or 0) / av.time_base
            if "matroska" in container.format.name and 0 < start < duration:
                # Matroska's duration is the last timestamp: from 0, not from the first frame
                duration -= start
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

    cv2_fps_plausible = PLAUSIBLE_FPS[0] <= cv2_fps <= PLAUSIBLE_FPS[1]
    if fps is None and cv2_fps_plausible:
        fps = float(cv2_fps)
    if fps is not None and not PLAUSIBLE_FPS[0] <= fps <= PLAUSIBLE_FPS[1]:
        notes.append(f"implausible frame rate {fps:g} in metadata ignored")
        fps = None
    reported, estimated = container_frames, False
    if reported is None and math.isfinite(cv2_count) and cv2_count > 0 and cv2_fps_plausible:
        reported = int(cv2_count)  # cv2 multiplies duration by its rate: only as good as that
        estimated = True
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
        frame_count_estimated=estimated,
        duration_s=duration,
        rotation_deg=rotation,
        audio=audio,
        notes=notes,
    )


def _pds4_video(path: str | os.PathLike[str], kind: Kind) -> tuple[str, dict] | None:
    """The video file a PDS4 product names and the product's facts; None when ``path``
    is not a PDS4 product.

    Raises
    ------
    UnsupportedFormatError
        A PDS4 product that names no video file (the message says what it holds).
    """
    from zhurong_tk.io import pds4

    if pds4.looks_like_label(path):
        label = Path(path)
    elif kind is Kind.UNKNOWN:
        try:
            label = pds4.find_label(path)
        except MediaReadError:
            return None
    else:
        return None
    product = pds4.open_product(label)
    videos = pds4.media_files(product, ("container",))
    if not videos:
        images = any(s.kind.startswith(("Array_2D", "Array_3D")) for s in product.structures)
        raise UnsupportedFormatError(
            label,
            f"PDS4 product without a video: {pds4.describe_contents(product)}"
            + ("; a camera product is one frame: give a folder of them" if images else ""),
        )
    return videos[0], pds4.SignalSource(product, media_file=videos[0]).facts()


def _fourcc(value: float) -> str | None:
    code = int(value)
    if code <= 0:
        return None
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else None


#: Pixel formats whose first plane is the 8-bit luma: analysis reads it without conversion.
_LUMA_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
     "yuv411p", "yuv410p", "nv12", "nv21", "gray"}
)  # fmt: skip
#: Limited-range (16..235) luma to full-range grey.
_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)


class Frame:
    """One decoded frame: presentation time, grey levels, and colour on demand.

    Analysis needs only grey levels; colour is converted for the frames that
    are kept. For most video the grey is the decoder's luma plane, read
    without conversion.

    Attributes
    ----------
    index : int
        Position in presentation order, from 0.
    time_s : float
        Presentation time in seconds from the stream (or from the image names).
    key : bool
        Whether the frame is a keyframe (always True for image sequences).
    """

    __slots__ = ("_bgr", "_luma", "_lut", "_to_bgr", "index", "key", "time_s")

    def __init__(
        self,
        index: int,
        time_s: float,
        *,
        bgr: np.ndarray | None = None,
        luma: np.ndarray | None = None,
        lut: np.ndarray | None = None,
        to_bgr: Callable[[], np.ndarray] | None = None,
        key: bool = True,
    ) -> None:
        if bgr is None and (luma is None or to_bgr is None):
            raise ValueError("a Frame needs its colour image, or its luma and a converter")
        self.index, self.time_s, self.key = index, time_s, key
        self._luma, self._lut, self._bgr, self._to_bgr = luma, lut, bgr, to_bgr

    def bgr(self) -> np.ndarray:
        """``(height, width, 3)`` uint8 BGR (converted on first call)."""
        if self._bgr is None:
            self._bgr = self._to_bgr()  # type: ignore[misc]
        return self._bgr

    def grey(self) -> np.ndarray:
        """Full-size ``(height, width)`` uint8 grey levels, full range."""
        if self._luma is None:
            image = self.bgr()
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return self._luma if self._lut is None else cv2.LUT(self._luma, self._lut)

    def proxy(self, width: int) -> tuple[np.ndarray, int]:
        """Grey copy reduced by an integer factor to about ``width`` pixels, and the factor.

        Area averaging over exact ``k`` × ``k`` blocks (``k`` even; the frame is
        cropped by fewer than ``k`` pixels) of every other row: several times
        faster than a fractional reduction of every row, and each proxy pixel
        maps onto a known block of the frame.
        """
        src = self._luma if self._luma is not None else self.grey()
        h, w = src.shape
        k = 2 * max(1, round(w / (2 * width))) if w > width else 1
        k = min(k, h - h % 2) if h >= 2 else 1
        if k > 1:
            rows = src[: h - h % k : 2, : w - w % k]
            src = cv2.resize(
                rows, ((w - w % k) // k, (h - h % k) // k), interpolation=cv2.INTER_AREA
            )
        elif src is self._luma and self._lut is None:
            src = src.copy()  # the decoder reuses its buffer
        if self._luma is not None and self._lut is not None:
            src = cv2.LUT(src, self._lut)
        return src, k


def _from_av(index: int, time_s: float, frame: av.VideoFrame) -> Frame:
    fmt = frame.format.name
    if fmt in _LUMA_FORMATS:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        luma = luma[:, : plane.width]
        # range 2 = JPEG (full); 1 = MPEG (limited); 0 = unspecified: limited unless yuvj
        full = fmt.startswith("yuvj") or fmt == "gray" or frame.color_range == 2
        lut = None if full else _LIMITED_TO_FULL
    else:  # RGB, high bit depth ...: convert once
        luma, lut = frame.to_ndarray(format="gray"), None
    return Frame(
        index,
        time_s,
        luma=luma,
        lut=lut,
        to_bgr=lambda: frame.to_ndarray(format="bgr24"),
        key=bool(frame.key_frame),
    )


class _Prefetch:
    """Run an iterator on its own thread, ``depth`` items ahead (decoding overlaps analysis)."""

    _DONE = object()

    def __init__(self, items: Iterator, depth: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(items,), daemon=True)
        self._thread.start()

    def _run(self, items: Iterator) -> None:
        try:
            for item in items:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            self._put_done()

    def _put_done(self) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(self._DONE, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator:
        try:
            while True:
                item = self._queue.get()
                if item is self._DONE:
                    if self._error is not None:
                        raise self._error
                    return
                yield item
        finally:
            self._stop.set()
            self._thread.join()


class VideoReader:
    """Decode a video's frames one at a time with their presentation times.

    Memory stays at a few frames whatever the video's length. Packets that
    fail to decode are counted in :attr:`decode_failures`, so a truncated file
    yields every frame that decodes.

    Parameters
    ----------
    path : path-like
    keyframes_only : bool
        Decode keyframes only (the decoder skips the rest: an overview in a
        fraction of the time).
    prefetch : int
        Frames decoded ahead on a separate thread; 0 decodes on the caller's thread.

    Notes
    -----
    Frames are decoded with PyAV, chosen by measurement over cv2 (see
    ``benchmarks/bench_video.py``): analysis reads the decoder's luma plane
    without any colour conversion, and only kept frames are converted to BGR,
    while ``cv2.VideoCapture.read`` converts every frame. ``frame.time`` is the
    presentation timestamp; cv2's ``CAP_PROP_POS_MSEC`` follows decode order
    around B-frames (on ``opencv_box.mp4`` it reads 0.000, 0.101, 0.067 s for
    the first three frames), so it cannot be trusted for times.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, keyframes_only: bool = False, prefetch: int = 4
    ) -> None:
        self.info = probe_video(path)
        self.path = Path(self.info.path)  # a PDS4 label's video file, when given a label
        self.keyframes_only = keyframes_only
        self.prefetch = prefetch
        self.frames_read = 0
        self.decode_failures = 0
        self.timestamps_repaired = 0
        self.timestamps_assumed = 0
        # the decoder's own time of each frame by index (8 bytes a frame), for frames_at
        self._raw_time_of = array.array("d")

    #: Frames held back to repair timestamps (deeper than any B-frame pyramid in practice).
    REORDER_WINDOW = 8

    def frames(self) -> Iterator[Frame]:
        """Yield every decodable frame in presentation order with its presentation time
        (with ``keyframes_only``, the keyframes, each with its index among all frames)."""
        if self.keyframes_only:
            yield from self._keyframes()
            return
        decoded = self._decoded()
        if self.prefetch > 0:
            decoded = iter(_Prefetch(decoded, self.prefetch))
        pending: collections.deque[av.VideoFrame] = collections.deque()
        pending_times: list[float] = []  # heap
        index = 0
        for frame, time_s in decoded:
            pending.append(frame)
            heapq.heappush(pending_times, time_s)
            if len(pending) > self.REORDER_WINDOW:
                yield self._emit(index, pending, pending_times)
                index += 1
        while pending:
            yield self._emit(index, pending, pending_times)
            index += 1
        if self.timestamps_repaired:
            log.info(
                "%s: %d frame timestamps were out of order and reassigned",
                self.path,
                self.timestamps_repaired,
            )

    def _emit(self, index: int, frames: collections.deque, times: list[float]) -> Frame:
        # Decoders output frames in display order; some muxers (pts == dts with
        # B-frames) attach the wrong packet's pts. The smallest pending pts is
        # the time of the oldest pending frame.
        time_s = heapq.heappop(times)
        raw = self._raw_times.popleft()
        self._raw_time_of.append(raw)
        if time_s != raw:
            self.timestamps_repaired += 1
        return _from_av(index, time_s, frames.popleft())

    def frames_at(self, wanted: Sequence[tuple[int, float]]) -> Iterator[Frame]:
        """Fetch a few frames by ``(index, presentation time)`` from an earlier pass.

        Seeks to the keyframe before each time and decodes forward to the
        nearest frame, so each costs at most one group of pictures. Frames that
        cannot be reached are skipped. After :meth:`frames`, a frame is found by
        the time its decoder attached (where :meth:`frames` repaired times that
        came out of order, the repaired time belongs to another decoded frame).
        """
        raw_time_of = self._raw_time_of
        with open_container(self.path) as container:
            st = container.streams.video[0]
            base = st.time_base or Fraction(1, 1_000_000)
            for index, target in sorted(wanted, key=lambda w: w[1]):
                raw = raw_time_of[index] if 0 <= index < len(raw_time_of) else target
                best = self._nearest(container, st, base, raw)
                if best is not None:
                    yield _from_av(index, target, best)

    @staticmethod
    def _nearest(container, st, base, target: float):
        for back_s in (0.0, 2.0, 10.0, math.inf):  # some demuxers land after the target
            start = 0 if math.isinf(back_s) else max(0, int((target - back_s) / base))
            try:
                container.seek(start, stream=st, backward=True, any_frame=False)
            except av.error.FFmpegError:
                continue
            best, best_gap, first_time = None, math.inf, None
            try:
                for packet in container.demux(st):
                    for frame in packet.decode():
                        if frame.time is None:
                            continue
                        first_time = frame.time if first_time is None else first_time
                        gap = abs(frame.time - target)
                        if gap < best_gap:
                            best, best_gap = frame, gap
                        if frame.time > target + 1.0:
                            break
                    else:
                        continue
                    break
            except av.error.FFmpegError:
                pass
            if best is not None and first_time is not None and first_time <= target + 1e-6:
                return best
        return None

    def _keyframes(self) -> Iterator[Frame]:
        """Keyframes only: every packet is demuxed (cheap) but only keyframe packets are
        decoded (some decoders, VP9's among them, ignore ``skip_frame``). A keyframe's index
        is the number of packets presented before it, counted once the few packets that
        may still precede it in presentation order (B-frames) have been demuxed."""
        times = array.array("d")  # presentation time of every packet so far
        held: collections.deque[tuple[av.VideoFrame, float, int]] = collections.deque()

        def ready(final: bool) -> Iterator[Frame]:
            while held and (final or len(times) >= held[0][2]):
                frame, time_s, _ = held.popleft()
                index = int(np.count_nonzero(np.frombuffer(times, np.float64) < time_s))
                yield _from_av(index, time_s, frame)

        def hold(frame: av.VideoFrame, until: int) -> None:
            # frames flushed from the decoder carry a pts but no time base (time is NaN)
            if frame.pts is None or st.time_base is None:
                self.timestamps_assumed += 1  # no time, no index: it cannot be placed
                return
            self.frames_read += 1
            held.append((frame, float(frame.pts * st.time_base), until))

        with open_container(self.path) as container:
            st = container.streams.video[0]
            for packet in container.demux(st):
                if packet.pts is not None and packet.time_base is not None:
                    times.append(float(packet.pts * packet.time_base))
                if packet.is_keyframe:
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError:
                        self.decode_failures += 1
                        decoded = []
                    for frame in decoded:
                        hold(frame, len(times) + self.REORDER_WINDOW)
                yield from ready(final=False)
            try:
                for frame in st.decode(None):  # the decoder's delayed output, if any
                    hold(frame, 0)
            except av.error.FFmpegError:
                pass
            yield from ready(final=True)

    def _decoded(self) -> Iterator[tuple[av.VideoFrame, float]]:
        self.timestamps_repaired = 0
        self._raw_times: collections.deque[float] = collections.deque()
        self._raw_time_of = array.array("d")
        self.timestamps_assumed = 0
        # raw elementary streams carry no times: the nominal rate is all there is
        step = 1.0 / (self.info.fps or 25.0)
        last = -step
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
                    if frame.time is None:
                        self.timestamps_assumed += 1
                        time_s = last + step
                    else:
                        time_s = float(frame.time)
                    last = time_s
                    self.frames_read += 1
                    self._raw_times.append(time_s)
                    yield frame, time_s
        if self.decode_failures:
            log.warning(
                "%s: %d video packets could not be decoded", self.path, self.decode_failures
            )


#: Image files read as frames of a sequence.
SEQUENCE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")

_OUR_NAME = re.compile(r"(?<![0-9A-Za-z])t(\d+(?:\.\d+)?)s")  # t0003.000s_f000090.jpg
_CLOCK_NAME = re.compile(r"(?<!\d)(\d{1,2})[_:.-](\d{2})[_:.-](\d{2}(?:[.,]\d+)?)(?!\d)")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def times_from_names(names: list[str]) -> list[float] | None:
    """Times in seconds from the first frame, read from image names; None if they carry none.

    Understood: ``HH_MM_SS[.fff]`` clock times (separators ``_ : . -``; a
    midnight roll-over continues the count), and this tool's own
    ``t0003.000s_...`` names. Every name must carry a time for any to be used.
    """
    ours = [_OUR_NAME.search(n) for n in names]
    if names and all(ours):
        return [float(m.group(1)) - float(ours[0].group(1)) for m in ours]  # type: ignore[union-attr]
    clocks = [_CLOCK_NAME.search(n) for n in names]
    if not names or not all(clocks):
        return None
    seconds = []
    day = 0.0
    for m in clocks:
        h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3).replace(",", "."))  # type: ignore[union-attr]
        if h > 23 or mi > 59 or s >= 61:
            return None
        value = h * 3600 + mi * 60 + s + day
        if seconds and value < seconds[-1] - 12 * 3600:  # past midnight
            day += 86400.0
            value += 86400.0
        seconds.append(value)
    return [v - seconds[0] for v in seconds]


class ImageSequenceReader:
    """Frames from a folder of images, ordered by name.

    Descent imagery is often released as numbered or time-stamped stills.
    Times come from the names (see :func:`times_from_names`) or from
    ``input_fps``; an image that does not decode is counted in
    :attr:`decode_failures` and skipped.

    Parameters
    ----------
    folder : path-like
    input_fps : float, optional
        Frame rate of the sequence; takes precedence over times in the names.
    """

    def __init__(self, folder: str | os.PathLike[str], *, input_fps: float | None = None) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise MediaReadError(folder, "not a folder of images")
        products = {}  # camera products among the files, by label, each opened once
        for f in folder.iterdir():
            product = None if f.suffix.lower() in SEQUENCE_SUFFIXES else _image_product(f)
            if product is not None:
                products[f] = product
        files = sorted(
            (
                f
                for f in folder.iterdir()
                if f.is_file() and (f.suffix.lower() in SEQUENCE_SUFFIXES or f in products)
            ),
            key=lambda f: _natural_key(f.name),
        )
        if not files:
            raise UnsupportedFormatError(
                folder,
                f"no image files ({', '.join(SEQUENCE_SUFFIXES)}) or PDS4 camera products"
                " in this folder",
            )
        label_times = None if input_fps is not None else _label_times(files, products)
        if label_times is not None:  # the products' own times order them
            order = sorted(range(len(files)), key=lambda i: label_times[i])
            files = [files[i] for i in order]
            label_times = [label_times[i] for i in order]
        if input_fps is not None and not PLAUSIBLE_FPS[0] <= input_fps <= PLAUSIBLE_FPS[1]:
            raise ParameterError(f"--input-fps must be within {PLAUSIBLE_FPS}, got {input_fps}")
        notes: list[str] = []
        if input_fps is not None:
            times = [i / input_fps for i in range(len(files))]
            source = f"{input_fps:g} fps given"
        elif label_times is not None:
            times = [t - label_times[0] for t in label_times]
            source = "times from the PDS4 labels' start_date_time"
        else:
            found = times_from_names([f.name for f in files])
            if found is None:
                raise ParameterError(
                    f"{folder}: the image names carry no times; give the sequence's rate "
                    "with --input-fps"
                )
            times, source = found, "times read from the file names"
        if any(b <= a for a, b in itertools.pairwise(times)):
            notes.append("image names give repeated or decreasing times")
        first = probe_image(files[0])
        self.path = folder
        self.files = files
        self.times = times
        self.keyframes_only = False
        self.info = VideoInfo(
            path=os.fspath(folder),
            format="image sequence",
            codec=first.format.lower(),
            fourcc=None,
            width=first.width,
            height=first.height,
            fps=input_fps,
            frame_count_reported=len(files),
            # the last image lasts a period too (a --count spans it); one image without a
            # rate has no length
            duration_s=((times[-1] - times[0]) + _period(times, input_fps))
            if len(times) > 1 or input_fps
            else None,
            rotation_deg=0,
            audio=[],
            notes=[f"timestamps: {source}", *notes],
            product=_sequence_facts([products[f] for f in files]) if label_times else None,
        )
        self.frames_read = 0
        self.decode_failures = 0
        self.timestamps_repaired = 0
        self.timestamps_assumed = len(files) if input_fps is not None else 0
        self.failed_files: list[str] = []

    def frames(self) -> Iterator[Frame]:
        """Yield each image that decodes as a frame (index = position in the sequence)."""
        for index, (file, time_s) in enumerate(zip(self.files, self.times, strict=True)):
            try:
                pixels = read_image(file)
            except MediaReadError as exc:
                self.decode_failures += 1
                self.failed_files.append(f"{file.name}: {exc.reason}")
                log.warning("%s", exc)
                continue
            self.frames_read += 1
            yield Frame(index, time_s, bgr=_as_bgr8(pixels))

    def frames_at(self, wanted: Sequence[tuple[int, float]]) -> Iterator[Frame]:
        """Re-read a few images by ``(index, time)`` from an earlier pass."""
        for index, time_s in sorted(wanted, key=lambda w: w[1]):
            if 0 <= index < len(self.files):
                try:
                    yield Frame(index, time_s, bgr=_as_bgr8(read_image(self.files[index])))
                except MediaReadError:
                    continue


def _image_product(path: Path) -> Any:
    """The product of a PDS4 label holding an image (a camera frame), else None."""
    from zhurong_tk.io import pds4

    if not path.is_file() or not pds4.looks_like_label(path):
        return None
    try:
        product = pds4.open_product(path)
        pds4.image_structure(product)
    except (MediaReadError, UnsupportedFormatError):
        return None
    return product


def _label_times(files: list[Path], products: dict[Path, Any]) -> list[float] | None:
    """Start times (POSIX seconds) of PDS4 products, when every file is one that has one."""
    import datetime

    times = []
    for file in files:
        if file not in products:
            return None
        stamp = products[file].facts.get("start_time")
        try:
            when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)  # PDS4 times are UTC
        times.append(when.timestamp())
    return times


def _sequence_facts(products: list[Any]) -> dict:
    first, last = products[0].facts, products[-1].facts
    return {
        "products": len(products),
        "first_logical_identifier": first.get("logical_identifier"),
        "last_logical_identifier": last.get("logical_identifier"),
        "start_time": first.get("start_time"),
        "stop_time": last.get("stop_time") or last.get("start_time"),
        "mission": first.get("mission"),
        "observing_system": first.get("observing_system"),
    }


def _as_bgr8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        pixels = cv2.normalize(pixels, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if pixels.shape[2] == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    if pixels.shape[2] == 2:
        return cv2.cvtColor(pixels[:, :, 0], cv2.COLOR_GRAY2BGR)
    return pixels


def open_frames(
    path: str | os.PathLike[str],
    *,
    keyframes_only: bool = False,
    input_fps: float | None = None,
) -> VideoReader | ImageSequenceReader:
    """A reader for a video file or a folder of images (see the two readers)."""
    if Path(path).is_dir():
        if keyframes_only:
            raise ParameterError("--keyframes applies to video files, not to image folders")
        return ImageSequenceReader(path, input_fps=input_fps)
    if input_fps is not None:
        raise ParameterError("--input-fps applies to image folders; a video has its own times")
    return VideoReader(path, keyframes_only=keyframes_only)


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


def _period(times: list[float], input_fps: float | None) -> float:
    """An image sequence's frame period: from its rate, or the median gap of its times."""
    if input_fps:
        return 1.0 / input_fps
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    return float(np.median(gaps)) if gaps else 0.0
