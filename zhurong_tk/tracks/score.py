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
    ``max_distance`` × image width of the detected line. Each detection
    matches at most one rut (greedy, closest first).

    Returns
    -------
    dict
        ``true_positives``, ``ruts`` (visible), ``detections``, and
        ``angle_errors_deg`` of the matches.
    """
    ruts = [r for r in truth["ruts"] if r.get("visible")]
    limit = max_distance * truth["width"]
    options = []
    for i, rut in enumerate(ruts):
        pts = np.asarray(rut["points"], float)
        true_angle = rut["angle_deg"]
        for j, t in enumerate(tracks):
            angle = angle_difference(true_angle, t["angle_deg"])
            dist = mean_distance_to_line(pts, t["x1"], t["y1"], t["x2"], t["y2"])
            if angle <= max_angle_deg and dist <= limit:
                options.append((dist, i, j, angle))
    used_r: set[int] = set()
    used_t: set[int] = set()
    errors = []
    for _dist, i, j, angle in sorted(options):
        if i in used_r or j in used_t:
            continue
        used_r.add(i)
        used_t.add(j)
        errors.append(angle)
    return {
        "true_positives": len(errors),
        "ruts": len(ruts),
        "detections": len(tracks),
        "angle_errors_deg": errors,
    }
