from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.conftest import BAD, manifest_entries, sample_path
from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.video import (
    ImageSequenceReader,
    VideoReader,
    count_video_frames,
    probe_video,
    times_from_names,
)
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
    colour = frames[0].bgr()
    assert colour.shape == (96, 160, 3) and colour.dtype == np.uint8
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
        ("not_media.mp4", UnsupportedFormatError, "not a video container .content is an HTML page"),
        (
            "audio_named.jpg",
            UnsupportedFormatError,
            "not a video container .content is WAV audio",
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


def test_grey_from_the_luma_plane_matches_the_colour_conversion(edl_videos):
    path, _ = edl_videos[False]
    for frame in VideoReader(path).frames():
        if frame.index in (0, 40):
            expected = cv2.cvtColor(frame.bgr(), cv2.COLOR_BGR2GRAY).astype(int)
            # the luma plane is the decoder's own grey; the colour round trip
            # through 4:2:0 chroma and back differs by a few levels at most
            assert np.abs(frame.grey().astype(int) - expected).mean() < 1.5
            proxy, factor = frame.proxy(48)
            assert factor == 4 and proxy.shape == (24, 40)
            # each proxy pixel: the mean of its 4 × 4 block's even rows
            block = frame.grey()[4:8:2, 8:12].astype(float).mean()
            assert abs(int(proxy[1, 2]) - block) <= 1


def test_keyframes_only_decodes_the_keyframes(edl_videos):
    path, _ = edl_videos[False]
    every = list(VideoReader(path).frames())
    keys = list(VideoReader(path, keyframes_only=True).frames())
    key_times = [f.time_s for f in every if f.key]
    assert 1 <= len(keys) < len(every) / 10
    assert [f.time_s for f in keys] == pytest.approx(key_times)
    # each keyframe with its index among all frames, not among the keyframes
    assert [f.index for f in keys] == [f.index for f in every if f.key]
    assert keys[-1].index > len(keys)


def test_keyframes_only_in_vp9(tmp_path):
    # libvpx's decoder ignores skip_frame: the packets that are not keyframes are not
    # given to it at all
    scene = synth_video.edl_scene(duration_s=6, fps=15, width=160, height=120, seed=5)
    path = synth_video.write(tmp_path / "edl.webm", scene, codec="libvpx-vp9")
    every = list(VideoReader(path).frames())
    keys = list(VideoReader(path, keyframes_only=True).frames())
    assert 1 <= len(keys) < len(every) / 10
    assert [(f.index, f.time_s) for f in keys] == [(f.index, f.time_s) for f in every if f.key]


def test_frames_at_seeks_to_the_exact_frames(edl_videos):
    path, scene = edl_videos[True]
    times = scene["frame_times_s"]
    reader = VideoReader(path)
    wanted = [(10, times[10]), (77, times[77]), (140, times[140])]
    fetched = list(reader.frames_at(wanted))
    assert [f.index for f in fetched] == [10, 77, 140]
    by_pass = {f.index: f.bgr() for f in VideoReader(path).frames() if f.index in (10, 77, 140)}
    for frame in fetched:
        np.testing.assert_array_equal(frame.bgr(), by_pass[frame.index])


def test_stopping_early_stops_the_decoder_thread(edl_videos):
    path, _ = edl_videos[False]
    before = threading.active_count()
    frames = VideoReader(path, prefetch=2).frames()
    assert next(frames).index == 0
    frames.close()
    assert threading.active_count() == before


def test_image_sequence_times_from_names_or_rate(tmp_path):
    names = ["LVS_23_59_58.jpg", "LVS_23_59_59.5.jpg", "LVS_00_00_02.jpg"]
    assert times_from_names(names) == pytest.approx([0.0, 1.5, 4.0])  # over midnight
    assert times_from_names(["t0002.500s_f000075.png", "t0004.000s_f000120.png"]) == [0.0, 1.5]
    assert times_from_names(["frame_1.png", "frame_2.png"]) is None
    for i in (1, 2, 10):  # natural order: 1, 2, 10 (not 1, 10, 2)
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((40, 60, 3), 20 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ParameterError, match="names carry no times"):
        ImageSequenceReader(tmp_path)
    reader = ImageSequenceReader(tmp_path, input_fps=4.0)
    frames = list(reader.frames())
    assert [f.time_s for f in frames] == [0.0, 0.25, 0.5]
    assert [int(f.grey()[0, 0]) for f in frames] == [20, 40, 200]
    (tmp_path / "frame_3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    reader = ImageSequenceReader(tmp_path, input_fps=4.0)
    assert len(list(reader.frames())) == 3 and reader.decode_failures == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedFormatError, match="no image files"):
        ImageSequenceReader(tmp_path / "empty")
