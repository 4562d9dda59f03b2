from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.errors import ParameterError
from zhurong_tk.synth import tracks as synth_tracks


@pytest.mark.parametrize("seed", range(5))
def test_projection_and_ground_intersection_agree(seed, rng):
    scene = synth_tracks.track_scene(seed=seed)
    cam = scene["camera"]
    points = np.column_stack([rng.uniform(-3, 3, 50), rng.uniform(1, 20, 50), np.zeros(50)])
    uv, front = synth_tracks.project(scene, points)
    assert front.all()
    rays = np.column_stack([uv, np.ones(50)]) @ np.linalg.inv(synth_tracks._intrinsics(cam)).T
    rays = rays @ synth_tracks._rotation(cam)
    t = -cam["height_m"] / rays[:, 2]
    np.testing.assert_allclose(
        np.column_stack([t * rays[:, 0], t * rays[:, 1]]), points[:, :2], atol=1e-9
    )


@pytest.mark.parametrize("seed", range(6))
def test_straight_ruts_converge_on_the_vanishing_point(seed):
    scene = synth_tracks.track_scene(seed=seed, n_ruts=4)
    vp = scene["vanishing_point"]
    assert vp is not None
    visible = [rut for rut in scene["ruts"] if rut["visible"]]
    assert len(visible) >= 2
    for rut in visible:
        pts = np.array(rut["points"])  # rounded to 0.01 px
        centre = pts.mean(axis=0)
        normal = np.linalg.svd(pts - centre)[2][1]  # least-squares line through the points
        # every truth point, and the vanishing point, lie on that line
        assert np.abs((pts - centre) @ normal).max() < 0.02
        assert abs((np.array([vp["x"], vp["y"]]) - centre) @ normal) < 0.1


def test_rut_pairs_have_the_rover_track_width():
    scene = synth_tracks.track_scene(seed=3, n_ruts=4)
    assert len(scene["pairs"]) == 2
    assert all(
        p["spacing_m"] == pytest.approx(synth_tracks.ZHURONG_TRACK_WIDTH_M) for p in scene["pairs"]
    )


def test_rendered_ruts_are_dark_along_their_truth_centrelines(monkeypatch):
    # Without texture, rocks and tread, the image at every truth centreline point is
    # darker than the ground one rut-width to either side of it.
    flat = lambda rng, size, slope=1.6: np.zeros((size, size), np.float32)  # noqa: E731
    monkeypatch.setattr(synth_tracks, "_periodic_noise", flat)
    scene = synth_tracks.track_scene(seed=0, n_ruts=2)
    scene.update(n_rocks=0, noise_sigma=0.0)
    for rut in scene["ruts"]:
        rut["tread_period_m"] = 1e9
    grey = synth_tracks.render(scene).mean(axis=2)
    for rut in scene["ruts"]:
        ys = np.linspace(rut["y_start_m"] + 0.5, 8.0, 25)
        xs = synth_tracks.rut_centreline_m(scene, rut, ys)
        values = []
        for shift in (-rut["width_m"], 0.0, rut["width_m"]):
            uv, _ = synth_tracks.project(
                scene, np.column_stack([xs + shift, ys, np.zeros_like(ys)])
            )
            inside = (
                (uv[:, 0] >= 0)
                & (uv[:, 0] < scene["width"] - 1)
                & (uv[:, 1] >= 0)
                & (uv[:, 1] < scene["height"] - 1)
            )
            values.append(
                np.where(
                    inside,
                    grey[
                        np.clip(np.round(uv[:, 1]).astype(int), 0, scene["height"] - 1),
                        np.clip(np.round(uv[:, 0]).astype(int), 0, scene["width"] - 1),
                    ],
                    np.nan,
                )
            )
        left, centre, right = values
        both = np.isfinite(left) & np.isfinite(centre) & np.isfinite(right)
        assert both.sum() >= 5
        assert np.all(centre[both] < left[both] - 15) and np.all(centre[both] < right[both] - 15)


def test_no_ruts_means_no_truth():
    scene = synth_tracks.track_scene(seed=1, n_ruts=0)
    assert scene["ruts"] == [] and scene["pairs"] == [] and scene["vanishing_point"] is None


def test_curved_ruts_have_no_single_vanishing_point():
    scene = synth_tracks.track_scene(seed=1, n_ruts=2, curvature_per_m=0.03)
    assert scene["vanishing_point"] is None
    pts = np.array(scene["ruts"][0]["points"])
    chord = pts[-1] - pts[0]
    normal = np.array([-chord[1], chord[0]]) / np.linalg.norm(chord)
    assert np.abs((pts - pts[0]) @ normal).max() > 5  # visibly bent


def test_horizon_in_view_when_asked():
    scene = synth_tracks.track_scene(seed=4, horizon=True)
    assert 0 < scene["horizon_y"] < scene["height"]
    image = synth_tracks.render(scene)
    sky = image[: int(scene["horizon_y"]) - 5].mean()
    ground = image[int(scene["horizon_y"]) + 20 :].mean()
    assert sky > ground


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_ruts": 5}, "n_ruts must be 0..4, got 5"),
        ({"width": 16}, "image must be at least 32×32, got 16×480"),
    ],
)
def test_parameters_are_checked(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        synth_tracks.track_scene(**kwargs)


def test_a_rut_entering_from_the_side_is_sampled_densely_and_counted_visible():
    # seed 13 of scene_set(50, seed=7): the fourth rut enters at the right edge, 289 px
    # of it in view; sampled over its whole length it had 8 points and was dropped
    scene = list(synth_tracks.scene_set(50, seed=7))[13][1]
    rut = scene["ruts"][3]
    pts = np.array(rut["points"])
    assert len(pts) >= 300
    assert pts[:, 0].max() == pytest.approx(scene["width"] - 1, abs=3.0)  # from the edge
    steps = np.hypot(*np.diff(pts, axis=0).T)
    assert rut["visible_length_px"] == pytest.approx(steps.sum(), abs=0.1)
    assert steps.max() < 2.0  # dense enough to score against
    assert rut["visible"] is True


def test_glimpses_are_not_required():
    scene = synth_tracks.track_scene(seed=0, n_ruts=2)
    diag = np.hypot(scene["width"], scene["height"])
    for rut in scene["ruts"]:
        assert rut["visible"] == (
            rut["visible_length_px"] >= synth_tracks.MIN_VISIBLE_LENGTH * diag
        )


def test_ripples_are_ridges_at_their_wavelength_and_leave_the_rest_of_the_scene_alone():
    plain = synth_tracks.track_scene(seed=3, n_ruts=0, horizon=False)
    rippled = synth_tracks.track_scene(seed=3, n_ruts=0, horizon=False, ripples=True)
    ripples = rippled.pop("ripples")
    assert rippled == plain  # drawn apart: the camera, rocks and textures are the same
    assert 20 <= abs(ripples["azimuth_deg"]) <= 70 and 0.3 <= ripples["wavelength_m"] <= 1.2
    rippled["ripples"] = ripples
    difference = synth_tracks.render(rippled).astype(float) - synth_tracks.render(plain)
    # along the image's centre row, the brightness the ripples add repeats with the
    # ground distance of one wavelength along the ridges' normal
    cam = plain["camera"]
    row = round(cam["cy"] + 60)
    u = np.arange(plain["width"], dtype=float)
    world = np.column_stack([u, np.full_like(u, row), np.ones_like(u)])
    rays = world @ np.linalg.inv(synth_tracks._intrinsics(cam)).T @ synth_tracks._rotation(cam)
    t = -cam["height_m"] / rays[:, 2]
    azimuth = np.radians(ripples["azimuth_deg"])
    along = t * (rays[:, 0] * np.cos(azimuth) + rays[:, 1] * np.sin(azimuth))
    expected = np.cos(2 * np.pi * along / ripples["wavelength_m"])
    measured = difference[row, :, 1]
    assert np.corrcoef(measured, expected)[0, 1] > 0.8
