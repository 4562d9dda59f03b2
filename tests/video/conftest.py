"""Generated videos with ground truth, made once per test session."""

from __future__ import annotations

import pytest

from zhurong_tk.synth import video as synth_video


@pytest.fixture(scope="session")
def edl_videos(tmp_path_factory):
    """Four 12-s descent videos (three at a constant rate, one variable) and their truth."""
    folder = tmp_path_factory.mktemp("edl")
    videos = []
    for seed, variable in [(0, False), (1, False), (2, False), (3, True)]:
        scene = synth_video.edl_scene(duration_s=12, fps=30, seed=seed, variable_rate=variable)
        path = folder / f"edl_{seed}.mp4"
        synth_video.write(path, scene)
        videos.append((path, scene))
    return videos


@pytest.fixture(scope="session")
def drive_videos(tmp_path_factory):
    """Two fixed-camera videos of a rover driving across, and their truth."""
    folder = tmp_path_factory.mktemp("drive")
    videos = []
    for seed in (1, 2):
        scene = synth_video.drive_scene(duration_s=8, seed=seed)
        videos.append((synth_video.write(folder / f"drive_{seed}.mp4", scene), scene))
    return videos
