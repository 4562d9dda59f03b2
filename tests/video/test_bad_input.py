"""Bad and odd video input: a clear error naming the file, or correct handling with a note."""

from __future__ import annotations

import json
import re
import struct
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import BAD
from zhurong_tk.cli.main import cli
from zhurong_tk.io._ffmpeg import av, cv2


def _write(path, *, n=30, fps=30, time_base=Fraction(1, 90_000), fmt=None, rate=None, times=None):
    """A small H.264 video whose frame i shows the grey level 8 i (and a white bar),
    at ``fps`` or at the given frame ``times``."""
    times = times if times is not None else [i / fps for i in range(n)]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=rate or fps)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i, time_s in enumerate(times):
            image = np.full((96, 160, 3), 8 * i % 256, np.uint8)
            image[:, :20] = 255
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = round(time_s / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _run(path, out, *extra):
    result = CliRunner().invoke(cli, ["video", "frames", str(path), "--out", str(out), *extra])
    index = None
    if (out / "index.json").exists():
        index = json.loads((out / "index.json").read_text())
    return result, index


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not_media.mp4", "not a video container"),
        ("truncated.mp4", "FFmpeg cannot open it"),
        ("corrupt.mp4", "FFmpeg cannot open it"),
        ("audio_named.jpg", "not a video container"),
    ],
)
def test_unreadable_files_fail_with_one_line_naming_them(name, reason, tmp_path):
    result, index = _run(BAD / name, tmp_path / "out")
    assert result.exit_code == 1
    assert name in result.output and reason in result.output
    assert "Traceback" not in result.output and index is None
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_zero_bytes_and_missing(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result, _ = _run(empty, tmp_path / "out")
    assert result.exit_code == 1 and "empty.mp4" in result.output and "empty file" in result.output
    result, _ = _run(tmp_path / "gone.mp4", tmp_path / "out")
    assert result.exit_code == 1 and "gone.mp4: no such file" in result.output


def test_unknown_codec_is_unsupported(tmp_path):
    data = bytearray(_write(tmp_path / "v.mp4").read_bytes())
    entry = data.find(b"avc1", data.find(b"stsd"))
    data[entry : entry + 4] = b"zzzz"  # a sample entry no decoder knows
    odd = tmp_path / "odd_codec.mp4"
    odd.write_bytes(bytes(data))
    result, _ = _run(odd, tmp_path / "out")
    assert result.exit_code == 1
    assert "odd_codec.mp4" in result.output and "no decoder" in result.output


def test_truncated_stream_yields_the_frames_that_decode(tmp_path):
    full = _write(tmp_path / "full.mkv", n=90)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    result, index = _run(cut, tmp_path / "out", "--every", "0.5s", "--dedup-bits", "-1")
    assert result.exit_code == 0, result.output
    analysed = index["video"]["frames_analysed"]
    assert 20 <= analysed < 90
    assert any("truncated" in w for w in index["warnings"])
    assert "warning:" in result.output
    times = [f["time_s"] for f in index["frames"]]
    assert times == sorted(times) and times[-1] < analysed / 30


def test_a_variable_rate_stream_is_not_called_truncated(tmp_path):
    # Matroska stores no frame count: cv2's duration × average rate (here 8 s × 30 fps)
    # is no count for 4 s at 30 fps then 4 s at 10 fps
    times = [i / 30 for i in range(120)] + [4 + i / 10 for i in range(40)]
    full = _write(tmp_path / "vfr.mkv", times=times)
    result, index = _run(full, tmp_path / "out", "--every", "1s")
    assert result.exit_code == 0, result.output
    assert index["video"]["frames_analysed"] == 160
    assert not any("truncated" in w for w in index["warnings"]), index["warnings"]
    cut = tmp_path / "cut.mkv"  # short of the duration the header still holds
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 85 // 100])
    result, index = _run(cut, tmp_path / "cut", "--every", "1s")
    assert result.exit_code == 0, result.output
    reached = max(f["time_s"] for f in index["frames"])
    assert any(
        re.fullmatch(r"decoded ([\d.]+) s of the 7\.9\d s the container reports "
                     r"\(truncated or damaged file\?\)", w)
        and float(re.match(r"decoded ([\d.]+)", w)[1]) >= reached
        for w in index["warnings"]
    ), index["warnings"]  # fmt: skip


def test_damaged_packets_are_counted_not_fatal(tmp_path):
    data = bytearray(_write(tmp_path / "v.mp4", n=60).read_bytes())
    mdat, moov = data.find(b"mdat"), data.find(b"moov")
    assert mdat < moov  # the index of samples follows their data
    rng = np.random.default_rng(1)
    middle = (mdat + moov) // 2
    data[middle : middle + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    result, index = _run(damaged, tmp_path / "out", "--every", "0.5s")
    assert result.exit_code == 0, result.output
    # every frame is still delivered (the decoder conceals what it can) or counted as failed
    facts = index["video"]
    assert facts["frames_analysed"] + facts["decode_failures"] >= 55


def test_absurd_frame_rate_in_metadata_is_ignored(tmp_path):
    # the stream says 90 000 fps; the frames are 1/30 s apart
    odd = _write(tmp_path / "fast.mkv", rate=90_000, time_base=Fraction(1, 1000))
    result, index = _run(odd, tmp_path / "out", "--every", "0.5s", "--dedup-bits", "-1")
    assert result.exit_code == 0, result.output
    facts = index["video"]
    assert any("implausible frame rate" in note for note in facts["notes"])
    assert facts["fps_reported"] is None
    assert facts["fps_measured"] == pytest.approx(30, abs=0.5)
    assert facts["frame_count_reported"] in (None, 30)
    assert [f["time_s"] for f in index["frames"]] == pytest.approx([0.0, 0.5], abs=0.04)


def test_raw_stream_without_timestamps_or_frame_count(tmp_path):
    raw = _write(tmp_path / "clip.h264", fmt="h264")
    result, index = _run(raw, tmp_path / "out", "--every", "0.4s", "--dedup-bits", "-1")
    assert result.exit_code == 0, result.output
    facts = index["video"]
    assert facts["frames_analysed"] == 30 and facts["timestamps_assumed"] == 30
    assert any("negative frame count" in note for note in facts["notes"])
    assert any("no timestamp" in w for w in index["warnings"])
    fps = facts["fps_reported"]  # the demuxer's guess for a raw stream
    assert fps == 25
    assert len(index["frames"]) == 3  # 30 frames at 25 fps: 1.2 s in 0.4-s intervals
    assert all(f["time_s"] == pytest.approx(f["frame"] / fps) for f in index["frames"])


def test_rotation_metadata_is_applied_to_written_frames(tmp_path):
    data = bytearray(_write(tmp_path / "v.mp4").read_bytes())
    matrix = data.find(b"tkhd") + 44  # version-0 track header: the display matrix
    struct.pack_into(">9i", data, matrix, 0, 65536, 0, -65536, 0, 0, 0, 0, 0x40000000)
    rotated = tmp_path / "rotated.mp4"
    rotated.write_bytes(bytes(data))
    result, index = _run(rotated, tmp_path / "out", "--at", "0", "--format", "png")
    assert result.exit_code == 0, result.output
    assert index["video"]["rotation_deg"] == 90 and index["video"]["rotation_applied"]
    written = cv2.imread(str(tmp_path / "out" / index["frames"][0]["path"]))
    assert written.shape == (160, 96, 3)  # upright: portrait
    upright = cv2.VideoCapture(str(rotated)).read()[1]  # cv2 applies the rotation itself
    assert np.abs(written.astype(int) - upright.astype(int)).mean() < 3
    assert (written[:20, :, :] > 200).all()  # the white bar on the left is now on top


def test_image_folder_with_a_broken_image(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"img_{i:02d}.png"), np.full((40, 60, 3), 30 * i, np.uint8))
    (folder / "img_03.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result, index = _run(folder, tmp_path / "out", "--input-fps", "2", "--every", "1s")
    assert result.exit_code == 0, result.output
    assert index["video"]["decode_failures"] == 1 and index["video"]["frames_analysed"] == 5
    assert "1 images could not be decoded" in index["warnings"][0]
    result, _ = _run(folder, tmp_path / "out2")
    assert result.exit_code != 0 and "--input-fps" in result.output
    # results written among the images would be frames of the next run
    result = CliRunner().invoke(
        cli, ["video", "frames", str(folder), "--input-fps", "2", "--out", str(folder)]
    )
    assert result.exit_code == 2 and "--out is the image folder itself" in result.stderr
    assert len(list(folder.iterdir())) == 6


def test_scenes_keep_their_times_when_images_before_and_at_a_cut_fail(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    shots = [first, cv2.GaussianBlur(first, (0, 0), 5)[:, ::-1], np.roll(first, 60, axis=0)]
    for i in range(60):  # three shots of 2 s at 10 fps: cuts at 2.0 and 4.0 s
        cv2.imwrite(str(folder / f"f{i:03}.png"), shots[i // 20])
    for broken in (folder / "f020.png", folder / "f030.png"):  # at the first cut; mid-shot
        broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result, index = _run(folder, tmp_path / "out", "--input-fps", "10", "--scenes")
    assert result.exit_code == 0, result.output
    scenes = [(s["start_frame"], s["end_frame"], s["start_s"], s["end_s"]) for s in index["scenes"]]
    # the second shot is first seen in f021 (2.1 s); the third starts at f040 (4.0 s)
    assert scenes == [(0, 21, 0.0, 2.1), (21, 40, 2.1, 4.0), (40, 60, 4.0, 6.0)]


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_boxes_follow_the_rotation(degrees):
    from zhurong_tk.video.extract import _ROTATE, _rotate_box

    image = np.zeros((40, 100), np.uint8)
    box = (10, 5, 30, 8)  # x, y, w, h
    image[5:13, 10:40] = 255
    turned = cv2.rotate(image, _ROTATE[degrees])
    x, y, w, h = _rotate_box(box, 100, 40, _ROTATE[degrees])
    ys, xs = np.nonzero(turned)
    assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
