"""Track detection against generated rear-camera scenes with ground truth, and its command."""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import operator

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import BAD
from zhurong_tk.cli.main import cli
from zhurong_tk.errors import MediaReadError, OutputWriteError, ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.synth import tracks as synth_tracks
from zhurong_tk.tracks import CameraModel, TrackConfig, detect_tracks
from zhurong_tk.tracks import detect as detect_module
from zhurong_tk.tracks.detect import (
    _Candidate,
    _fine_tread,
    _parallel_to_ripples,
    _vanishing_point,
    ground_tread,
    side_trough_ratio,
    tread_period,
)
from zhurong_tk.tracks.run import detect_to_folder
from zhurong_tk.tracks.score import match_ruts, mean_distance_to_line


@pytest.fixture(scope="module")
def scored_set():
    """50 seeded scenes (0-4 ruts, a quarter steering), as released JPEGs, scored."""
    totals = {"tp": 0, "ruts": 0, "detections": 0, "angles": [], "vp": [], "empty_false": []}
    totals["off_image"] = 0
    totals["tread"] = []
    totals["coverage"] = []
    for _, scene in synth_tracks.scene_set(50, seed=0):
        found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
        for t in found["tracks"]:
            if t["tread_period_px"] is not None:  # against the rut it lies on
                rut = min(
                    (r for r in scene["ruts"] if r["visible"]),
                    key=lambda r: mean_distance_to_line(
                        np.asarray(r["points"]), t["x1"], t["y1"], t["x2"], t["y2"]
                    ),
                )
                truth = synth_tracks.tread_period_px(scene, rut, t["x1"], t["y1"])
                totals["tread"].append(t["tread_period_px"] / truth)
            xy = np.array([[t["x1"], t["y1"]], [t["x2"], t["y2"]], *t["points"]])
            limit = np.array([scene["width"] - 1, scene["height"] - 1])
            totals["off_image"] += int(np.any((xy < 0) | (xy > limit)))
        m = match_ruts(scene, found["tracks"])
        totals["tp"] += m["true_positives"]
        totals["ruts"] += m["ruts"]
        totals["detections"] += m["detections"]
        totals["angles"] += m["angle_errors_deg"]
        totals["coverage"] += m["coverage"]
        if m["ruts"] == 0:
            totals["empty_false"].append(m["detections"])
        if scene["vanishing_point"] and found["vanishing_point"]:
            true_vp, vp = scene["vanishing_point"], found["vanishing_point"]
            diag = math.hypot(scene["width"], scene["height"])
            totals["vp"].append(math.hypot(true_vp["x"] - vp["x"], true_vp["y"] - vp["y"]) / diag)
    return totals


@pytest.mark.slow
def test_ruts_found_with_their_angles_and_vanishing_point(scored_set):
    s = scored_set
    recall = s["tp"] / s["ruts"]
    precision = s["tp"] / s["detections"]
    # issue 5 asks 0.9 / 0.9; measured 0.925 / 0.974 on this set (0.90-0.95 and
    # 0.97-1.0 over four seeded sets)
    assert recall >= 0.9, recall
    assert precision >= 0.95, precision
    assert s["off_image"] == 0  # endpoints and polylines lie on the image
    # extents: the share of each found rut's rows it spans. Measured 0.931 on average,
    # 6 % under 0.8; before a rock lying across a rut was bridged, 0.903 and 12.5 %
    coverage = np.array(s["coverage"])
    assert coverage.mean() >= 0.92 and np.mean(coverage < 0.8) <= 0.08
    # tread periods, where reported: measured 56 on this set, all within 10 % of the
    # truth, median ratio 0.999 (88 % and 1.06 when oblique ruts' periods were counted
    # down the rows, and from the slope at the near end rather than to the next grouser)
    tread = np.array(s["tread"])
    assert len(tread) >= 40
    assert np.mean(np.abs(tread - 1) < 0.1) >= 0.95
    assert np.median(tread) == pytest.approx(1.0, abs=0.02)
    assert np.median(s["angles"]) <= 1.0
    assert len(s["vp"]) >= 10
    assert np.median(s["vp"]) <= 0.005 and np.percentile(s["vp"], 90) <= 0.02


@pytest.mark.slow
def test_no_tracks_on_ground_without_tracks():
    false = 0
    for i in range(60):
        scene = synth_tracks.track_scene(seed=5000 + i, n_ruts=0)
        result = detect_tracks(synth_tracks.encode_like_release(scene))
        false += len(result.tracks)
        if not result.tracks:
            assert result.vanishing_point is None and result.pairs == []
    # issue 5 asks <= 0.05 per image; measured 0 on these 60 (4 before rock shadows and
    # lines across the view were told from ruts; 3 on another 100, seeds 6000-6099)
    assert false / 60 <= 0.05


def test_lines_measured_together_give_the_ruts_measured_one_at_a_time(monkeypatch):
    # the trough matcher answers every line's probes of a round in one call; each point's
    # answer must depend on that point alone, straight ruts and steered ones alike
    scenes = [
        synth_tracks.track_scene(seed=3, n_ruts=4),
        synth_tracks.track_scene(seed=1, n_ruts=2, curvature_per_m=0.03),
        synth_tracks.track_scene(seed=308, n_ruts=2, curvature_per_m=0.03),
    ]
    images = [synth_tracks.encode_like_release(scene) for scene in scenes]
    together = [detect_tracks(image).to_dict() for image in images]
    batched = detect_module._run_batched
    sizes = []

    def one_at_a_time(grey, resp, tasks, n_tiles):
        sizes.append(len(tasks))
        return [batched(grey, resp, [task], n_tiles)[0] for task in tasks]

    monkeypatch.setattr(detect_module, "_run_batched", one_at_a_time)
    assert [detect_tracks(image).to_dict() for image in images] == together
    assert max(sizes) >= 3  # lines, and bent ruts' far ends, were measured together
    assert sum(len(found["tracks"]) for found in together) >= 6
    assert any(t["points"] for found in together for t in found["tracks"])  # a bent rut


@pytest.mark.parametrize("direction", [0.3, 1.2, 2.6])
def test_valley_maps_coarse_scales_on_a_half_size_copy(monkeypatch, direction):
    """The large scales come from a half-size copy: on a wide dark line they give the
    direction and, within a few per cent, the strength of the full-size computation."""
    h, w = 240, 320
    y, x = np.mgrid[:h, :w].astype(np.float64)
    dist = -(x - 160) * math.sin(direction) + (y - 120) * math.cos(direction)
    grey = (0.7 - 0.3 * np.exp(-(dist**2) / (2 * 12.0**2))).astype(np.float32)
    resp, theta, _ = detect_module.valley_maps(grey)
    monkeypatch.setattr(detect_module, "HALF_SIZE_FROM", math.inf)
    full_resp, full_theta, _ = detect_module.valley_maps(grey)
    centre = (np.abs(dist) < 0.7) & (np.hypot(x - 160, y - 120) < 60)
    assert centre.sum() > 50
    np.testing.assert_allclose(resp[centre], full_resp[centre], rtol=0.05)
    gap = np.abs(np.mod(theta[centre] - direction + np.pi / 2, np.pi) - np.pi / 2)
    assert np.all(gap < 0.01)
    assert np.all(np.abs(theta[centre] - full_theta[centre]) < 0.01)


def _level_scene(seed: int, n_ruts: int = 2) -> dict:
    """A straight rut scene seen with no roll and no yaw (the camera model's assumptions)."""
    scene = synth_tracks.track_scene(seed=seed, n_ruts=n_ruts, horizon=False)
    scene["camera"].update(roll_deg=0.0, yaw_deg=0.0)
    for rut in scene["ruts"]:
        rut["y_start_m"] = 0.0
    synth_tracks._add_image_truth(scene)
    return scene


@pytest.mark.parametrize("seed", [3, 8])
def test_camera_model_gives_track_width_and_heading(seed):
    scene = _level_scene(seed)
    cam = scene["camera"]
    camera = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
    result = detect_tracks(synth_tracks.render(scene), camera=camera)
    assert len(result.tracks) == 2 and len(result.pairs) == 1
    assert result.pairs[0]["spacing_m"] == pytest.approx(
        synth_tracks.ZHURONG_TRACK_WIDTH_M, abs=0.1
    )
    for track in result.tracks:
        assert track.heading_deg == pytest.approx(0.0, abs=3.0)  # driving straight back
        assert track.on_vanishing_point
    truth = scene["vanishing_point"]
    assert math.hypot(
        result.vanishing_point["x"] - truth["x"], result.vanishing_point["y"] - truth["y"]
    ) < 0.02 * math.hypot(640, 480)


@pytest.mark.parametrize("seed", [3, 8])
def test_spacing_is_measured_square_to_ruts_seen_at_an_angle(seed):
    # the rover drove off 20° from the camera axis: along an image row the ruts' ground
    # spacing reads 1.2 / cos 20° = 1.28 m; square to them it is what it is head-on
    spacing = {}
    for yaw in (0.0, 20.0):
        scene = _level_scene(seed)
        scene["camera"]["yaw_deg"] = yaw
        synth_tracks._add_image_truth(scene)
        cam = scene["camera"]
        camera = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
        result = detect_tracks(synth_tracks.render(scene), camera=camera)
        assert len(result.pairs) == 1
        for track in result.tracks:
            assert track.heading_deg == pytest.approx(yaw, abs=1.5)
        spacing[yaw] = result.pairs[0]["spacing_m"]
    assert spacing[20.0] == pytest.approx(spacing[0.0], abs=0.02)
    assert spacing[20.0] == pytest.approx(synth_tracks.ZHURONG_TRACK_WIDTH_M, abs=0.03)


@pytest.mark.parametrize("seed", [1, 3, 304, 308])
def test_a_steered_rut_s_heading_is_its_direction_at_the_near_end(seed):
    # the chord from the near to the far end turned with how far the rut was traced:
    # 6.3° and 10.3° for the two ruts of one pass whose near ends head 2.2°; a line
    # over the near quarter still gave 3.4° and 4.5° where the truth is 2.1° (304)
    scene = synth_tracks.track_scene(seed=seed, n_ruts=2, curvature_per_m=0.03)
    scene["camera"].update(roll_deg=0.0, yaw_deg=0.0)
    for rut in scene["ruts"]:
        for key in ("points", "x1", "y1", "x2", "y2", "angle_deg", "visible"):
            rut.pop(key, None)
    synth_tracks._add_image_truth(scene)
    cam = scene["camera"]
    camera = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
    result = detect_tracks(synth_tracks.encode_like_release(scene), camera=camera)
    assert len(result.tracks) == 2 and all(t.curved for t in result.tracks)
    for t in result.tracks:
        _, ground_y = camera.ground(np.array([t.x1]), np.array([t.y1]))
        # the generated pass bends as x = x0 + c y² / 2 on the ground: dx/dy = c y
        truth = math.degrees(math.atan(0.03 * ground_y[0]))
        assert t.heading_deg == pytest.approx(truth, abs=0.6)
    assert result.tracks[0].heading_deg == pytest.approx(result.tracks[1].heading_deg, abs=0.6)


def test_track_width_pairs_the_wheels_of_one_pass():
    # two passes side by side: the nearest ruts (0.6 m apart) belong to different passes
    scene = _level_scene(1, n_ruts=4)
    cam = scene["camera"]
    camera = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
    image = synth_tracks.render(scene)
    result = detect_tracks(image, camera=camera, track_width_m=1.2)
    assert len(result.tracks) == 4
    assert [p["spacing_m"] for p in result.pairs] == pytest.approx([1.2, 1.2], abs=0.12)
    closest = detect_tracks(image, camera=camera)  # without the width: closest first
    assert closest.pairs[0]["spacing_m"] == pytest.approx(0.6, abs=0.1)


def _two_drives(seed: int, yaw_b_deg: float) -> tuple[np.ndarray, dict, dict, CameraModel]:
    """A rut pair straight back from the camera (drive A) and the same rover's pair of a
    drive ``yaw_b_deg`` off it (B) on one ground: B's ruts are added to A's image as the
    difference they make to B's own render."""

    def level(yaw: float) -> dict:
        scene = synth_tracks.track_scene(seed=seed, n_ruts=2)
        scene["camera"].update(roll_deg=0.0, yaw_deg=yaw)
        for rut in scene["ruts"]:
            for key in ("points", "x1", "y1", "x2", "y2", "angle_deg", "visible"):
                rut.pop(key, None)
        synth_tracks._add_image_truth(scene)
        return scene

    a, b = level(0.0), level(yaw_b_deg)
    bare = {**b, "ruts": []}
    image = (
        synth_tracks.render(a).astype(float)
        + synth_tracks.render(b).astype(float)
        - synth_tracks.render(bare).astype(float)
    )
    cam = a["camera"]
    camera = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
    return np.clip(image, 0, 255).astype(np.uint8), a, b, camera


@pytest.mark.parametrize(("seed", "yaw_b"), [(7, 20.0), (3, 25.0), (14, 25.0)])
def test_two_drives_give_two_vanishing_points_and_two_pairs(seed, yaw_b):
    # every intersection of two lines has exactly two lines through it: the first pair
    # tried won, and when it was one rut of each drive (meeting below the image) the
    # scene lost its vanishing point, its pairs and ruts that needed the convergence
    image, a, b, camera = _two_drives(seed, yaw_b)
    result = detect_tracks(image, camera=camera)
    assert len(result.tracks) == 4
    diag = math.hypot(640, 480)
    truths = [a["vanishing_point"], b["vanishing_point"]]
    found = result.vanishing_points
    assert len(found) == 2 and result.vanishing_point == found[0]
    for truth in truths:
        assert min(math.hypot(p["x"] - truth["x"], p["y"] - truth["y"]) for p in found) < (
            0.02 * diag
        )
    assert len(result.pairs) == 2
    for pair in result.pairs:
        i, j = pair["tracks"]
        ti, tj = result.tracks[i], result.tracks[j]
        assert ti.vanishing_point_index == tj.vanishing_point_index is not None
        assert ti.heading_deg == pytest.approx(tj.heading_deg, abs=0.5)
        assert pair["spacing_m"] == pytest.approx(synth_tracks.ZHURONG_TRACK_WIDTH_M, abs=0.05)
    assert sorted(round(t.heading_deg / 5) * 5 for t in result.tracks) == [0, 0, yaw_b, yaw_b]


def test_the_consensus_vanishing_point_does_not_depend_on_the_order_of_the_lines():
    def line(p, q):
        d = np.subtract(q, p) / math.dist(p, q)
        d = d if d[1] > 0 else -d
        return (float(p[0]), float(p[1]), float(d[0]), float(d[1]))

    vp = (300.0, 80.0)
    a, b = line((100, 479), vp), line((520, 479), vp)
    other = line((250, 479), (600, 80))  # another drive's rut: it crosses b below the image
    for lines in ([other, a, b], [a, other, b], [a, b, other]):
        point, mask = _vanishing_point(
            lines,
            math.hypot(640, 480),
            far_rows=np.full(3, 80.0),
            size=(640, 480),
            weights=np.ones(3),
        )
        assert point == pytest.approx(vp, abs=1e-6)
        assert mask.tolist() == [line_ in (a, b) for line_ in lines]


def test_ruts_of_two_drives_are_not_one_wheel_set():
    # one rut of each drive, 30° apart on the ground, were paired (0.54 m) when they
    # were the only two ruts that did not converge with others
    image, _, _, camera = _two_drives(13, -30.0)
    result = detect_tracks(image, camera=camera)
    headings = sorted(round(t.heading_deg) for t in result.tracks)
    assert -30 in headings and 0 in headings
    for pair in result.pairs:
        i, j = pair["tracks"]
        assert result.tracks[i].heading_deg == pytest.approx(result.tracks[j].heading_deg, abs=1)
    assert [p["spacing_m"] for p in result.pairs] == pytest.approx([1.2], abs=0.05)


def test_camera_ground_projection_is_exact():
    camera = CameraModel(f_px=500.0, cx=320.0, cy=240.0, height_m=1.0, pitch_deg=45.0)
    # the principal point looks 45 degrees down: the ground 1 m ahead, on the axis
    x, y = camera.ground(np.array([320.0]), np.array([240.0]))
    assert x[0] == pytest.approx(0.0) and y[0] == pytest.approx(1.0)
    # above the horizon there is no ground
    x, y = camera.ground(np.array([320.0]), np.array([-400.0]))
    assert np.isnan(x[0]) and np.isnan(y[0])


def test_tread_period_of_a_periodic_profile(rng):
    t = np.arange(300)
    period, strength = tread_period(np.sign(np.cos(2 * np.pi * t / 12.5)) + rng.normal(0, 0.3, 300))
    assert period == pytest.approx(12.5, abs=0.3) and strength > 0.6
    _, strength = tread_period(rng.normal(0, 1, 300))
    assert strength < 0.3


def test_tread_resampled_in_ground_distance():
    # a rut whose width is 0.2 (row - 100): the horizon at row 100; grousers every 0.05
    # in ground distance 1 / (row - 100) show a period that shrinks towards the horizon
    rows = np.arange(479, 180, -1, dtype=float)
    g = 1.0 / (rows - 100.0)
    floor = 0.3 + 0.05 * np.sign(np.cos(2 * np.pi * g / 0.0005))
    period_px, strength = ground_tread(floor, rows, (0.2, -20.0))
    assert strength > 0.5
    # from the near end (row 479, g = 1/379) one period of g farther: g + 0.0005, row
    # 100 + 1 / (1/379 + 0.0005): 60.5 rows (the slope there, 0.0005 * 379^2, is 71.8)
    assert period_px == pytest.approx(379 - 1 / (1 / 379 + 0.0005), rel=0.03)


def test_tread_finer_than_the_working_copy_is_measured_on_the_fine_copy():
    # a vertical rut 20 fine pixels wide whose floor has grousers every 5 fine pixels:
    # 2.5 pixels on a working copy half as fine, below the 3 the autocorrelation needs
    rows = np.arange(400)[:, None]
    fine = np.full((400, 200), 0.5, np.float32)
    fine[:, 90:110] = 0.3 - 0.1 * (np.sin(2 * np.pi * rows / 5.0) > 0)
    centreline = np.column_stack([np.full(200, 49.75), np.arange(199.0, -1.0, -1.0)])
    period, strength = _fine_tread(fine, centreline, (0.0, 10.0), -1e5, (100, 200))
    assert strength > 0.5
    assert period == pytest.approx(2.5, rel=0.03)  # in working pixels
    # the same floor on the working copy locks onto twice the period
    working = cv2.resize(fine, (100, 200), interpolation=cv2.INTER_AREA)
    assert tread_period(working[::-1, 45:55].mean(axis=1))[0] == pytest.approx(5.0, rel=0.03)


@pytest.mark.parametrize("width", [1600, 1790])
def test_tread_period_is_found_whatever_the_image_s_size(width):
    # sampled a fine pixel apart, the grousers of a 1600-1790-pixel image spanned 15-22
    # samples and the 9-sample detrend took them for shading: no period at these sizes
    # (strength 0.29-0.41), while 640 and 1800 pixels gave it (the fine copy is halved
    # from 1792 up)
    scene = synth_tracks.track_scene(seed=13, n_ruts=2, width=width, height=width * 3 // 4)
    scene["camera"]["roll_deg"] = 0.0
    for rut in scene["ruts"]:
        for key in ("points", "x1", "y1", "x2", "y2", "angle_deg", "visible"):
            rut.pop(key, None)
    synth_tracks._add_image_truth(scene)
    result = detect_tracks(synth_tracks.render(scene))
    found = [t for t in result.tracks if t.tread_period_px is not None]
    assert found
    for t in found:
        nearest = min(
            scene["ruts"],
            key=lambda r: float(np.min(np.hypot(*(np.array(r["points"]) - (t.x1, t.y1)).T))),
        )
        truth = synth_tracks.tread_period_px(scene, nearest, t.x1, t.y1)
        assert t.tread_period_px == pytest.approx(truth, rel=0.03)
        assert t.tread_strength > 0.5


@pytest.mark.parametrize("angle_deg", [90.0, 60.0, 45.0, 125.0])
def test_tread_period_is_measured_along_the_rut_not_down_the_rows(angle_deg):
    # grousers every 8 fine pixels along a rut running at angle_deg from the x axis:
    # down the rows they repeat every 8 sin(angle), and that was reported (0.71 of the
    # truth at 45 degrees, as on the generated scenes' oblique ruts)
    a = math.radians(angle_deg)
    ux, uy = math.cos(a), -math.sin(a)  # from the near end (bottom) upwards
    y, x = np.mgrid[:400, :400].astype(np.float64)
    along = (x - 200) * ux + (y - 399) * uy
    across = -(x - 200) * uy + (y - 399) * ux
    fine = np.where(
        np.abs(across) < 12, 0.3 - 0.1 * (np.sin(2 * np.pi * along / 8.0) > 0), 0.5
    ).astype(np.float32)
    t = np.arange(0.0, 390.0)
    centreline = np.column_stack([(200 + t * ux + 0.5) / 2 - 0.5, (399 + t * uy + 0.5) / 2 - 0.5])
    centreline = centreline[(centreline >= 0).all(axis=1) & (centreline[:, 0] < 199)]
    period, strength = _fine_tread(fine, centreline, (0.0, 12.0), -1e5, (200, 200))
    assert strength > 0.5
    assert period == pytest.approx(4.0, rel=0.03)  # 8 fine pixels: 4 working ones


def test_work_side_sets_the_working_copy(tmp_path):
    with pytest.raises(ParameterError, match="work_side"):
        TrackConfig(work_side=32)
    image = synth_tracks.encode_like_release(synth_tracks.track_scene(seed=4, n_ruts=2))
    assert detect_tracks(image).scale == pytest.approx(448 / 640)
    assert detect_tracks(image, config=TrackConfig(work_side=640)).scale == 1.0
    path = synth_tracks.write(tmp_path / "ruts.png", synth_tracks.track_scene(seed=4, n_ruts=2))
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "o"), "--work-side", "320"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["working_scale"] == pytest.approx(0.5)
    bad = CliRunner().invoke(cli, ["tracks", "detect", str(path), "--out", "x", "--work-side", "9"])
    assert bad.exit_code == 2 and "--work-side" in bad.output


def test_cli_writes_report_overlay_maps_and_goes_on_after_a_bad_image(tmp_path):
    good = synth_tracks.write(tmp_path / "ruts.jpg", synth_tracks.track_scene(seed=4, n_ruts=2))
    bare = synth_tracks.write(tmp_path / "bare.png", synth_tracks.track_scene(seed=5, n_ruts=0))
    out = tmp_path / "out"
    args = ["tracks", "detect", str(good), str(BAD / "truncated.jpg"), str(bare)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--debug-images"])
    assert result.exit_code == 1
    assert "truncated.jpg" in result.output and "1 of 3 images failed" in result.output
    report = json.loads((out / "ruts.jpg" / "report.json").read_text())
    assert report["schema"] == "zhurong-tk/tracks.detect/1"
    assert report["width"] == 640 and report["height"] == 480 and report["found"]
    assert len(report["tracks"]) >= 2
    for name in ("overlay.png", "response.png", "votes.png"):
        assert cv2.imread(str(out / "ruts.jpg" / name)) is not None
    bare_report = json.loads((out / "bare.png" / "report.json").read_text())
    assert bare_report["message"] == "no tracks found" and bare_report["tracks"] == []
    again = CliRunner().invoke(cli, ["tracks", "detect", str(good), "--out", str(out / "ruts.jpg")])
    assert again.exit_code == 1 and "exists" in again.output


def test_cli_camera_option(tmp_path):
    scene = _level_scene(3)
    path = synth_tracks.write(tmp_path / "level.png", scene)
    cam = scene["camera"]
    spec = f"{cam['f_px']},{cam['cx']},{cam['cy']},{cam['height_m']},{cam['pitch_deg']}"
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "o"), "--camera", spec]
    )
    assert result.exit_code == 0, result.output
    assert " m" in result.output  # spacing in metres printed
    bad = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "p"), "--camera", "1,2"]
    )
    assert bad.exit_code == 2 and "F_PX,CX,CY,HEIGHT_M,PITCH_DEG" in bad.output


def test_a_camera_model_that_does_not_fit_the_image_is_warned_of(tmp_path):
    # a model for the full-size frame on a half-size release, and a pitch 15° off:
    # headings and (no) metres came out with nothing said
    scene = _level_scene(3)
    path = synth_tracks.write(tmp_path / "level.png", scene)
    cam = scene["camera"]
    right = CameraModel(cam["f_px"], cam["cx"], cam["cy"], cam["height_m"], cam["pitch_deg"])
    _, fits = detect_to_folder(path, tmp_path / "fits", camera=right)
    assert fits["warnings"] == []
    assert abs(fits["vanishing_point"]["y"] - right.horizon_row) < 2.0
    doubled = CameraModel(2 * cam["f_px"], 2 * cam["cx"], 2 * cam["cy"], 1.2, cam["pitch_deg"])
    _, other_size = detect_to_folder(path, tmp_path / "doubled", camera=doubled)
    said = " | ".join(other_size["warnings"])
    assert "principal point" in said and "lies outside the 640×480 image" in said
    assert "vanishing point is at row" in said
    tilted = dataclasses.replace(right, pitch_deg=cam["pitch_deg"] + 15.0)
    _, wrong_pitch = detect_to_folder(path, tmp_path / "tilted", camera=tilted)
    assert len(wrong_pitch["warnings"]) == 1
    assert f"horizon at row {tilted.horizon_row:.0f}" in wrong_pitch["warnings"][0]
    spec = ",".join(f"{v:g}" for v in dataclasses.astuple(doubled))
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "cli"), "--camera", spec]
    )
    assert result.exit_code == 0 and "warning: camera principal point" in result.output


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("476,331,233,-1.5,23", "camera height must be positive metres above the ground, got -1.5"),
        ("0,331,233,1.5,23", "focal length must be positive pixels, got 0"),
        ("476,331,233,1.5,90", "pitch must lie between -90 and 90 degrees, got 90"),
        ("476,331,233,1.5,nan", "camera model values must be finite numbers"),
    ],
)
def test_cli_camera_out_of_range_names_the_value(tmp_path, spec, reason):
    path = tmp_path / "x.png"
    path.write_bytes(b"")  # never read: the option fails first
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "o"), "--camera", spec]
    )
    assert result.exit_code == 2 and reason in result.output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.jpg", "truncated JPEG"),
        ("truncated.png", "truncated PNG"),
        ("zero_size.png", "corrupt PNG header"),  # a 0×0 header
        ("huge_dimensions.png", "above the limit"),
        ("empty.jpg", "empty file"),
        ("audio_named.jpg", "not an image"),
        ("corrupt_lzw.tif", r"corrupt TIFF data \(Using code not yet in table\)"),
        ("short_data.png", r"corrupt PNG data \(Not enough image data\)"),
    ],
)
def test_bad_images_are_refused_with_the_file_named(name, reason, tmp_path):
    with pytest.raises(MediaReadError, match=reason) as caught:
        detect_to_folder(BAD / name, tmp_path / "o")
    assert name in str(caught.value)
    assert not (tmp_path / "o").exists()


def test_a_png_too_short_for_its_header_leaves_nothing_on_stderr_but_the_error(tmp_path, capfd):
    # libpng's default handler wrote "libpng error: Not enough image data" to the
    # terminal, a line before the one-line error, which read "cv2 could not decode"
    with pytest.raises(MediaReadError, match=r"Not enough image data"):
        detect_to_folder(BAD / "short_data.png", tmp_path / "o")
    assert "libpng" not in capfd.readouterr().err


def test_tiny_sixteen_bit_and_alpha_images(tmp_path):
    tiny = tmp_path / "one.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1), np.uint8))
    with pytest.raises(MediaReadError, match="too small"):
        detect_to_folder(tiny, tmp_path / "tiny")
    # a strip whose working copy would be under 16 px across is refused by name; one
    # that is not is read whole (not decoded reduced below 16 px across)
    noise = np.random.default_rng(0).integers(0, 255, (4000, 16), np.uint8)
    for shape, refused in (((4000, 16), True), ((4000, 200), False), ((16, 4000), True)):
        strip = tmp_path / f"strip_{shape[1]}x{shape[0]}.png"
        cv2.imwrite(str(strip), np.resize(noise, shape))
        if refused:
            with pytest.raises(MediaReadError, match="too thin a strip") as caught:
                detect_to_folder(strip, tmp_path / strip.stem)
            assert strip.name in str(caught.value)
        else:
            result, report = detect_to_folder(strip, tmp_path / strip.stem)
            assert (report["input"]["width"], report["input"]["height"]) == shape[::-1]
            assert result.tracks == []
    with pytest.raises(ParameterError, match="too thin"):
        detect_tracks(np.zeros((20, 40000), np.uint8))
    image = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    eight_bit = detect_tracks(image)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), image.astype(np.uint16) * 257)
    result, report = detect_to_folder(deep, tmp_path / "deep")
    assert report["input"]["dtype"] == "uint16"
    assert len(result.tracks) == len(eight_bit.tracks) >= 2
    alpha = tmp_path / "alpha.png"
    cv2.imwrite(str(alpha), np.dstack([image, np.full(image.shape[:2], 200, np.uint8)]))
    result, report = detect_to_folder(alpha, tmp_path / "alpha")
    assert report["input"]["channels"] == 4 and len(result.tracks) == len(eight_bit.tracks)


def test_a_strip_whose_decoded_copy_is_too_thin_is_refused_by_name(tmp_path):
    # 4034×145 passes on the file's size; decoded at half (2017×72) it is under 16 px
    # across once reduced: it was a usage error (exit 2) naming 2017×72
    strip = tmp_path / "strip.png"
    cv2.imwrite(str(strip), np.random.default_rng(0).integers(0, 255, (145, 4034), np.uint8))
    with pytest.raises(MediaReadError, match=r"4034×145: too thin a strip") as caught:
        detect_to_folder(strip, tmp_path / "o")
    assert "strip.png" in str(caught.value)


def test_the_overlay_of_a_sixteen_bit_image_with_alpha_is_stretched_on_its_colours(tmp_path):
    # an opaque 16-bit alpha (65535) set the stretch's top: a 12-bit image drawn near black
    image = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2)).astype(np.uint16) * 16
    drawn = {}
    for name, pixels in (
        ("colour", image),
        ("alpha", np.dstack([image, np.full(image.shape[:2], 65535, np.uint16)])),
    ):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), pixels)
        detect_to_folder(path, tmp_path / name)
        drawn[name] = cv2.imread(str(tmp_path / name / "overlay.png")).astype(float)
    assert drawn["colour"].mean() > 60
    assert np.abs(drawn["alpha"] - drawn["colour"]).mean() < 1.0


def test_missing_pixels_in_a_float_image_are_reported_not_fatal(tmp_path):
    # one NaN made the whole image NaN (min/max skipped it, the arithmetic did not) and the
    # detector reported "no tracks found"; an Inf made it all zero
    image = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    clean = detect_tracks(grey)
    assert len(clean.tracks) >= 2
    for bad in (np.nan, np.inf):
        holed = grey.copy()
        holed[0, 0] = bad
        holed[100, 50:60] = bad
        assert len(detect_tracks(holed).tracks) == len(clean.tracks)
    path = tmp_path / "holed.tif"
    cv2.imwrite(str(path), holed)
    result, report = detect_to_folder(path, tmp_path / "out")
    assert len(result.tracks) == len(clean.tracks)
    assert report["warnings"] == ["11 non-finite pixel values (NaN/Inf) were treated as missing"]
    assert (tmp_path / "out" / "overlay.png").stat().st_size > 0


def test_a_run_failing_at_its_report_leaves_no_overlay_for_the_rerun(tmp_path, monkeypatch):
    from zhurong_tk.io.outputs import OutputDir

    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2)))

    def full(self, name, obj):
        raise OutputWriteError(self.path / name, "No space left on device", errno.ENOSPC)

    with monkeypatch.context() as patch:
        patch.setattr(OutputDir, "json", full)
        with pytest.raises(OutputWriteError, match="No space"):
            detect_to_folder(path, tmp_path / "out", debug_images=True)
    assert not (tmp_path / "out").exists()
    result, _ = detect_to_folder(path, tmp_path / "out", debug_images=True)
    assert len(result.tracks) == 2
    assert (tmp_path / "out" / "overlay.png").is_file()


def test_contrast_is_a_fraction_of_the_camera_s_full_scale_whatever_the_file():
    # a 12-bit camera's 16-bit PNG read a sixteenth of the 8-bit contrast, a float image
    # in [0, 1] was stretched to its own range
    grey = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
    eight = detect_tracks(grey)
    same_scene = {
        "12-bit in 16": np.round(grey * (4095 / 255)).astype(np.uint16),
        "16-bit": grey.astype(np.uint16) * 257,
        "float 0-1": grey.astype(np.float32) / 255,
    }
    for name, image in same_scene.items():
        found = detect_tracks(image)
        for got, want in _same_ruts(found, eight):
            assert got.contrast == pytest.approx(want.contrast, rel=0.01), name
    # a float image in other units is stretched from its minimum to its maximum
    stretched = detect_tracks(grey.astype(np.float32) * 16)
    span = (int(grey.max()) - int(grey.min())) / 255
    for got, want in _same_ruts(stretched, eight):
        assert got.contrast == pytest.approx(want.contrast / span, rel=0.01)


def test_a_stated_bit_depth_keeps_contrast_steady_across_a_sequence(tmp_path):
    # one 12-bit camera, two exposures 1 % apart whose brightest pixels lie either side
    # of 1024: guessed from each frame's largest value, the contrast jumped four-fold
    grey = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
    frames = [np.round(grey * (top / float(grey.max()))).astype(np.uint16) for top in (1020, 1030)]
    guessed = [detect_tracks(frame) for frame in frames]
    stated = [detect_tracks(frame, bit_depth=12) for frame in frames]
    for got, want in _same_ruts(guessed[1], guessed[0]):
        assert got.contrast == pytest.approx(want.contrast / 4, rel=0.05)  # as documented
    for got, want in _same_ruts(stated[1], stated[0]):
        assert got.contrast == pytest.approx(want.contrast, rel=0.05)
    for got, want in _same_ruts(stated[1], guessed[1]):
        assert got.contrast == pytest.approx(want.contrast, rel=1e-3)  # 1030 reads as 12-bit
    with pytest.raises(ParameterError, match="values up to 1030, above the full scale of"):
        detect_tracks(frames[1], bit_depth=10)
    path = tmp_path / "bright.png"
    cv2.imwrite(str(path), frames[1])
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "o"), "--bit-depth", "10"]
    )
    assert result.exit_code == 1 and "bright.png" in result.output
    assert "above the full scale of 10-bit pixels (1023)" in result.output
    result = CliRunner().invoke(
        cli, ["tracks", "detect", str(path), "--out", str(tmp_path / "p"), "--bit-depth", "12"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p" / "report.json").read_text())["bit_depth"] == 12


def test_a_dim_reddish_twelve_bit_frame_keeps_its_depth():
    # its red channel reaches 1329 (12 bits), its grey only ~750: the depth came from
    # the grey copy (10 bits) and the contrast read four times too high
    colour = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    grey = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY) if colour.ndim == 3 else colour
    reddish = np.dstack([grey // 4, grey // 3, grey]).astype(np.uint16) * 3  # B, G, R
    reddish[0, 0, 2] = 1329
    twelve_bit = detect_tracks(reddish)
    as_eight = detect_tracks((reddish.astype(np.float32) * (255 / 4095)).round().astype(np.uint8))
    pairs = list(_same_ruts(twelve_bit, as_eight))
    assert pairs
    for got, want in pairs:
        assert got.contrast == pytest.approx(want.contrast, rel=0.05)


def _same_ruts(found, expected):
    """The ruts of two results side by side, left to right (same count asserted)."""
    assert len(found.tracks) == len(expected.tracks) >= 2
    by_x = operator.attrgetter("x1")
    return zip(sorted(found.tracks, key=by_x), sorted(expected.tracks, key=by_x), strict=True)


def test_large_jpeg_is_decoded_reduced_and_reported_in_its_own_pixels(tmp_path):
    image = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    big = cv2.resize(image, (4480, 3360), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    result, report = detect_to_folder(path, tmp_path / "o")
    assert report["decoded_at"] == 0.5  # 2240 px wide: still above the overlay's 2000
    assert (report["width"], report["height"]) == (4480, 3360)
    for a, b in _same_ruts(result, detect_tracks(big)):
        for key in ("x1", "y1", "x2", "y2"):
            assert getattr(a, key) == pytest.approx(getattr(b, key), abs=0.01 * 4480)
    overlay = cv2.imread(str(tmp_path / "o" / "overlay.png"))
    assert overlay.shape[1] == 2000


@pytest.mark.slow
def test_a_50_megapixel_image_gives_the_ruts_of_its_small_copy(tmp_path):
    # the largest size: the library reduces it block-wise, the command decodes
    # the JPEG at a quarter in its DCT; both find the 640×480 scene's ruts, scaled
    scene = synth_tracks.track_scene(seed=4, n_ruts=2)
    small = synth_tracks.render(scene)
    big = cv2.resize(small, (8192, 6144), interpolation=cv2.INTER_LINEAR)  # 50.3 MP
    factor = 8192 / small.shape[1]
    expected = detect_tracks(small)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    from_file, report = detect_to_folder(path, tmp_path / "o")
    assert report["decoded_at"] == 0.25 and report["width"] == 8192
    for found in (detect_tracks(big), from_file):
        for a, b in _same_ruts(found, expected):
            assert a.angle_deg == pytest.approx(b.angle_deg, abs=1.0)
            for key in ("x1", "y1", "x2", "y2"):
                assert getattr(a, key) == pytest.approx(getattr(b, key) * factor, abs=0.01 * 8192)


def _drawn_ruts(width: int, height: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Two Gaussian troughs drawn from the bottom row at 0.3 and 0.7 of the width to a
    vanishing point at (0.5 width + 0.3, 0.15 height) whose position is exact, on flat
    noisy soil (uint8, drawn a band of rows at a time); and that point."""
    vx, vy = 0.5 * width + 0.3, 0.15 * height
    rng = np.random.default_rng(0)
    image = np.empty((height, width), np.uint8)
    xx = np.arange(width, dtype=np.float32)[None, :]
    for top in range(0, height, 256):
        rows = np.arange(top, min(height, top + 256), dtype=np.float32)[:, None]
        grey = 0.6 + rng.normal(0, 0.01, (len(rows), width)).astype(np.float32)
        t = (rows - vy) / (height - 1 - vy)
        for bottom_x in (0.3 * width, 0.7 * width):
            centre = vx + t * (bottom_x - vx)
            sigma = np.maximum(0.5, 0.012 * width * t)
            grey -= 0.3 * np.exp(-0.5 * ((xx - centre) / sigma) ** 2) * (rows > vy + 0.1 * height)
        image[top : top + len(rows)] = np.clip(grey * 255 + 0.5, 0, 255)
    return image, (vx, vy)


@pytest.mark.parametrize("size", [(448, 336), (2400, 1800), (2007, 301)])
def test_points_on_a_reduced_copy_map_back_to_the_pixels_they_cover(size):
    # working pixel i covers image pixels [i f, (i + 1) f): its centre is at (i + 0.5) f
    # - 0.5. Read as i f every point moved up and left by (f - 1) / 2, 2.2 px at this
    # 2400 px width, 4 px at 12 MP; each side's factor is its own (rounded sizes)
    image, (vx, vy) = _drawn_ruts(*size)
    result = detect_tracks(image)
    assert len(result.tracks) == 2 and result.vanishing_point is not None
    assert result.vanishing_point["x"] == pytest.approx(vx, abs=0.6)
    assert result.vanishing_point["y"] == pytest.approx(vy, abs=0.6)


def test_a_tall_image_s_ruts_stay_inside_it():
    # 301×2007 reduces to 67×448: by the width's factor (4.49) for the rows as well,
    # the near ends were put below the last row
    image, (vx, vy) = _drawn_ruts(301, 2007)
    result = detect_tracks(image)
    assert result.tracks
    for t in result.tracks:
        xy = np.array([[t.x1, t.y1], [t.x2, t.y2], *t.points])
        assert np.all(xy >= 0) and np.all(xy <= [300, 2006])
        # on the drawn line: x at the near end's row
        bottom = [0.3 * 301, 0.7 * 301]
        at_row = [vx + (t.y1 - vy) / (2006 - vy) * (b - vx) for b in bottom]
        assert min(abs(t.x1 - x) for x in at_row) < 1.5
        assert t.y1 > 1990


def test_a_jpeg_decoded_reduced_maps_back_without_a_shift(tmp_path):
    # decoded at half size in the DCT, then reduced again for the working copy: the
    # two reductions compose, (i + 0.5) f1 f2 - 0.5; a camera's principal point is
    # moved onto the decoded pixels the same way
    image, (vx, vy) = _drawn_ruts(4400, 3300)
    path = tmp_path / "drawn.jpg"
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    result, report = detect_to_folder(path, tmp_path / "o")
    assert report["decoded_at"] == 0.5
    assert result.vanishing_point["x"] == pytest.approx(vx, abs=0.8)
    assert result.vanishing_point["y"] == pytest.approx(vy, abs=0.8)


def test_a_photo_stored_turned_with_an_exif_orientation_is_read_upright(tmp_path):
    from PIL import Image

    upright = synth_tracks.render(synth_tracks.track_scene(seed=4, n_ruts=2))
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # as a camera held sideways
    picture = Image.fromarray(np.ascontiguousarray(stored[..., ::-1]))
    exif = picture.getexif()
    exif[0x0112] = 6  # "turn a quarter clockwise to show"
    path = tmp_path / "turned.jpg"
    picture.save(path, exif=exif.tobytes(), quality=95)
    result, report = detect_to_folder(path, tmp_path / "o")
    assert (report["width"], report["height"]) == (upright.shape[1], upright.shape[0])
    for a, b in _same_ruts(result, detect_tracks(upright)):
        assert a.angle_deg == pytest.approx(b.angle_deg, abs=1.0)
        assert a.x1 == pytest.approx(b.x1, abs=0.01 * upright.shape[1])
    assert cv2.imread(str(tmp_path / "o" / "overlay.png")).shape[:2] == upright.shape[:2]


def test_steered_rut_curve_is_recovered_from_its_points():
    from zhurong_tk.tracks.detect import _curve_x, _fit_curve

    v = np.linspace(470.0, 120.0, 200)
    curve = (80.0, 320.0, 0.3, 2500.0)  # horizon row, a, b, c
    u = _curve_x(curve, v)
    fitted, rms = _fit_curve(np.column_stack([u, v]), 480)
    assert rms < 0.3
    np.testing.assert_allclose(_curve_x(fitted, v), u, atol=0.5)


def test_steered_ruts_are_followed_along_their_bend():
    # 20 scenes, the rover steering left or right (0.03 per metre): measured 37 of 39
    # ruts found, 37 of 38 detections right, 26 of them traced as bent (in the others
    # the bend lies beyond the visible stretch)
    found_ruts = ruts = detections = bent = 0
    for seed in range(10):
        for curvature in (0.03, -0.03):
            scene = synth_tracks.track_scene(seed=seed, n_ruts=2, curvature_per_m=curvature)
            found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
            m = match_ruts(scene, found["tracks"])
            found_ruts += m["true_positives"]
            ruts += m["ruts"]
            detections += m["detections"]
            bent += sum(t["curved"] for t in found["tracks"])
    assert found_ruts / ruts >= 0.9 and found_ruts / detections >= 0.9
    assert bent >= 0.6 * detections


@pytest.mark.parametrize(("seed", "index"), [(0, 8), (0, 22), (0, 37), (1, 3), (2, 13), (2, 15)])
def test_a_straight_rut_s_far_end_does_not_hook_onto_a_rock_or_its_neighbour(seed, index):
    # these straight ruts were reported steered: the trace's last stretch ran onto a rock's
    # shadow or the neighbouring rut near the vanishing point (8-89 px off the rest's curve)
    scene = dict(synth_tracks.scene_set(50, seed=seed))[index]
    assert scene["curvature_per_m"] == 0.0
    found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
    assert found["tracks"] and not any(t["curved"] for t in found["tracks"])
    assert match_ruts(scene, found["tracks"])["true_positives"] == len(found["tracks"])


def test_one_stretch_traced_onto_a_rock_beyond_a_straight_rut_is_no_bend():
    # the first scene of `zhurong-tk demo --seed 12`: the measurement of the left rut stops
    # at a rock lying on it, and the trace on from there took one short stretch along
    # the rock's edge for a bend (reported steered, 8.6 px off the rut)
    scene = synth_tracks.track_scene(seed=12, n_ruts=2)
    found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
    assert match_ruts(scene, found["tracks"])["true_positives"] == 2
    assert len(found["tracks"]) == 2 and not any(t["curved"] for t in found["tracks"])


def test_a_rut_s_width_never_narrows_towards_the_camera():
    rows = np.arange(100.0, 300.0)
    assert detect_module._width_model(rows, 0.1 * rows - 4.0) == pytest.approx((0.1, -4.0))
    # wider far away than near: the matched filter locked onto something broader near the
    # horizon; the search keeps to the median width rather than widen towards it
    falling = 40.0 - 0.1 * rows
    assert detect_module._width_model(rows, falling) == (0.0, float(np.median(falling)))


@pytest.mark.parametrize(("seed", "index"), [(0, 35), (2, 37), (2, 45), (3, 45)])
def test_every_rut_of_scenes_whose_first_look_fitted_a_narrowing_width(seed, index):
    # one rut of each was lost: its first look's widths fell towards the camera, the
    # search widened towards the far end and the line turned off the rut
    scene = dict(synth_tracks.scene_set(50, seed=seed))[index]
    found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
    m = match_ruts(scene, found["tracks"])
    assert m["true_positives"] == m["ruts"] == m["detections"]


@pytest.mark.parametrize(("seed", "index", "ruts_found"), [(4, 14, 2), (4, 30, 2), (6, 9, 3)])
def test_ruts_of_scenes_crossed_by_several_ruts_are_not_measured_against_themselves(
    seed, index, ruts_found
):
    # the soil's dips were measured along fixed lines from the bottom edge, and in these
    # scenes most of those lines ran along or across ruts: the soil read as deep as the
    # ruts and a rut of each (4:30 three deep steered ruts of four) was dropped as no
    # deeper than the soil
    scene = dict(synth_tracks.scene_set(50, seed=seed))[index]
    found = detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()
    m = match_ruts(scene, found["tracks"])
    assert m["true_positives"] == m["detections"] == ruts_found


@pytest.mark.parametrize(("seed", "index"), [(8, 19), (10, 1)])
def test_a_straight_rut_is_not_bent_towards_a_horizon_below_the_ground_seen(seed, index):
    # the far end of each scene's right-hand rut was traced onto a rock's shadow or edge;
    # the curve through it put the horizon 50-80 px (of 336) below the far end of the
    # other rut, which runs to the top edge: the rut was reported bent, 4-5° off
    scene = dict(synth_tracks.scene_set(50, seed=seed))[index]
    result = detect_tracks(synth_tracks.encode_like_release(scene))
    m = match_ruts(scene, result.to_dict()["tracks"])
    assert m["true_positives"] == m["detections"] == m["ruts"] == 2
    assert not any(t.curved for t in result.tracks)


@pytest.mark.parametrize(("seed", "index"), [(9, 30), (11, 1)])
def test_a_rut_that_bends_most_in_its_last_stretch_is_reported_bent(seed, index):
    # the rest of each steered rut (9:30's only rut, 11:1's left one) is nearly straight and
    # does not foretell the last stretch's bend (7 and 88 px off it): that stretch was
    # taken for a hook onto a rock and dropped, and the rut reported straight, 4-5° off
    scene = dict(synth_tracks.scene_set(50, seed=seed))[index]
    result = detect_tracks(synth_tracks.encode_like_release(scene))
    m = match_ruts(scene, result.to_dict()["tracks"])
    assert m["true_positives"] == m["detections"] == m["ruts"]
    far_left = min(result.tracks, key=lambda t: t.x1)
    assert far_left.curved


def test_a_rut_showing_its_tread_is_no_ripple_trough_whatever_a_lone_trough_says():
    # scene 12:31: one straight rut, its tread plain. A short trough near the top corner
    # (troughs on both sides of it) counted as a ripple field of one trough, and the rut,
    # meeting its line above the image, as parallel to it on the ground: dropped
    scene = dict(synth_tracks.scene_set(50, seed=12))[31]
    result = detect_tracks(synth_tracks.encode_like_release(scene))
    m = match_ruts(scene, result.to_dict()["tracks"])
    assert m["true_positives"] == m["detections"] == m["ruts"] == 1
    rut, track = scene["ruts"][0], result.tracks[0]
    truth = synth_tracks.tread_period_px(scene, rut, track.x1, track.y1)
    assert track.tread_period_px == pytest.approx(truth, rel=0.1)  # at its near end


def test_texture_level_leaves_out_the_troughs_it_is_given():
    rng = np.random.default_rng(3)
    h, w = 336, 448
    soil = (_soil(rng, h, w) / 255.0).astype(np.float32)
    troughs = np.zeros((h, w), np.uint8)
    for x_bottom in np.linspace(20, w - 20, 8):  # eight ruts, 16 px wide, to one point
        cv2.line(troughs, (int(x_bottom), h - 1), (w // 2, 0), 1, thickness=16)
    dip = cv2.GaussianBlur(troughs.astype(np.float32), (0, 0), 3)
    ruts = (soil - 0.3 * dip).astype(np.float32)
    plain = detect_module.texture_level(soil, detect_module.valley_maps(soil)[0])
    crossed = detect_module.texture_level(ruts, detect_module.valley_maps(ruts)[0])
    masked = detect_module.texture_level(ruts, detect_module.valley_maps(ruts)[0], troughs=troughs)
    assert crossed > 2.0 * plain  # measured through the ruts, the soil reads as deep
    assert masked == pytest.approx(plain, rel=0.25)


def _soil(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Mottled grey soil: smooth blotches (sigma ~8 grey levels) plus pixel noise."""
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), w / 100)
    return 140 + 8 * blotches / blotches.std() + rng.normal(0, 3, (h, w))


@pytest.mark.parametrize("dip_deg", [25, 50, 75])
def test_no_tracks_on_dipping_strata(dip_deg):
    """Thin dark beds of a layered outcrop: parallel lines, deep against the soil's
    mottling but no deeper than each other; their crossings read as tread."""
    rng = np.random.default_rng(7)
    h, w = 480, 640
    y, x = np.mgrid[:h, :w].astype(np.float32)
    dip = math.radians(dip_deg)
    across = -x * math.sin(dip) + y * math.cos(dip)
    image = _soil(rng, h, w)
    for bed in np.cumsum(rng.uniform(25, 70, 40)) - 600:
        image -= 45 * np.exp(-(((across - bed) / rng.uniform(2, 6)) ** 2))
    result = detect_tracks(np.clip(image, 0, 255).astype(np.uint8))
    assert result.tracks == []  # 8 tracks "on a vanishing point" ~1e4-1e5 px away, before
    assert result.vanishing_point is None


def _vertical_trough_image(columns: np.ndarray, h: int = 200) -> np.ndarray:
    return np.repeat(columns[None, :].astype(np.float32), h, axis=0)


@pytest.mark.parametrize(
    ("profile", "low", "high"),
    [
        ("rut", 0.0, 0.05),  # soil beside it
        ("ripples", 0.95, 1.05),  # a cosine: its neighbours' troughs as deep as its own
        # its own trough twice as deep as its neighbours' (depths below the profile's
        # median, which the ridges and its own trough pull down a little)
        ("deeper_than_ripples", 0.35, 0.5),
        ("rut_and_neighbour", 0.0, 0.05),  # the other wheel's rut on one side only
    ],
)
def test_side_trough_ratio_of_known_profiles(profile, low, high):
    x = np.arange(400, dtype=np.float64)
    centre, width = 200.0, 20.0
    rut = -50.0 * np.exp(-(((x - centre) / (width / 2)) ** 4))
    cosine = -50.0 * np.cos(2 * np.pi * (x - centre) / (2.2 * width))
    columns = (
        128.0
        + {
            "rut": rut,
            "ripples": cosine,
            "deeper_than_ripples": cosine + rut,
            "rut_and_neighbour": rut + np.roll(rut, 55),
        }[profile]
    )
    image = _vertical_trough_image(columns)
    points = np.column_stack([np.full(150, centre), np.arange(25, 175, dtype=np.float64)])
    ratio = side_trough_ratio(image, points, (centre, 100.0, 0.0, 1.0), (0.0, width))
    assert low <= ratio <= high


def test_side_trough_ratio_with_a_side_off_the_image_is_zero():
    x = np.arange(100, dtype=np.float64)
    image = _vertical_trough_image(128.0 - 50.0 * np.cos(2 * np.pi * x / 44.0))
    points = np.column_stack([np.full(150, 0.0), np.arange(25, 175, dtype=np.float64)])
    # the trough at column 0 has nothing to its left to compare with
    assert side_trough_ratio(image, points, (0.0, 100.0, 0.0, 1.0), (0.0, 20.0)) == 0.0


@pytest.mark.slow
def test_few_false_tracks_on_wind_ripples_and_ruts_across_them_still_found():
    """Parallel ridges across the view (Zhurong landed among them): each trough
    between two ridges is a long, straight, dark line converging with the others."""
    false, tp, ruts, detections = 0, 0, 0, 0
    for seed in range(12):
        empty = synth_tracks.track_scene(seed=seed, n_ruts=0, ripples=True)
        false += len(detect_tracks(synth_tracks.encode_like_release(empty)).tracks)
        scene = synth_tracks.track_scene(seed=seed, n_ruts=2, ripples=True)
        m = match_ruts(
            scene, detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()["tracks"]
        )
        tp, ruts, detections = (
            tp + m["true_positives"],
            ruts + m["ruts"],
            detections + m["detections"],
        )
    # before the troughs beside each line were looked at: 8 false tracks on these 12
    # empty scenes, and 4 of 24 detections false beside the ruts; then 2, and 2 of 22;
    # 0 since the troughs parallel to the field's are known too (the 0.05 per
    # image). Ruts crossing ripples: 20 of 24 found, 21 since a trough across a field
    # may widen once only (22 detections)
    assert false == 0
    assert tp / detections >= 0.9
    assert tp / ruts >= 0.85


def _straight_trough(x0: float, y0: float, x1: float, y1: float) -> _Candidate:
    """A straight candidate from ``(x0, y0)`` (near end) to ``(x1, y1)``."""
    t = np.linspace(0.0, 1.0, 50)[:, None]
    points = np.array([x0, y0]) + t * np.array([x1 - x0, y1 - y0])
    length = math.hypot(x1 - x0, y1 - y0)
    line = (x0, y0, (x1 - x0) / length, (y1 - y0) / length)
    return _Candidate(points, line, support=1.0, contrast=10.0, width=6.0, strength=1.0)


def _towards(x0: float, y0: float, point: tuple[float, float], share: float, turn_deg=0.0):
    """A straight candidate from ``(x0, y0)`` towards ``point``, ``share`` of the way,
    its direction turned by ``turn_deg``."""
    dx, dy = point[0] - x0, point[1] - y0
    c, s = math.cos(math.radians(turn_deg)), math.sin(math.radians(turn_deg))
    dx, dy = c * dx - s * dy, s * dx + c * dy
    return _straight_trough(x0, y0, x0 + share * dx, y0 + share * dy)


def test_troughs_converging_with_a_ripple_field_are_the_fields_and_ruts_across_it_are_not():
    # a field's troughs converge to (600, -100): two known by their neighbours, one
    # more (without troughs beside it: the image's edge, blur) pointing there too
    point = (600.0, -100.0)
    field = [_towards(0, 300, point, 0.5), _towards(0, 420, point, 0.5)]
    third = _towards(100, 470, point, 0.6)
    rut = _straight_trough(300, 470, 380, 0)  # crosses the field's troughs
    candidates = [*field, third, rut]
    assert _parallel_to_ripples(candidates, field, 600.0).tolist() == [0, 0, 1, 0]
    # a trough 2° off the field's point is still one of the field's, 5° off not
    for turn, expected in [(2.0, True), (-2.0, True), (5.0, False), (-5.0, False)]:
        turned = _towards(100, 470, point, 0.6, turn)
        assert _parallel_to_ripples([*field, turned], field, 600.0)[2] == expected


def test_with_one_ripple_trough_known_a_line_meeting_it_beyond_both_far_ends_is_the_fields():
    point = (600.0, -100.0)
    trough = _towards(0, 300, point, 0.5)  # far end at row 100
    beyond = _towards(0, 420, point, 0.5)  # meets it at the point, above both far ends
    crossing = _straight_trough(150, 470, 150, 40)  # crosses it at row 200
    candidates = [trough, beyond, crossing]
    assert _parallel_to_ripples(candidates, [trough], 600.0).tolist() == [0, 1, 0]
    assert not _parallel_to_ripples(candidates, [], 600.0).any()


@pytest.mark.parametrize("seed", [20, 23, 28])
def test_no_tracks_along_a_ripple_fields_troughs(seed):
    # troughs of a field without a trough on each side (near the image's edge, blurred
    # afar) were kept: seed 20 beside one known trough of the field, 23 and 28 pointing
    # at the point where the known ones converge (23 had two)
    scene = synth_tracks.track_scene(seed=seed, n_ruts=0, ripples=True)
    assert detect_tracks(synth_tracks.encode_like_release(scene)).tracks == []


@pytest.mark.parametrize("seed", [16, 26])
def test_ruts_across_a_ripple_field_are_not_widened_onto_its_troughs(seed):
    # the matched filter let a rut's trough widen twice and spread onto the ripple
    # troughs it crosses, and one rut of each scene was lost; where the image shows a
    # ripple field it may widen once
    scene = synth_tracks.track_scene(seed=seed, n_ruts=2, ripples=True)
    m = match_ruts(
        scene, detect_tracks(synth_tracks.encode_like_release(scene)).to_dict()["tracks"]
    )
    assert (m["true_positives"], m["detections"]) == (2, 2)


def test_ruts_as_deep_as_the_ripples_they_cross_are_found_by_convergence_and_tread():
    # the ripples' troughs set the soil's dips here: these ruts measure 1.5 times them,
    # under the twice that a line elsewhere needs; both were dropped before. Since the
    # soil's level leaves out the troughs found (none of which has troughs on both
    # sides here, so the image does not count as rippled) they measure 2.9 times it
    scene = synth_tracks.track_scene(seed=29, n_ruts=2, ripples=True)
    result = detect_tracks(synth_tracks.encode_like_release(scene))
    m = match_ruts(scene, result.to_dict()["tracks"])
    assert (m["true_positives"], m["detections"]) == (2, 2)
    assert all(t.on_vanishing_point for t in result.tracks)


@pytest.mark.parametrize("size", [(480, 640), (1200, 1600)])
def test_ruts_parallel_in_the_image_have_no_vanishing_point(size):
    """Parallel lines meet at infinity: no vanishing point (it was a point 1e5 px
    above or below the image, its side set by rounding), and no rut counted on one."""
    h, w = size
    rng = np.random.default_rng(3)
    x = np.mgrid[:h, :w][1].astype(np.float32)
    image = _soil(rng, h, w)
    for centre in (0.35 * w, 0.65 * w):
        image -= 40 * np.exp(-(((x - centre) / (0.012 * w)) ** 4))
    result = detect_tracks(np.clip(image, 0, 255).astype(np.uint8))
    assert result.vanishing_point is None
    assert not any(t.on_vanishing_point for t in result.tracks)


def _rut(near, far, confidence=0.9):
    from zhurong_tk.tracks.detect import Track

    points = [list(p) for p in np.linspace(near, far, 10)]
    return Track(*near, *far, 90.0, confidence, 10.0, 0.1, points, False, None, 0.0)


def test_overlay_labels_sit_beside_their_own_ruts_without_overlapping():
    # four ruts meeting at one far point (the vanishing point), one ending at the right
    # edge: labels at the far ends used to lie on top of each other, or off the picture
    from zhurong_tk.tracks.detect import TrackResult
    from zhurong_tk.tracks.run import label_places, overlay_image

    far = (300.0, 100.0)
    tracks = [_rut((x, 399.0), far) for x in (60.0, 220.0, 380.0, 540.0)]
    tracks.append(_rut((630.0, 399.0), (639.0, 150.0)))
    labels = [f"{i} 0.90" for i in range(len(tracks))]
    boxes = label_places(tracks, labels, 1.0, (640, 400), 0.4, 1)
    for i, (x, y, w, h) in enumerate(boxes):
        assert x >= 0 and x + w <= 640 and y >= 0 and y + h <= 400
        for other in boxes[i + 1 :]:
            apart_x = x >= other[0] + other[2] or other[0] >= x + w
            apart_y = y >= other[1] + other[3] or other[1] >= y + h
            assert apart_x or apart_y
        # beside its own rut: its nearest rut is its own
        centre = np.array([x + w / 2, y + h / 2])
        gaps = [np.min(np.hypot(*(np.array(t.points) - centre).T)) for t in tracks]
        assert int(np.argmin(gaps)) == i
        # and clear of every rut's line
        for t in tracks:
            (ax, ay), (bx, by) = t.points[0], t.points[-1]
            u = np.linspace(0, 1, 400)[:, None]
            line = np.array([ax, ay]) + u * np.array([bx - ax, by - ay])
            inside = (line[:, 0] >= x) & (line[:, 0] <= x + w)
            assert not np.any(inside & (line[:, 1] >= y) & (line[:, 1] <= y + h))
    result = TrackResult(640, 400, tracks, [], None, 1.0)
    picture = overlay_image(np.zeros((400, 640), np.uint8), result)
    assert picture.shape == (400, 640, 3) and picture.any()
