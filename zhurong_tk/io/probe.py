"""Say what a media file is: the library side of ``zhurong-tk info``.

:func:`probe` recognises a file by content (:mod:`~zhurong_tk.io.sniff`) and
asks the matching reader for its facts. :func:`probe_many` walks folders and
never lets one bad file stop the others.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from zhurong_tk.errors import MediaReadError, UnsupportedFormatError, ZhurongError
from zhurong_tk.io import audio as audio_io
from zhurong_tk.io import image as image_io
from zhurong_tk.io import pds4
from zhurong_tk.io import video as video_io
from zhurong_tk.io.sniff import MEDIA_SUFFIXES, Kind, describe, sniff, suffix_kind

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ProbeResult:
    """The outcome of probing one file: facts or an error, never both.

    Attributes
    ----------
    path : str
    kind : str
        ``"audio"``, ``"video"``, ``"image"``, ``"pds4"`` or ``"error"``.
    info : AudioInfo, VideoInfo, ImageInfo, ProductInfo or None
    error : str or None
        Why the file could not be read.
    notes : list of str
        Remarks (extension not matching content, verification counts).
    """

    path: str
    kind: str
    info: audio_io.AudioInfo | video_io.VideoInfo | image_io.ImageInfo | pds4.ProductInfo | None = (
        None
    )
    error: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        out: dict = {"path": self.path, "kind": self.kind}
        if self.info is not None:
            out.update({k: v for k, v in dataclasses.asdict(self.info).items() if k != "path"})
        if self.error is not None:
            out["error"] = self.error
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def probe(
    path: str | os.PathLike[str], *, verify: bool = False, max_pixels: int | None = None
) -> ProbeResult:
    """Describe one media file, or say why it cannot be read.

    Parameters
    ----------
    path : path-like
        Audio, video or image file. The kind is taken from the content.
    verify : bool
        Also decode the whole file (streaming) and report the true number of
        frames and any decode failures; slower, catches truncation that the
        header does not show.
    max_pixels : int, optional
        Pixel limit for images (see :func:`zhurong_tk.io.image.probe_image`).

    Returns
    -------
    ProbeResult
        Never raises for bad input: the error is in ``result.error``.
    """
    p = os.fspath(path)
    try:
        return _probe(p, verify=verify, max_pixels=max_pixels)
    except ZhurongError as exc:
        # a product's error may be about another file (its data file): keep that file's name
        reason = exc.reason if _about(exc, p) else str(exc)
        return ProbeResult(path=p, kind="error", error=reason)


def _probe(path: str, *, verify: bool, max_pixels: int | None) -> ProbeResult:
    kind, fmt = sniff(path)
    notes: list[str] = []
    named = suffix_kind(path)
    if kind is Kind.AUDIO:
        info = audio_io.probe_audio(path)
        result = ProbeResult(path, "audio", info, notes=notes)
        if verify:
            _verify_audio(result)
    elif kind is Kind.CONTAINER:
        try:
            info = video_io.probe_video(path)
            result = ProbeResult(path, "video", info, notes=notes + list(info.notes))
            if verify:
                frames, failed = video_io.count_video_frames(path)
                result.notes.append(f"verified: {frames} frames decoded, {failed} packets failed")
                if frames == 0:
                    raise MediaReadError(path, "no video frame decodes")
                _verify_tracks(result)
        except UnsupportedFormatError:
            # a container with audio only (M4A, or a video file stripped of its picture)
            info = audio_io.probe_audio(path)
            result = ProbeResult(path, "audio", info, notes=notes)
            if verify:
                _verify_audio(result)
    elif kind is Kind.IMAGE:
        if verify:
            info = image_io.verify_image(path, max_pixels=max_pixels)
        else:
            info = image_io.probe_image(path, max_pixels=max_pixels)
        result = ProbeResult(path, "image", info, notes=notes)
        if info.orientation != 1:
            notes.append(f"EXIF orientation {info.orientation}: read turned upright")
        notes.extend(info.notes)
    elif kind is Kind.XML and pds4.looks_like_label(path):
        result = ProbeResult(path, "pds4", pds4.open_product(path), notes=notes)
        if verify:
            _verify_pds4(result)
        return result
    elif kind is Kind.UNKNOWN and fmt == "unknown" and _has_label(path):
        # binary without a signature: the data file of a PDS4 product, found by its label
        info = pds4.open_product(path)
        notes.append(f"data file of the PDS4 label {Path(info.label).name}")
        result = ProbeResult(path, "pds4", info, notes=notes)
        if verify:
            _verify_pds4(result)
        return result
    else:
        raise UnsupportedFormatError(path, f"not a media file (content is {describe(kind, fmt)})")
    actual = "video" if result.kind == "video" else result.kind
    if named is not None and named != actual and not (named == "video" and actual == "audio"):
        result.notes.append(f"file name says {named} but the content is {fmt} {actual}")
    return result


def _about(exc: ZhurongError, path: str) -> bool:
    """True when the error is about ``path`` itself (its message need not name it again)."""
    if not isinstance(exc, MediaReadError):
        return False
    try:
        return os.path.samefile(exc.path, path)
    except OSError:
        return exc.path == path


def _has_label(path: str) -> bool:
    try:
        pds4.find_label(path)
    except MediaReadError:
        return False
    return True


def _verify_pds4(result: ProbeResult) -> None:
    """Read every table and array of the product as its label declares them, and count
    the values that are not finite numbers (NaN/Inf in float fields and arrays)."""
    import numpy as np

    info = result.info
    assert isinstance(info, pds4.ProductInfo)
    for structure in info.structures:
        if structure.kind.startswith("Table"):
            columns = pds4.read_table(info, structure.name)
            values = list(columns.values())
            what = f"{len(values[0]) if values else 0} records"
        elif structure.kind.startswith("Array"):
            values = [pds4.read_array(info, structure.name)]
            what = "×".join(str(n) for n in values[0].shape)
        else:
            continue
        bad = sum(
            int(v.size - np.count_nonzero(np.isfinite(v))) for v in values if v.dtype.kind in "fc"
        )
        note = f"verified: {structure.name}: {what} read"
        result.notes.append(note + (f", {bad} values not finite (NaN/Inf)" if bad else ""))


def _verify_audio(result: ProbeResult) -> None:
    info = result.info
    assert isinstance(info, audio_io.AudioInfo)
    frames, errors = audio_io.count_frames(result.path, stream=0)
    result.notes.append(f"verified: {frames} frames decoded, {errors} packets failed")
    if frames == 0:
        raise MediaReadError(result.path, "contains no audio samples")
    if info.frames_exact and frames < info.frames:
        raise MediaReadError(
            result.path, f"truncated: header says {info.frames} frames, {frames} decode"
        )
    result.info = dataclasses.replace(
        info, frames=frames, duration_s=frames / info.samplerate, frames_exact=True
    )


def _verify_tracks(result: ProbeResult) -> None:
    """Decode each audio track of a video; a track that fails is a note (the picture
    may still be whole), its exact frame count replaces the container's estimate."""
    info = result.info
    assert isinstance(info, video_io.VideoInfo)
    tracks = []
    for k, track in enumerate(info.audio):
        index = track.stream_index if track.stream_index is not None else k
        where = f"audio #{index}"
        try:
            frames, errors = audio_io.count_frames(result.path, stream=index)
        except MediaReadError as exc:
            result.notes.append(f"verified: {where} does not decode: {exc.reason}")
            tracks.append(track)
            continue
        result.notes.append(f"verified: {where}: {frames} frames decoded, {errors} packets failed")
        if frames == 0:
            result.notes.append(f"verified: {where} contains no audio samples")
            tracks.append(track)
            continue
        tracks.append(
            dataclasses.replace(
                track, frames=frames, duration_s=frames / track.samplerate, frames_exact=True
            )
        )
    result.info = dataclasses.replace(info, audio=tracks)


def iter_media_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    suffixes: frozenset[str] = MEDIA_SUFFIXES,
    pds4_labels: bool = True,
) -> Iterator[tuple[Path, bool]]:
    """Expand files and folders into the files to probe.

    Files named explicitly are always yielded (whatever their name: content
    decides). Folders are walked recursively in sorted order, yielding only
    files whose suffix is in ``suffixes`` and (with ``pds4_labels``) PDS4
    labels whatever their name, and skipping hidden entries.

    Yields
    ------
    (path, explicit) : tuple of (Path, bool)
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    child = Path(root) / name
                    if child.suffix.lower() in suffixes:
                        yield child, False
                    elif pds4_labels and pds4.looks_like_label(child):
                        yield child, False  # a PDS4 product, by its label's content
                    else:
                        log.debug("skipped %s: not a media file name", child)
        else:
            yield p, True


def probe_many(
    paths: Iterable[str | os.PathLike[str]], *, verify: bool = False, max_pixels: int | None = None
) -> Iterator[ProbeResult]:
    """Probe every file under ``paths`` (see :func:`iter_media_paths`), one result each."""
    for path, _explicit in iter_media_paths(paths):
        yield probe(path, verify=verify, max_pixels=max_pixels)
