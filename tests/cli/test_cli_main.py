from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import zhurong_tk
from tests.conftest import BAD
from zhurong_tk.cli import main as cli_main
from zhurong_tk.errors import EXIT_BROKEN_PIPE, ParameterError


@pytest.fixture
def probe_group():
    """The real group with extra commands that raise, to check the error mapping."""

    @cli_main.cli.command("raise-param", hidden=True)
    def raise_param():
        raise ParameterError("n_fft must be a power of two, got 1000")

    @cli_main.cli.command("raise-bug", hidden=True)
    def raise_bug():
        raise ZeroDivisionError("division by zero")

    @cli_main.cli.command("raise-interrupt", hidden=True)
    def raise_interrupt():
        raise KeyboardInterrupt

    @cli_main.cli.command("log-levels", hidden=True)
    def log_levels():
        log = logging.getLogger("zhurong_tk.test")
        log.debug("debug line")
        log.info("info line")
        log.warning("warning line")

    yield cli_main.cli
    for name in ("raise-param", "raise-bug", "raise-interrupt", "log-levels"):
        cli_main.cli.commands.pop(name)


def test_parameter_error_is_one_line_with_usage_exit_code(probe_group):
    result = CliRunner().invoke(probe_group, ["raise-param"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == "zhurong-tk: error: n_fft must be a power of two, got 1000\n"


def test_a_bug_is_reported_as_internal_with_exit_3(probe_group):
    result = CliRunner().invoke(probe_group, ["raise-bug"], catch_exceptions=False)
    assert result.exit_code == 3
    assert "internal error: ZeroDivisionError: division by zero" in result.stderr
    assert "--debug" in result.stderr and "Traceback" not in result.stderr


def test_a_bug_on_one_input_leaves_the_others_done(tmp_path, monkeypatch):
    import cv2
    import numpy as np

    from zhurong_tk.tracks import run as tracks_run

    real = tracks_run.detect_to_folder

    def buggy(path, *args, **kwargs):
        if Path(path).name == "bug.png":
            raise ValueError("cannot reshape array of size 0")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tracks_run, "detect_to_folder", buggy)
    images = []
    for name in ("bug.png", "fine.png"):
        cv2.imwrite(str(tmp_path / name), np.full((64, 64), 128, np.uint8))
        images.append(str(tmp_path / name))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli_main.cli, ["tracks", "detect", *images, "--out", str(out), "--format", "json"]
    )
    assert result.exit_code == 3
    assert "bug.png: internal error: ValueError: cannot reshape" in result.stderr
    assert (out / "fine.png" / "report.json").exists()
    assert '"no tracks found"' in result.stdout or "no tracks" in result.stdout


def test_debug_shows_the_traceback(probe_group):
    result = CliRunner().invoke(probe_group, ["--debug", "raise-param"])
    assert isinstance(result.exception, ParameterError)


def test_interrupt_exits_130(probe_group):
    result = CliRunner().invoke(probe_group, ["raise-interrupt"], catch_exceptions=False)
    assert result.exit_code == 130
    assert result.stderr == "zhurong-tk: interrupted\n"


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        ([], ["warning"]),
        (["-v"], ["info", "warning"]),
        (["-vv"], ["debug", "info", "warning"]),
        (["-q"], []),
    ],
)
def test_verbosity_controls_stderr_only(probe_group, flags, shown):
    result = CliRunner().invoke(probe_group, [*flags, "log-levels"], catch_exceptions=False)
    assert result.stdout == ""
    assert [line.split(": ")[1] for line in result.stderr.splitlines()] == [
        s.upper() for s in shown
    ]


def test_numba_threading_layer_is_chosen_before_any_kernel():
    code = "import zhurong_tk.cli.main, numba; print(numba.config.THREADING_LAYER)"
    env = {k: v for k, v in __import__("os").environ.items() if k != "NUMBA_THREADING_LAYER"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert proc.stdout.strip() == "workqueue"


def test_help_documents_exit_codes():
    result = CliRunner().invoke(cli_main.cli, ["--help"])
    assert "Exit status: 0 ok; 1 some input could not be processed; 2 usage error" in result.stdout
    assert isinstance(cli_main.cli, click.Group)


# Real runs of the installed command, as a user's shell would start it.


def _installed(*args: str) -> subprocess.CompletedProcess:
    exe = subprocess.run(
        [sys.executable, "-c", "import shutil; print(shutil.which('zhurong-tk') or '')"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    command = [exe] if exe else [sys.executable, "-m", "zhurong_tk"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def test_installed_command_reports_version():
    proc = _installed("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"zhurong-tk, version {zhurong_tk.__version__}"


def test_installed_command_on_bad_input_prints_no_traceback():
    proc = _installed("info", str(BAD / "truncated.wav"), str(BAD / "audio_named.jpg"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    reason = "truncated: header declares 2,044 bytes, file has 244"
    assert proc.stderr.splitlines()[0] == f"zhurong-tk: error: {BAD / 'truncated.wav'}: {reason}"
    assert "8000 Hz" in proc.stdout  # the good file was still probed
    assert "FFmpeg" not in proc.stderr and "libav" not in proc.stderr  # decoder chatter is silenced


def test_installed_command_detects_tracks_and_extracts_frames(tmp_path):
    from zhurong_tk.synth import tracks as synth_tracks
    from zhurong_tk.synth import video as synth_video

    image = synth_tracks.write(tmp_path / "ruts.jpg", synth_tracks.track_scene(seed=4, n_ruts=2))
    proc = _installed("tracks", "detect", str(image), "--out", str(tmp_path / "t"))
    assert proc.returncode == 0, proc.stderr
    assert "tracks found" in proc.stdout and (tmp_path / "t" / "overlay.png").is_file()
    scene = synth_video.edl_scene(duration_s=6, width=160, height=96, seed=2)
    video = synth_video.write(tmp_path / "edl.mp4", scene)
    proc = _installed(
        "video",
        "frames",
        str(video),
        "--out",
        str(tmp_path / "v"),
        "--events",
        "edl",
        "--every",
        "2s",
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "v" / "contact_sheet.jpg").is_file()
    assert "FFmpeg" not in proc.stderr and "Traceback" not in proc.stderr


def test_installed_command_stops_quietly_when_its_reader_goes(tmp_path):
    # `zhurong-tk tracks detect *.jpg | head -0`: the reader of stdout is gone
    from zhurong_tk.synth import tracks as synth_tracks

    images = [
        str(synth_tracks.write(tmp_path / f"t{i}.jpg", synth_tracks.track_scene(seed=i)))
        for i in range(2)
    ]
    exe = shutil.which("zhurong-tk")
    command = [exe] if exe else [sys.executable, "-m", "zhurong_tk"]
    with subprocess.Popen(
        [*command, "tracks", "detect", *images, "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert stderr == ""  # no "internal error", no "Exception ignored"
    assert (tmp_path / "out" / "t1.jpg" / "report.json").is_file()  # the work was done


def test_verbose_commands_say_when_each_input_starts_and_ends(tmp_path):
    # -v on a real command (not only the probe): a line per input as it starts and ends
    from zhurong_tk.synth import tracks as synth_tracks

    image = tmp_path / "rear.png"
    synth_tracks.write(image, synth_tracks.track_scene(n_ruts=1, seed=2, width=320, height=240))
    missing = tmp_path / "gone.png"
    args = ["tracks", "detect", str(image), str(missing), "--out", str(tmp_path / "o")]
    quiet = CliRunner().invoke(cli_main.cli, args)
    loud = CliRunner().invoke(cli_main.cli, ["-v", *args, "--overwrite"])
    assert "INFO" not in quiet.stderr
    info = [line for line in loud.stderr.splitlines() if ": INFO: " in line]
    assert len(info) == 3, loud.stderr  # two starts, one end: the missing file fails
    assert info[0].endswith(f"rear.png (1 of 2): started → {tmp_path / 'o' / 'rear.png'}")
    assert "rear.png: done in" in info[1] and "gone.png (2 of 2): started" in info[2]
