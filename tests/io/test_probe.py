from __future__ import annotations

import pytest

from tests.conftest import BAD, REPO
from zhurong_tk.io.probe import iter_media_paths, probe, probe_many

#: Every committed bad file and what probing it must say (fixtures/bad/README.md).
BAD_FILES = {
    "empty.wav": ("error", "empty file (0 bytes)"),
    "empty.jpg": ("error", "empty file (0 bytes)"),
    "header_only.wav": ("error", "no audio samples (header only)"),
    "truncated.wav": ("error", "truncated: header declares 2,044 bytes, file has 244"),
    "truncated.flac": ("error", "truncated or corrupt: the last samples do not decode"),
    "not_audio.wav": ("error", "not a media file (content is plain text)"),
    "not_media.mp4": ("error", "not a media file (content is an HTML page (a failed download?))"),
    "truncated.jpg": ("error", "truncated JPEG (no end-of-image marker)"),
    "truncated.png": ("error", "truncated PNG (no IEND chunk)"),
    "zero_size.png": ("error", "corrupt PNG header"),
    "huge_dimensions.png": (
        "error",
        "image claims 40,000,000,000 pixels, above the limit of 150,000,000",
    ),
    "truncated.mp4": ("error", "FFmpeg cannot open it"),
    "corrupt.mp4": ("error", "FFmpeg cannot open it"),
    "image_named.wav": ("image", "file name says audio but the content is PNG image"),
    "audio_named.jpg": ("audio", "file name says image but the content is WAV audio"),
    "nan_samples.wav": ("audio", None),
    "corrupt_exif.jpg": ("image", "Corrupt EXIF data. Expecting to read 12 bytes but only got 8."),
    # the header is sound; the damaged strip shows in a verified probe and in a read
    "corrupt_lzw.tif": ("image", None),
    # whole chunks: the missing pixel data shows in a read (libpng: not enough image data)
    "short_data.png": ("image", None),
}


def test_every_bad_file_is_covered():
    on_disk = {p.name for p in BAD.iterdir()}
    assert on_disk == set(BAD_FILES) | {"README.md"}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_never_raise_and_say_why(name):
    kind, message = BAD_FILES[name]
    result = probe(BAD / name)
    assert result.kind == kind
    if kind == "error":
        assert result.error.startswith(message)
        assert not result.ok and result.info is None
    else:
        assert result.ok
        if message:
            assert message in result.notes


def test_probe_many_walks_folders_and_keeps_going(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.wav").write_bytes((BAD / "audio_named.jpg").read_bytes())
    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not media; skipped by the walk")
    (tmp_path / ".hidden.wav").write_bytes(b"")
    results = list(probe_many([tmp_path]))
    assert [(r.path.removeprefix(str(tmp_path)), r.kind) for r in results] == [
        ("/b.wav", "error"),
        ("/sub/a.wav", "audio"),
    ]


def test_explicit_files_are_probed_whatever_their_name():
    paths = [p for p, explicit in iter_media_paths([REPO / "README.md"]) if explicit]
    assert paths == [REPO / "README.md"]


def test_verify_counts_decoded_frames(tmp_path):
    from zhurong_tk.synth import audio as synth_audio

    m4a = synth_audio.write(
        tmp_path / "e.m4a", synth_audio.egress_scene(duration_s=10.0), sr=16_000
    )
    quick = probe(m4a)
    assert not quick.info.frames_exact
    checked = probe(m4a, verify=True)
    assert checked.info.frames_exact
    # AAC decodes in whole 1024-sample frames; the MP4's edit list trims them back to
    # exactly the 160 000 written
    assert checked.info.frames == 160_000
    assert checked.notes == [f"verified: {checked.info.frames} frames decoded, 0 packets failed"]


def video_with_sound(path):
    """2 s of H.264 picture (10 fps, 64×48) and 2 s of AAC sound (16 kHz mono) in MP4."""
    from fractions import Fraction

    import numpy as np

    from zhurong_tk.io._ffmpeg import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=16_000, layout="mono")
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), "bgr24")
            container.mux(video.encode(frame))
        tone = np.sin(2 * np.pi * 440 * np.arange(32_000) / 16_000).astype(np.float32)
        for start in range(0, 32_000, 1024):
            block = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], "fltp", "mono")
            block.sample_rate, block.pts, block.time_base = 16_000, start, Fraction(1, 16_000)
            container.mux(sound.encode(block))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    return path


def test_verify_decodes_a_video_s_audio_track(tmp_path):
    path = video_with_sound(tmp_path / "with_sound.mp4")
    quick = probe(path)
    assert quick.kind == "video" and not quick.info.audio[0].frames_exact
    checked = probe(path, verify=True)
    track = checked.info.audio[0]
    assert track.frames_exact
    # whole 1024-sample AAC frames, trimmed by the MP4's edit list to the 32 000 written
    assert track.frames == 32_000
    assert f"verified: audio #0: {track.frames} frames decoded, 0 packets failed" in checked.notes
    assert checked.notes[0].startswith("verified: 20 frames decoded")


def test_a_turned_photo_says_it_is_read_upright(tmp_path):
    from PIL import Image

    picture = Image.new("RGB", (96, 64))
    exif = picture.getexif()
    exif[0x0112] = 8
    picture.save(tmp_path / "turned.jpg", exif=exif.tobytes())
    result = probe(tmp_path / "turned.jpg")
    assert (result.info.width, result.info.height) == (64, 96)
    assert "EXIF orientation 8: read turned upright" in result.notes
