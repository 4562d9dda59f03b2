from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import BAD, manifest_entries, sample_path
from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io.audio import (
    AudioReader,
    _reblock,
    _without_end_padding,
    count_frames,
    probe_audio,
)
from zhurong_tk.synth import audio as synth_audio


@pytest.fixture(scope="module")
def stereo_flac(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "stereo.flac"
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((30_011, 2)) * 0.1).astype(np.float32)
    sf.write(path, data, 22_050, subtype="PCM_24")
    return path, sf.read(path, dtype="float32")[0]


@pytest.mark.parametrize(("block", "overlap"), [(4096, 0), (4096, 1024), (1000, 999), (50_000, 0)])
def test_blocks_tile_the_signal_exactly(stereo_flac, block, overlap):
    path, expected = stereo_flac
    reader = AudioReader(path)
    blocks = list(reader.blocks(block, overlap=overlap))
    step = block - overlap
    assert all(b.dtype == np.float32 and b.shape[1] == 2 for b in blocks)
    assert all(len(b) == block for b in blocks[:-1])
    for i, b in enumerate(blocks):
        np.testing.assert_array_equal(b, expected[i * step : i * step + len(b)])
    # every frame covered, the last one exactly once at the end
    assert (len(blocks) - 1) * step + len(blocks[-1]) == len(expected)
    assert reader.frames_read == len(expected)


def test_reblock_does_not_depend_on_chunking(rng):
    x = rng.standard_normal((10_007, 1)).astype(np.float32)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), 40, replace=False))
    chunks = np.split(x, cuts)
    a = list(_reblock(iter(chunks), 512, 128, 1))
    b = list(_reblock(iter([x]), 512, 128, 1))
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_reblock_passes_whole_blocks_through_in_order(rng):
    # chunks that are whole blocks go out as they are, between ones that must be joined
    x = rng.standard_normal((5_000, 1)).astype(np.float32)
    chunks = np.split(x, [512, 700, 1024, 1536, 2048, 2060, 4608])
    out = list(_reblock(iter(chunks), 512, 0, 1))
    assert [len(b) for b in out] == [512] * 9 + [392]
    np.testing.assert_array_equal(np.concatenate(out), x)


def test_block_parameters_are_checked(stereo_flac):
    reader = AudioReader(stereo_flac[0])
    with pytest.raises(ParameterError, match="block_frames must be positive, got 0"):
        next(reader.blocks(0))
    with pytest.raises(ParameterError, match="overlap"):
        next(reader.blocks(100, overlap=100))


def test_aac_in_m4a_streams_through_pyav_with_the_same_content(tmp_path):
    scene = synth_audio.egress_scene(duration_s=10.0, seed=4)
    wav = synth_audio.write(tmp_path / "e.wav", scene, sr=44_100, subtype="FLOAT")
    m4a = synth_audio.write(tmp_path / "e.m4a", scene, sr=44_100, channels=2)
    info = probe_audio(m4a)
    assert (info.backend, info.codec, info.samplerate, info.channels) == ("pyav", "aac", 44_100, 2)
    reference = sf.read(wav, dtype="float32")[0]
    decoded = np.concatenate(list(AudioReader(m4a).blocks(8192)))
    assert decoded.shape[1] == 2
    # joint-stereo coding leaves the two identical inputs nearly, not bit-, identical
    assert np.corrcoef(decoded[:, 0], decoded[:, 1])[0, 1] > 0.999
    # the MP4 edit list's priming (encoder delay) and end padding are both taken out:
    # the samples line up with the source, one for one
    lag = int(np.argmax(np.correlate(decoded[:4096, 0], reference[:2048], mode="valid")))
    assert lag == 0
    assert len(decoded) == len(reference)
    snr = 10 * np.log10(np.sum(reference**2) / np.sum((decoded[:, 0] - reference) ** 2))
    assert snr > 20.0


def test_only_the_last_codec_frame_s_padding_is_cut():
    frames = [np.full((1024, 1), k, np.float32) for k in range(4)]  # 4096 decoded
    # an MP4 edit list ending inside the last frame: its padding goes
    kept = np.concatenate(list(_without_end_padding(iter(frames), 4000)))
    assert len(kept) == 4000 and kept[-1, 0] == 3
    # a count ending a frame early (the MP3 track of opencv_box.mp4: its last packet has
    # no duration in the sample table) is no padding: all 4096 are kept
    assert sum(map(len, _without_end_padding(iter(frames), 3000))) == 4096
    assert sum(map(len, _without_end_padding(iter(frames), None))) == 4096
    assert sum(map(len, _without_end_padding(iter(frames), 5000))) == 4096


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.wav", r"empty file \(0 bytes\)"),
        ("header_only.wav", r"no audio samples \(header only\)"),
        ("truncated.wav", "truncated: header declares 2,044 bytes, file has 244"),
        ("truncated.flac", "truncated or corrupt: the last samples do not decode"),
        ("not_audio.wav", r"not an audio file \(content is plain text\)"),
        ("not_media.mp4", r"not an audio file \(content is an HTML page \(a failed download\?\)\)"),
        ("image_named.wav", r"not an audio file \(content is PNG image\)"),
    ],
)
def test_bad_audio_files_name_the_problem(name, reason):
    with pytest.raises(MediaReadError, match=reason) as info:
        probe_audio(BAD / name)
    assert info.value.path == str(BAD / name)


def test_nan_samples_are_read_as_they_are():
    # reading is faithful; analyses decide what to do with non-finite samples
    data = np.concatenate(list(AudioReader(BAD / "nan_samples.wav").blocks(256)))[:, 0]
    assert np.isnan(data[100:110]).all() and np.isposinf(data[300])
    assert np.isfinite(np.delete(data, [*range(100, 110), 300])).all()


def test_video_without_audio_track_is_unsupported(samples_root):
    path = sample_path(samples_root, "video/m2020_edl_downlook_reprojected.webm")
    with pytest.raises(UnsupportedFormatError, match="has no audio track"):
        probe_audio(path)


def test_stream_index_is_checked(samples_root):
    path = sample_path(samples_root, "video/generic/opencv_box.mp4")
    with pytest.raises(ParameterError, match="audio stream 1 requested, file has 1"):
        probe_audio(path, stream=1)


def test_stream_index_is_checked_on_plain_audio_files(stereo_flac):
    # it was accepted and ignored: --stream 7 on a FLAC analysed its only stream
    path, _ = stereo_flac
    with pytest.raises(ParameterError, match="audio stream 7 requested, file has 1"):
        probe_audio(path, stream=7)
    assert probe_audio(path, stream=0).channels == 2


@pytest.mark.samples
@pytest.mark.parametrize("entry", manifest_entries("audio"), ids=lambda e: e["path"])
def test_real_recordings_decode_to_the_documented_sample_counts(samples_root, entry):
    path = sample_path(samples_root, entry["path"])
    info = probe_audio(path)
    expect = entry["expect"]
    assert (info.samplerate, info.channels, info.codec) == (
        expect["samplerate"],
        expect["channels"],
        expect["codec"],
    )
    frames, errors = count_frames(path)
    assert (frames, errors) == (expect["decoded_frames"], 0)


@pytest.mark.samples
def test_audio_track_of_a_video_is_read(samples_root):
    path = sample_path(samples_root, "video/generic/opencv_box.mp4")
    info = probe_audio(path)
    assert (info.codec, info.samplerate, info.channels) == ("mp3float", 44_100, 1)
    frames, errors = count_frames(path)
    assert errors == 0
    assert abs(frames / 44_100 - 15.1) < 0.1  # the clip's audio runs ~15.1 s
