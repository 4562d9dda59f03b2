from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import BAD, manifest_entries, sample_path
from zhurong_tk.errors import MediaReadError, UnsupportedFormatError
from zhurong_tk.io.video import VideoReader, count_video_frames, probe_video
from zhurong_tk.synth import video as synth_video


@pytest.fixture(scope="module")
def edl_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video")
    out = {}
    for vfr in (False, True):
        scene = synth_video.edl_scene(
            duration_s=6.0, fps=25.0, width=160, height=96, seed=5, variable_rate=vfr
        )
        out[vfr] = (synth_video.write(folder / f"edl_{vfr}.mp4", scene), scene)
    return out


@pytest.mark.parametrize("vfr", [False, True], ids=["constant-rate", "variable-rate"])
def test_frame_times_are_the_presentation_times(edl_videos, vfr):
    path, scene = edl_videos[vfr]
    reader = VideoReader(path)
    frames = list(reader.frames())
    times = np.array([f.time_s for f in frames])
    assert len(frames) == scene["n_frames"]
    np.testing.assert_allclose(times, scene["frame_times_s"], atol=1e-5)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert frames[0].image.shape == (96, 160, 3) and frames[0].image.dtype == np.uint8
    assert reader.decode_failures == 0


def test_probe_reports_stream_facts(edl_videos):
    path, scene = edl_videos[False]
    info = probe_video(path)
    assert (info.codec, info.width, info.height) == ("h264", 160, 96)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(6.0, abs=0.04)
    assert info.frame_count_reported == scene["n_frames"]
    assert info.audio == [] and info.rotation_deg == 0
    assert count_video_frames(path) == (scene["n_frames"], 0)


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("truncated.mp4", MediaReadError, "FFmpeg cannot open it"),
        ("corrupt.mp4", MediaReadError, "FFmpeg cannot open it"),
        ("not_media.mp4", UnsupportedFormatError, "not a video container .content looks like HTML"),
        (
            "audio_named.jpg",
            UnsupportedFormatError,
            "not a video container .content looks like WAV",
        ),
        ("empty.wav", MediaReadError, "empty file"),
    ],
)
def test_bad_videos_name_the_problem(name, error, reason):
    with pytest.raises(error, match=reason):
        probe_video(BAD / name)


def test_audio_only_container_is_not_a_video(tmp_path):
    from zhurong_tk.synth import audio as synth_audio

    m4a = synth_audio.write(
        tmp_path / "a.m4a", synth_audio.egress_scene(duration_s=10.0), sr=16_000
    )
    with pytest.raises(UnsupportedFormatError, match="has no video stream"):
        probe_video(m4a)


@pytest.mark.samples
@pytest.mark.parametrize("entry", manifest_entries("video"), ids=lambda e: e["path"])
def test_real_videos_match_the_manifest(samples_root, entry):
    path = sample_path(samples_root, entry["path"])
    info = probe_video(path)
    expect = entry["expect"]
    assert (info.codec, info.width, info.height) == (
        expect["codec"],
        expect["width"],
        expect["height"],
    )
    assert info.fps == pytest.approx(expect["fps"], abs=1e-3)
    assert info.frame_count_reported == expect["frame_count_reported"]
    assert [(a.codec, a.samplerate, a.channels) for a in info.audio] == [
        (t["codec"], t["samplerate"], t["channels"]) for t in expect["audio_tracks"]
    ]
    assert count_video_frames(path)[0] == expect["decoded_frames"]


@pytest.mark.samples
def test_scrambled_timestamps_are_repaired(samples_root):
    # opencv_box.mp4 was muxed with pts == dts around B-frames: decoded frames come in
    # display order but carry the wrong packet's time. The reader reassigns them.
    reader = VideoReader(sample_path(samples_root, "video/generic/opencv_box.mp4"))
    times = np.array([f.time_s for f in reader.frames()])
    assert len(times) == 455
    assert np.all(np.diff(times) > 0)
    assert np.median(np.diff(times)) == pytest.approx(1 / 29.966, abs=2e-3)
    assert reader.timestamps_repaired > 100
