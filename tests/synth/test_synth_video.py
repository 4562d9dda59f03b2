from __future__ import annotations

import cv2
import numpy as np
import pytest

from zhurong_tk.errors import ParameterError
from zhurong_tk.synth import video as synth_video


@pytest.fixture(scope="module")
def rendered():
    scene = synth_video.edl_scene(duration_s=10.0, fps=20.0, width=128, height=96, seed=11)
    frames = np.stack(list(synth_video.render(scene))).astype(np.float32)
    return scene, frames


def test_scene_layout_is_consistent(rendered):
    scene, frames = rendered
    assert len(frames) == scene["n_frames"] == 200
    assert frames.shape[1:] == (96, 128, 3)
    cuts = [c["frame"] for c in scene["cuts"]]
    assert 0 < cuts[0] < cuts[1] < scene["hover"]["start_frame"] < scene["hover"]["end_frame"]
    assert scene["hover"]["end_frame"] <= scene["dust"]["start_frame"] < scene["n_frames"]
    np.testing.assert_allclose(scene["frame_times_s"], np.arange(200) / 20.0)


def test_cuts_are_the_largest_content_changes_and_flashes_are_brightness(rendered):
    scene, frames = rendered
    grey = frames.mean(axis=3)
    # brightness-normalised difference: a flash changes the level, a cut changes the content
    z = (grey - grey.mean(axis=(1, 2), keepdims=True)) / grey.std(axis=(1, 2), keepdims=True)
    content = np.abs(np.diff(z, axis=0)).mean(axis=(1, 2))
    cuts = {c["frame"] for c in scene["cuts"]}
    top = set((np.argsort(content)[-len(cuts) :] + 1).tolist())
    assert top == cuts
    level = grey.mean(axis=(1, 2))
    for flash in scene["flashes"]:
        assert level[flash["frame"]] > level[flash["frame"] - 3] + 40


def test_hover_is_still_and_dust_blurs_and_brightens(rendered):
    scene, frames = rendered
    grey = frames.mean(axis=3)
    hover = scene["hover"]
    # 7×7 box means: sensor noise averages out, camera motion does not
    smooth = np.stack([cv2.blur(g, (7, 7)) for g in grey])
    a, b = hover["start_frame"] + 1, hover["end_frame"]
    half = (b - a) // 2

    def drift(start: int) -> float:  # first half vs second half, each averaged over time
        first = smooth[start : start + half].mean(axis=0)
        return float(np.abs(first - smooth[start + half : start + 2 * half].mean(axis=0)).mean())

    assert drift(a) < 0.1 * drift(a - 2 * half - 1)  # the same span just before the hover
    dust = scene["dust"]
    sharp = [np.abs(np.diff(g, axis=1)).mean() for g in smooth]
    before, late = dust["start_frame"] - 2, scene["n_frames"] - 1
    assert sharp[late] < 0.5 * sharp[before]
    assert grey[late].mean() > grey[before].mean() + 20


def test_variable_rate_times_are_irregular_and_increasing():
    scene = synth_video.edl_scene(duration_s=6.0, fps=30.0, seed=2, variable_rate=True)
    dt = np.diff(scene["frame_times_s"])
    assert np.all(dt > 0) and dt.std() > 0.1 * dt.mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": 2.0}, "duration_s must be at least 6 s"),
        ({"width": 101}, "width and height must be even and >= 64, got 101×240"),
        ({"fps": 0.0}, "fps must be 1..240, got 0.0"),
    ],
)
def test_parameters_are_checked(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        synth_video.edl_scene(**kwargs)
