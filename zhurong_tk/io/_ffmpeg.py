"""Import PyAV and cv2 with FFmpeg's console chatter silenced.

Both wrap FFmpeg, which prints decoder warnings ("A non-intra slice in an IDR
NAL unit", "Premature end of JPEG file") straight to stderr. Our readers count
and report decode failures themselves, so the raw log lines are noise in a
batch of hundreds of files. Set ``ZHURONG_TK_FFMPEG_LOG=1`` to see them.

``cv2`` is imported on first use (``from zhurong_tk.io._ffmpeg import cv2``):
audio work needs only PyAV, and OpenCV adds ~50 MB to a process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import av

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    av.logging.set_level(None)  # PyAV: do not forward FFmpeg's log to Python logging

__all__ = ["av", "av_reason", "open_container"]  # cv2 too, on first use (see __getattr__)


def av_reason(exc: Exception) -> str:
    """FFmpeg's own words for an error, for one-line messages."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@contextlib.contextmanager
def open_container(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """:func:`av.open` for reading, its failures turned into :class:`MediaReadError`."""
    from zhurong_tk.errors import MediaReadError

    try:
        container = av.open(os.fspath(path), mode="r")
    except FileNotFoundError:
        raise MediaReadError(path, "no such file") from None
    except av.error.FFmpegError as exc:
        raise MediaReadError(path, f"FFmpeg cannot open it ({av_reason(exc)})") from None
    with container:
        yield container


def __getattr__(name: str):
    if name == "cv2":
        import cv2

        globals()["cv2"] = cv2
        return cv2
    raise AttributeError(name)
