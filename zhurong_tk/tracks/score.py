"""Score detected ruts against ground truth (the measure the tests and the demo use)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def angle_difference(a: float, b: float) -> float:
    """Difference of two line directions in degrees, in [0, 90]."""
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def mean_distance_to_line(points: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> float:
    """Mean perpendicular distance of ``points`` (n, 2) to the line through two points."""
    dx, dy = x2 - x1, y2 - y1
    norm = math.hypot(dx, dy) or 1.0
    return float(np.mean(np.abs((points[:, 0] - x1) * dy - (points[:, 1] - y1) * dx)) / norm)


def mean_distance_to_polyline(points: np.ndarray, polyline: np.ndarray) -> float:
    """Mean distance of ``points`` (n, 2) to a polyline (m, 2), its end segments extended."""
    best = np.full(len(points), np.inf)
    last = len(polyline) - 2
    for k in range(last + 1):
        a, b = polyline[k], polyline[k + 1]
        d = b - a
        t = ((points - a) @ d) / (float(d @ d) or 1.0)
        t = np.clip(t, -np.inf if k == 0 else 0.0, np.inf if k == last else 1.0)
        best = np.minimum(best, np.hypot(*(points - (a + t[:, None] * d)).T))
    return float(best.mean())


def _chord_angle_over(points: np.ndarray, track: dict[str, Any]) -> float:
    """Direction difference between a detection's chord and the true centreline's
    chord over the rows the detection spans (degrees; 90 if they share too few)."""
    top, bottom = sorted((track["y1"], track["y2"]))
    inside = points[(points[:, 1] >= top) & (points[:, 1] <= bottom)]
    if len(inside) < 2 or np.ptp(inside[:, 1]) < 0.5 * (bottom - top):
        return 90.0
    far, near = inside[np.argmin(inside[:, 1])], inside[np.argmax(inside[:, 1])]
    true_angle = math.degrees(math.atan2(far[1] - near[1], far[0] - near[0])) % 180.0
    return angle_difference(true_angle, track["angle_deg"])


def match_ruts(
    truth: dict[str, Any],
    tracks: list[dict[str, Any]],
    *,
    max_angle_deg: float = 3.0,
    max_distance: float = 0.015,
) -> dict[str, Any]:
    """Match detections to the visible true ruts of a generated scene.

    A rut matches a detection when their directions differ by at most
    ``max_angle_deg`` and the true centreline points lie on average within
    ``max_distance`` × image width of the detected line. A bent rut has no one
    direction: a ``curved`` detection is measured by its polyline ``points``,
    and its chord compared with the true centreline's chord over the same
    rows (a bend near the horizon turns a whole-rut chord by degrees when the
    far end is found a few pixels short). Each detection
    matches at most one rut (greedy, closest first). Ruts seen too briefly to
    be required (``visible`` false, e.g. crossing a corner) are left out of the
    count, and so are detections of them.

    Returns
    -------
    dict
        ``true_positives``, ``ruts`` (visible), ``detections`` (not
        counting ``ignored``, the detections of briefly seen ruts),
        ``angle_errors_deg`` of the matches and their ``coverage``: the fraction of
        the true rut's rows that the detection spans (its extent), and ``overshoot``: its
        rows beyond the true rut's, as a fraction of the rut's.
    """
    ruts = [r for r in truth["ruts"] if r.get("visible")]
    glimpses = [r for r in truth["ruts"] if not r.get("visible") and len(r.get("points", ())) >= 2]
    limit = max_distance * truth["width"]

    def matches(rut: dict[str, Any], t: dict[str, Any]) -> tuple[bool, float, float]:
        pts = np.asarray(rut["points"], float)
        angle = angle_difference(rut["angle_deg"], t["angle_deg"])
        if t.get("curved") and len(t.get("points", ())) >= 2:
            dist = mean_distance_to_polyline(pts, np.asarray(t["points"], float))
            angle = min(angle, _chord_angle_over(pts, t))
        else:
            dist = mean_distance_to_line(pts, t["x1"], t["y1"], t["x2"], t["y2"])
        return angle <= max_angle_deg and dist <= limit, dist, angle

    options = []
    for i, rut in enumerate(ruts):
        for j, t in enumerate(tracks):
            ok, dist, angle = matches(rut, t)
            if ok:
                options.append((dist, i, j, angle))
    used_r: set[int] = set()
    used_t: set[int] = set()
    errors = []
    coverage = []
    overshoot = []
    for _dist, i, j, angle in sorted(options):
        if i in used_r or j in used_t:
            continue
        used_r.add(i)
        used_t.add(j)
        errors.append(angle)
        true_rows = np.asarray(ruts[i]["points"], float)[:, 1]
        lo, hi = true_rows.min(), true_rows.max()
        top, bottom = sorted((tracks[j]["y1"], tracks[j]["y2"]))
        span = max(hi - lo, 1.0)
        coverage.append(float(max(0.0, min(hi, bottom) - max(lo, top)) / span))
        overshoot.append(float(max(0.0, lo - top) + max(0.0, bottom - hi)) / span)
    # a detection of a rut too short to be required is not counted against the detector
    ignored = sum(
        1
        for j, t in enumerate(tracks)
        if j not in used_t and any(matches(r, t)[0] for r in glimpses)
    )
    return {
        "true_positives": len(errors),
        "ruts": len(ruts),
        "detections": len(tracks) - ignored,
        "ignored": ignored,
        "angle_errors_deg": errors,
        "coverage": coverage,
        "overshoot": overshoot,
    }
