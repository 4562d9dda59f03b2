"""Recognise media by content, not by file name.

Space-agency releases arrive renamed, re-wrapped and mislabelled; the first
bytes of a file say what it is. The extension is used only to explain a
mismatch to the user.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

from zhurong_tk.errors import MediaReadError


class Kind(enum.Enum):
    AUDIO = "audio"
    CONTAINER = "container"  # may hold video and/or audio streams (MP4, WebM, AVI, ...)
    IMAGE = "image"
    XML = "xml"  # PDS4 labels
    UNKNOWN = "unknown"


# (offset, magic bytes, kind, format name)
_SIGNATURES: list[tuple[int, bytes, Kind, str]] = [
    (0, b"fLaC", Kind.AUDIO, "FLAC"),
    (0, b"OggS", Kind.AUDIO, "OGG"),
    (0, b"FORM", Kind.AUDIO, "AIFF"),
    (0, b"caff", Kind.AUDIO, "CAF"),
    (0, b".snd", Kind.AUDIO, "AU"),
    (0, b"ID3", Kind.AUDIO, "MP3"),
    (0, b"\x89PNG\r\n\x1a\n", Kind.IMAGE, "PNG"),
    (0, b"\xff\xd8\xff", Kind.IMAGE, "JPEG"),
    (0, b"II*\x00", Kind.IMAGE, "TIFF"),
    (0, b"MM\x00*", Kind.IMAGE, "TIFF"),
    (0, b"II+\x00", Kind.IMAGE, "BigTIFF"),
    (0, b"MM\x00+", Kind.IMAGE, "BigTIFF"),
    (0, b"BM", Kind.IMAGE, "BMP"),
    (0, b"\x00\x00\x00\x0cjP  ", Kind.IMAGE, "JPEG2000"),
    (0, b"\x1a\x45\xdf\xa3", Kind.CONTAINER, "Matroska/WebM"),
    (4, b"ftyp", Kind.CONTAINER, "MP4/MOV"),
    (4, b"moov", Kind.CONTAINER, "MOV"),
    (4, b"mdat", Kind.CONTAINER, "MOV"),
    (0, b"\x00\x00\x01\xba", Kind.CONTAINER, "MPEG-PS"),
    (0, b"\x47", Kind.CONTAINER, "MPEG-TS"),  # checked further below
]

AUDIO_SUFFIXES = frozenset(
    [
        ".wav",
        ".wave",
        ".w64",
        ".rf64",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".m4a",
        ".aac",
        ".aif",
        ".aiff",
        ".aifc",
        ".caf",
        ".au",
        ".snd",
    ]
)
VIDEO_SUFFIXES = frozenset(
    [".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".ogv", ".3gp"]
) | frozenset([".h264", ".264", ".h265", ".265", ".hevc"])  # raw elementary streams
IMAGE_SUFFIXES = frozenset(
    [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".pnm", ".webp", ".jp2"]
)
MEDIA_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES | IMAGE_SUFFIXES


def sniff(path: str | os.PathLike[str]) -> tuple[Kind, str]:
    """Return the kind of media and a format name from a file's first bytes.

    Raises
    ------
    MediaReadError
        The file is missing, is a folder, is empty or cannot be opened.
    """
    p = Path(path)
    if p.is_dir():  # before the try: a MediaReadError is an OSError too, and was wrapped again
        raise MediaReadError(p, "is a folder, not a file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        raise MediaReadError(p, "no such file") from None
    except PermissionError:
        raise MediaReadError(p, "permission denied") from None
    except IsADirectoryError:
        raise MediaReadError(p, "is a folder, not a file") from None
    except OSError as exc:
        raise MediaReadError(p, exc.strerror or str(exc)) from None
    if not head:
        raise MediaReadError(p, "empty file (0 bytes)")
    if head[:4] == b"RIFF" and len(head) >= 12:
        sub = head[8:12]
        if sub == b"WAVE":
            return Kind.AUDIO, "WAV"
        if sub == b"AVI ":
            return Kind.CONTAINER, "AVI"
        if sub == b"WEBP":
            return Kind.IMAGE, "WEBP"
    if head[:4] in (b"RF64", b"riff"):
        return Kind.AUDIO, "WAV"
    for offset, magic, kind, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if name == "MPEG-TS" and not _looks_like_ts(p):
                continue
            if name == "MP4/MOV" and head[8:12] in (b"M4A ", b"M4B "):
                return Kind.CONTAINER, "M4A"
            return kind, name
    stream = _elementary_stream(head)
    if stream:
        return Kind.CONTAINER, stream
    # MPEG audio frame sync without an ID3 tag
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return Kind.AUDIO, "MP3"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype html")):
        return Kind.UNKNOWN, "HTML"  # typically an error page saved in place of a download
    if text.startswith(b"<"):
        return Kind.XML, "XML"
    if head[:2] in (b"P2", b"P5", b"P3", b"P6"):
        return Kind.IMAGE, "PNM"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return Kind.UNKNOWN, "text"
    return Kind.UNKNOWN, "unknown"


def _elementary_stream(head: bytes) -> str | None:
    """Raw H.264 / HEVC (Annex B): a start code, then a parameter set, delimiter or SEI."""
    if head.startswith(b"\x00\x00\x00\x01"):
        nal = head[4:5]
    elif head.startswith(b"\x00\x00\x01"):
        nal = head[3:4]
    else:
        return None
    if not nal or nal[0] & 0x80:  # forbidden zero bit
        return None
    if nal[0] & 0x1F in (6, 7, 9):
        return "H.264 stream"
    if (nal[0] >> 1) & 0x3F in (32, 35, 39):
        return "HEVC stream"
    return None


def _looks_like_ts(path: Path) -> bool:
    # A transport stream repeats its 0x47 sync byte every 188 bytes.
    with open(path, "rb") as fh:
        data = fh.read(188 * 3 + 1)
    return len(data) > 376 and data[188] == 0x47 and data[376] == 0x47


def describe(kind: Kind, fmt: str) -> str:
    """What a file's content is, in words for an error message ("plain text", "PNG image")."""
    words = {
        "XML": "an XML document",
        "HTML": "an HTML page (a failed download?)",
        "text": "plain text",
        "unknown": "no known media format",
    }
    return words.get(fmt) or f"{fmt} {kind.value}"


def suffix_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind the file name suggests (``"audio"``, ``"video"``, ``"image"``) or None."""
    suffix = Path(path).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None
