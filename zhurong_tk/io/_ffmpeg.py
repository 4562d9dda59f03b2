"""Import PyAV and cv2 with FFmpeg's console chatter silenced.

Both wrap FFmpeg, which prints decoder warnings ("A non-intra slice in an IDR
NAL unit", "Premature end of JPEG file") straight to stderr. Our readers count
and report decode failures themselves, so the raw log lines are noise in a
batch of hundreds of files. Set ``ZHURONG_TK_FFMPEG_LOG=1`` to see them.

``cv2`` is imported on first use (``from zhurong_tk.io._ffmpeg import cv2``):
audio work needs only PyAV, and OpenCV adds ~50 MB to a process.
"""

from __future__ import annotations

import os

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import av

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    av.logging.set_level(None)  # PyAV: do not forward FFmpeg's log to Python logging

__all__ = ["av"]  # cv2 too, on first use (see __getattr__)


def __getattr__(name: str):
    if name == "cv2":
        import cv2

        globals()["cv2"] = cv2
        return cv2
    raise AttributeError(name)
