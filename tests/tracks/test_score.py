"""The measure the accuracy tests use (synth truth against detections)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zhurong_tk.tracks.score import match_ruts, mean_distance_to_polyline


def _truth(*ruts, width=640):
    out = []
    for points, visible in ruts:
        pts = np.asarray(points, float)
        (x1, y1), (x2, y2) = pts[0], pts[-1]
        out.append(
            {
                "points": pts.tolist(),
                "visible": visible,
                "angle_deg": math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180.0,
            }
        )
    return {"width": width, "height": 480, "ruts": out}


def _line(x1, y1, x2, y2, curved=False, points=None):
    return {
        "x1": x1,
        "y1": y1,
        "x2": x2,
        "y2": y2,
        "angle_deg": math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180.0,
        "curved": curved,
        "points": points if points is not None else [[x1, y1], [x2, y2]],
    }


def test_polyline_distance_extends_the_end_segments():
    poly = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 10.0]])
    pts = np.array([[-5.0, 2.0], [5.0, -1.0], [30.0, 20.0]])  # before, beside, beyond
    assert mean_distance_to_polyline(pts, poly) == pytest.approx((2.0 + 1.0 + 0.0) / 3)


def test_a_line_matches_a_straight_rut_and_a_wrong_angle_does_not():
    ys = np.linspace(479, 100, 50)
    truth = _truth((np.column_stack([300 + 0.2 * (479 - ys), ys]), True))
    good = _line(300, 479, 300 + 0.2 * 379, 100)
    off = _line(300, 479, 300 + 0.4 * 379, 100)  # about 10 degrees away
    assert match_ruts(truth, [good])["true_positives"] == 1
    m = match_ruts(truth, [off])
    assert m["true_positives"] == 0 and m["detections"] == 1


def test_a_glimpse_neither_counts_as_a_rut_nor_its_detection_as_false():
    ys = np.linspace(479, 100, 50)
    corner = np.column_stack([np.linspace(600, 639, 20), np.linspace(300, 260, 20)])
    truth = _truth((np.column_stack([300.0 + 0 * ys, ys]), True), (corner, False))
    m = match_ruts(truth, [_line(300, 479, 300, 100), _line(600, 300, 639, 260)])
    assert m == {
        "true_positives": 1,
        "ruts": 1,
        "detections": 1,
        "ignored": 1,
        "angle_errors_deg": [0.0],
        "coverage": [1.0],
        "overshoot": [0.0],
    }


def test_coverage_and_overshoot_of_a_match_are_shares_of_the_true_rows():
    ys = np.linspace(479, 100, 50)  # the true rut spans 379 rows
    truth = _truth((np.column_stack([300.0 + 0 * ys, ys]), True))
    short = match_ruts(truth, [_line(300, 479, 300, 289.5)])  # stops halfway
    assert short["coverage"] == [pytest.approx(0.5)] and short["overshoot"] == [0.0]
    long = match_ruts(truth, [_line(300, 479, 300, 62.1)])  # 10 % beyond its far end
    assert long["coverage"] == [1.0] and long["overshoot"] == [pytest.approx(0.1)]


def test_a_curved_detection_is_scored_by_its_polyline_over_the_rows_it_spans():
    # a rut that hooks to the right near its far end
    ys = np.linspace(479, 60, 200)
    xs = 300 + 4000.0 / (ys - 20) - 4000.0 / 459
    truth = _truth((np.column_stack([xs, ys]), True))
    # found to row 90 only: its chord leans less than the whole rut's chord
    keep = ys >= 90
    poly = np.column_stack([xs[keep], ys[keep]])[::10].tolist()
    detection = _line(*poly[0], *poly[-1], curved=True, points=poly)
    whole = match_ruts(truth, [detection])
    assert whole["true_positives"] == 1
    assert whole["angle_errors_deg"][0] < 1.0
    # the same points as a straight detection: its chord is measured against the whole rut
    straight = dict(detection, curved=False)
    assert match_ruts(truth, [straight])["true_positives"] == 0
