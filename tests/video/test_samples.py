"""The public samples (../shared/fixtures) give sensible results; skipped when absent."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import sample_path
from zhurong_tk.io.outputs import OutputDir
from zhurong_tk.video import FrameSelection, extract_frames

pytestmark = pytest.mark.samples

EDL = FrameSelection(scenes=True, events="edl", every_s=1.0)


def test_lcam_descent_sequence_heat_shield_and_dust(samples_root, tmp_path):
    # 87 Lander Vision System stills named by clock time (15:50:40 .. 15:53:41)
    folder = sample_path(samples_root, "video/m2020_lcam_descent")
    index = extract_frames(folder, OutputDir(tmp_path), FrameSelection(scenes=True, events="edl"))
    facts = index["video"]
    assert facts["frames_analysed"] == 87 and facts["decode_failures"] == 0
    # 181 s from the first still to the last, which lasts the median gap (2 s) too
    assert facts["duration_s"] == pytest.approx(183.0)
    by_kind: dict[str, list] = {}
    for event in index["events"]:
        by_kind.setdefault(event["kind"], []).append(event)
    # heat-shield separation: LVS_15_50_49.jpg is 9 s after the first frame
    assert any(abs(e["time_s"] - 9.0) <= 3.0 for e in by_kind["abrupt_change"])
    assert all(e["time_s"] < 20.0 for e in by_kind["abrupt_change"])  # none in the descent
    # dust near touchdown (from about LVS_15_53_28.jpg = 168 s) to the last frame
    (dust,) = by_kind["dust"]
    assert 140.0 <= dust["start_s"] <= 170.0 and dust["end_s"] >= 181.0
    assert "hover" not in by_kind  # 1-3 s between stills: no hover can be told
    kept = {f["time_s"]: f for f in index["frames"]}
    assert 9.0 in kept and "event:abrupt_change" in kept[9.0]["reason"]
    assert (tmp_path / "contact_sheet.jpg").stat().st_size > 10_000


def test_edl_downlook_composite_is_quiet(samples_root, tmp_path):
    # 5 s of descent-camera frames laid over a still orbital basemap: little changes
    path = sample_path(samples_root, "video/m2020_edl_downlook_reprojected.webm")
    index = extract_frames(path, OutputDir(tmp_path), EDL)
    facts = index["video"]
    assert facts["frames_analysed"] == 151 and facts["decode_failures"] == 0
    assert facts["fps_measured"] == pytest.approx(30.0, abs=0.1)
    assert not facts["variable_frame_rate"]
    assert not [e for e in index["events"] if e["kind"] in ("dust", "abrupt_change")]
    assert 1 <= len(index["frames"]) <= 6  # near-duplicates dropped


def test_handheld_clip_with_audio_and_scrambled_timestamps(samples_root, tmp_path):
    path = sample_path(samples_root, "video/generic/opencv_box.mp4")
    index = extract_frames(path, OutputDir(tmp_path), FrameSelection(every_s=1.0, dedup_bits=-1))
    facts = index["video"]
    assert facts["frames_analysed"] == 455 and facts["timestamps_repaired"] > 100
    times = np.array([f["time_s"] for f in index["frames"]])
    assert len(times) == 16 and np.all(np.diff(times) > 0.0)
    # one frame per second of the 15.2-s clip, each inside its own second
    first = float((tmp_path / "metrics.csv").read_text().splitlines()[1].split(",")[1])
    assert np.array_equal(np.floor(times - first), np.arange(16))
    assert all(f["sharpness"] > 0 for f in index["frames"])


def test_frames_fetched_again_are_the_frames_the_index_names(samples_root, tmp_path):
    # event frames are fetched by a second, seeking decode; on this clip the decoder's
    # times are scrambled (pts == dts around B-frames), and the repaired time of frame 25
    # is the decoder's time of frame 28: matched by it, the picture written was another's
    import cv2

    from zhurong_tk.io.video import open_frames

    path = sample_path(samples_root, "video/generic/opencv_box.mp4")
    selection = FrameSelection(events="edl", image_format="png", dedup_bits=-1)
    index = extract_frames(path, OutputDir(tmp_path), selection)
    fetched = {f["frame"]: f for f in index["frames"] if "event:" in f["reason"]}
    assert fetched, "the clip's hovers should be fetched as event frames"
    for frame in open_frames(path).frames():
        if frame.index in fetched:
            written = cv2.imread(str(tmp_path / fetched[frame.index]["path"]))
            assert np.array_equal(written, frame.bgr()), frame.index
