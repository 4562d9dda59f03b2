"""Read still images: header facts without decoding, then pixels with cv2.

The header is read with Pillow (lazy: no pixel data is touched), so absurd
dimensions are refused before any memory is allocated. Pixels are decoded by
cv2, which keeps 16-bit depth and handles TIFF/PNG/JPEG/JPEG 2000.
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import os
import re
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.sniff import Kind, describe, sniff

#: Largest image (width × height) read by default: above the 50 MP a rover's
#: mosaics reach, below Pillow's own decompression-bomb refusal (~179 MP).
#: Override per call or with the environment variable ``ZHURONG_TK_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 150_000_000

_MODE_DTYPE = {
    "I;16": "uint16",
    "I;16B": "uint16",
    "I;16L": "uint16",
    "I": "int32",
    "F": "float32",
    "1": "uint8",  # cv2 expands bilevel images to 0/255
}


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What an image file is.

    Attributes
    ----------
    path : str
    format : str
        ``"PNG"``, ``"JPEG"``, ``"TIFF"`` ...
    width, height : int
        Size in pixels, upright: as viewers show it and as :func:`read_image`
        returns it (a camera's EXIF orientation applied).
    channels : int
        1 (grey), 2 (grey + alpha), 3 (colour) or 4 (colour + alpha).
    dtype : str
        numpy dtype of the decoded pixels (``"uint8"``, ``"uint16"`` ...).
    mode : str
        Pillow's mode string (``"L"``, ``"RGB"``, ``"RGBA"``, ``"I;16"`` ...).
    orientation : int
        The EXIF orientation tag (1-8; 1: stored upright, 6: stored turned a
        quarter anticlockwise, ...).
    notes : tuple of str
        What was wrong but did not stop the read (Pillow's warnings: "Corrupt EXIF
        data ...", which may leave the orientation unread and the image as stored).
    """

    path: str
    format: str
    width: int
    height: int
    channels: int
    dtype: str
    mode: str
    orientation: int = 1
    notes: tuple[str, ...] = ()


def max_pixels_default() -> int:
    """The pixel limit: ``ZHURONG_TK_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get("ZHURONG_TK_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        raise ParameterError(
            f"ZHURONG_TK_MAX_PIXELS must be a whole number, got {value!r}"
        ) from None
    if limit <= 0:
        raise ParameterError(f"ZHURONG_TK_MAX_PIXELS must be positive, got {limit}")
    return limit


_PILLOW_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _opened(
    path: str | os.PathLike[str], limit: int, notes: list[str] | None = None
) -> Iterator[Image.Image]:
    """``Image.open(path)`` with Pillow's own size guard moved up to ``limit``.

    Pillow refuses images above twice its ``MAX_IMAGE_PIXELS`` (179 MP) whatever limit
    the user set; ours is checked on the header's size instead. Pillow's warnings (a
    corrupt EXIF block) are added to ``notes``, once each, instead of reaching stderr.
    """
    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        if saved is not None and limit > saved:
            Image.MAX_IMAGE_PIXELS = limit
        try:
            with Image.open(path) as im:
                yield im
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    for w in caught:  # Pillow's own (UserWarning) are about the file; others pass on
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif notes is not None and (message := " ".join(str(w.message).split())) not in notes:
            notes.append(message)


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> ImageInfo:
    """Describe an image from its header, refusing absurd sizes and truncated files.

    Parameters
    ----------
    path : path-like
        PNG, JPEG, TIFF, BMP, PNM, WebP or JPEG 2000 file.
    max_pixels : int, optional
        Refuse images with more pixels; default :func:`max_pixels_default`.

    Raises
    ------
    MediaReadError
        Missing, empty, truncated, corrupt, zero-size or too large.
    UnsupportedFormatError
        Not an image.
    """
    kind, fmt = sniff(path)
    limit = max_pixels_default() if max_pixels is None else max_pixels
    if kind is Kind.XML or kind is Kind.UNKNOWN:
        from zhurong_tk.io import pds4

        if pds4.looks_like_label(path) or (kind is Kind.UNKNOWN and _labelled(path)):
            return _probe_pds4_image(path, limit)
    if kind is not Kind.IMAGE:
        raise UnsupportedFormatError(path, f"not an image (content is {describe(kind, fmt)})")
    notes: list[str] = []
    try:
        with _opened(path, limit, notes) as im:
            width, height = im.size
            mode = im.mode
            bands = len(im.getbands())
            pil_format = im.format or fmt
            dtype = _pixel_dtype(im, Path(path))
            if mode == "P":  # palette images decode to colour, with alpha if transparent
                bands = 4 if "transparency" in im.info else 3
            orientation = _orientation(im)
            if pil_format == "TIFF":  # the stored size (newer Pillows give it upright)
                width = int(im.tag_v2.get(256, width))
                height = int(im.tag_v2.get(257, height))
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"claims {int(claimed.group(1)):,} pixels" if claimed else "is too large"
        raise MediaReadError(path, f"image {size}, above the limit of {limit:,}") from None
    except UnidentifiedImageError:
        # Pillow opens no float64 or colour float TIFF (nor 16-bit grey + alpha); cv2
        # decodes them, and their header says what they are
        header = _tiff_header(Path(path)) if fmt == "TIFF" else None
        if header is None:
            raise MediaReadError(path, f"corrupt {fmt} header") from None
        width, height, bands, dtype = header
        mode, pil_format, orientation = f"{bands}x{dtype}", "TIFF", 1
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaReadError(path, f"cannot read {fmt} header ({exc})") from None
    if width <= 0 or height <= 0:
        raise MediaReadError(path, f"zero-size image ({width}×{height})")
    if width * height > limit:
        raise MediaReadError(
            path,
            f"image is {width}×{height} = {width * height:,} pixels, above the limit of {limit:,} "
            "(raise it with --max-pixels, max_pixels= or ZHURONG_TK_MAX_PIXELS)",
        )
    problem = _tail_problem(Path(path), pil_format)
    if problem:
        raise MediaReadError(path, problem)
    if orientation >= 5:  # turned a quarter: shown (and read) the other way round
        width, height = height, width
    return ImageInfo(
        path=os.fspath(path),
        format=pil_format,
        width=int(width),
        height=int(height),
        channels=int(bands),
        dtype=dtype,
        mode=mode,
        orientation=orientation,
        notes=tuple(notes),
    )


def _orientation(im: Image.Image) -> int:
    if im.format == "PNG" and "exif" not in im.info:
        # Pillow would decode the whole image to look for an eXIf chunk after the pixel
        # data (a 20 MP PNG: 0.6 s, and before the size limit is checked); cv2 does not
        # apply one there either
        return 1
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to pixels as stored (what viewers, and Pillow's
    ``ImageOps.exif_transpose``, do)."""
    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(pixels), -1)
    if orientation == 8:
        return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return pixels


def _pixel_dtype(im: Image.Image, path: Path) -> str:
    """numpy dtype cv2 will decode to. Pillow's mode hides 16-bit colour ("RGB"),
    so the depth is taken from the format's own header field."""
    if im.format == "PNG":
        with open(path, "rb") as fh:
            depth = fh.read(25)[24]  # IHDR bit depth; IHDR is always the first chunk
        return "uint16" if depth == 16 else "uint8"
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = max(bits) if isinstance(bits, tuple) else int(bits)
        sample_format = im.tag_v2.get(339, (1,))
        sample_format = sample_format[0] if isinstance(sample_format, tuple) else int(sample_format)
        return _TIFF_DTYPES.get((sample_format, bits), "uint8")
    return _MODE_DTYPE.get(im.mode, "uint8")


def _tail_problem(path: Path, fmt: str) -> str | None:
    """Truncation check: a JPEG's end-of-image marker after its first scan, a PNG's
    IEND chunk.

    The file's last bytes hold them in almost every file; one with bytes appended
    after its end (a motion photo's video, a vendor's trailer, padding) is walked
    from its start instead.
    """
    if fmt not in ("JPEG", "PNG"):
        return None
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 64))
        if (b"\xff\xd9" if fmt == "JPEG" else b"IEND") in fh.read():
            return None
        # mapped, not read: a motion photo's appended video can be far larger than the image
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            ends = _jpeg_ends(data) if fmt == "JPEG" else _png_ends(data)
    if ends:
        return None
    if fmt == "JPEG":
        return "truncated JPEG (no end-of-image marker)"
    return "truncated PNG (no IEND chunk)"


def _jpeg_ends(data: bytes | mmap.mmap) -> bool:
    """Whether an end-of-image marker follows the JPEG's first scan. The segments
    before it are skipped by their lengths (an EXIF thumbnail in APP1 has its own
    marker); inside a scan a 0xFF byte is always followed by 0x00 or a restart marker,
    so the first FF D9 after the scan's start is the image's end."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:  # stray bytes between segments (libjpeg skips them)
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return False
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xD9:
            return True
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
        elif marker == 0xDA:
            return data.find(b"\xff\xd9", pos + 2) >= 0
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _png_ends(data: bytes | mmap.mmap) -> bool:
    """Whether the PNG's chunks, followed by their lengths, reach an IEND chunk."""
    pos = 8
    while pos + 8 <= len(data):
        if data[pos + 4 : pos + 8] == b"IEND":
            return True
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    return False


#: numpy dtype of a TIFF's (SampleFormat, BitsPerSample): 1 unsigned, 2 signed, 3 float
_TIFF_DTYPES = {
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (2, 8): "int8",
    (2, 16): "int16",
    (2, 32): "int32",
    (3, 32): "float32",
    (3, 64): "float64",
}

#: TIFF field types: (struct code, bytes) of SHORT, LONG, LONG8
_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}


def _tiff_header(path: Path) -> tuple[int, int, int, str] | None:
    """``(width, height, samples per pixel, numpy dtype)`` from a TIFF's first image
    directory (classic or BigTIFF), or None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None:
                return None
            magic = struct.unpack(order + "H", head[2:4])[0]
            if magic == 42:
                (offset,) = struct.unpack(order + "I", head[4:8])
                count_fmt, entry_size, word = "H", 12, "I"
            elif magic == 43:
                (offset,) = struct.unpack(order + "Q", head[8:16])
                count_fmt, entry_size, word = "Q", 20, "Q"
            else:
                return None
            value_size = struct.calcsize(word)
            fh.seek(offset)
            count_size = struct.calcsize(count_fmt)
            (n,) = struct.unpack(order + count_fmt, fh.read(count_size))
            if not 0 < n < 4096:
                return None
            entries = fh.read(n * entry_size)
            tags: dict[int, int] = {}
            for k in range(n):
                entry = entries[k * entry_size : (k + 1) * entry_size]
                tag, kind = struct.unpack(order + "HH", entry[:4])
                if kind not in _TIFF_TYPES:
                    continue
                code, size = _TIFF_TYPES[kind]
                field = entry[entry_size - value_size :]
                (count,) = struct.unpack(order + word, entry[4:-value_size])
                if count * size > value_size:  # stored elsewhere (bits of each of 3 samples)
                    (where,) = struct.unpack(order + word, field)
                    fh.seek(where)
                    field = fh.read(size)
                tags[tag] = struct.unpack(order + code, field[:size])[0]  # the first value
    except (OSError, struct.error):
        return None
    width, height = tags.get(256, 0), tags.get(257, 0)
    bits, sample_format, samples = tags.get(258, 1), tags.get(339, 1), tags.get(277, 1)
    if not (width and height):
        return None
    dtype = _TIFF_DTYPES.get((sample_format, bits), "uint8")
    return int(width), int(height), int(samples), dtype


def read_image(
    path: str | os.PathLike[str], *, max_pixels: int | None = None, reduce: int = 1
) -> np.ndarray:
    """Decode an image to a numpy array in its own depth.

    Parameters
    ----------
    path : path-like
    max_pixels : int, optional
        Refuse larger images (see :func:`probe_image`).
    reduce : int
        1, 2, 4 or 8: decode at that fraction of the size. An 8-bit JPEG is
        decoded reduced directly (its DCT is scaled: fast, and the full-size
        pixels are never held); other images are decoded and then reduced.

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` for grey, ``(height, width, channels)`` otherwise,
        channels in cv2's BGR(A) order; dtype uint8 or uint16 (or float32 for
        float TIFF).

    Raises
    ------
    MediaReadError, UnsupportedFormatError
        As :func:`probe_image`, or when decoding fails.
    """
    if reduce not in (1, 2, 4, 8):
        raise ParameterError(f"reduce must be 1, 2, 4 or 8, got {reduce}")
    info = probe_image(path, max_pixels=max_pixels)
    if info.mode == "PDS4":
        return _reduced(_read_pds4_image(path), reduce)
    data = np.fromfile(os.fspath(path), dtype=np.uint8)  # imdecode: paths with any characters
    pixels = _decode_jpeg(path, data, info.channels, reduce) if _plain_jpeg(info) else None
    if pixels is None:  # as stored (cv2 turns only TIFFs)
        with _native_stderr() as messages:
            pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        problems = [m for m in map(_native_error, messages) if m]
        if problems:  # libtiff's "code not yet in table": cv2 returns the damaged pixels
            raise MediaReadError(path, f"corrupt {info.format} data ({problems[0]})")
        pixels = None if pixels is None else _reduced(pixels, reduce)
    if pixels is None:
        raise MediaReadError(path, f"cv2 could not decode this {info.format} image")
    if info.format != "TIFF":  # cv2's TIFF decoder turns the image itself, whatever the flags
        pixels = _upright(pixels, info.orientation)
    return pixels


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _native_stderr(*, pass_on: bool = True) -> Iterator[list[str]]:
    """Collect the lines native code (cv2's codecs, libtiff) writes to file descriptor 2
    while the block runs, instead of letting them through to the user's terminal.

    OpenCV reports a corrupt TIFF strip only there, as a log line, and returns the
    damaged pixels; from Python there is no other way to learn of it. Lines that are
    not OpenCV's warnings or errors are passed on to stderr afterwards (``pass_on``).
    """
    lines: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to catch
            yield lines
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += [ln for ln in sink.read().decode(errors="replace").splitlines() if ln.strip()]
            other = [ln for ln in lines if not (_OPENCV_LOG.match(ln) or _LIBPNG_ERROR.match(ln))]
            if other and pass_on:
                sys.stderr.write("\n".join(other) + "\n")


#: OpenCV's log line: "[ERROR:0@0.080] global grfmt_tiff.cpp:117 TIFF_Error Using code ..."
_OPENCV_LOG = re.compile(r"^\[\s*(ERROR|WARN|INFO|DEBUG)[^\]]*\]\s*(?:global\s+)?\S+:\d+\s+(.*)$")


#: libpng's own error line, written by its default handler: "libpng error: Not enough image data"
_LIBPNG_ERROR = re.compile(r"^libpng error:\s*(.*)$")


def _native_error(line: str) -> str | None:
    """The message of an OpenCV or libpng error line (None for any other line)."""
    match = _OPENCV_LOG.match(line)
    if match and match.group(1) == "ERROR":
        return re.sub(r"^\w+_Error\s+", "", match.group(2)).strip()
    match = _LIBPNG_ERROR.match(line)
    return match.group(1).strip() if match else None


def _reduced(pixels: np.ndarray, reduce: int) -> np.ndarray:
    """Decoded pixels at ``1/reduce`` of their size, by means over blocks of ``reduce``
    × ``reduce`` pixels (a partial block at the far edges), as a JPEG decoded at that
    scale in its DCT: either way pixel i covers the full image's [i reduce, (i + 1) reduce)."""
    if reduce == 1:
        return pixels
    if min(pixels.shape[:2]) < reduce:  # not one whole block across: cv2 would round to 0
        size = (max(1, pixels.shape[1] // reduce), max(1, pixels.shape[0] // reduce))
        return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(pixels, None, fx=1 / reduce, fy=1 / reduce, interpolation=cv2.INTER_AREA)


def _plain_jpeg(info: ImageInfo) -> bool:
    """An 8-bit grey or colour JPEG: one :func:`_decode_jpeg` reads."""
    return info.format == "JPEG" and info.dtype == "uint8" and info.channels in (1, 3)


#: libjpeg warnings that leave every pixel as encoded (bytes between segments).
_HARMLESS_JPEG_WARNINGS = ("extraneous bytes before marker",)


def _decode_jpeg(
    path: str | os.PathLike[str], data: np.ndarray, channels: int, reduce: int
) -> np.ndarray | None:
    """An 8-bit JPEG's pixels as stored, decoded at ``1/reduce`` of its size in the DCT;
    None when libjpeg-turbo's decoder cannot convert its colours (cv2 then decodes it).

    Raises MediaReadError on corrupt data: libjpeg only warns about it, and cv2 and
    Pillow then return the image with its missing part filled grey.
    """
    import simplejpeg

    try:
        height, width, colours, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise MediaReadError(path, f"corrupt JPEG header ({exc})") from None
    if colours not in ("Gray", "YCbCr", "RGB"):
        return None
    options = {"colorspace": "GRAY" if channels == 1 else "BGR"}
    if reduce > 1:  # the largest DCT scaling still at least this size: exactly 1/reduce
        options |= {"min_height": -(-height // reduce), "min_width": -(-width // reduce)}
    try:
        pixels = simplejpeg.decode_jpeg(data, strict=True, **options)
    except ValueError as exc:
        message = str(exc)
        if any(w in message for w in _HARMLESS_JPEG_WARNINGS):
            pixels = simplejpeg.decode_jpeg(data, strict=False, **options)
        elif "Corrupt JPEG data" in message or "premature" in message.lower():
            raise MediaReadError(path, f"corrupt JPEG data ({message})") from None
        else:  # e.g. a colour conversion it does not do
            return None
    return pixels[..., 0] if channels == 1 else pixels


def _labelled(path: str | os.PathLike[str]) -> bool:
    """A binary file without a signature that a PDS4 label beside it names."""
    from zhurong_tk.io import pds4

    try:
        pds4.find_label(path)
    except MediaReadError:
        return False
    return True


def _probe_pds4_image(path: str | os.PathLike[str], limit: int) -> ImageInfo:
    """An image array of a PDS4 product (Tianwen-1 cameras' ``.2C`` products), by its label."""
    from zhurong_tk.io import pds4

    product = pds4.open_product(path)
    array = pds4.image_structure(product)
    shape = array.shape
    bands = 1 if len(shape) == 2 else shape[0]
    height, width = shape[-2], shape[-1]
    if width * height > limit:
        raise MediaReadError(
            path,
            f"image is {width}×{height} = {width * height:,} pixels, above the limit of {limit:,} "
            "(raise it with --max-pixels, max_pixels= or ZHURONG_TK_MAX_PIXELS)",
        )
    element = array.data_type or ""
    dtype = (
        "uint8"
        if element == "UnsignedByte"
        else ("uint16" if element in ("UnsignedMSB2", "UnsignedLSB2") else "float32")
    )
    return ImageInfo(
        path=os.fspath(path),
        format=f"PDS4 {array.kind}",
        width=int(width),
        height=int(height),
        channels=int(bands),
        dtype=dtype,
        mode="PDS4",
    )


def _read_pds4_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Pixels of a PDS4 image array: lines × samples (× bands last, in BGR order)."""
    from zhurong_tk.io import pds4

    product = pds4.open_product(path)
    pixels = pds4.read_array(product)
    if pixels.ndim == 3:  # band-sequential: bands first in the label's order
        pixels = np.moveaxis(pixels, 0, -1)
        if pixels.shape[2] >= 3:
            pixels = pixels[..., [2, 1, 0]]  # RGB bands to cv2's BGR
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2:
        depth = np.uint8 if pixels.dtype.itemsize == 1 else np.uint16  # native byte order
    else:
        depth = np.float32  # cv2 takes neither big-endian nor 32-bit integer pixels
    return np.ascontiguousarray(pixels.astype(depth))


def verify_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> ImageInfo:
    """Probe and fully decode an image (with Pillow, which fails on truncated data; a JPEG
    also as :func:`read_image` decodes it, which fails on data that end early)."""
    info = probe_image(path, max_pixels=max_pixels)
    if _plain_jpeg(info):
        _decode_jpeg(path, np.fromfile(os.fspath(path), dtype=np.uint8), info.channels, 1)
    limit = max_pixels_default() if max_pixels is None else max_pixels
    # Pillow's libtiff says what is wrong only on stderr ("tempfile.tif: Using code not yet
    # in table."); its exception says "decoder error -2"
    with _native_stderr(pass_on=False) as said:
        try:
            with _opened(path, limit) as im:
                im.load()
        except (OSError, SyntaxError, ValueError) as exc:
            problem = exc
        else:
            problem = None
    if problem is not None:
        why = "; ".join(dict.fromkeys(ln.split(": ", 1)[-1].strip(" .") for ln in said))
        raise MediaReadError(path, f"{info.format} data do not decode ({why or problem})") from None
    return info
