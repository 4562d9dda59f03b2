"""Wheel-track (rut) detection in rear-camera images.

A rut seen from the rover is a long dark trough on the ground that converges,
with the other ruts of the drive, to one vanishing point; its floor carries
the grouser marks of the wheel at a steady period. Generic line detectors
find ruts among thousands of texture and rock edges; what tells them apart
is length and continuity of a *trough* (dark between lighter sides, not one
edge), agreement on a vanishing point, and the tread.

The pipeline, on a working copy of at most :attr:`TrackConfig.work_side` pixels:

1. valley strength at four scales, the two coarsest on a half-size copy (Hessian;
   numba), and its direction where pixels vote;
2. Hough voting limited to each pixel's own direction (numba);
3. accumulator peaks (numba), each a candidate line;
4. profiles across each candidate, one per pixel along it (numba): where the
   trough is, how dark, how wide; the visible extent is the longest run of
   trough; the centreline is refitted through the trough's floor;
5. the far part of each rut traced again a stretch at a time, letting it bend
   (where the rover steered), and described by the steered-rut curve;
6. the vanishing point by consensus of the straight candidates, tread period by
   autocorrelation along the floor (on a finer copy), confidence, pairing into wheel sets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.tracks import _kernels

#: Valley scales on the working copy (Gaussian sigma, pixels): far, middle and near ruts.
SCALES = (2.0, 4.0, 8.0, 16.0)
#: Scales from which the valley response is computed on a half-size copy (a Gaussian of
#: sigma 16 costs several ms on the working copy, its half-size twin under one).
HALF_SIZE_FROM = 8.0
#: Widths tried by the matched filter, relative to the width model: wide while the
#: model settles, narrow once it has (the filter's cost grows with their number).
WIDE_FACTORS = np.array([0.5, 0.7, 1.0, 1.4, 2.0])
NARROW_FACTORS = np.array([0.8, 1.0, 1.25])
#: Tread strength from which the period is reported: on 200 generated scenes 87 % of
#: such periods lie within 10 % of the truth (weaker ones often lock onto a multiple).
TREAD_REPORTED = 0.45
#: Samples across the widest box of the matched filter, at most (see match_trough).
BOX_SAMPLES = 32.0
#: Lines this much below ``min_elevation_deg`` are still measured: the refit through
#: the trough's floor can turn a line by several degrees onto a steeper rut.
SEARCH_MARGIN_DEG = 5.0
#: A wide rut's centres may scatter this fraction of its width about their curve.
WIDE_RESIDUAL = 0.06
WIDE_RESIDUAL_MAX_PX = 3.0
#: A vanishing point farther than this many diagonals from the image's centre is none.
MAX_VP_DIAGONALS = 4.0
#: A straight trough this far off a line (RMS, working pixels) still gives a ripple
#: field's direction.
RIPPLE_TROUGH_RMS_PX = 4.0
#: A candidate pointing within this of a ripple field's vanishing point is one of its troughs.
RIPPLE_VP_DEG = 3.0
#: Passes of the matched filter (of four at most) that may widen a trough: the first look's
#: width is rough.
WIDE_PASSES = 2
#: The same where the image shows a ripple field: on 60 generated ripple scenes 95 of 120
#: ruts found with 2, 101 with 1, 99 with 0.
WIDE_PASSES_IN_RIPPLES = 1
#: Side-trough ratio of any candidate from which the image counts as rippled: there the
#: troughs found stay in the soil's level (a ripple field's troughs are its dips).
RIPPLED_SIDES = 0.15

#: A traced last stretch with the curve's horizon row within this much (× the working
#: height) above it is a hook, whatever the curve through it (see :func:`_track_far`)
HOOK_ROWS = 0.05
#: A steered rut's curve (:func:`_curve_x`) puts the horizon at its row ``v_h``, and the
#: ground seen lies below the horizon. A bend whose ``v_h`` lies this far (× the working
#: height) below the far end of another rut is a far end traced onto a rock's shadow or
#: edge: on sets 0-11 of the generated scenes, steered ruts' curves put ``v_h`` at most
#: 10 px (of 336) below, such bends of straight ruts 19-56 px
HORIZON_MARGIN = 0.045
#: ... plus this much per pixel between the two far ends: the camera's roll tilts the
#: horizon (tan 8°)
HORIZON_TILT = 0.14


@dataclasses.dataclass(frozen=True)
class CameraModel:
    """Pinhole camera over flat ground, to turn pixels into metres.

    Attributes
    ----------
    f_px : float
        Focal length in pixels (of the image given to the detector).
    cx, cy : float
        Principal point, pixels.
    height_m : float
        Height of the camera above the ground.
    pitch_deg : float
        Downward tilt of the optical axis from horizontal.
    """

    f_px: float
    cx: float
    cy: float
    height_m: float
    pitch_deg: float

    def __post_init__(self) -> None:
        values = (self.f_px, self.cx, self.cy, self.height_m, self.pitch_deg)
        if not all(map(math.isfinite, values)):
            raise ParameterError(f"camera model values must be finite numbers, got {values}")
        if not self.f_px > 0:
            raise ParameterError(f"focal length must be positive pixels, got {self.f_px:g}")
        if not self.height_m > 0:
            raise ParameterError(
                f"camera height must be positive metres above the ground, got {self.height_m:g}"
            )
        if not -90 < self.pitch_deg < 90:
            raise ParameterError(
                f"pitch must lie between -90 and 90 degrees, got {self.pitch_deg:g}"
            )

    @property
    def horizon_row(self) -> float:
        """The image row of the horizon (rows above it see no ground)."""
        return self.cy - self.f_px * math.tan(math.radians(self.pitch_deg))

    def ground(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground ``(X right, Y forward)`` in metres under pixels (NaN above the horizon)."""
        p = math.radians(self.pitch_deg)
        xc = (np.asarray(u, float) - self.cx) / self.f_px
        yc = (np.asarray(v, float) - self.cy) / self.f_px
        # camera (x right, y down, z forward) -> world (X right, Y forward, Z up)
        dir_y = math.cos(p) - yc * math.sin(p)  # forward component of the ray
        dir_z = -math.sin(p) - yc * math.cos(p)  # vertical component
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dir_z < -1e-9, self.height_m / -dir_z, np.nan)
        return xc * t, dir_y * t


@dataclasses.dataclass(frozen=True)
class TrackConfig:
    """Thresholds of :func:`detect_tracks` (lengths as fractions of the image diagonal).

    Attributes
    ----------
    min_length : float
        Shortest visible rut.
    min_support : float
        Fraction of the visible extent where the trough is found.
    min_contrast : float
        Soil-minus-floor grey difference, as a multiple of the image's noise.
    min_confidence : float
        Candidates below are dropped.
    max_tracks : int
    min_tread_strength, min_texture_ratio : float
        A straight line off the vanishing point is a rut only with tread this
        clear or a trough this many times deeper than the soil's own dips.
    max_curve_residual_px : float
        A rut's centres lie within this of a line or parabola (working pixels; a
        wide rut's within 6 % of its width, up to 3 px). Matched ruts of 200
        generated scenes: 99 % within 1.6 px; lines along rock shadows 2.8 px.
    min_relative_depth : float
        Every rut's trough is at least this many times deeper than the soil's own
        dips (``texture_ratio``); matched ruts of 200 generated scenes: 2.1 and
        more. Lines across strata or a checkerboard measure 1.4-2.0, and their
        crossings pass for tread. Waived for a straight rut on the vanishing point with
        a smooth floor and clear tread: across wind ripples, whose troughs set the
        soil's dips there, ruts measure about 1.5.
    max_side_trough_ratio : float
        A trough with troughs this deep (relative) on both sides within three of its
        widths is one of a ripple field's, not a rut. Matched ruts of 200 generated
        scenes: 0.2 and less for 95 %, 0.33 for one of 357 (a middle rut of four, now
        lost); of 30 scenes with ripples: 0.15 and less (another wheel's rut lies 2.5
        widths away or more, on one side only). Ripple troughs taken for ruts in
        those 30: 0.3 and more for 39 of 49. Troughs that run parallel on the ground to
        such a trough (they converge with it) are the field's too.
    work_side : int
        Longest side of the grey working copy the detector looks at, pixels. Ruts need
        no more: on 200 generated 640×480 scenes 448 finds 354 of 388 ruts with 366
        detections, 640 finds 359 with 367 at ~1.4-2x the cost. The tread is measured
        on a copy about twice as fine.
    min_elevation_deg : float
        Lines closer than this to horizontal are not ruts: a rear camera looks
        along its own tracks, which recede towards the horizon, while texture
        seen at a grazing angle is stretched horizontally. Lines up to 5° below
        are still measured (the refit can turn them onto a steeper rut). At 10°
        instead of 15°, 4 of 60 generated scenes without ruts showed one.
    """

    min_length: float = 0.17
    min_support: float = 0.6
    min_contrast: float = 3.0
    min_confidence: float = 0.5
    min_tread_strength: float = 0.25
    min_texture_ratio: float = 6.0
    max_curve_residual_px: float = 2.25
    max_tracks: int = 8
    min_elevation_deg: float = 15.0
    min_relative_depth: float = 2.0
    max_side_trough_ratio: float = 0.3
    work_side: int = 448

    def __post_init__(self) -> None:
        if not 64 <= self.work_side <= 8192:
            raise ParameterError(f"work_side must be 64 to 8192 pixels, got {self.work_side}")


@dataclasses.dataclass
class Track:
    """One detected rut, in pixels of the input image (origin top left).

    Attributes
    ----------
    x1, y1, x2, y2 : float
        Visible extent, near end (lower in the image) first.
    angle_deg : float
        Direction of the line in ``[0, 180)``, image x right, y down.
    confidence : float
        0..1, from continuity, contrast, vanishing-point agreement and tread.
    width_px : float
        Mean width of the trough (at half depth).
    contrast : float
        Mean grey difference between the soil beside the rut and its floor (0..1 scale).
    points : list of [x, y]
        Centreline polyline (the floor of the trough), near end first.
    curved : bool
        Whether the centreline bends (the rover steered).
    tread_period_px : float or None
        Period of the grouser pattern along the floor near the near end.
    tread_strength : float
        Autocorrelation at that period (0..1; above ~0.3 the tread is clearly there).
    on_vanishing_point : bool
        Whether the rut's line passes through a vanishing point with other ruts.
    vanishing_point_index : int or None
        Which of :attr:`TrackResult.vanishing_points` it passes through (0: the
        main one); ruts of one drive share one, a second drive has its own.
    side_trough_ratio : float
        Depth of the shallower of the nearest troughs on either side (within three
        widths) over this one's: soil lies beside a rut, the next ridge's trough beside
        a trough of a ripple field (see :func:`side_trough_ratio`).
    """

    x1: float
    y1: float
    x2: float
    y2: float
    angle_deg: float
    confidence: float
    width_px: float
    contrast: float
    points: list[list[float]]
    curved: bool
    tread_period_px: float | None
    tread_strength: float
    on_vanishing_point: bool = False
    support: float = 0.0
    heading_deg: float | None = None
    texture_ratio: float = 0.0
    bend_px: float = 0.0
    residual_px: float = 0.0
    side_trough_ratio: float = 0.0
    vanishing_point_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("x1", "y1", "x2", "y2", "angle_deg", "width_px"):
            d[key] = round(d[key], 2)
        for key in ("confidence", "contrast", "tread_strength", "support", "side_trough_ratio"):
            d[key] = round(d[key], 4)
        if d["tread_period_px"] is not None:
            d["tread_period_px"] = round(d["tread_period_px"], 2)
        if d["heading_deg"] is not None:
            d["heading_deg"] = round(d["heading_deg"], 2)
        d["points"] = [[round(x, 1), round(y, 1)] for x, y in self.points]
        return d


@dataclasses.dataclass
class TrackResult:
    """What :func:`detect_tracks` found in one image.

    Attributes
    ----------
    width, height : int
        Size of the input image.
    tracks : list of Track
        Strongest first; empty when the image shows none.
    pairs : list of dict
        Wheel sets: ``{"tracks": [i, j], "spacing_px", "spacing_m"}`` (metres with a camera).
    vanishing_point : dict or None
        ``{"x", "y"}`` where the straight ruts converge (two or more), pixels: the
        point with the most ruts (then the most confident) when there are several.
    vanishing_points : list of dict
        Every such point, ``vanishing_point`` first: ruts of drives in different
        directions (a turn, a crossing) converge to different points of the horizon.
    scale : float
        Working copy size ÷ input size.
    maps : dict of numpy.ndarray
        With ``debug=True``: ``"response"`` (valley strength) and ``"votes"`` (accumulator).
    """

    width: int
    height: int
    tracks: list[Track]
    pairs: list[dict[str, Any]]
    vanishing_point: dict[str, float] | None
    scale: float
    maps: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    vanishing_points: list[dict[str, float]] = dataclasses.field(default_factory=list)

    def scaled(self, fx: float, fy: float, width: int, height: int) -> TrackResult:
        """The result on the image ``width`` × ``height`` that this one's image is an
        area reduction of, by ``fx`` × ``fy`` of its pixels per pixel (see :class:`_PixelMap`)."""
        pixels = _PixelMap(fx, fy, width, height)
        length = math.sqrt(fx * fy)
        tracks = []
        for t in self.tracks:
            (x1, y1), (x2, y2) = pixels.point(t.x1, t.y1), pixels.point(t.x2, t.y2)
            tracks.append(
                dataclasses.replace(
                    t,
                    x1=x1,
                    y1=y1,
                    x2=x2,
                    y2=y2,
                    width_px=t.width_px * length,
                    points=[list(pixels.point(x, y)) for x, y in t.points],
                    tread_period_px=None
                    if t.tread_period_px is None
                    else t.tread_period_px * length,
                    bend_px=t.bend_px * length,
                    residual_px=t.residual_px * length,
                )
            )
        pairs = [
            {
                **p,
                "row_px": round(float(pixels.y(p["row_px"])), 1),
                "spacing_px": round(p["spacing_px"] * fx, 2),  # along a row
            }
            for p in self.pairs
        ]
        points = [
            {"x": round(float(pixels.x(vp["x"])), 2), "y": round(float(pixels.y(vp["y"])), 2)}
            for vp in self.vanishing_points
        ]
        return TrackResult(
            width,
            height,
            tracks,
            pairs,
            points[0] if points else None,
            self.scale / length,
            self.maps,
            points,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "tracks": [t.to_dict() for t in self.tracks],
            "pairs": self.pairs,
            "vanishing_point": self.vanishing_point,
            "vanishing_points": self.vanishing_points,
            "found": bool(self.tracks),
        }


def full_scale(image: np.ndarray) -> float:
    """The camera's full scale of an integer image: 255 for 8 bits; for 16, that of the
    smallest depth of 8, 10, 12, 14 or 16 bits that holds its largest value."""
    if image.dtype == np.uint8:
        return 255.0
    top = int(image.max()) if image.size else 0
    return float((1 << next(b for b in (8, 10, 12, 14, 16) if top < 1 << b)) - 1)


def _colours(image: np.ndarray) -> np.ndarray:
    """The image's colour (or grey) channels, without alpha."""
    if image.ndim == 3:
        return image[:, :, :3] if image.shape[2] >= 3 else image[:, :, 0]
    return image


def bit_depth_problem(image: np.ndarray, bit_depth: int) -> str | None:
    """Why an integer image's colour values do not fit ``bit_depth`` bits (None when they do)."""
    top = (1 << bit_depth) - 1
    colours = _colours(image)
    if colours.dtype.kind in "ui" and colours.size and (largest := int(colours.max())) > top:
        return (
            f"image holds values up to {largest}, above the full scale of"
            f" {bit_depth}-bit pixels ({top})"
        )
    return None


def to_grey(image: np.ndarray, scale: float | None = None) -> np.ndarray:
    """float32 grey in [0, 1] from uint8/uint16/float, grey/BGR/BGRA (alpha ignored);
    non-finite pixels of a float image are set to the median of the others.

    1 is the camera's full scale, so that a rut's contrast reads the same whatever the
    file: a 16-bit image is taken at the smallest depth of 8, 10, 12, 14 or 16 bits that
    holds its largest value (12-bit cameras write 16-bit PNGs, whose top 4 bits are
    zero: their contrast read a sixteenth), a float image within [0, 1] as it is, and
    any other float image stretched from its minimum to its maximum. ``scale`` gives an
    integer image's full scale instead (:func:`full_scale` of the image it was reduced from).
    """
    if image.ndim == 3:
        if image.shape[2] == 1 or image.shape[2] == 2:
            image = image[:, :, 0]
        else:
            image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    if image.ndim != 2:
        raise ParameterError(f"expected a 2-D or 3-D image array, got shape {image.shape}")
    if image.dtype in (np.uint8, np.uint16):
        return image.astype(np.float32) * np.float32(1 / (scale or full_scale(image)))
    grey = image.astype(np.float32)
    finite = np.isfinite(grey)
    if not finite.all():
        # missing pixels (NaN, Inf) take the typical level: 0 would draw dark lines
        grey[~finite] = np.median(grey[finite]) if finite.any() else 0.0
    lo, hi = float(grey.min()), float(grey.max())
    if lo >= 0.0 and hi <= 1.0:
        return grey
    return (grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey)


def too_thin(width: int, height: int, work_side: int) -> bool:
    """True when the working copy (``work_side`` px on its longer side) of a
    ``width`` × ``height`` image would be under 16 px on its shorter side."""
    return min(width, height) * work_side < 16 * max(width, height)


def _working_copy_of(
    image: np.ndarray, side: int, *, exact: bool = True, bit_depth: int | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Grey float32 copy of at most ``side`` pixels on its longest side, and the image
    pixels per copy pixel along x and y (see :class:`_PixelMap`).

    8- and 16-bit images are made grey and reduced in their own depth first, so a
    12-MP colour frame is never held as float at full size. With ``exact=False`` the
    image is only reduced by a whole factor (block means: several times faster than a
    general area resize), leaving its longest side between ``side`` and ``2 side``.
    ``bit_depth`` sets an integer image's full scale (see :func:`detect_tracks`).
    """
    native = image.dtype in (np.uint8, np.uint16)
    # the depth from the file's largest value: a dim reddish 12-bit frame's grey tops out
    # below 1024 and read as 10-bit, its contrast four times too high
    colours = _colours(image)
    if not native:
        top = None
    elif bit_depth is not None:
        if problem := bit_depth_problem(colours, bit_depth):
            raise ParameterError(problem)
        top = float((1 << bit_depth) - 1)
    else:
        top = full_scale(colours)
    if native and image.ndim == 3:
        grey = (
            cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
            if image.shape[2] >= 3
            else image[:, :, 0]
        )
    else:
        grey = image if native else to_grey(image)
    h, w = grey.shape
    factors = (1.0, 1.0)
    if exact:
        grey, factors = _reduced(grey, side)
    elif (whole := max(h, w) // side) >= 2:
        # cv2 averages whole blocks (a partial one at the far edges): exactly ``whole``
        # image pixels per copy pixel, whatever the rounding of the copy's size
        grey = cv2.resize(grey, None, fx=1 / whole, fy=1 / whole, interpolation=cv2.INTER_AREA)
        factors = (float(whole), float(whole))
    return np.ascontiguousarray(to_grey(grey, top) if native else grey), factors


def _reduced(grey: np.ndarray, side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """``grey`` area-averaged to at most ``side`` pixels on its longest side, and the
    input pixels per output pixel along x and y (each side is rounded on its own, so
    the two differ slightly)."""
    h, w = grey.shape
    scale = side / max(h, w)
    if scale >= 1.0:
        return grey, (1.0, 1.0)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    whole = int(0.5 / scale)
    if whole >= 2:
        # block means over a whole factor first (cv2's integer-factor INTER_AREA is 5x
        # faster than its general one), leaving the general one at least 2x to average
        grey = cv2.resize(grey, None, fx=1 / whole, fy=1 / whole, interpolation=cv2.INTER_AREA)
    else:
        whole = 1
    factors = (whole * grey.shape[1] / size[0], whole * grey.shape[0] / size[1])
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), factors


@dataclasses.dataclass(frozen=True)
class _PixelMap:
    """Where the working copy's pixels lie on the input image.

    Area reduction by ``fx`` × ``fy`` image pixels per copy pixel puts copy pixel
    ``i`` over image pixels ``[i f, (i + 1) f)``: its centre is at ``(i + 0.5) f - 0.5``
    in the image (pixel centres at integers, origin top left), not ``i f``, which
    would shift every point up and left by ``(f - 1) / 2`` (4 px at 12 MP). Lengths
    scale by the geometric mean of the two factors (they differ only by rounding).
    """

    fx: float
    fy: float
    width: int  # the input image's size, for clipping points onto it
    height: int

    @property
    def scale(self) -> float:
        """Copy pixels per image pixel (for lengths)."""
        return 1.0 / math.sqrt(self.fx * self.fy)

    def x(self, u: Any) -> Any:
        return (u + 0.5) * self.fx - 0.5

    def y(self, v: Any) -> Any:
        return (v + 0.5) * self.fy - 0.5

    def point(self, u: float, v: float) -> tuple[float, float]:
        """A point of a rut, clipped onto the image."""
        return (
            float(min(max(self.x(u), 0.0), self.width - 1.0)),
            float(min(max(self.y(v), 0.0), self.height - 1.0)),
        )


def _noise_level(grey: np.ndarray) -> float:
    """Robust sigma of pixel noise (median absolute Laplacian; Immerkaer's estimator)."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    # a median of every third row and column is as good and ten times cheaper
    return float(np.median(np.abs(lap[::3, ::3])) / (0.6745 * math.sqrt(20)) + 1e-4)


def texture_level(
    grey: np.ndarray,
    resp: np.ndarray,
    n_lines: int = 12,
    n_tiles: int = 2,
    troughs: np.ndarray | None = None,
) -> float:
    """How dark a "trough" the matched filter finds in this soil where there is none.

    The filter always finds its best trough; on mottled soil that is a dip of
    the mottling. Its median depth along fixed lines across the image (steep
    lines from the bottom edge, where ruts would be, at several widths) is the
    reference a rut's depth is compared with. Where ``troughs`` (a mask the size
    of ``grey``) is given, the steps whose trough lies on it are left out: a
    scene crossed by several ruts would otherwise raise the level with them.
    """
    h, w = grey.shape
    n = int(min(h - 1, 0.8 * h)) // 2  # every other pixel: a median needs no more
    paths, widths = [], []
    for k in range(n_lines):
        x0 = (k + 0.5) * w / n_lines
        angle = math.radians(60 + 60 * ((k * 7) % n_lines) / n_lines)  # 60..120 degrees
        dx, dy = math.cos(angle), -math.sin(angle)  # upwards
        paths.append(_line_path(x0, h - 1.0, dx, dy, n, spacing=2.0))
        widths.append(np.full(n, (0.02 + 0.04 * (k % 3)) * w))
    # all lines in one call (each step is matched on its own): one thread launch, not twelve
    out = np.zeros((n_lines * n, 6))
    xs, ys, nxs, nys = (np.concatenate(part) for part in zip(*paths, strict=True))
    _kernels.match_trough(
        grey, resp, xs, ys, nxs, nys, np.concatenate(widths), WIDE_FACTORS, BOX_SAMPLES,
        n_tiles, out,
    )  # fmt: skip
    inside = (out[:, 5] > 0).reshape(n_lines, n)
    soil = inside
    if troughs is not None:
        cx = np.clip(np.rint(xs + out[:, 1] * nxs), 0, w - 1).astype(np.intp)
        cy = np.clip(np.rint(ys + out[:, 1] * nys), 0, h - 1).astype(np.intp)
        soil = inside & (troughs[cy, cx] == 0).reshape(n_lines, n)
    depths = []
    for line, in_line, on_soil in zip(out.reshape(n_lines, n, 6), inside, soil, strict=True):
        steps = on_soil if on_soil.sum() >= 10 else in_line
        if steps.any():
            depths.append(float(np.median((line[:, 3] - line[:, 2])[steps])))
    # lines along a rut would raise it: the lower third of the lines is soil alone
    return float(np.percentile(depths, 30)) + 1e-4 if depths else 1e-3


def _trough_mask(candidates: list, shape: tuple[int, int]) -> np.ndarray:
    """The candidates' troughs drawn, each along its floor as wide as it is."""
    mask = np.zeros(shape, np.uint8)
    for cand in candidates:
        floor = np.rint(cand.points).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(mask, [floor], False, 1, thickness=max(3, round(cand.width)))
    return mask


def valley_maps(grey: np.ndarray, n_tiles: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """Valley (dark line) strength, the strongest over :data:`SCALES`, and direction.

    Returns ``(resp, theta, threshold)``: the direction is computed only where the
    strength exceeds ``threshold`` (its 90th percentile over the positive pixels), the
    pixels that vote for lines; ``theta`` is 0 elsewhere.
    """
    h, w = grey.shape
    resp = np.zeros_like(grey, dtype=np.float32)
    across = np.zeros(grey.shape, np.float64)  # the winning scale's Hessian components
    along = np.zeros(grey.shape, np.float64)
    coarse = [s for s in SCALES if s >= HALF_SIZE_FROM] if min(h, w) >= 64 else []
    for sigma in SCALES:
        if sigma not in coarse:
            smooth = cv2.GaussianBlur(grey, (0, 0), sigma)
            _kernels.valley_response(smooth, float(sigma), n_tiles, resp, across, along)
    if coarse:
        # 2x2 block means (a blur of about half a pixel), then each scale at half its
        # sigma: the response is scale-normalised, so it compares with the full-size ones
        small = cv2.resize(grey, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        maps = (np.zeros(small.shape, np.float32), np.zeros(small.shape), np.zeros(small.shape))
        for sigma in coarse:
            smooth = cv2.GaussianBlur(small, (0, 0), math.sqrt(sigma * sigma - 0.25) / 2)
            _kernels.valley_response(smooth, sigma / 2, n_tiles, *maps)
        up = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in maps]
        _kernels.keep_stronger(resp, across, along, *up)
    positive = resp[resp > 0]
    threshold = float(np.percentile(positive, 90)) if positive.size else 1.0
    theta = np.zeros_like(grey, dtype=np.float32)
    _kernels.valley_direction(resp, across, along, threshold, n_tiles, theta)
    return resp, theta, threshold


def _line_through(phi: float, rho: float, w: int, h: int) -> tuple[float, float, float, float, int]:
    """Start point, unit direction and length of the line's chord through the image."""
    c, s = math.cos(phi), math.sin(phi)
    dx, dy = -s, c  # along the line
    # points where x cos + y sin = rho crosses the borders
    pts = []
    if abs(s) > 1e-9:
        for x in (0.0, w - 1.0):
            y = (rho - x * c) / s
            if 0 <= y <= h - 1:
                pts.append((x, y))
    if abs(c) > 1e-9:
        for y in (0.0, h - 1.0):
            x = (rho - y * s) / c
            if 0 <= x <= w - 1:
                pts.append((x, y))
    if len(pts) < 2:
        return 0.0, 0.0, dx, dy, 0
    (ax, ay), (bx, by) = (
        min(pts, key=lambda p: p[0] * dx + p[1] * dy),
        max(pts, key=lambda p: p[0] * dx + p[1] * dy),
    )
    length = int(math.hypot(bx - ax, by - ay))
    return ax, ay, dx, dy, length


def _line_path(
    x0: float, y0: float, dx: float, dy: float, n: int, spacing: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points ``spacing`` pixels apart along a line, and its normal ``(-dy, dx)``
    (for match_trough)."""
    steps = np.arange(n, dtype=np.float64) * spacing
    return x0 + steps * dx, y0 + steps * dy, np.full(n, -dy), np.full(n, dx)


def ground_tread(
    floor: np.ndarray,
    rows: np.ndarray,
    width_model: tuple[float, float],
    horizon_row: float | None = None,
) -> tuple[float | None, float]:
    """Tread period (image rows from the near end to one period farther) and its strength.

    Grousers repeat at a fixed distance on the ground, which perspective
    compresses towards the horizon row ``v_h`` (given, e.g. the vanishing
    point's row, or where the rut's width shrinks to zero). Ground distance
    goes as ``1 / (v - v_h)``, so the floor's grey levels are resampled evenly
    in that variable before the autocorrelation. Only the near stretch is
    used: where the rut is at least 4 pixels wide and out to twice the nearest
    distance, so the pattern is compressed at most four-fold across it; the
    grid is as fine as the stretch's far end (a coarser one would alias the
    period onto its multiples), down to a 48th of the rut's width there.
    """
    slope, intercept = width_model
    if horizon_row is None:
        if slope <= 1e-4:
            return None, 0.0
        horizon_row = -intercept / slope
    v_h = float(horizon_row)
    if len(rows) < 24:
        return None, 0.0
    v_near = float(rows.max())
    if v_near - v_h < 8.0:
        return None, 0.0
    near = (slope * rows + intercept >= 4.0) & (rows - v_h >= 0.5 * (v_near - v_h))
    if near.sum() < 24:
        return None, 0.0
    v = rows[near]
    g = 1.0 / np.maximum(v - v_h, 1e-3)
    order = np.argsort(g)
    g, values = g[order], floor[near][order]
    # one pixel at the far end, in g, or a 48th of the rut's width there if coarser:
    # grousers lie a fraction of a wheel's width apart, and tread_period's detrend keeps
    # periods of a few to a few tens of samples (sampled per pixel, a 2000-pixel image's
    # 90-pixel period spanned 22 samples and was taken for shading)
    far_width = slope * float(v.min()) + intercept
    step = max(1.0, far_width / 48.0) / (float(v.min()) - v_h) ** 2
    n = int(min(4096, max(64, math.ceil((g[-1] - g[0]) / step) + 1)))
    grid = np.linspace(g[0], g[-1], n)
    resampled = np.interp(grid, g, values)
    period, strength = tread_period(resampled)
    if period is None:
        return None, strength
    step_g = (grid[-1] - grid[0]) / (n - 1)
    # the rows from the near end to one period farther on the ground (not the slope there,
    # period_g (v_near - v_h)^2: a period of 40 rows 300 from the horizon spans 35)
    return float((v_near - v_h) - 1.0 / (1.0 / (v_near - v_h) + period * step_g)), strength


def tread_period(profile: np.ndarray, min_period: float = 3.0) -> tuple[float | None, float]:
    """Period (samples) and strength (normalised autocorrelation) of a periodic pattern."""
    n = len(profile)
    if n < 4 * min_period + 4:
        return None, 0.0
    x = profile - np.convolve(profile, np.ones(9) / 9, mode="same")  # drop slow shading
    x = x[4:-4]
    x = x - x.mean()
    energy = float(np.dot(x, x))
    if energy <= 1e-12:
        return None, 0.0
    spectrum = np.fft.rfft(x, 2 * len(x))
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[: len(x) // 2] / energy
    lo = math.ceil(min_period)
    if len(ac) <= lo + 2:
        return None, 0.0
    # the first clear maximum after the first zero crossing
    below = np.flatnonzero(ac[lo:] < 0)
    if len(below) == 0:
        return None, 0.0
    start = lo + int(below[0])
    if start + 2 >= len(ac):
        return None, 0.0
    # the first peak nearly as high as the highest (the others are its multiples)
    tail = ac[start:]
    top = float(tail.max())
    peaks = [
        j
        for j in range(1, len(tail) - 1)
        if tail[j] >= tail[j - 1] and tail[j] >= tail[j + 1] and tail[j] >= 0.8 * top
    ]
    k = start + (peaks[0] if peaks else int(np.argmax(tail)))
    if 0 < k < len(ac) - 1:  # parabolic refinement
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        offset = 0.0
    return float(k + offset), float(max(0.0, ac[k]))


@dataclasses.dataclass
class _Candidate:
    points: np.ndarray  # (n, 2) floor of the trough, near end first (working pixels)
    line: tuple[float, float, float, float]  # point (px, py), unit direction (dx, dy)
    support: float
    contrast: float
    width: float
    strength: float
    width_model: tuple[float, float] = (0.0, 0.0)  # width = slope * row + intercept
    curve: tuple[float, float, float, float] | None = None  # (v_h, a, b, c): see _curve_x


@dataclasses.dataclass
class _FirstLook:
    """Where the first look along an accumulator line found the floor of a trough."""

    line: tuple[float, float, float, float]  # refitted through the floor: as _Candidate.line
    points: np.ndarray  # (n, 2) the floor's points kept by the fit
    width: float  # median width of the trough at half depth
    width_model: tuple[float, float]  # width = slope * row + intercept, fitted on the look
    curve: None = None  # a straight line (for _on_rut)


@dataclasses.dataclass
class _Probe:
    """A request, yielded by a measuring generator, for :func:`_kernels.match_trough`
    across the points of a path; the generator is sent back the kernel's ``(n, 6)``
    answer (see :func:`_run_batched`)."""

    xs: np.ndarray
    ys: np.ndarray
    nxs: np.ndarray
    nys: np.ndarray
    widths: np.ndarray  # the expected trough widths
    factors: np.ndarray  # box widths tried, as multiples of the expected ones


# a measurement that yields probes and returns a rut, or None
Measuring = Generator[_Probe, np.ndarray, "_Candidate | None"]


def _fit_line(points: np.ndarray) -> tuple[float, float, float, float]:
    """Total-least-squares line ``(x, y, dx, dy)`` through ``(n, 2)`` points: their centre
    and the principal axis of their 2×2 scatter matrix (in closed form: an SVD of the
    points cost ten times more, called a hundred times per image)."""
    centre = points.mean(axis=0)
    u, v = (points - centre).T
    sxx, syy, sxy = float(u @ u), float(v @ v), float(u @ v)
    angle = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    dx, dy = math.cos(angle), math.sin(angle)
    if dy < 0:  # point down the image: from far to near
        dx, dy = -dx, -dy
    return float(centre[0]), float(centre[1]), dx, dy


def _fit_straight(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``y = slope x + intercept``: ``np.polyfit(x, y,
    1)`` in closed form (its general solver cost 5 ms an image over ~60 calls); a slope of 0
    when the ``x`` do not vary."""
    x_mean, y_mean = float(x.mean()), float(y.mean())
    dx = x - x_mean
    sxx = float(dx @ dx)
    slope = float(dx @ (y - y_mean)) / sxx if sxx > 0.0 else 0.0
    return slope, y_mean - slope * x_mean


def _width_model(rows: np.ndarray, widths: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept)`` of a rut's width against the image row. A rut widens
    towards the camera, down the image: where the widths fitted fall instead (the
    matched filter locked onto something wider near the horizon) the model is flat at
    their median, lest the search widen towards the far end and turn the line onto the
    horizon's dark band."""
    slope, intercept = _fit_straight(rows, widths)
    if slope < 0.0:
        return 0.0, float(np.median(widths))
    return slope, intercept


def _distance_to_line(points: np.ndarray, line: tuple[float, float, float, float]) -> np.ndarray:
    px, py, dx, dy = line
    return np.abs((points[:, 0] - px) * dy - (points[:, 1] - py) * dx)


def _searchable(dy: float, cfg: TrackConfig) -> bool:
    """Whether a line whose unit direction has row component ``dy`` is steep enough to
    measure: ``min_elevation_deg`` less :data:`SEARCH_MARGIN_DEG`."""
    return abs(dy) >= math.sin(math.radians(cfg.min_elevation_deg - SEARCH_MARGIN_DEG))


def _first_looks(
    grey: np.ndarray,
    resp: np.ndarray,
    lines: list[tuple[float, float]],
    cfg: TrackConfig,
    noise: float,
    n_tiles: int,
) -> list[_FirstLook | None]:
    """The first look along each of the accumulator's lines ``(phi, rho)``: the floor of
    a trough near it and the line refitted through it; None where there is none (or
    the line is too short or too flat to measure). All lines' profiles in one kernel call.
    """
    h, w = grey.shape
    min_len = cfg.min_length * math.hypot(w, h)
    half = max(8, int(0.12 * w))
    chords = [_line_through(phi, rho, w, h) for phi, rho in lines]
    chords = [c if c[4] >= min_len and _searchable(c[3], cfg) else None for c in chords]
    lengths = [c[4] for c in chords if c is not None]
    if not lengths:
        return [None] * len(chords)
    paths = [_line_path(*c) for c in chords if c is not None]
    xs, ys, nxs, nys = (np.concatenate([p[k] for p in paths]) for k in range(4))
    profs = np.zeros((len(xs), 6))
    halves = np.full(len(xs), half, np.int64)
    _kernels.sample_across(grey, resp, xs, ys, nxs, nys, halves, n_tiles, profs)
    split = iter(np.split(profs, np.cumsum(lengths)[:-1]))
    return [
        None if c is None else _floor_of(next(split), c, half, cfg, noise, min_len) for c in chords
    ]


def _floor_of(
    prof: np.ndarray,
    chord: tuple[float, float, float, float, int],
    half: int,
    cfg: TrackConfig,
    noise: float,
    min_len: float,
) -> _FirstLook | None:
    """The first look along ``chord`` from its profiles (see :func:`_first_looks`)."""
    x0, y0, dx, dy, n = chord
    depth = prof[:, 3] - prof[:, 2]
    loose = (depth > cfg.min_contrast * noise) & (np.abs(prof[:, 1]) < half / 2) & (prof[:, 5] > 0)
    # a first look only seeds the fit: bridge wide gaps, accept half the length
    a, b = _kernels.longest_run(loose, max(3, n // 8))
    if b - a < 0.5 * min_len:
        return None
    steps = np.arange(a, b)[loose[a:b]]
    xs = x0 + steps * dx - prof[steps, 1] * dy
    ys = y0 + steps * dy + prof[steps, 1] * dx
    ok, fitted, kept = _kernels.refit_line(xs, ys, 2.5)
    if not ok:
        return None
    # the rut's width grows linearly towards the camera: fit it on the first look
    rows = y0 + steps * dy  # image row of each first-look sample
    width_model = _width_model(rows, prof[steps, 4]) if len(steps) > 10 else (0.0, half / 2)
    return _FirstLook(
        line=(float(fitted[0]), float(fitted[1]), float(fitted[2]), float(fitted[3])),
        points=np.column_stack([xs[kept], ys[kept]]),
        width=float(np.median(prof[steps, 4])),
        width_model=width_model,
    )


def _on_any(ruts: list, look: _FirstLook) -> bool:
    """Whether the first look runs along one of ``ruts`` (a neighbouring accumulator
    peak of a rut already found)."""
    return any(_on_rut(rut, look.line, look.points, max(3.0, 0.6 * rut.width)) for rut in ruts)


def _examine(
    look: _FirstLook,
    cfg: TrackConfig,
    shape: tuple[int, int],
    noise: float,
    threshold: float,
    n_wide: int = WIDE_PASSES,
) -> Measuring:
    """Measure the rut a first look found: locate the trough of the expected width at
    every step along the line (matched filter, which also finds the width that fits),
    refit the line through the centres and the width model through the fitted widths,
    and repeat until it stays put. A generator of probes (see :func:`_run_batched`).
    """
    line = look.line
    slope, intercept = look.width_model
    cand = None
    for k in range(4):
        factors = WIDE_FACTORS if k < n_wide else NARROW_FACTORS
        found = yield from _measure(line, slope, intercept, cfg, shape, noise, threshold, factors)
        if found is None:
            return None
        new_line, cand, rows, widths = found
        moved = np.max(_distance_to_line(cand.points[[0, -1]], line))
        line = new_line
        if len(rows) > 10:
            slope, intercept = _width_model(rows, widths)
        cand.width_model = (float(slope), float(intercept))
        if moved < 1.0:
            break
    return cand


def _measure(line, slope, intercept, cfg, shape, noise, threshold, factors):
    """The rut along ``line``: its extent, centres, contrast and width; None if too weak.
    A generator yielding its one probe (see :func:`_run_batched`)."""
    h, w = shape
    min_len = cfg.min_length * math.hypot(w, h)
    px, py, ldx, ldy = line
    phi = math.atan2(-ldx, ldy) % math.pi  # normal angle
    rho = px * math.cos(phi) + py * math.sin(phi)
    x0, y0, dx, dy, n = _line_through(phi, rho, w, h)
    if n < min_len or not _searchable(dy, cfg):
        return None
    expected = np.clip(slope * (y0 + np.arange(n) * dy) + intercept, 2.0, 0.15 * w)
    prof = yield _Probe(*_line_path(x0, y0, dx, dy, n), expected.astype(np.float64), factors)
    ok, fitted, support, steps = _kernels.trough_extent(
        prof,
        x0,
        y0,
        dx,
        dy,
        cfg.min_contrast * noise,
        0.25 * threshold,
        min_len,
        cfg.min_support,
        max(3, n // 25),
        max(3, n // 6),  # a rock across the rut hides up to a sixth of the line
    )
    if not ok:
        return None
    new_line = (float(fitted[0]), float(fitted[1]), float(fitted[2]), float(fitted[3]))
    offset, floor, width = prof[:, 1], prof[:, 2], prof[:, 4]
    depth = prof[:, 3] - floor
    pts = np.column_stack(
        [x0 + steps * dx - offset[steps] * dy, y0 + steps * dy + offset[steps] * dx]
    )
    order = np.argsort(-(pts[:, 0] * new_line[2] + pts[:, 1] * new_line[3]))  # near end first
    cand = _Candidate(
        points=pts[order],
        line=new_line,
        support=float(support),
        contrast=float(np.median(depth[steps])),
        width=float(np.median(width[steps])),
        strength=float(np.sum(depth[steps])),
    )
    return new_line, cand, (y0 + steps * dy)[order], width[steps][order]


def _on_rut(rut: _Candidate | _FirstLook, line: tuple, points: np.ndarray, tol: float) -> bool:
    """Whether ``line`` (through ``points``) runs along ``rut``: within 4° of it, and
    its points within ``tol`` of it (median); along a curved rut, its points near the
    rut's floor wherever they are."""
    if rut.curve is not None:
        near = np.abs(points[:, 1][:, None] - rut.points[:, 1][None, :]) < 1.0
        gaps = np.hypot(
            points[:, 0][:, None] - rut.points[:, 0][None, :],
            points[:, 1][:, None] - rut.points[:, 1][None, :],
        )
        gaps = np.where(near, gaps, np.inf).min(axis=1)
        return float(np.median(gaps)) < tol
    angle = abs(rut.line[2] * line[3] - rut.line[3] * line[2])  # sin of the angle between
    if angle > math.sin(math.radians(4)):
        return False
    return float(np.median(_distance_to_line(points, rut.line))) < tol


def _curve_x(curve: tuple[float, float, float, float], v: np.ndarray) -> np.ndarray:
    """Column of a steered rut at rows ``v``: ``a + b d + c / d`` with ``d = v - v_h``.

    A rut the rover left while steering at constant curvature is a parabola on
    the ground, ``X = x0 + k Y + κ Y² / 2``. Seen through a level pinhole camera,
    ground distance ``Y`` goes as ``1 / d`` below the horizon row ``v_h`` and the
    column as ``X / Y``, so the rut's image is exactly ``a + b d + c / d`` (a
    straight rut has ``c = 0``: a line). Roll of a few degrees bends this by
    a pixel or two (the generated scenes: median 0.02 px, worst 3 px).
    """
    _, a, b, c = curve
    d = v - curve[0]
    return a + b * d + c / d


def _fit_curve(points: np.ndarray, height: int) -> tuple[tuple[float, float, float, float], float]:
    """The curve of :func:`_curve_x` through ``points`` (least squares; ``v_h``
    searched above the points, coarse then fine), and its RMS residual in pixels."""
    u, v = points[:, 0], points[:, 1]

    def fits(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # every candidate horizon at once: normal equations of u = a + b d + c / d
        d = v[None, :] - rows[:, None]
        e = 1.0 / d
        n = float(len(v))
        sd, se, sdd, see = d.sum(1), e.sum(1), (d * d).sum(1), (e * e).sum(1)
        gram = np.empty((len(rows), 3, 3))
        gram[:, 0, 0] = n
        gram[:, 0, 1] = gram[:, 1, 0] = sd
        gram[:, 0, 2] = gram[:, 2, 0] = se
        gram[:, 1, 1] = sdd
        gram[:, 1, 2] = gram[:, 2, 1] = n  # d * (1 / d)
        gram[:, 2, 2] = see
        rhs = np.stack([np.full(len(rows), u.sum()), d @ u, e @ u], axis=1)
        coef = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
        miss = coef[:, :1] + coef[:, 1:2] * d + coef[:, 2:] * e - u[None, :]
        return coef, np.sqrt(np.mean(miss**2, axis=1))

    rows = float(v.min()) - np.geomspace(2.0, 20.0 * height, 48)
    coef, rms = fits(rows)
    k = int(np.argmin(rms))
    fine = np.linspace(rows[min(k + 1, len(rows) - 1)], rows[max(k - 1, 0)], 24)
    coef_fine, rms_fine = fits(fine)
    if rms_fine.min() < rms[k]:
        k = int(np.argmin(rms_fine))
        rows, coef, rms = fine, coef_fine, rms_fine
    return (float(rows[k]), *(float(c) for c in coef[k])), float(rms[k])  # type: ignore[return-value]


def _bent(stretches: list[np.ndarray], height: int, min_bend: float) -> tuple | None:
    """The steered-rut curve through the traced ``stretches`` when it fits them (RMS
    within 2.5 px) and bends at least ``min_bend`` px away from its chord; else None."""
    traced = np.concatenate(stretches)
    curve, rms = _fit_curve(traced, height)
    fitted = np.column_stack([_curve_x(curve, traced[:, 1]), traced[:, 1]])
    bend = float(np.max(_distance_to_line(fitted, _fit_line(traced[[0, -1]]))))
    return None if rms > 2.5 or bend < min_bend else curve


def _track_far(
    cand: _Candidate, cfg: TrackConfig, shape: tuple[int, int], noise: float
) -> Measuring:
    """Re-trace the far part of a rut a short stretch at a time, letting it bend.

    A steered rut bends most near the horizon, where the straight measurement
    either stops or runs on along the line over soil. From 60 % of the way out,
    each next stretch of rows is tried with a range of bends from the rut's
    local direction (all in one matched-filter call), the one along which the
    trough holds best is kept, and the direction updated, until the trough
    is lost. None when the traced rut does not bend away from the line. A generator
    of probes (see :func:`_run_batched`).
    """
    h, w = shape
    diag = math.hypot(w, h)
    pts = cand.points[np.argsort(-cand.points[:, 1])]  # near end first
    if len(pts) < 40:
        return None
    slope_w, intercept_w = cand.width_model
    kept = [pts[: int(0.6 * len(pts))]]
    chunk = max(8.0, 0.06 * h)  # length of a stretch along the rut, pixels
    bends = np.linspace(-1.0, 1.0, 15)[:, None]  # lateral play at its end, x reach
    spacing = 2.0  # every other pixel: the matched filter's box spans several anyway
    for _ in range(int(h / chunk) + 8):
        known = np.concatenate(kept)
        v_far = float(known[:, 1].min())
        recent = known[known[:, 1] <= v_far + max(20.0, 0.1 * h)]
        slope, u_far = _fit_straight(recent[:, 1] - v_far, recent[:, 0])  # du/dv, u at v_far
        rows_per_step = spacing / math.hypot(slope, 1.0)
        rows_per_chunk = chunk / math.hypot(slope, 1.0)
        dv = -rows_per_step * np.arange(1, int(rows_per_chunk / rows_per_step) + 1)
        dv = dv[v_far + dv >= 0.0]
        if len(dv) < 4:
            break
        reach = max(3.0, 0.5 * chunk)
        # every bend at once: u(v) = u_far + slope dv + bend reach (dv / rows_per_chunk)^2
        us = u_far + slope * dv + bends * reach * (dv / rows_per_chunk) ** 2
        du = slope + 2.0 * bends * reach * dv / rows_per_chunk**2
        norm = np.hypot(du, 1.0)
        xs, ys = us.ravel(), np.broadcast_to(v_far + dv, us.shape).ravel()
        nxs, nys = (-1.0 / norm).ravel(), (du / norm).ravel()
        expected = np.clip(slope_w * ys + intercept_w, 2.0, 0.15 * w)
        prof = yield _Probe(xs, ys, nxs, nys, expected, NARROW_FACTORS)
        depth = prof[:, 3] - prof[:, 2]
        good = (
            (depth > cfg.min_contrast * noise)
            & (np.abs(prof[:, 1]) <= np.maximum(1.5, 0.4 * prof[:, 4]))
            & (prof[:, 5] > 0)
        )
        shape = us.shape
        score = np.where(
            good.reshape(shape).mean(axis=1) >= 0.6, (depth * good).reshape(shape).sum(axis=1), 0.0
        )
        if not score.max() > 0.0:
            break  # the trough is lost
        row = int(np.argmax(score))
        steps = row * shape[1] + np.flatnonzero(good.reshape(shape)[row])
        found = np.column_stack(
            [xs[steps] + prof[steps, 1] * nxs[steps], ys[steps] + prof[steps, 1] * nys[steps]]
        )
        if float(found[:, 1].min()) > v_far - 1.0:
            break  # no farther
        kept.append(found)
    if len(kept) < 3:
        return None  # one stretch beyond the line is no bend: a hook onto a rock's edge
    min_bend = max(3.0, 0.01 * diag)
    curve = _bent(kept, h, min_bend)
    if curve is not None:
        # a last stretch that strays from the curve of the rest is a hook onto a rock's
        # edge or the neighbouring rut near the vanishing point, not the rut bending: on
        # the generated scenes it strays 8-89 px on straight ruts, 0.6-9 px on steered
        # ones (which lose only their last stretch). Unless the whole curve passes through
        # it (within 2 px) with its horizon well above it: a steered rut seen far enough
        # bends most in its last stretch, which the nearly straight rest cannot foretell
        # (strays of 7-88 px). A hook's curve puts the horizon just above the hook
        # (2-12 px of 336), its bend all in the last rows.
        rest, _ = _fit_curve(np.concatenate(kept[:-1]), h)
        last = kept[-1]
        late_bend = (
            float(last[:, 1].min()) - curve[0] >= HOOK_ROWS * h
            and np.max(np.abs(_curve_x(curve, last[:, 1]) - last[:, 0])) <= 2.0
        )
        if np.max(np.abs(_curve_x(rest, last[:, 1]) - last[:, 0])) > min_bend and not late_bend:
            kept.pop()
            curve = _bent(kept, h, min_bend)
    if curve is None:
        return None
    traced = np.concatenate(kept)
    return dataclasses.replace(
        cand,
        points=traced,
        line=_fit_line(traced),
        curve=curve,
        strength=cand.strength,
    )


def _vanishing_point(
    lines: list[tuple[float, float, float, float]],
    diag: float,
    *,
    far_rows: np.ndarray | None = None,
    size: tuple[int, int] | None = None,
    weights: np.ndarray | None = None,
):
    """Least-squares point closest to the most lines, after a consensus on their
    pairwise intersections.

    Returns ``(point or None, inlier mask)``. A line is an inlier when it passes
    within 1.5 % of the diagonal of the point, or points at it within 1°, and,
    given the lines' ``far_rows`` and the image ``size``, the point lies ahead of
    its rut (see :func:`_ahead_of_ruts`): only a point where ruts can converge
    competes. Any two lines meet exactly at their intersection, so between points
    with equally many lines the stronger lines (``weights``) win, then the
    tighter meeting, rather than whichever pair came first.
    """
    n = len(lines)
    if n < 2:
        return None, np.zeros(n, bool)
    if weights is None:
        weights = np.ones(n)

    def inliers(pt):
        mask = np.zeros(n, bool)
        for i, (px, py, dx, dy) in enumerate(lines):
            dist = abs((pt[0] - px) * dy - (pt[1] - py) * dx)
            reach = math.hypot(pt[0] - px, pt[1] - py)
            mask[i] = dist < 0.015 * diag or (
                reach > 0 and dist / reach < math.sin(math.radians(1))
            )
        if far_rows is None or size is None:
            return mask
        return _ahead_of_ruts(pt, mask, far_rows, size)

    best, best_mask, best_score = None, np.zeros(n, bool), (0, 0.0, 0.0)
    for i in range(n):
        for j in range(i + 1, n):
            pt = _meeting_point(lines[i], lines[j])
            if pt is None:
                continue
            mask = inliers(pt)
            if mask.sum() < 2:
                continue
            spread = sum(
                abs((pt[0] - px) * dy - (pt[1] - py) * dx)
                for keep, (px, py, dx, dy) in zip(mask, lines, strict=True)
                if keep
            )
            score = (int(mask.sum()), float(weights[mask].sum()), -spread)
            if score > best_score:
                best, best_mask, best_score = pt, mask, score
    if best is None:
        return None, np.zeros(n, bool)
    # refine: minimise the squared distances to the inlier lines
    a_rows, b_rows = [], []
    for keep, (px, py, dx, dy) in zip(best_mask, lines, strict=True):
        if keep:
            a_rows.append([dy, -dx])
            b_rows.append(px * dy - py * dx)
    sol, *_ = np.linalg.lstsq(np.array(a_rows), np.array(b_rows), rcond=None)
    point = (float(sol[0]), float(sol[1]))
    return point, inliers(point) | best_mask


def _vanishing_points(
    lines: list[tuple[float, float, float, float]],
    diag: float,
    *,
    far_rows: np.ndarray,
    size: tuple[int, int],
    weights: np.ndarray,
    most: int = 3,
) -> list[tuple[tuple[float, float], np.ndarray]]:
    """Every point where two or more of the lines converge, as ``(point, inlier mask)``.

    Two drives in different directions (a turn, a crossing) leave two sets of
    parallel ruts on the ground, each converging to its own point on the
    horizon: the best-supported point is found, its lines set aside, and the
    search repeated on the rest.
    """
    left = np.ones(len(lines), bool)
    found = []
    while left.sum() >= 2 and len(found) < most:
        idx = np.flatnonzero(left)
        point, mask = _vanishing_point(
            [lines[i] for i in idx],
            diag,
            far_rows=far_rows[idx],
            size=size,
            weights=weights[idx],
        )
        if point is None:
            break
        full = np.zeros(len(lines), bool)
        full[idx[mask]] = True
        found.append((point, full))
        left &= ~full
    return found


def _candidates(
    grey: np.ndarray,
    resp: np.ndarray,
    looks: list[_FirstLook | None],
    cfg: TrackConfig,
    noise: float,
    threshold: float,
    n_tiles: int,
    n_wide: int,
) -> list[_Candidate]:
    """The troughs along the accumulator's lines, from their first looks: one per rut,
    bent ones traced to their far ends (strongest first).

    The lines are decided in order: one is dropped when its first look, or the rut it
    measures, runs along a rut found before it. Lines are measured together (see
    :func:`_run_batched`): the line to decide and every later one that is neither on a
    rut found nor on the first look of an earlier undecided line (likely to be dropped
    for the same rut: it waits for that rut to be decided). Measuring does not depend
    on the order, so the ruts are the ones measuring one line at a time would give.
    """
    shape = grey.shape
    candidates: list[_Candidate] = []
    measured: dict[int, _Candidate | None] = {}
    order = [i for i, look in enumerate(looks) if look is not None]
    for pos, i in enumerate(order):
        if _on_any(candidates, looks[i]):
            continue
        if i not in measured:
            batch = [i]
            for j in order[pos + 1 :]:
                look = looks[j]
                if not (
                    j in measured
                    or _on_any(candidates, look)
                    or _on_any([looks[k] for k in order[pos:] if k < j], look)
                ):
                    batch.append(j)
            tasks = [_examine(looks[j], cfg, shape, noise, threshold, n_wide) for j in batch]
            measured.update(zip(batch, _run_batched(grey, resp, tasks, n_tiles), strict=True))
        cand = measured[i]
        if cand is None:
            continue
        tol = max(3.0, 0.6 * cand.width)
        if any(_on_rut(other, cand.line, cand.points, tol) for other in candidates):
            continue
        candidates.append(cand)
    # the far ends of bent ruts, traced a stretch at a time
    ranked = sorted(candidates, key=lambda c: -c.strength)
    bent = _run_batched(grey, resp, [_track_far(c, cfg, shape, noise) for c in ranked], n_tiles)
    traced: list[_Candidate] = []
    for cand, far in zip(ranked, bent, strict=True):
        if far is not None and _below_ground_seen(
            far, [c for c in candidates if c is not cand], shape
        ):
            far = None  # the straight measurement stands
        cand = far or cand
        tol = max(3.0, 0.6 * cand.width)
        if not any(_on_rut(other, cand.line, cand.points, tol) for other in traced):
            traced.append(cand)
    return traced


def _below_ground_seen(bent: _Candidate, others: list[_Candidate], shape: tuple[int, int]) -> bool:
    """True when the curve of ``bent`` puts the horizon below the far end of another rut
    (beyond :data:`HORIZON_MARGIN` and :data:`HORIZON_TILT`)."""
    far = bent.points[np.argmin(bent.points[:, 1])]
    for other in others:
        top = other.points[np.argmin(other.points[:, 1])]
        margin = HORIZON_MARGIN * shape[0] + HORIZON_TILT * abs(float(far[0] - top[0]))
        if bent.curve[0] > top[1] + margin:
            return True
    return False


#: The fields of a :class:`_Probe` that :func:`_kernels.match_trough` takes per point
_PATH_FIELDS = ("xs", "ys", "nxs", "nys", "widths")


def _run_batched(
    grey: np.ndarray, resp: np.ndarray, tasks: list[Measuring], n_tiles: int
) -> list[_Candidate | None]:
    """Run measuring generators to their ends, answering each round's probes of one
    factor set with one :func:`_kernels.match_trough` call.

    One parallel region for all the lines instead of one per line: numba's workqueue
    threads sleep between regions, and on a virtual machine waking the idle core takes
    longer (0.1-1 ms) than a line's work, so one line at a time ran no faster than on
    one thread. Each point's answer depends on that point alone: batching changes no
    result.
    """
    results: list[_Candidate | None] = [None] * len(tasks)
    answers: dict[int, np.ndarray | None] = dict.fromkeys(range(len(tasks)))
    while answers:
        asked: dict[int, _Probe] = {}
        for i, answer in answers.items():
            try:
                asked[i] = tasks[i].send(answer)
            except StopIteration as stop:
                results[i] = stop.value
        answers = {}
        by_factors: dict[bytes, list[int]] = {}
        for i, probe in asked.items():
            by_factors.setdefault(probe.factors.tobytes(), []).append(i)
        for members in by_factors.values():
            probes = [asked[i] for i in members]
            lengths = [len(p.xs) for p in probes]
            prof = np.zeros((sum(lengths), 6))
            _kernels.match_trough(
                grey,
                resp,
                *(np.concatenate([getattr(p, f) for p in probes]) for f in _PATH_FIELDS),
                probes[0].factors,
                BOX_SAMPLES,
                n_tiles,
                prof,
            )
            answers.update(zip(members, np.split(prof, np.cumsum(lengths)[:-1]), strict=True))
    return results


def _ripple_field(
    grey: np.ndarray, candidates: list[_Candidate], cfg: TrackConfig
) -> tuple[list[float], list[float], list[_Candidate]]:
    """Each candidate's RMS distance from its line and :func:`side_trough_ratio`, and
    the straight ones with troughs on both sides: a wind-ripple field's."""
    rms = [float(np.sqrt(np.mean(_distance_to_line(c.points, c.line) ** 2))) for c in candidates]
    sides = [side_trough_ratio(grey, c.points, c.line, c.width_model) for c in candidates]
    # its other troughs run parallel to these on the ground, which a lone rut's
    # neighbour need not show
    field = [
        c
        for c, side, spread in zip(candidates, sides, rms, strict=True)
        if side > cfg.max_side_trough_ratio and c.curve is None and spread < RIPPLE_TROUGH_RMS_PX
    ]
    return rms, sides, field


def _parallel_to_ripples(
    candidates: list[_Candidate], field: list[_Candidate], diag: float
) -> np.ndarray:
    """Which straight candidates run parallel, on the ground, to the troughs of a ripple
    field (``field``: straight troughs with troughs on both sides).

    Lines parallel on the ground converge in the image. With two troughs or more
    the field's own vanishing point is known, and a candidate pointing at it
    (within :data:`RIPPLE_VP_DEG`) is one more trough of the field; with one, a
    candidate meeting it only beyond both far ends (above them), never on the
    visible ground, is. A rut across the ripples crosses their troughs.
    Measured on 60 generated ripple scenes: ripple troughs kept as ruts pointed
    within 1.6° of the field's point, matched ruts 34° and more off it; with one
    trough known, ruts met it 20 working pixels and more below their far ends.
    """
    parallel = np.zeros(len(candidates), bool)
    if not field:
        return parallel
    field_vp = _vanishing_point([c.line for c in field], diag)[0] if len(field) >= 2 else None
    for i, cand in enumerate(candidates):
        if cand.curve is not None or any(cand is trough for trough in field):
            continue
        _, _, dx, dy = cand.line
        if field_vp is not None:
            mx, my = cand.points.mean(axis=0)
            to_x, to_y = field_vp[0] - mx, field_vp[1] - my
            reach = math.hypot(to_x, to_y)
            off = abs(to_x * dy - to_y * dx) / reach if reach > 0 else 0.0
            parallel[i] = off < math.sin(math.radians(RIPPLE_VP_DEG))
        elif (meet := _meeting_point(cand.line, field[0].line)) is not None:
            far_row = min(float(cand.points[:, 1].min()), float(field[0].points[:, 1].min()))
            parallel[i] = meet[1] < far_row
    return parallel


def _meeting_point(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float] | None:
    """Where two lines ``(x, y, dx, dy)`` cross; None if parallel."""
    det = a[2] * b[3] - a[3] * b[2]  # sine of the angle between them
    if abs(det) < 1e-6:
        return None
    t = ((b[0] - a[0]) * b[3] - (b[1] - a[1]) * b[2]) / det
    return a[0] + t * a[2], a[1] + t * a[3]


def _ahead_of_ruts(
    vp: tuple[float, float],
    on_vp: np.ndarray,
    far_rows: np.ndarray,
    size: tuple[int, int],
) -> np.ndarray:
    """The lines of ``on_vp`` whose ruts can converge at ``vp`` as seen from the rover.

    Ruts recede from the camera towards the horizon: their common point lies
    beyond their far ends (``far_rows``: above them in the image), and within
    :data:`MAX_VP_DIAGONALS` of the image's centre (a camera pitched 75°
    down still has its horizon within ~2.5 diagonals). Lines parallel in the
    image (strata, a checkerboard) meet far off or below the image: that is
    not convergence, and gives no evidence of ruts.
    """
    w, h = size
    diag = math.hypot(w, h)
    if math.hypot(vp[0] - 0.5 * w, vp[1] - 0.5 * h) > MAX_VP_DIAGONALS * diag:
        return np.zeros_like(on_vp)
    return on_vp & (vp[1] <= far_rows + 0.015 * diag)


def detect_tracks(
    image: np.ndarray,
    *,
    camera: CameraModel | None = None,
    config: TrackConfig | None = None,
    n_threads: int = 2,
    debug: bool = False,
    track_width_m: float | None = None,
    bit_depth: int | None = None,
) -> TrackResult:
    """Find wheel ruts in a rear-camera image.

    Parameters
    ----------
    image : numpy.ndarray
        Grey ``(h, w)`` or colour ``(h, w, 3|4)`` (BGR, alpha ignored); uint8,
        uint16 or float.
    camera : CameraModel, optional
        Turns rut spacing into metres and directions into headings.
    config : TrackConfig, optional
    track_width_m : float, optional
        The rover's track width (centre to centre of its left and right wheels; 1.2 m
        for Zhurong): with a camera, ruts are paired at that spacing.
    n_threads : int
        Row bands the parallel kernels split the work into.
    debug : bool
        Keep the intermediate maps in :attr:`TrackResult.maps`.
    bit_depth : int, optional
        The camera's bits per pixel (1-16) for an integer image: contrast is a fraction
        of its full scale, ``2**bit_depth - 1``. By default the smallest of 8, 10, 12,
        14 or 16 bits that holds the image's largest value, which can change from
        frame to frame of one camera (a 12-bit frame whose brightest pixel is under
        1024 reads as 10-bit, its contrast four times higher): give it for a sequence.

    Returns
    -------
    TrackResult
        ``tracks`` empty when the image shows none.

    Raises
    ------
    ParameterError
        The image is too small or thin, ``bit_depth`` is outside 1-16 or below a
        value the image holds.
    """
    cfg = config or TrackConfig()
    if bit_depth is not None and not 1 <= bit_depth <= 16:
        raise ParameterError(f"bit depth must be 1 to 16, got {bit_depth}")
    if image.ndim < 2 or image.shape[0] < 16 or image.shape[1] < 16:
        raise ParameterError(f"image too small for track detection: {image.shape}")
    if too_thin(image.shape[1], image.shape[0], cfg.work_side):
        raise ParameterError(
            f"image of {image.shape[1]}×{image.shape[0]} is too thin for track detection "
            f"(reduced to {cfg.work_side} px along, it would be under 16 px across)"
        )
    height, width = image.shape[:2]
    # the tread is measured on a copy 2-4 times as fine as the one the ruts are found on
    # (or the image itself, if smaller): grousers a few pixels apart would alias there
    fine, (fine_fx, fine_fy) = _working_copy_of(
        image, 2 * cfg.work_side, exact=False, bit_depth=bit_depth
    )
    grey, (work_fx, work_fy) = _reduced(fine, cfg.work_side)
    grey = np.ascontiguousarray(grey)
    h, w = grey.shape
    pixels = _PixelMap(fine_fx * work_fx, fine_fy * work_fy, width, height)
    scale = pixels.scale
    diag = math.hypot(w, h)
    noise = _noise_level(grey)
    n_tiles = max(1, int(n_threads))
    resp, theta, threshold = valley_maps(grey, n_tiles)
    n_theta = 180
    n_rho = 2 * math.ceil(diag) + 1
    acc = np.zeros((n_tiles, n_theta, n_rho), np.float32)
    _kernels.vote_lines(resp, theta, threshold, n_theta, 1.0, 2, n_tiles, acc)
    votes = cv2.GaussianBlur(acc.sum(axis=0), (5, 5), 1.0)
    peaks = _kernels.accumulator_peaks(votes, 0.05 * float(votes.max() or 1.0), 3, 8, 24)
    lines = [(t * math.pi / n_theta, float(r - (n_rho - 1) // 2)) for t, r, _ in peaks]
    looks = _first_looks(grey, resp, lines, cfg, noise, n_tiles)
    candidates = _candidates(grey, resp, looks, cfg, noise, threshold, n_tiles, WIDE_PASSES)
    rms, sides, ripple_field = _ripple_field(grey, candidates, cfg)
    if ripple_field:
        # across a ripple field a trough widened twice spreads from a rut onto the
        # ripple troughs it crosses: there the width may grow in one pass only
        candidates = _candidates(
            grey, resp, looks, cfg, noise, threshold, n_tiles, WIDE_PASSES_IN_RIPPLES
        )
        rms, sides, ripple_field = _ripple_field(grey, candidates, cfg)
    in_ripples = [side > cfg.max_side_trough_ratio for side in sides]
    parallel = _parallel_to_ripples(candidates, ripple_field, diag)
    # the soil's dips, away from the troughs found (a ripple field's troughs are its dips)
    rippled = max(sides, default=0.0) > RIPPLED_SIDES
    troughs = None if rippled else _trough_mask(candidates, (h, w))
    texture = texture_level(grey, resp, n_tiles=n_tiles, troughs=troughs)
    # the vanishing point from the straight candidates only (a bent line has no direction)
    # and not from a ripple field's (they converge too, to the ripples' own point)
    straight = [
        i
        for i, (spread, ripple) in enumerate(zip(rms, in_ripples, strict=True))
        if spread < 2.0 and not (ripple or parallel[i])
    ]
    groups = _vanishing_points(
        [candidates[i].line for i in straight],
        diag,
        far_rows=np.array([candidates[i].points[:, 1].min() for i in straight]),
        size=(w, h),
        weights=np.array([candidates[i].strength for i in straight]),
    )
    # which convergence point each candidate's line passes through (-1: none)
    group_of = np.full(len(candidates), -1)
    for g, (_, mask) in enumerate(groups):
        group_of[np.asarray(straight, int)[mask]] = g
    horizons = [
        -c.width_model[1] / c.width_model[0]
        for c in candidates
        if c.width_model[0] > 1e-3 and -c.width_model[1] / c.width_model[0] < c.points[:, 1].min()
    ]
    shared_horizon = float(np.median(horizons)) if len(horizons) >= 2 else None
    tracks: list[Track] = []
    for i, cand in enumerate(candidates):
        g = int(group_of[i])
        # the row where this rut's ground distance runs out: the vanishing point's for
        # a rut through one, else the ruts' common horizon (from their widths)
        horizon_row = groups[g][0][1] if g >= 0 else shared_horizon
        track = _to_track(cand, g >= 0, bool(groups), pixels, texture, (w, h), horizon_row, fine)
        track.texture_ratio = cand.contrast / texture
        track.side_trough_ratio = sides[i]
        track.vanishing_point_index = g if g >= 0 else None
        # a trough showing the tread is a rut, whatever a lone ripple-like trough says of
        # its direction (ripple troughs: tread strength 0.38 at most on 60 empty ripple
        # scenes; one crossing the ripples at a slant, 0.65 and no rut)
        if (
            (not parallel[i] or track.tread_strength >= TREAD_REPORTED)
            and track.confidence >= cfg.min_confidence
            and _looks_like_a_rut(track, cfg, scale, cand.curve is not None)
        ):
            tracks.append(track)
    tracks.sort(key=lambda t: -t.confidence)
    tracks = tracks[: cfg.max_tracks]
    vanishing = _reported_vanishing_points(tracks, [pt for pt, _ in groups], pixels)
    pairs = _pairs(tracks, camera, track_width_m)
    maps = {"response": resp, "votes": votes} if debug else {}
    return TrackResult(
        width,
        height,
        tracks,
        pairs,
        vanishing[0] if vanishing else None,
        scale,
        maps,
        vanishing,
    )


def _reported_vanishing_points(
    tracks: list[Track], points: list[tuple[float, float]], pixels: _PixelMap
) -> list[dict[str, float]]:
    """The convergence points that two or more kept straight ruts pass through, in
    input pixels: the one with the most ruts first (then the most confident), and
    each track's ``vanishing_point_index`` renumbered to match (None for the rest)."""
    members: dict[int, list[Track]] = {}
    for t in tracks:
        if t.vanishing_point_index is not None and not t.curved:
            members.setdefault(t.vanishing_point_index, []).append(t)
    kept = sorted(
        (g for g, ts in members.items() if len(ts) >= 2),
        key=lambda g: (-len(members[g]), -sum(t.confidence for t in members[g])),
    )
    number = {g: k for k, g in enumerate(kept)}
    for t in tracks:
        t.vanishing_point_index = number.get(t.vanishing_point_index)  # type: ignore[arg-type]
        t.on_vanishing_point = t.vanishing_point_index is not None
    return [
        {"x": round(float(pixels.x(points[g][0])), 2), "y": round(float(pixels.y(points[g][1])), 2)}
        for g in kept
    ]


def side_trough_ratio(
    grey: np.ndarray,
    points: np.ndarray,
    line: tuple[float, float, float, float],
    width_model: tuple[float, float],
    reach: float = 3.0,
) -> float:
    """How deep the nearest troughs beside a trough are, relative to it.

    The grey profile across the trough is sampled at every floor point in
    steps of a quarter of the local width (``width_model``: width against
    row), out to ``reach`` widths either side, and averaged along the trough
    (texture averages out; a parallel trough stays). Depths are taken below
    the profile's median. A rut has soil beside it, the other wheel's rut at
    least 2.5 widths away and on one side only; a trough of a field of wind
    ripples has the next ridge's trough about two widths away on both sides.

    Parameters
    ----------
    grey : numpy.ndarray
        The working image the trough was found on.
    points : numpy.ndarray
        ``(n, 2)`` floor points ``x, y``.
    line : tuple
        ``(x, y, dx, dy)``: the trough's direction (unit ``dx, dy``).
    width_model : tuple
        ``(slope, intercept)`` of the width in pixels against the row.
    reach : float
        How far to look, in widths.

    Returns
    -------
    float
        The shallower side's deepest trough (beyond 1.25 widths) over the
        trough's own depth; 0 when a side lies outside the image or the
        trough has no depth.
    """
    h, w = grey.shape
    _, _, dx, dy = line
    slope, intercept = width_model
    widths = np.clip(slope * points[:, 1] + intercept, 2.0, None)
    steps = np.arange(-round(4 * reach), round(4 * reach) + 1) / 4.0  # in widths
    offsets = widths[:, None] * steps[None, :]
    map_x = (points[:, :1] - dy * offsets).astype(np.float32)
    map_y = (points[:, 1:2] + dx * offsets).astype(np.float32)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    sampled = cv2.remap(
        np.asarray(grey, np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    counts = inside.sum(axis=0)
    seen = counts >= 0.3 * len(points)  # offsets mostly off the image tell nothing
    profile = np.where(inside, sampled, 0.0).sum(axis=0) / np.maximum(counts, 1)
    left, right = seen & (steps <= -1.25), seen & (steps >= 1.25)
    if not (seen[len(steps) // 2] and left.any() and right.any()):
        return 0.0
    base = float(np.median(profile[seen]))
    own = base - float(profile[len(steps) // 2])
    if own <= 0.0:
        return 0.0
    shallower = min(base - float(profile[left].min()), base - float(profile[right].min()))
    return max(0.0, shallower) / own


def _looks_like_a_rut(track: Track, cfg: TrackConfig, scale: float, followed: bool) -> bool:
    """The evidence that tells a rut from a line through mottled soil or along rock edges.

    Measured on generated scenes (four seeded sets of 50, candidates matched to
    truth). A rut's floor is smooth: its centres lie within about a pixel of
    a line, or of the steered-rut curve (``followed``), while a line through
    mottling wanders 5-48 px. A straight candidate is a rut when it converges
    with the others, or shows the tread, or is much darker than the soil's own
    dips, or is long, continuous and very straight. A bent one needs a smooth
    floor, with some tread or depth; bent without the curve model, it must
    bend moderately too (a parabola fits mottling more readily).
    """
    elevation = min(track.angle_deg, 180.0 - track.angle_deg)
    if elevation < cfg.min_elevation_deg:
        return False  # lying across the view: texture stretched by the grazing angle
    if track.side_trough_ratio > cfg.max_side_trough_ratio:
        return False  # troughs beside it on both sides: one of a ripple field's
    residual = track.residual_px * scale
    # across a ripple field the soil's own dips are the ripples' troughs, as deep as a
    # rut: a straight one converging with the others, with a smooth floor and the tread,
    # is still a rut
    crossing_ripples = (
        track.on_vanishing_point and not track.curved and residual <= 1.6
        and track.tread_strength >= 0.35
    )  # fmt: skip
    if track.texture_ratio < cfg.min_relative_depth and not crossing_ripples:
        return False  # no deeper than the soil's own dips: a line across strata or mottling
    # a wide trough's floor is located less sharply: a few per cent of its width
    wide_allowance = min(WIDE_RESIDUAL_MAX_PX, WIDE_RESIDUAL * track.width_px * scale)
    if residual > max(cfg.max_curve_residual_px, wide_allowance):
        return False  # centres scattered about any smooth curve: mottling, not a floor
    evidence = track.tread_strength > 0.18 or track.texture_ratio > 4.5
    if track.curved:
        if followed:
            return residual <= 2.5 and (track.tread_strength > 0.15 or track.texture_ratio > 3.0)
        return track.bend_px * scale <= 25.0 and evidence
    return (
        track.on_vanishing_point
        or track.tread_strength > cfg.min_tread_strength
        or track.texture_ratio > cfg.min_texture_ratio
        or (residual <= 1.5 and track.support >= 0.9 and track.texture_ratio >= 3.5)
    )


def _to_track(
    cand: _Candidate,
    at_vp: bool,
    vp_exists: bool,
    pixels: _PixelMap,
    texture: float,
    size: tuple[int, int],
    horizon_row: float | None,
    fine: np.ndarray,
) -> Track:
    diag = math.hypot(*size)
    pts = cand.points
    if cand.curve is not None:
        # followed along the steered-rut curve: the curve is the centreline
        curve_x = _curve_x(cand.curve, pts[:, 1])
        residual = float(np.sqrt(np.mean((pts[:, 0] - curve_x) ** 2)))
        fitted = np.column_stack([curve_x, pts[:, 1]])
        chord = _fit_line(fitted[[0, -1]])
        bend_px = float(np.max(_distance_to_line(fitted, chord)))
        curved = bend_px > max(3.0, 0.01 * diag)
    else:
        # curvature: a parabola across the line's direction explains the floor much better
        px, py, dx, dy = cand.line
        along = (pts[:, 0] - px) * dx + (pts[:, 1] - py) * dy
        across = (pts[:, 0] - px) * dy - (pts[:, 1] - py) * dx
        coef = np.polyfit(along, across, 2)
        bend = np.polyval(coef, along) - np.polyval(np.polyfit(along, across, 1), along)
        bend_px = float(np.ptp(bend))
        curved = bool(bend_px > max(3.0, 0.01 * diag))
        residual = float(np.sqrt(np.mean((across - np.polyval(coef, along)) ** 2)))
        fit = np.polyval(coef if curved else np.polyfit(along, across, 1), along)
        fitted = np.column_stack([px + along * dx + fit * dy, py + along * dy - fit * dx])
    period, strength = _fine_tread(fine, fitted, cand.width_model, horizon_row, size)
    # evidence a line is a rut and not a texture or rock edge: a continuous trough,
    # clearly darker than the soil's own mottling, converging with the other ruts
    # (or bending smoothly), with the grousers' period along its floor
    geometry = 1.0 if at_vp else (0.5 if (curved or not vp_exists) else 0.0)
    confidence = (
        0.3 * min(1.0, max(0.0, (cand.support - 0.5) / 0.4))
        + 0.3 * min(1.0, max(0.0, (cand.contrast / texture - 1.0) / 3.0))
        + 0.2 * geometry
        + 0.2 * min(1.0, strength / 0.4)
    )
    # (a centre found half a box beyond the border is still reported on the image)
    near, far = np.clip(pts[[0, -1]], 0.0, np.array(size, float) - 1.0)
    # polyline: every few pixels along the floor, smoothed by the fitted curve
    keep = np.linspace(0, len(pts) - 1, min(len(pts), 24)).round().astype(int)
    fitted = np.clip(fitted, 0.0, np.array(size, float) - 1.0)
    poly_x, poly_y = fitted[keep, 0], fitted[keep, 1]
    (x1, y1), (x2, y2) = pixels.point(*near), pixels.point(*far)
    angle = math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180.0
    scale = pixels.scale
    return Track(
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        angle_deg=angle,
        confidence=float(min(1.0, confidence)),
        width_px=cand.width / scale,
        contrast=cand.contrast,
        points=[list(pixels.point(x, y)) for x, y in zip(poly_x, poly_y, strict=True)],
        curved=curved,
        tread_period_px=None if period is None or strength < TREAD_REPORTED else period / scale,
        tread_strength=strength,
        on_vanishing_point=bool(at_vp),
        support=cand.support,
        bend_px=bend_px / scale,
        residual_px=residual / scale,
    )


def _fine_tread(
    fine: np.ndarray,
    centreline: np.ndarray,
    width_model: tuple[float, float],
    horizon_row: float | None,
    size: tuple[int, int],
) -> tuple[float | None, float]:
    """:func:`ground_tread` of the rut's floor on the finer copy, the period in working pixels
    along the rut at its near end.

    The floor is sampled one fine pixel apart along the fitted ``centreline`` ((n, 2)
    working pixels, near end first), each sample the mean of five across the middle
    of the floor (its central 60 %: the fitted line lies within a pixel or two of
    the floor's centre).
    """
    ratio = fine.shape[1] / size[0]
    ratio_y = fine.shape[0] / size[1]
    # working pixel centres to fine ones
    path = np.column_stack(
        [(centreline[:, 0] + 0.5) * ratio - 0.5, (centreline[:, 1] + 0.5) * ratio_y - 0.5]
    )
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    if arc[-1] < 24.0:
        return None, 0.0
    at = np.arange(0.0, arc[-1], 1.0)
    xs, ys = np.interp(at, arc, path[:, 0]), np.interp(at, arc, path[:, 1])
    tx, ty = np.gradient(xs), np.gradient(ys)
    norm = np.hypot(tx, ty) + 1e-12
    slope, intercept = width_model
    # the width model in fine pixels: ratio * width(v), v the working row
    fine_model = (slope * ratio / ratio_y, ratio * (intercept + slope * (0.5 / ratio_y - 0.5)))
    widths = np.maximum(fine_model[0] * ys + fine_model[1], 2.0)
    across = np.linspace(-0.3, 0.3, 5) * widths[:, None]
    map_x = (xs[:, None] - across * (ty / norm)[:, None]).astype(np.float32)
    map_y = (ys[:, None] + across * (tx / norm)[:, None]).astype(np.float32)
    floor = cv2.remap(fine, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fine_horizon = None if horizon_row is None else (horizon_row + 0.5) * ratio_y - 0.5
    period, strength = ground_tread(floor.mean(axis=1), ys, fine_model, fine_horizon)
    if period is None:
        return None, strength
    # ground_tread's period counts rows: along an oblique rut a period spans more (rows
    # / sin of its angle). The rut's direction at the near end, over its first tenth
    k = max(2, min(len(xs), len(xs) // 10))
    dx, dy = xs[k - 1] - xs[0], ys[k - 1] - ys[0]
    if abs(dy) < 1e-6:
        return None, strength
    step = period / abs(dy)  # one period down the rows, as a multiple of (dx, dy)
    return float(math.hypot(step * dx / ratio, step * dy / ratio_y)), strength


PAIR_MAX_HEADING_DIFF_DEG = 5.0
"""Largest difference of two ruts' headings on the ground for them to be one wheel set."""

PAIR_MAX_ANGLE_DIFF_DEG = 3.0
"""Largest difference of two non-converging ruts' directions in the image (no camera)
for them to be one wheel set: ruts seen from straight above stay parallel."""


def _pairs(
    tracks: list[Track], camera: CameraModel | None, track_width_m: float | None = None
) -> list[dict[str, Any]]:
    """Wheel sets: neighbouring ruts of one drive (across the image at the lowest row
    they share), a rut in one pair at most.

    One drive's ruts are the straight ones through one vanishing point, or the
    curved ones (a steered drive); ruts of another drive (another vanishing point)
    are never paired with them. With a camera, two curved ruts' headings on the
    ground must also agree within :data:`PAIR_MAX_HEADING_DIFF_DEG`. With the
    rover's track width, the neighbours whose spacing on the ground is nearest
    that width are paired (within 25 %); otherwise the closest neighbours first.
    Two ruts that converge with nothing are paired only when they run parallel
    (a camera looking straight down).

    ``spacing_px`` is measured along that image row; ``spacing_m`` on the ground,
    square to the ruts (see :func:`_ground_spacing`): along a row it would read
    ``width / cos(heading)``, 1.39 m for 1.2 m at 30°."""
    _headings(tracks, camera)
    drives: dict[Any, list[int]] = {}
    for i, t in enumerate(tracks):
        if t.vanishing_point_index is not None:
            drives.setdefault(t.vanishing_point_index, []).append(i)
        elif t.curved:
            drives.setdefault("curved", []).append(i)
    if not drives and len(tracks) == 2 and _parallel_ruts(tracks[0], tracks[1], camera):
        drives["parallel"] = [0, 1]
    pairs = []
    for drive, members in drives.items():
        if len(members) >= 2:
            # ruts through one vanishing point are parallel on the ground already (their
            # headings differ only as far as the camera model is off); steered ones may not be
            same_way = camera if drive == "curved" else None
            pairs += _pair_neighbours(tracks, members, camera, track_width_m, same_way)
    pairs.sort(key=lambda p: min(p["tracks"]))
    return pairs


def _parallel_ruts(a: Track, b: Track, camera: CameraModel | None) -> bool:
    """Whether two ruts run the same way: on the ground given a camera, else in the image."""
    if camera is not None:
        return (
            a.heading_deg is not None
            and b.heading_deg is not None
            and abs(a.heading_deg - b.heading_deg) <= PAIR_MAX_HEADING_DIFF_DEG
        )
    turn = abs(a.angle_deg - b.angle_deg) % 180.0
    return min(turn, 180.0 - turn) <= PAIR_MAX_ANGLE_DIFF_DEG


def _pair_neighbours(
    tracks: list[Track],
    members: list[int],
    camera: CameraModel | None,
    track_width_m: float | None,
    headings_from: CameraModel | None = None,
) -> list[dict[str, Any]]:
    """The pairs among one drive's ruts ``members`` (see :func:`_pairs`); with
    ``headings_from``, only ruts whose headings agree on the ground."""
    row = min(max(tracks[i].y1, tracks[i].y2) for i in members)

    def x_at(track: Track, y: float) -> float:
        pts = np.array(track.points)
        order = np.argsort(pts[:, 1])
        return float(np.interp(y, pts[order, 1], pts[order, 0]))

    xs = sorted((x_at(tracks[i], row), i) for i in members)
    spacing_m = [
        _ground_spacing(tracks[xs[k][1]], tracks[xs[k + 1][1]], xs[k][0], xs[k + 1][0], row, camera)
        if camera is not None
        else None
        for k in range(len(xs) - 1)
    ]
    same_way = [
        headings_from is None
        or _parallel_ruts(tracks[xs[k][1]], tracks[xs[k + 1][1]], headings_from)
        for k in range(len(xs) - 1)
    ]
    if track_width_m and all(m is not None for m in spacing_m):
        # how far each neighbour spacing is from the track width, as a fraction of it
        misfit = [abs(m - track_width_m) / track_width_m for m in spacing_m]  # type: ignore[operator]
        order = sorted((m, k) for k, m in enumerate(misfit) if m <= 0.25 and same_way[k])
    else:
        gaps = sorted((xs[k + 1][0] - xs[k][0], k) for k in range(len(xs) - 1) if same_way[k])
        closest = gaps[0][0] if gaps else 0.0
        order = [(gap, k) for gap, k in gaps if gap <= 1.6 * max(closest, 1.0)]
    taken: set[int] = set()
    pairs = []
    for _, k in order:
        if k in taken or k + 1 in taken:
            continue
        taken.update((k, k + 1))
        (xa, a), (xb, b) = xs[k], xs[k + 1]
        pair: dict[str, Any] = {
            "tracks": [a, b],
            "row_px": round(row, 1),
            "spacing_px": round(xb - xa, 2),
            "spacing_m": None if spacing_m[k] is None else round(spacing_m[k], 3),
        }
        pairs.append(pair)
    return pairs


def _ground_spacing(
    a: Track, b: Track, ua: float, ub: float, row: float, camera: CameraModel
) -> float | None:
    """Distance in metres between two ruts on the ground, square to their direction.

    Both ruts' points are put on the ground; the direction is the mean of the two
    ruts' directions over the near half of the rows they share (a steered pair bends,
    so their near parts set the direction at ``row``), and the spacing is the
    component across it of the step from one rut (at column ``ua`` of ``row``) to
    the other (``ub``). None when a point lies above the horizon.
    """

    def near_part(pts: np.ndarray, top: float) -> np.ndarray:
        near = pts[(pts[:, 1] >= top) & (pts[:, 1] <= row)]
        return near if len(near) >= 2 else pts

    shared_top = max(min(a.y1, a.y2), min(b.y1, b.y2))
    top = 0.5 * (shared_top + row)
    direction = np.zeros(2)
    for track in (a, b):
        near = near_part(np.array(track.points, float), top)
        gx, gy = camera.ground(near[:, 0], near[:, 1])
        if not (np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))):
            return None
        _, _, dx, dy = _fit_line(np.column_stack([gx, gy]))
        d = np.array([dx, dy])
        direction += d if d @ direction >= 0 else -d
    (xa, xb), (ya, yb) = camera.ground(np.array([ua, ub]), np.array([row, row]))
    norm = float(np.hypot(*direction))
    if norm == 0.0 or not all(map(math.isfinite, (xa, ya, xb, yb))):
        return None
    ux, uy = direction / norm
    return float(abs((xb - xa) * uy - (yb - ya) * ux))


def _headings(tracks: list[Track], camera: CameraModel | None) -> None:
    """Direction of travel on the ground relative to the camera axis (degrees, + to the
    right), at the rut's near end: the rover's latest direction.

    A straight rut's direction is fitted to its centreline over the near quarter of
    its length on the ground. A steered rut turns all along: any chord or fitted
    line gives its direction somewhere farther on, which grows with how far it was
    traced (1.4° too much on average over 18 generated steered ruts, up to 2.4°,
    and 1° apart for the two wheels of one pass). Its centreline is fitted instead
    with a parabola across the line's direction (the path of constant steering, to
    second order) and differentiated at the near end; each point weighted by the
    inverse of its distance squared, as a pixel's error on the ground grows with
    the square of the distance.
    """
    if camera is None:
        return
    for t in tracks:
        pts = np.array(t.points, float).reshape(-1, 2)  # near end first
        gx, gy = camera.ground(pts[:, 0], pts[:, 1])
        finite = np.isfinite(gx) & np.isfinite(gy)
        if finite.sum() < 2 or not finite[0]:
            continue
        ground = np.column_stack([gx[finite], gy[finite]])
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(ground, axis=0).T))])
        share = 1.0 if t.curved else 0.25
        near = ground[: max(2, int(np.searchsorted(along, share * along[-1], side="right")))]
        _, _, dx, dy = _fit_line(near)
        if dx * (ground[-1, 0] - ground[0, 0]) + dy * (ground[-1, 1] - ground[0, 1]) < 0:
            dx, dy = -dx, -dy  # from the near end towards the far
        if t.curved and len(near) >= 5:
            offset = near - near[0]
            run, across = offset @ np.array([dx, dy]), offset @ np.array([-dy, dx])
            weight = 1.0 / np.maximum(np.hypot(near[:, 0], near[:, 1]), 0.3) ** 2
            slope = float(np.polyfit(run, across, 2, w=weight)[1])  # d(across)/d(run) at 0
            turn = math.atan(slope)
            dx, dy = (
                dx * math.cos(turn) - dy * math.sin(turn),
                dx * math.sin(turn) + dy * math.cos(turn),
            )
        t.heading_deg = math.degrees(math.atan2(dx, dy))
