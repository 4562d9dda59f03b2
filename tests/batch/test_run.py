"""The batch runner on local Dask workers: results, failures, crashes, hangs, re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.batch.tasks import count_bytes
from zhurong_tk.batch.run import run_batch
from zhurong_tk.io.sniff import AUDIO_SUFFIXES

pytestmark = pytest.mark.slow


def _inputs(root: Path, contents: dict[str, bytes]) -> Path:
    for name, data in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _run(inputs, out, **kwargs):
    return run_batch(
        count_bytes,
        [inputs],
        out,
        command="test count",
        options=kwargs.pop("options", {"x": 1}),
        suffixes=AUDIO_SUFFIXES,
        jobs=2,
        **kwargs,
    )


def _ledger(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def test_a_batch_survives_bad_inputs_crashes_and_hangs(tmp_path):
    inputs = _inputs(
        tmp_path / "in",
        {
            **{f"sol{i}/clip.wav": b"ok" * (i + 1) for i in range(6)},
            "bad.wav": b"bad",
            "bug.wav": b"bug",
            "crash.wav": b"crash",
            "hang.wav": b"hang",
        },
    )
    out = tmp_path / "out"
    summary = _run(inputs, out, timeout_s=3.0)
    assert (summary.done, summary.failed, summary.skipped) == (6, 4, 0)
    errors = {Path(r["input"]).name: r["error"] for r in summary.records if r["error"]}
    assert errors["bad.wav"].endswith("bad.wav: truncated: header declares 2,044 bytes, file has 3")
    assert errors["bug.wav"] == "internal error: ZeroDivisionError: division by zero"
    assert errors["crash.wav"].startswith("the worker process died")
    assert errors["hang.wav"] == "timed out after 3 s"
    for i in range(6):  # every good input finished, in its own folder
        report = json.loads((out / f"sol{i}/clip.wav/report.json").read_text())
        assert report == {"bytes": 2 * (i + 1)}
    assert not list(out.rglob(".partial*"))  # no half-written folder left
    records = _ledger(out)
    assert len(records) == 10
    assert {r["status"] for r in records} == {"done", "failed"}
    assert all(r["sha256"].startswith("sha256:") for r in records)


def test_a_rerun_skips_what_is_done_and_retries_failures_on_request(tmp_path):
    inputs = _inputs(tmp_path / "in", {"a.wav": b"one", "b.wav": b"two", "c.wav": b"bad"})
    out = tmp_path / "out"
    first = _run(inputs, out)
    assert (first.done, first.failed) == (2, 1)
    again = _run(inputs, out)
    assert (again.done, again.failed, again.skipped) == (0, 0, 3)
    (inputs / "b.wav").write_bytes(b"altered")  # new content is done again
    (inputs / "c.wav").write_bytes(b"fixed")  # a fixed input runs again too
    third = _run(inputs, out)
    assert (third.done, third.failed, third.skipped) == (2, 0, 1)
    assert json.loads((out / "b.wav/report.json").read_text()) == {"bytes": 7}
    other = _run(inputs, out, options={"x": 2})  # other options: all again
    assert other.done == 3
    forced = _run(inputs, out, options={"x": 2}, force=True)
    assert forced.done == 3 and forced.skipped == 0
    assert len(_ledger(out)) == 3 + 2 + 3 + 3
