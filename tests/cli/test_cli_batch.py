"""``zhurong-tk batch``: a command over a folder, resumed, with bad inputs and bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zhurong_tk.cli.main import cli
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.synth import tracks as synth_tracks

pytestmark = pytest.mark.slow


@pytest.fixture
def hazcam(tmp_path):
    root = tmp_path / "hazcam"
    for sol in ("sol1", "sol2"):
        (root / sol).mkdir(parents=True)
    for i in range(3):
        synth_tracks.write(
            root / f"sol{1 + i % 2}" / f"rear_{i}.jpg",
            synth_tracks.track_scene(seed=i),
            truth=False,
        )
    (root / "sol2" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (root / "sol2" / "notes.txt").write_text("not an image: not collected from the folder")
    return root


def test_batch_tracks_over_a_folder_then_resumed(hazcam, tmp_path):
    out = tmp_path / "out"
    args = [
        "batch",
        "--out",
        str(out),
        "--jobs",
        "2",
        "tracks",
        "detect",
        "--max-pixels",
        "50000000",
    ]
    first = CliRunner().invoke(cli, [*args, str(hazcam)])
    assert first.exit_code == 1, first.output
    assert first.stdout.startswith("3 done, 0 skipped, 1 failed")
    assert "broken.jpg: cannot read JPEG header" in first.stderr
    for name in ("sol1/rear_0.jpg", "sol2/rear_1.jpg", "sol1/rear_2.jpg"):
        report = json.loads((out / name / "report.json").read_text())
        assert report["schema"] == "zhurong-tk/tracks.detect/1" and len(report["tracks"]) >= 1
        assert (out / name / "overlay.png").is_file()
    records = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in records) == ["done", "done", "done", "failed"]
    # the table of contents: each input's state, each result's count of tracks
    index = json.loads((out / "index.json").read_text())
    assert index["schema"] == "zhurong-tk/batch.index/1" and index["command"] == "tracks detect"
    assert (index["inputs"], index["done"], index["failed"]) == (4, 3, 1)
    by_name = {Path(e["input"]).name: e for e in index["results"]}
    assert "cannot read JPEG header" in by_name["broken.jpg"]["error"]
    for name in ("rear_0.jpg", "rear_1.jpg", "rear_2.jpg"):
        report = json.loads((out / by_name[name]["result"] / "report.json").read_text())
        assert by_name[name]["digest"] == {"tracks": len(report["tracks"])}
    # and the picture of it all: a contact sheet of the overlays and the failure
    overview = cv2.imread(str(out / "overview.jpg"))
    assert overview.shape[1] > 4 * 200 and overview.shape[0] > 150
    # again: nothing to do, but the archive is still not all done
    again = CliRunner().invoke(cli, [*args, str(hazcam)])
    assert again.exit_code == 1
    assert again.stdout.startswith("0 done, 4 skipped (1 failed before")
    # the broken image replaced by a good one: --retry-failed runs it
    synth_tracks.write(
        hazcam / "sol2" / "broken.jpg", synth_tracks.track_scene(seed=7), truth=False
    )
    retry = [
        "batch",
        "--out",
        str(out),
        "--retry-failed",
        "tracks",
        "detect",
        "--max-pixels",
        "50000000",
    ]
    retried = CliRunner().invoke(cli, [*retry, str(hazcam)])
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.startswith("1 done, 3 skipped, 0 failed")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["video", "info"], "batch runs one of: audio analyze, video frames, tracks detect, radar"),
        (["tracks"], "name the command"),
        (["tracks", "detect", "--camera", "1,2", "x.jpg"], "--camera"),
    ],
)
def test_batch_usage_errors(args, message, tmp_path):
    result = CliRunner().invoke(cli, ["batch", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_batch_runs_audio_analyze_and_video_frames_with_their_options(tmp_path):
    from zhurong_tk.synth import audio as synth_audio
    from zhurong_tk.synth import video as synth_video

    media = tmp_path / "media"
    media.mkdir()
    synth_audio.write(media / "egress.wav", synth_audio.egress_scene(duration_s=12), sr=16000)
    synth_video.write(media / "drive.mp4", synth_video.drive_scene(seed=0))
    out = tmp_path / "out"
    audio = CliRunner().invoke(
        cli, ["batch", "--out", str(out / "a"), "audio", "analyze", "--n-fft", "1024", str(media)]
    )
    # videos are collected for their sound too; this one is silent, and fails alone
    assert audio.exit_code == 1, audio.output
    assert audio.stdout.startswith("1 done, 0 skipped, 1 failed")
    assert "drive.mp4: MP4/MOV file has no audio track" in audio.stderr
    report = json.loads((out / "a" / "egress.wav" / "report.json").read_text())
    assert report["parameters"]["n_fft"] == 1024  # the option reached the command
    # the index counts what the report found, in its part per channel
    (entry,) = [
        e
        for e in json.loads((out / "a" / "index.json").read_text())["results"]
        if e["status"] == "done"
    ]
    (channel,) = report["channels"]
    assert channel["segments"] and channel["tonal_lines"]
    assert entry["digest"] == {
        "segments": len(channel["segments"]),
        "tonal_lines": len(channel["tonal_lines"]),
    }
    video = CliRunner().invoke(
        cli, ["batch", "--out", str(out / "v"), "video", "frames", "--every", "2s", str(media)]
    )
    assert video.exit_code == 0, video.output
    assert video.stdout.startswith("1 done")  # videos only
    index = json.loads((out / "v" / "drive.mp4" / "index.json").read_text())
    assert index["selection"]["interval_s"] == 2.0  # the option reached the command
    assert index["frames"] and (out / "v" / "drive.mp4" / "contact_sheet.jpg").is_file()


def test_the_command_line_is_split_by_the_commands_options():
    from zhurong_tk.cli.batch import _split
    from zhurong_tk.cli.tracks import detect_command

    tokens = ["a.jpg", "--camera", "476,331,233,1.5,24", "--debug-images", "b.jpg"]
    tokens += ["--max-pixels=1000", "--threads", "a.jpg", "--", "-odd.jpg"]
    inputs, options = _split(detect_command, tokens)
    # an option's value spelled like an input stays with its option
    assert inputs == ["a.jpg", "b.jpg", "-odd.jpg"]
    assert options == [
        "--camera",
        "476,331,233,1.5,24",
        "--debug-images",
        "--max-pixels=1000",
        "--threads",
        "a.jpg",
    ]


def test_installed_batch_stops_on_ctrl_c_with_exit_130_and_a_consistent_ledger(tmp_path):
    import shutil
    import signal
    import subprocess
    import sys
    import time

    images = tmp_path / "hazcam"
    images.mkdir()
    # enough inputs that the run is still going when the interrupt lands (~0.1 s each); one
    # scene copied, as the content does not matter here and generating costs as much
    first = images / "rear_00.jpg"
    synth_tracks.write(first, synth_tracks.track_scene(seed=0))
    for i in range(1, 60):
        shutil.copyfile(first, images / f"rear_{i:02}.jpg")
    out = tmp_path / "out"
    exe = shutil.which("zhurong-tk")
    command = [exe] if exe else [sys.executable, "-m", "zhurong_tk"]
    with subprocess.Popen(
        [*command, "batch", "--out", str(out), "--jobs", "2", "tracks", "detect", str(images)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # started from a test, the child must see SIGINT as a terminal would deliver it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        ledger = out / "ledger.jsonl"
        deadline = time.monotonic() + 120
        while not (ledger.exists() and len(ledger.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline, "no results after 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "zhurong-tk: interrupted", stderr
    assert "Traceback" not in stderr, stderr
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert 2 <= len(records) < 60 and {r["status"] for r in records} == {"done"}, records
    # every recorded input has its result folder; a worker may have renamed one more into
    # place (complete: the rename is the last step) in the instant the interrupt landed,
    # before the runner could record it: a re-run redoes that input and replaces it
    folders = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")}
    recorded = {r["result"] for r in records}
    assert recorded <= folders and len(folders - recorded) <= 2, (folders, recorded)
    for name in folders:
        assert json.loads((out / name / "report.json").read_text())["schema"]


def test_a_timeout_names_the_file_and_options_no_input_can_take_exit_2(tmp_path):
    import soundfile as sf

    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(media / name, np.zeros(16000 * 12, np.float32), 16000)
    out = tmp_path / "out"
    timed = CliRunner().invoke(
        cli,
        [
            "batch",
            "--out",
            str(out / "t"),
            "--timeout",
            "0.001",
            "audio",
            "analyze",
            str(media / "a.wav"),
        ],
    )
    assert timed.exit_code == 1, timed.output
    assert f"zhurong-tk: error: {media / 'a.wav'}: timed out after 0.001 s" in timed.stderr
    # a quiet stretch past the end of every input: each fails on its options, so the run does
    bad = ["--background", "50", "60", str(media)]
    result = CliRunner().invoke(cli, ["batch", "--out", str(out / "b"), "audio", "analyze", *bad])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("lies outside the recording") == 2


def test_a_stereo_result_s_spectrogram_is_its_overview_picture(tmp_path):
    from zhurong_tk.batch.overview import _picture_tile

    picture = np.full((300, 400, 3), (0, 200, 0), np.uint8)
    cv2.imwrite(str(tmp_path / "spectrogram_ch0.png"), picture)
    cv2.imwrite(str(tmp_path / "spectrogram_ch1.png"), picture)
    tile = _picture_tile(tmp_path)
    assert tile.shape[1] == 200 and tile[..., 1].mean() > 150  # green: the picture, not grey
