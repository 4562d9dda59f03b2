"""Import PyAV and cv2 with FFmpeg's console chatter silenced.

Both wrap FFmpeg, which prints decoder warnings ("A non-intra slice in an IDR
NAL unit", "Premature end of JPEG file") straight to stderr. Our readers count
and report decode failures themselves, so the raw log lines are noise in a
batch of hundreds of files. Set ``ZHURONG_TK_FFMPEG_LOG=1`` to see them.

Both are imported on first use (``from zhurong_tk.io._ffmpeg import av, cv2``):
audio work needs only PyAV, and OpenCV adds ~50 MB to a process; image work
needs only cv2, and importing PyAV costs ~55 ms of a command's start-up.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av
    import cv2

__all__ = ["av", "av_reason", "cv2", "open_container"]  # imported on first use: __getattr__


def av_reason(exc: Exception) -> str:
    """FFmpeg's own words for an error, for one-line messages."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@contextlib.contextmanager
def open_container(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """:func:`av.open` for reading, its failures turned into :class:`MediaReadError`."""
    from zhurong_tk.errors import MediaReadError
    from zhurong_tk.io._ffmpeg import av

    try:
        container = av.open(os.fspath(path), mode="r")
    except FileNotFoundError:
        raise MediaReadError(path, "no such file") from None
    except av.error.FFmpegError as exc:
        raise MediaReadError(path, f"FFmpeg cannot open it ({av_reason(exc)})") from None
    with container:
        yield container


def __getattr__(name: str):
    if name == "av":
        import av

        if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
            av.logging.set_level(None)  # do not forward FFmpeg's log to Python logging
        globals()["av"] = av
        return av
    if name == "cv2":
        import cv2

        globals()["cv2"] = cv2
        return cv2
    raise AttributeError(name)
