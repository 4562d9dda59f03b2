"""Track detection from an image file into a results folder (report, overlay, maps)."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

import numpy as np

from zhurong_tk.errors import MediaReadError, ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.image import probe_image, read_image
from zhurong_tk.io.outputs import OutputDir, report
from zhurong_tk.tracks.detect import (
    CameraModel,
    Track,
    TrackConfig,
    TrackResult,
    bit_depth_problem,
    detect_tracks,
    too_thin,
)

SCHEMA = "tracks.detect"
SCHEMA_VERSION = 1
#: Longest side of overlay.png (a 50-MP mosaic is drawn on a reduced copy).
OVERLAY_SIDE = 2000
_COLOURS = [(0, 200, 255), (255, 160, 0), (0, 255, 120), (255, 0, 200), (120, 120, 255)]


def overlay_image(image: np.ndarray, result: TrackResult) -> np.ndarray:
    """BGR picture of ``image`` (reduced to :data:`OVERLAY_SIDE`) with the ruts drawn.

    Each rut is drawn as its centreline, coloured by wheel pair, with its index
    and confidence; the vanishing point is a cross (clipped into view).
    """
    if image.ndim == 3 and image.shape[2] in (2, 4):
        # alpha is no brightness: left in, an opaque 16-bit alpha (65535) set the stretch's
        # top and drew a 12-bit image almost black
        image = image[:, :, 0] if image.shape[2] == 2 else image[:, :, :3]
    grey_or_colour = image
    if image.dtype != np.uint8:
        values = image.astype(np.float32)
        finite = np.isfinite(values)
        lo, hi = (
            (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0, 0)
        )
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        values[~finite] = lo  # missing pixels drawn black
        grey_or_colour = np.clip((values - lo) * scale, 0, 255).astype(np.uint8)
    if grey_or_colour.ndim == 2:
        canvas = cv2.cvtColor(grey_or_colour, cv2.COLOR_GRAY2BGR)
    else:
        canvas = grey_or_colour.copy()
    h, w = canvas.shape[:2]
    f = min(1.0, OVERLAY_SIDE / max(h, w))
    if f < 1.0:
        # area averaging where pixels are halved or more (texture would alias); above that,
        # bilinear looks the same and is ~6x faster (cv2's area path is slow at odd ratios:
        # 30-50 ms of a 1.6 s command for 2304 -> 2000 pixels)
        interpolation = cv2.INTER_AREA if f <= 0.5 else cv2.INTER_LINEAR
        canvas = cv2.resize(canvas, (round(w * f), round(h * f)), interpolation=interpolation)
    thick = max(1, round(max(canvas.shape[:2]) / 400))
    pair_of = {i: k for k, p in enumerate(result.pairs) for i in p["tracks"]}
    colours = [
        _COLOURS[pair_of.get(i, len(result.pairs) + i) % len(_COLOURS)]
        for i in range(len(result.tracks))
    ]
    for t, colour in zip(result.tracks, colours, strict=True):
        pts = ((np.array(t.points) + 0.5) * f - 0.5).round().astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, colour, thick, cv2.LINE_AA)
    labels = [f"{i} {t.confidence:.2f}" for i, t in enumerate(result.tracks)]
    font_scale = 0.4 * thick
    places = label_places(result.tracks, labels, f, canvas.shape[1::-1], font_scale, thick)
    for label, (x, y, _, th), colour in zip(labels, places, colours, strict=True):
        cv2.putText(
            canvas, label, (x, y + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thick,
            cv2.LINE_AA,
        )  # fmt: skip
    if result.vanishing_point is not None:
        vx = int(np.clip(result.vanishing_point["x"] * f, 0, canvas.shape[1] - 1))
        vy = int(np.clip(result.vanishing_point["y"] * f, 0, canvas.shape[0] - 1))
        cv2.drawMarker(canvas, (vx, vy), (0, 0, 255), cv2.MARKER_CROSS, 8 * thick, thick)
    if not result.tracks:
        cv2.putText(
            canvas, "no tracks found", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
            (0, 0, 255), 1, cv2.LINE_AA,
        )  # fmt: skip
    return canvas


def label_places(
    tracks: list[Track],
    labels: list[str],
    f: float,
    size: tuple[int, int],
    font_scale: float,
    thick: int,
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x, y, w, h)`` (top left, text size) for the tracks' labels on a canvas of
    ``size`` (w, h), the tracks' pixels scaled by ``f``.

    Each label sits beside its own rut, inside the canvas, clear of the labels placed
    before it: ruts converge towards their vanishing point, so labels at their far ends
    overlapped. Tried from the near end (where ruts lie farthest apart) along the rut,
    right of it, then left: the first place clear of the labels before it and of every
    rut's line, else clear of the labels, else the near end's right side.
    """
    width, height = size
    placed: list[tuple[int, int, int, int]] = []
    drawn = [_dense(np.array(t.points, float).reshape(-1, 2) * f) for t in tracks]
    line_pixels = np.concatenate(drawn) if drawn else np.zeros((0, 2))
    for track, label in zip(tracks, labels, strict=True):
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
        th += base
        pts = np.array(track.points, float).reshape(-1, 2) * f
        if len(pts) and pts[0, 1] < pts[-1, 1]:
            pts = pts[::-1]  # near end (lower in the picture) first
        pts = pts if len(pts) else np.array([[track.x1 * f, track.y1 * f]])
        gap = 4 * thick
        boxes = []
        for x, y in pts[np.linspace(0, len(pts) - 1, min(len(pts), 12)).round().astype(int)]:
            for left in (int(x) + gap, int(x) - gap - tw):
                bx = int(np.clip(left, 0, max(0, width - tw)))
                by = int(np.clip(int(y) - th - gap, 0, max(0, height - th)))
                boxes.append((bx, by, tw, th))
        free = [b for b in boxes if not any(_overlap(b, other) for other in placed)]
        clear = [b for b in free if not _covers(b, line_pixels, thick)]
        placed.append(clear[0] if clear else free[0] if free else boxes[0])
    return placed


def _dense(points: np.ndarray) -> np.ndarray:
    """A polyline's points every pixel or so along it."""
    if len(points) < 2:
        return points
    steps = np.maximum(1, np.ceil(np.hypot(*np.diff(points, axis=0).T)).astype(int))
    return np.concatenate(
        [
            np.linspace(a, b, k, endpoint=False)
            for a, b, k in zip(points[:-1], points[1:], steps, strict=True)
        ]
        + [points[-1:]]
    )


def _covers(box: tuple[int, int, int, int], pixels: np.ndarray, margin: int) -> bool:
    x, y, w, h = box
    inside = (
        (pixels[:, 0] >= x - margin)
        & (pixels[:, 0] <= x + w + margin)
        & (pixels[:, 1] >= y - margin)
        & (pixels[:, 1] <= y + h + margin)
    )
    return bool(inside.any())


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _map_png(values: np.ndarray) -> bytes:
    top = float(np.percentile(values, 99.5)) or 1.0
    scaled = np.clip(values / top * 255, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".png", scaled)
    if not ok:
        raise ParameterError("could not encode a debug map")
    return data.tobytes()


def detect_to_folder(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    camera: CameraModel | None = None,
    config: TrackConfig | None = None,
    overwrite: bool = False,
    debug_images: bool = False,
    max_pixels: int | None = None,
    n_threads: int = 2,
    track_width_m: float | None = None,
    bit_depth: int | None = None,
) -> tuple[TrackResult, dict[str, Any]]:
    """Detect tracks in the image at ``path``; write report.json and overlay.png.

    ``bit_depth`` is the camera's bits per pixel (see :func:`detect_tracks`).

    With ``debug_images`` also ``response.png`` (valley strength) and
    ``votes.png`` (the line accumulator). Returns the result and the report.

    Raises
    ------
    MediaReadError, UnsupportedFormatError
        The file is missing, not an image, truncated, corrupt, too small or
        above the pixel limit; the message names the file.
    """
    out = OutputDir(out_dir, overwrite=overwrite)
    names = ["report.json", "overlay.png"] + (["response.png", "votes.png"] if debug_images else [])
    out.check_free(*names)
    camera_given = camera
    info = probe_image(path, max_pixels=max_pixels)
    if info.width < 16 or info.height < 16:
        raise MediaReadError(path, f"image is {info.width}×{info.height}: too small to show tracks")
    if too_thin(info.width, info.height, (config or TrackConfig()).work_side):
        raise MediaReadError(
            path, f"image is {info.width}×{info.height}: too thin a strip to show tracks"
        )
    # detection needs a few hundred pixels (its work_side) and the overlay 2000: a large
    # JPEG is decoded at a half, quarter or eighth of its size directly (its full pixels
    # are never held)
    reduce = max(
        (f for f in (1, 2, 4, 8) if max(info.width, info.height) / f >= OVERLAY_SIDE), default=1
    )
    image = read_image(path, max_pixels=max_pixels, reduce=reduce)
    if too_thin(image.shape[1], image.shape[0], (config or TrackConfig()).work_side):
        # at the limit, the decoded copy's rounded size can be too thin when the file's is not
        raise MediaReadError(
            path, f"image is {info.width}×{info.height}: too thin a strip to show tracks"
        )
    warnings = list(info.notes)
    if image.dtype.kind == "f" and not (finite := np.isfinite(image)).all():
        warnings.append(
            f"{int(finite.size - np.count_nonzero(finite))} non-finite pixel values (NaN/Inf)"
            " were treated as missing"
        )
    # decoded as blocks of ``reduce`` pixels: decoded pixel i spans the file's
    # [i reduce, (i + 1) reduce), its centre at (i + 0.5) reduce - 0.5
    factor = float(reduce)
    if camera is not None and reduce != 1:
        camera = dataclasses.replace(
            camera,
            f_px=camera.f_px / factor,
            cx=(camera.cx + 0.5) / factor - 0.5,
            cy=(camera.cy + 0.5) / factor - 0.5,
        )
    started = time.perf_counter()
    if bit_depth is not None and (problem := bit_depth_problem(image, bit_depth)):
        raise MediaReadError(path, problem)  # this file's pixels, not the call
    reduced = detect_tracks(
        image,
        camera=camera,
        config=config,
        n_threads=n_threads,
        debug=debug_images,
        track_width_m=track_width_m,
        bit_depth=bit_depth,
    )
    elapsed = time.perf_counter() - started
    result = reduced.scaled(factor, factor, info.width, info.height) if reduce != 1 else reduced
    if camera_given is not None:
        warnings += camera_warnings(camera_given, result)
    found = result.to_dict()
    doc = report(
        SCHEMA,
        SCHEMA_VERSION,
        input={
            "path": os.fspath(path),
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "channels": info.channels,
            "dtype": info.dtype,
        },
        # a PDS4 product's label facts (mission, instrument, times): the archive's own record
        pds4=_label_facts(path) if info.mode == "PDS4" else None,
        camera=None if camera is None else dataclasses.asdict(camera_given),
        track_width_m=track_width_m,
        bit_depth=bit_depth,
        working_scale=round(result.scale, 5),
        decoded_at=round(1 / factor, 5),
        **found,
        message=f"{len(result.tracks)} tracks found" if result.tracks else "no tracks found",
        warnings=warnings,
        detect_seconds=round(elapsed, 4),
    )
    ok, png = cv2.imencode(".png", overlay_image(image, reduced))
    if not ok:
        raise ParameterError("could not encode overlay.png")
    with out:  # a failed run leaves no overlay in the way of the next
        out.bytes("overlay.png", png.tobytes())
        if debug_images:
            out.bytes("response.png", _map_png(result.maps["response"]))
            out.bytes("votes.png", _map_png(result.maps["votes"]))
        out.json("report.json", doc)
        out.finish("tracks detect")
    return result, doc


def camera_warnings(camera: CameraModel, result: TrackResult) -> list[str]:
    """What in ``result`` says the camera model does not fit the image.

    A model for another image size (a full-frame model on a downsampled
    release) or a wrong pitch gives metres and headings that look plausible:
    the principal point outside the image, ruts reaching above the model's
    horizon (no metres for them), or the ruts' vanishing point off the model's
    horizon row (for ruts on level ground it lies on it) are each said.
    """
    w, h = result.width, result.height
    warnings = []
    if not (0 <= camera.cx <= w and 0 <= camera.cy <= h):
        warnings.append(
            f"camera principal point ({camera.cx:g}, {camera.cy:g}) lies outside the"
            f" {w}×{h} image: is the model for an image of another size?"
        )
    horizon = camera.horizon_row
    no_heading = [i for i, t in enumerate(result.tracks) if t.heading_deg is None]
    no_metres = [p["tracks"] for p in result.pairs if p["spacing_m"] is None]
    if no_heading or no_metres:
        lost = ([f"no heading for tracks {no_heading}"] if no_heading else []) + (
            [f"no spacing in metres for pairs {no_metres}"] if no_metres else []
        )
        warnings.append(
            f"{' and '.join(lost)}: they reach above the camera model's horizon (row"
            f" {horizon:.0f}); check the pitch and principal point"
        )
    vp = result.vanishing_point
    if vp is not None and abs(vp["y"] - horizon) > 0.03 * math.hypot(w, h):
        warnings.append(
            f"the ruts' vanishing point is at row {vp['y']:.0f}, the camera model's horizon at"
            f" row {horizon:.0f}: the pitch or principal point may be wrong (or the ground not"
            " level), and metres and headings with it"
        )
    return warnings


def _label_facts(path: str | os.PathLike[str]) -> dict:
    from zhurong_tk.io.pds4 import open_product

    product = open_product(path)
    return {"label": product.label, "data_files": list(product.data_files), **product.facts}
