"""A batch whose output cannot be written, or fills up: a clear error, nothing corrupt."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.batch.tasks import count_bytes, write_100k
from zhurong_tk.batch import BatchStopped, Ledger, run_batch
from zhurong_tk.errors import OutputWriteError
from zhurong_tk.io.sniff import AUDIO_SUFFIXES


def _inputs(root: Path, contents: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (root / name).write_bytes(data)
    return root


def _run(task, inputs, out, jobs=2):
    return run_batch(
        task, [inputs], out, command="test", options={}, suffixes=AUDIO_SUFFIXES, jobs=jobs
    )


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def test_an_output_that_cannot_be_a_folder_fails_before_any_work(tmp_path):
    inputs = _inputs(tmp_path / "in", {"a.wav": b"ok"})
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(OutputWriteError, match=r"taken/out: cannot write: Not a directory"):
        _run(count_bytes, inputs, tmp_path / "taken" / "out")
    assert (tmp_path / "taken").read_text() == "a file, not a folder"


def test_a_ledger_on_a_full_disk_raises_and_keeps_its_whole_records(tmp_path, monkeypatch):
    ledger = Ledger(tmp_path)
    ledger.append({"path": "/in/a.wav", "status": "done"})
    kept = ledger.path.read_bytes()
    real_write = os.write
    calls = []

    def fills_up(fd, data):
        # the disk takes half the line, then has no room left
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[: len(data) // 2]))

    monkeypatch.setattr(os, "write", fills_up)
    with pytest.raises(OutputWriteError, match=r"ledger\.jsonl: cannot write: No space") as info:
        ledger.append({"path": "/in/b.wav", "status": "done"})
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert ledger.path.read_bytes() == kept
    assert list(Ledger(tmp_path).latest) == ["/in/a.wav"]


def test_a_ledger_write_cut_short_is_undone(tmp_path, monkeypatch):
    ledger = Ledger(tmp_path)
    ledger.append({"path": "/in/a.wav", "status": "done"})
    kept = ledger.path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the line was written, not made durable
    with pytest.raises(OutputWriteError, match="No space left"):
        ledger.append({"path": "/in/b.wav", "status": "done"})
    assert ledger.path.read_bytes() == kept


def test_a_record_cut_short_by_a_kill_does_not_swallow_the_next(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append({"path": "/in/a.wav", "status": "done"})
    with open(ledger.path, "a") as fh:
        fh.write('{"schema": "zhurong-tk/batch.ledger/1", "path": "/in/b.w')  # killed here
    again = Ledger(tmp_path)
    again.append({"path": "/in/c.wav", "status": "done"})
    assert sorted(Ledger(tmp_path).latest) == ["/in/a.wav", "/in/c.wav"]


@pytest.mark.slow
def test_a_disk_filling_up_stops_the_batch_and_the_rerun_finishes_it(tmp_path):
    contents = {f"clip{i}.wav": b"ok" * (i + 1) for i in range(6)}
    inputs = _inputs(tmp_path / "in", {**contents, "clip3.wav": b"nospace"})
    out = tmp_path / "out"
    with pytest.raises(BatchStopped, match=r"No space left on device; the batch stopped") as info:
        _run(count_bytes, inputs, out, jobs=1)
    assert info.value.errno == errno.ENOSPC
    records = _records(out)
    # the input that met the full disk is not failed: it is simply not done yet
    assert {r["status"] for r in records} == {"done"}
    assert "clip3.wav" not in {Path(r["input"]).name for r in records}
    for record in records:
        assert json.loads((out / record["result"] / "report.json").read_text())["bytes"] > 0
    (inputs / "clip3.wav").write_bytes(b"ok" * 4)  # room again
    summary = _run(count_bytes, inputs, out, jobs=1)
    assert (summary.done, summary.skipped, summary.failed) == (6 - len(records), len(records), 0)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (root with mount rights only)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root with mount rights)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_a_real_full_disk_leaves_only_complete_results(tmp_path, small_disk):
    inputs = _inputs(tmp_path / "in", {f"clip{i:02}.wav": b"ok" for i in range(16)})
    out = small_disk / "out"
    with pytest.raises((BatchStopped, OutputWriteError), match="No space left") as info:
        _run(write_100k, inputs, out)
    assert info.value.errno == errno.ENOSPC
    records = _records(out)
    assert records and {r["status"] for r in records} == {"done"}
    for record in records:
        assert (out / record["result"] / "result.bin").stat().st_size == 100_000
    # every result folder in place is complete, recorded or not
    for folder in out.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert (folder / "result.bin").stat().st_size == 100_000
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    summary = _run(write_100k, inputs, out)
    assert summary.failed == 0
    assert summary.done + summary.skipped == 16
    assert summary.skipped == len(records)


def test_a_read_only_output_fails_before_any_work_with_one_line(tmp_path, small_disk):
    from click.testing import CliRunner

    from zhurong_tk.cli.main import cli

    inputs = _inputs(tmp_path / "in", {"a.png": b"not looked at"})
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = CliRunner().invoke(
        cli, ["batch", "--out", str(small_disk / "out"), "tracks", "detect", str(inputs)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"zhurong-tk: error: {small_disk / 'out'}: cannot write: Read-only file system"
    ]
