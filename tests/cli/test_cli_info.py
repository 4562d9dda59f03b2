from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import BAD, manifest_entries
from tests.io.test_probe import BAD_FILES, video_with_sound
from zhurong_tk.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("name", sorted(n for n, (kind, _) in BAD_FILES.items() if kind == "error"))
def test_each_unreadable_file_gives_one_line_and_exit_1(name):
    result = run("info", str(BAD / name))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"zhurong-tk: error: {BAD / name}: {BAD_FILES[name][1]}" or lines[
        0
    ].startswith(f"zhurong-tk: error: {BAD / name}: {BAD_FILES[name][1]}")
    assert lines[-1] == "zhurong-tk: 1 of 1 files could not be read"
    assert "Traceback" not in result.output


def test_a_bad_file_does_not_stop_the_others():
    result = run("info", "--format", "json", str(BAD))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["schema"] == "zhurong-tk/info/1"
    by_name = {f["path"].rsplit("/", 1)[1]: f for f in doc["files"]}
    assert set(by_name) == set(BAD_FILES)
    assert doc["summary"] == {
        "files": len(BAD_FILES),
        "failed": sum(k == "error" for k, _ in BAD_FILES.values()),
    }
    assert by_name["audio_named.jpg"]["kind"] == "audio"
    assert by_name["audio_named.jpg"]["samplerate"] == 8000
    assert by_name["truncated.wav"]["error"].startswith("truncated")


def test_jsonl_streams_one_record_per_file():
    result = run("info", "--format", "jsonl", str(BAD / "image_named.wav"), str(BAD / "empty.wav"))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["kind"], r.get("width")) for r in records] == [("image", 64), ("error", None)]
    assert result.exit_code == 1


def test_table_lists_kind_format_and_details():
    result = run("info", str(BAD / "audio_named.jpg"), str(BAD / "nan_samples.wav"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PATH", "KIND", "FORMAT", "DETAILS"]
    assert "WAV PCM_16" in lines[1] and "8000 Hz · 1 ch · 1000 frames · 0.125 s" in lines[1]
    assert "note" in lines[2] and "file name says image but the content is WAV audio" in lines[2]
    assert "WAV FLOAT" in lines[3]


def test_missing_path_and_empty_folder(tmp_path):
    result = run("info", str(tmp_path / "nowhere.wav"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"zhurong-tk: error: {tmp_path / 'nowhere.wav'}: no such file")
    result = run("info", str(tmp_path))
    assert result.exit_code == 1
    assert "no media files found" in result.stderr


def test_usage_errors_exit_2():
    assert run("info").exit_code == 2
    assert run("info", "--format", "xml", str(BAD / "empty.wav")).exit_code == 2
    assert run("info", "--max-pixels", "0", str(BAD / "empty.wav")).exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_pixel_limit_option(tmp_path):
    result = run("info", "--max-pixels", "1000", "--format", "jsonl", str(BAD / "image_named.wav"))
    assert result.exit_code == 1
    assert "64×48 = 3,072 pixels, above the limit of 1,000" in json.loads(result.stdout)["error"]


@pytest.mark.samples
def test_info_on_the_samples_folder_lists_every_sample(samples_root):
    result = run("info", "--format", "json", str(samples_root))
    assert result.exit_code == 0, result.stderr
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    expected = {str(samples_root / e["path"]): e for e in manifest_entries()}
    assert set(files) == set(expected)
    for path, entry in expected.items():
        found = files[path]
        assert found["kind"] == entry["kind"]
        for key in ("samplerate", "channels", "width", "height", "codec"):
            if key in entry["expect"]:
                assert found[key] == entry["expect"][key], (path, key)
    # the two AAC files and the audio track of the generic video are all there
    m4a = [p for p in files if p.endswith(".m4a")]
    assert len(m4a) == 2 and all(files[p]["codec"] == "aac" for p in m4a)
    box = files[str(samples_root / "video/generic/opencv_box.mp4")]
    assert [(a["codec"], a["samplerate"]) for a in box["audio"]] == [("mp3float", 44100)]


@pytest.mark.samples
def test_table_on_the_samples_shows_the_audio_track(samples_root):
    result = run("info", str(samples_root / "video" / "generic"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "mp4 h264" in lines[1] and "640×480" in lines[1] and "456 frames reported" in lines[1]
    assert "└ audio" in lines[2] and "mp3float #0" in lines[2] and "44100 Hz · 1 ch" in lines[2]


def test_verify_makes_a_video_s_audio_count_exact(tmp_path):
    path = str(video_with_sound(tmp_path / "with_sound.mp4"))
    estimated = run("info", path).stdout.splitlines()[2]
    assert "└ audio" in estimated and "~" in estimated
    verified = run("info", "--verify", path).stdout.splitlines()
    assert "└ audio" in verified[2] and "~" not in verified[2]
    assert any("verified: audio #0:" in line for line in verified)


@pytest.mark.samples
@pytest.mark.slow
def test_verify_decodes_every_sample(samples_root):
    result = run(
        "info",
        "--verify",
        "--format",
        "json",
        str(samples_root / "audio"),
        str(samples_root / "video"),
    )
    assert result.exit_code == 0
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    for entry in manifest_entries():
        if entry["kind"] == "audio":
            assert (
                files[str(samples_root / entry["path"])]["frames"]
                == entry["expect"]["decoded_frames"]
            )
        if entry["kind"] == "video":
            note = f"verified: {entry['expect']['decoded_frames']} frames decoded, 0 packets failed"
            assert note in files[str(samples_root / entry["path"])]["notes"]
