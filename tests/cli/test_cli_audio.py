from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from tests.conftest import BAD
from zhurong_tk.cli.main import cli
from zhurong_tk.synth import audio as synth_audio


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def egress(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-audio")
    scene = synth_audio.egress_scene(duration_s=20.0, seed=3)
    return synth_audio.write(folder / "egress.wav", scene, sr=16_000), scene


def test_overwrite_removes_what_the_last_run_wrote_and_this_one_did_not(tmp_path, egress):
    path, _ = egress
    out = tmp_path / "out"
    first = run("audio", "analyze", str(path), "--out", str(out), "--export-denoised", "clean.wav")
    assert first.exit_code == 0, first.output
    (out / "notes.txt").write_text("mine")  # the user's own file
    again = run("audio", "analyze", str(path), "--out", str(out), "--overwrite")
    assert again.exit_code == 0, again.output
    names = sorted(p.name for p in out.iterdir())
    # clean.wav was the last run's and not this one's: a stale export no longer lies there
    assert "clean.wav" not in names
    assert {"notes.txt", "report.json", "frames.csv", "spectrogram.png"} <= set(names)


def test_analyze_writes_every_artifact(tmp_path, egress):
    path, scene = egress
    result = run(
        "audio",
        "analyze",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--export-denoised",
        "clean.wav",
        "--bandpass",
        "80",
        "600",
        "--sensitivity",
        "0.5",
        "--band",
        "50-150",
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        ".zhurong-tk-outputs.json",  # which command wrote which file: see OutputDir.finish
        "bandpass_80-600Hz.wav",
        "clean.wav",
        "frames.csv",
        "psd.png",
        "report.json",
        "spectrogram.png",
    ]
    record = json.loads((tmp_path / "out" / ".zhurong-tk-outputs.json").read_text())
    assert record["files"] == dict.fromkeys(names[1:], "audio analyze")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["schema"] == "zhurong-tk/audio.analyze/1"
    assert report["parameters"]["psd_units"] == "Pa^2/Hz" and report["parameters"]["n_fft"] == 1024
    ch = report["channels"][0]
    assert "db_spl" in ch["levels"]["rms"]
    assert [b["label"] for b in ch["bands"]["user"]] == ["50-150 Hz"]
    kinds = [s["kind"] for s in ch["segments"] if s["kind"] != "wind-like"]
    assert kinds == [s["kind"] for s in scene["segments"]]
    with open(tmp_path / "out" / "frames.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:7] == [  # with --sensitivity: pascals and dB SPL
        "time_s",
        "rms_pa",
        "centroid_hz",
        "bandwidth_hz",
        "rolloff_hz",
        "flatness",
        "flux",
    ]
    assert rows[0][-1] == "user_50-150Hz_db_spl"
    assert len(rows) - 1 == (20 * 16_000 - 1024) // 256 + 1
    assert "tonal lines:" in result.stdout and "segments:" in result.stdout


def test_several_files_get_their_own_folders_and_failures_do_not_stop_the_rest(tmp_path, egress):
    path, _ = egress
    copy = tmp_path / "other" / "egress.wav"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    result = run(
        "audio",
        "analyze",
        str(path),
        str(BAD / "truncated.wav"),
        str(copy),
        "--out",
        str(tmp_path / "out"),
        "--format",
        "json",
    )
    assert result.exit_code == 1
    assert "zhurong-tk: error: " in result.stderr and "truncated.wav: truncated" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["egress.wav", "egress.wav-2"]
    summaries = json.loads(result.stdout)
    assert [("error" in s) for s in summaries] == [False, True, False]
    assert "Traceback" not in result.output


def test_an_output_that_cannot_be_a_folder_fails_once_before_any_work(tmp_path, egress):
    path, _ = egress
    (tmp_path / "taken").write_text("a file")
    out = tmp_path / "taken" / "sub"
    result = CliRunner().invoke(cli, ["audio", "analyze", str(path), str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"zhurong-tk: error: {out}: cannot write: is inside {tmp_path / 'taken'}, which is not"
        " a folder"
    ]


def test_existing_results_are_kept_without_overwrite(tmp_path, egress):
    path, _ = egress
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    result = run("audio", "analyze", str(path), "--out", str(out))
    assert result.exit_code == 1
    assert "report.json: already exists (use --overwrite to replace it)" in result.stderr
    assert (out / "report.json").read_text() == "{}"
    assert run("audio", "analyze", str(path), "--out", str(out), "--overwrite").exit_code == 0


@pytest.mark.parametrize("name", ["psd.png", "spectrogram_ch1.png"])
def test_an_existing_figure_stops_the_run_before_anything_is_written(tmp_path, egress, name):
    path, _ = egress
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("earlier")
    result = run("audio", "analyze", str(path), "--out", str(out))
    assert result.exit_code == 1
    assert f"{name}: already exists (use --overwrite to replace it)" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing else written


@pytest.mark.parametrize(
    "args",
    [
        ["--band", "100"],
        ["--n-fft", "1000"],
        ["--sensitivity", "-2"],
        ["--sensitivity", "inf"],
        ["--sensitivity", "1e300"],
        ["--bandpass", "900", "1100", "--export-denoised", "bandpass_900-1100Hz.wav"],
        ["--export-denoised", "a/b.wav"],
        ["--export-denoised", "clean.txt"],
        ["--export-denoised", "clean"],
        ["--band", "1..2-5"],
        ["--band", "500-100"],
        ["--bandpass", "500", "100"],
        ["--background", "5", "2"],
        ["--background", "-1", "2"],
    ],
)
def test_usage_errors_exit_2(tmp_path, egress, args):
    path, _ = egress
    result = run("audio", "analyze", str(path), "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_parameter_that_fits_no_input_is_a_usage_error_naming_the_file(tmp_path, egress):
    # the hop is checked against the n_fft each file's rate gives: after parsing, per file
    path, _ = egress
    result = run("audio", "analyze", str(path), "--out", str(tmp_path / "o"), "--hop", "100000")
    assert result.exit_code == 2
    assert f"zhurong-tk: error: {path}: hop must be in 1..n_fft, got 100000" in result.output
    # beside an unreadable file it is an input failure like the other
    result = run(
        "audio", "analyze", str(path), str(BAD / "empty.wav"), "--out", str(tmp_path / "p"),
        "--hop", "100000",
    )  # fmt: skip
    assert result.exit_code == 1


def test_a_quiet_stretch_sets_the_background_and_one_outside_the_file_is_named(tmp_path, egress):
    path, _ = egress  # 20 s of wind with events from 2 s on
    out = tmp_path / "o"
    result = run("audio", "analyze", str(path), "--out", str(out), "--background", "0.6", "1.9")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["parameters"]["segments"]["background_s"] == [0.6, 1.9]
    result = run(
        "audio", "analyze", str(path), "--out", str(tmp_path / "p"), "--background", "30", "40"
    )
    assert result.exit_code == 2
    assert f"zhurong-tk: error: {path}: the background stretch 30-40 s lies outside" in (
        result.output
    )


def test_a_folder_given_as_a_file_is_named_once(tmp_path):
    result = run("audio", "analyze", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert f"zhurong-tk: error: {tmp_path}: is a folder, not a file\n" in result.output


def test_bands_above_nyquist_are_reported_not_dropped_silently(tmp_path, egress):
    path, _ = egress  # 16 kHz: Nyquist 8 kHz
    out = tmp_path / "o"
    args = ["--band", "9000-12000", "--band", "100-500", "--bandpass", "9000", "12000"]
    result = run("audio", "analyze", str(path), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    warnings = report["warnings"]
    assert any(
        "user band 9000-12000 Hz lies above the Nyquist frequency (8000 Hz)" in w for w in warnings
    )
    assert any("--bandpass 9000-12000 Hz" in w and "not written" in w for w in warnings)
    assert not (out / "bandpass_9000-12000Hz.wav").exists()
    assert [b["label"] for b in report["channels"][0]["bands"]["user"]] == ["100-500 Hz"]
