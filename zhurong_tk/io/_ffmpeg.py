"""Import cv2 and av with FFmpeg's console chatter silenced.

Both wrap FFmpeg, which prints decoder warnings ("A non-intra slice in an IDR
NAL unit", "Premature end of JPEG file") straight to stderr. Our readers count
and report decode failures themselves, so the raw log lines are noise in a
batch of hundreds of files. Set ``ZHURONG_TK_FFMPEG_LOG=1`` to see them.
"""

from __future__ import annotations

import os

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import av
import cv2

if not os.environ.get("ZHURONG_TK_FFMPEG_LOG"):
    av.logging.set_level(None)  # PyAV: do not forward FFmpeg's log to Python logging

__all__ = ["av", "cv2"]
