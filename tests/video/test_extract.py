"""Frame extraction against generated descent videos with known cuts, flashes and times."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from zhurong_tk.cli.main import cli
from zhurong_tk.errors import ParameterError
from zhurong_tk.io.outputs import OutputDir
from zhurong_tk.synth import video as synth_video
from zhurong_tk.video import FrameSelection, dhash, extract_frames, grey_proxy
from zhurong_tk.video.signals import hash_distance


def test_cuts_found_and_flashes_and_pans_ignored(edl_videos, tmp_path):
    found = true_positive = truth = 0
    for i, (path, scene) in enumerate(edl_videos):
        index = extract_frames(path, OutputDir(tmp_path / str(i)), FrameSelection(scenes=True))
        cuts = [c["frame"] for c in index["cuts"]]
        expected = [c["frame"] for c in scene["cuts"]]
        found += len(cuts)
        truth += len(expected)
        true_positive += sum(any(abs(c - e) <= 1 for c in cuts) for e in expected)
        flash_frames = {f["frame"] for f in scene["flashes"]}
        assert not any(abs(c - f) <= 1 for c in cuts for f in flash_frames), (cuts, flash_frames)
        assert len(index["scenes"]) == len(cuts) + 1
    assert true_positive / truth >= 0.95
    assert true_positive / found >= 0.9


def test_a_scene_that_starts_in_the_last_moments_gets_its_frame(edl_videos, tmp_path):
    # the detector confirms a cut some frames after it; one in the last of them is
    # confirmed only when the video ends, and its scene once went without a frame
    path, scene = edl_videos[0]
    second = scene["cuts"][1]["time_s"]
    selection = FrameSelection(scenes=True, end_s=second + 0.2, dedup_bits=-1)
    index = extract_frames(path, OutputDir(tmp_path), selection)
    found = [c["frame"] for c in index["cuts"]]
    assert len(found) == 2
    assert all(abs(c - t["frame"]) <= 1 for c, t in zip(found, scene["cuts"], strict=True))
    picks = [f for f in index["frames"] if "scene" in f["reason"]]
    assert len(picks) == len(index["scenes"]) == 3
    assert picks[-1]["time_s"] >= second - 1 / 30


def test_kept_frames_carry_their_presentation_times(edl_videos, tmp_path):
    for i, (path, scene) in enumerate(edl_videos):
        out = tmp_path / str(i)
        index = extract_frames(path, OutputDir(out), FrameSelection(every_s=1.0, dedup_bits=-1))
        truth = np.array(scene["frame_times_s"])
        assert len(index["frames"]) == int(truth[-1] // 1.0) + 1  # one per started second
        # exact at a constant rate; a jittered rate is rounded to the stream's time base
        tolerance = 1e-4 if scene["variable_rate"] else 1e-6
        for kept in index["frames"]:
            assert kept["time_s"] == pytest.approx(truth[kept["frame"]], abs=tolerance)
            assert (out / kept["path"]).stat().st_size > 0
        assert index["video"]["variable_frame_rate"] == scene["variable_rate"]
        assert index["video"]["frames_analysed"] == scene["n_frames"]


def test_at_count_range_and_max_frames(edl_videos, tmp_path):
    path, scene = edl_videos[0]
    times = np.array(scene["frame_times_s"])
    index = extract_frames(path, OutputDir(tmp_path / "at"), FrameSelection(at_s=(3.0, 7.51)))
    assert [f["frame"] for f in index["frames"]] == [90, int(np.argmin(abs(times - 7.51)))]
    assert all(f["reason"] == "at" for f in index["frames"])
    index = extract_frames(
        path, OutputDir(tmp_path / "count"), FrameSelection(count=6, dedup_bits=-1)
    )
    assert len(index["frames"]) == 6
    index = extract_frames(
        path,
        OutputDir(tmp_path / "range"),
        FrameSelection(every_s=0.5, start_s=2.0, end_s=4.0, max_frames=3, dedup_bits=-1),
    )
    assert len(index["frames"]) <= 3
    assert all(2.0 <= f["time_s"] < 4.0 for f in index["frames"])
    assert index["video"]["frames_analysed"] == 60


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])  # Matroska's duration runs from 0 s
def test_a_stream_that_starts_at_ten_seconds(suffix, tmp_path):
    # times are the stream's own; --count spreads over what is there, --start included
    scene = synth_video.edl_scene(duration_s=6, fps=30, seed=5, width=160, height=120)
    scene["frame_times_s"] = [10.0 + t for t in scene["frame_times_s"]]
    path = synth_video.write(tmp_path / f"late{suffix}", scene, truth=False)
    for selection, expect_n, lo in [
        (FrameSelection(count=5, dedup_bits=-1), 5, 10.0),
        (FrameSelection(count=4, start_s=11.0, dedup_bits=-1), 4, 11.0),
    ]:
        index = extract_frames(path, OutputDir(tmp_path / str(expect_n)), selection)
        kept = [f["time_s"] for f in index["frames"]]
        assert len(kept) == expect_n and min(kept) >= lo, kept
        # one frame in each of the equal intervals over the frames in range
        edges = np.linspace(lo, 16.0, expect_n + 1)
        assert list(np.digitize(kept, edges)) == list(range(1, expect_n + 1)), kept
    index = extract_frames(path, OutputDir(tmp_path / "at"), FrameSelection(at_s=(1.0, 12.0)))
    assert [f["time_s"] for f in index["frames"]] == [10.0, 12.0]
    outside = [w for w in index["warnings"] if "lies outside the frames" in w]
    assert len(outside) == 1 and outside[0].startswith("--at 1 s")  # 12 s lies within


def test_count_over_an_image_folder_with_times_in_the_names(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # one a second; each image differs
        image = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img_12_00_{i:02d}.png"), image)
    for count in (2, 3, 4, 6):
        out = OutputDir(tmp_path / f"c{count}")
        index = extract_frames(folder, out, FrameSelection(count=count, dedup_bits=-1))
        assert len(index["frames"]) == count


@pytest.mark.parametrize("input_fps", [None, 2.0])
def test_count_over_a_one_image_folder_keeps_its_image(tmp_path, input_fps):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "img_12_00_07.png"), np.full((64, 80, 3), 90, np.uint8))
    for count in (1, 3):
        out = OutputDir(tmp_path / f"c{count}")
        selection = FrameSelection(count=count, input_fps=input_fps)
        index = extract_frames(folder, out, selection)
        assert [f["reason"] for f in index["frames"]] == ["interval"]
    assert index["video"]["duration_s"] == (0.5 if input_fps else None)


def test_max_frames_caps_the_picks_but_keeps_the_frames_asked_for(edl_videos, tmp_path):
    path, _ = edl_videos[0]
    selection = FrameSelection(every_s=0.5, at_s=(1.0, 5.0, 9.0), max_frames=2, dedup_bits=-1)
    index = extract_frames(path, OutputDir(tmp_path), selection)
    reasons = [f["reason"] for f in index["frames"]]
    assert sum("at" in r.split("+") for r in reasons) == 3
    assert sum(r == "interval" for r in reasons) <= 2


def test_selection_is_checked():
    with pytest.raises(ParameterError, match="--every"):
        FrameSelection(every_s=0)
    with pytest.raises(ParameterError, match="--end"):
        FrameSelection(start_s=5, end_s=2)
    with pytest.raises(ParameterError, match="--format"):
        FrameSelection(image_format="gif")


def test_hashes_tell_same_from_different(rng):
    image = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    other = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    proxy = grey_proxy(image)
    assert proxy.shape == (144, 192) and proxy.dtype == np.uint8
    assert hash_distance(dhash(proxy), dhash(grey_proxy(image))) == 0
    assert hash_distance(dhash(proxy), dhash(grey_proxy(other))) >= 16


def test_cli_writes_index_frames_and_refuses_to_overwrite(edl_videos, tmp_path):
    path, _ = edl_videos[0]
    out = tmp_path / "cli"
    args = ["video", "frames", str(path), "--out", str(out), "--every", "2s", "--format", "png"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    index = json.loads((out / "index.json").read_text())
    assert index["schema"] == "zhurong-tk/video.frames/1"
    assert all((out / f["path"]).suffix == ".png" for f in index["frames"])
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("index,time_s,brightness")
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "exists" in again.output
    # other frames, with --overwrite: the last run's frames go, the folder is this run's
    args[args.index("2s")] = "3s"
    third = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert third.exit_code == 0, third.output
    kept = {f["path"] for f in json.loads((out / "index.json").read_text())["frames"]}
    assert kept != {f["path"] for f in index["frames"]}
    assert {p.name for p in out.glob("*.png")} == kept | {"signals.png"}


def test_cli_missing_and_non_video_input(tmp_path):
    result = CliRunner().invoke(cli, ["video", "frames", str(tmp_path / "none.mp4"), "--out", "x"])
    assert result.exit_code == 1 and "none.mp4" in result.output
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    result = CliRunner().invoke(cli, ["video", "frames", str(text), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "notes.mp4" in result.output
