"""The batch runner on local Dask workers: results, failures, crashes, hangs, re-runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batch.tasks import count_bytes, prepare_slowly
from zhurong_tk._memory import MALLOC_ENVIRON
from zhurong_tk.batch.run import _client, run_batch
from zhurong_tk.io.sniff import AUDIO_SUFFIXES

pytestmark = pytest.mark.slow


def _inputs(root: Path, contents: dict[str, bytes]) -> Path:
    for name, data in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _run(inputs, out, jobs=2, **kwargs):
    return run_batch(
        count_bytes,
        [inputs],
        out,
        command="test count",
        options=kwargs.pop("options", {"x": 1}),
        suffixes=AUDIO_SUFFIXES,
        jobs=jobs,
        **kwargs,
    )


def _ledger(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def test_a_batch_survives_bad_inputs_crashes_and_hangs(tmp_path, caplog):
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
    # the lost workers are reported as their inputs' failures, not as Dask's errors too
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("distributed")]


def test_one_worker_keeps_what_it_finished_before_a_timeout_killed_it(tmp_path):
    # one worker does a.wav, then hangs on b.wav until the watchdog ends the process:
    # a.wav's result, handed over before, stays done (not lost, not recomputed into
    # a failure), and the replacement worker does c.wav
    inputs = _inputs(tmp_path / "in", {"a.wav": b"one", "b.wav": b"hang", "c.wav": b"three"})
    out = tmp_path / "out"
    summary = _run(inputs, out, jobs=1, timeout_s=2.0)
    status = {Path(r["input"]).name: (r["status"], r["error"]) for r in summary.records}
    assert status == {
        "a.wav": ("done", None),
        "b.wav": ("failed", "timed out after 2 s"),
        "c.wav": ("done", None),
    }
    assert json.loads((out / "a.wav/report.json").read_text()) == {"bytes": 3}
    assert json.loads((out / "c.wav/report.json").read_text()) == {"bytes": 5}
    assert [r["status"] for r in _ledger(out)].count("done") == 2


def test_a_fresh_worker_s_preparation_does_not_count_against_its_first_input(tmp_path):
    inputs = _inputs(tmp_path / "in", {f"{i}.wav": b"ok" for i in range(4)})
    out = tmp_path / "out"
    # each worker's first call to prepare takes 2 s; the inputs themselves take no time
    summary = _run(inputs, out, timeout_s=1.5, prepare=prepare_slowly)
    assert (summary.done, summary.failed) == (4, 0), [r["error"] for r in summary.records]
    assert all(r["seconds"] < 1.5 for r in summary.records)


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


def test_runs_of_like_named_files_into_one_output_keep_each_others_results(tmp_path):
    first = _inputs(tmp_path / "sol1", {"a.wav": b"one"})
    second = _inputs(tmp_path / "sol2", {"a.wav": b"twotwo"})
    out = tmp_path / "out"
    assert _run(first, out).done == 1
    assert _run(second, out).done == 1
    assert json.loads((out / "a.wav/report.json").read_text()) == {"bytes": 3}
    assert json.loads((out / "a.wav-2/report.json").read_text()) == {"bytes": 6}
    again = _run(first, out)
    assert (again.done, again.skipped) == (0, 1)
    # index.json describes the output folder: this run's inputs first, then earlier ones
    index = json.loads((out / "index.json").read_text())
    entries = [(Path(e["input"]).parent.name, e["result"], e["this_run"]) for e in index["results"]]
    assert entries == [("sol1", "a.wav", True), ("sol2", "a.wav-2", False)]
    assert (index["inputs"], index["done"], index["this_run"]["inputs"]) == (2, 2, 1)


RUNNER = """
import sys
from tests.batch.tasks import slow_copy
from zhurong_tk._memory import MALLOC_ENVIRON
from zhurong_tk.batch.run import _client, run_batch
from zhurong_tk.io.sniff import AUDIO_SUFFIXES

if __name__ == "__main__":
    summary = run_batch(slow_copy, [sys.argv[1]], sys.argv[2], command="test slow",
                        options={}, suffixes=AUDIO_SUFFIXES, jobs=2)
    print(summary.done, summary.skipped, summary.failed)
"""


def _start_runner(tmp_path: Path, inputs: Path, out: Path) -> subprocess.Popen:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return subprocess.Popen(
        [sys.executable, str(script), str(inputs), str(out)],
        cwd=Path(__file__).parents[2],  # where `tests` imports from, for the workers too
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # started from a test, the child must see SIGINT as a terminal would deliver it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_records(out: Path, count: int, limit_s: float = 60.0) -> None:
    ledger = out / "ledger.jsonl"
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if ledger.exists() and len(ledger.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} records after {limit_s} s")


@pytest.mark.parametrize("how", ["sigkill", "ctrl-c"])
def test_a_run_stopped_midway_keeps_what_it_finished_and_the_rerun_does_the_rest(tmp_path, how):
    inputs = _inputs(tmp_path / "in", {f"clip_{i:02d}.wav": b"x" * (i + 1) for i in range(24)})
    out = tmp_path / "out"
    with _start_runner(tmp_path, inputs, out) as proc:
        _wait_for_records(out, 4)
        proc.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    if how == "ctrl-c":
        assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    finished = [r for r in _ledger(out) if r["status"] == "done"]
    assert 4 <= len(finished) < 24
    # a result folder exists only for a finished input, and is complete
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert folders == sorted(Path(r["input"]).name for r in finished)
    assert all((out / name / "report.json").is_file() for name in folders)
    # the re-run does only the rest, and clears what the stopped run left half-written
    with _start_runner(tmp_path, inputs, out) as proc:
        stdout, _ = proc.communicate(timeout=120)
    done, skipped, failed = map(int, stdout.split())
    assert (done, skipped, failed) == (24 - len(finished), len(finished), 0)
    assert not list(out.glob(".partial*"))
    assert len({r["path"] for r in _ledger(out) if r["status"] == "done"}) == 24


def test_on_an_existing_cluster_a_crash_fails_alone(tmp_path):
    # a cluster started elsewhere, with Dask's defaults (a crashed task retried 3 times,
    # blaming the tasks queued beside it): the runner sets its scheduler for one try
    import logging

    from distributed import LocalCluster

    inputs = _inputs(
        tmp_path / "in", {**{f"c{i}.wav": b"ok" * (i + 1) for i in range(8)}, "crash.wav": b"crash"}
    )
    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster:
        before = (cluster.scheduler.allowed_failures, cluster.scheduler.WORKER_SATURATION)
        summary = run_batch(
            count_bytes,
            [inputs],
            tmp_path / "out",
            command="test count",
            options={},
            suffixes=AUDIO_SUFFIXES,
            scheduler=cluster.scheduler_address,
        )
        after = (cluster.scheduler.allowed_failures, cluster.scheduler.WORKER_SATURATION)
    assert (summary.done, summary.failed) == (8, 1)
    assert [Path(r["input"]).name for r in summary.records if r["error"]] == ["crash.wav"]
    assert after == before == (3, 1.1)  # the shared scheduler's settings are given back


def _worker_environ() -> dict[str, str | None]:
    names = ("NUMBA_NUM_THREADS", "OPENCV_FOR_THREADS_NUM", *MALLOC_ENVIRON)
    seen: dict[str, str | None] = {name: os.environ.get(name) for name in names}
    # the environment the process was started with (what glibc read), where Linux shows it
    if os.path.exists("/proc/self/environ"):
        with open("/proc/self/environ", "rb") as fh:
            items = [item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item]
        started = {k.decode(): v.decode() for k, v in items}
        seen.update({f"start:{name}": started.get(name) for name in MALLOC_ENVIRON})
    return seen


def test_local_workers_get_their_share_of_the_cores_and_our_malloc_settings():
    with _client(2, None) as (client, _cluster):
        seen = client.run(_worker_environ)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert len(seen) == 2
    for environ in seen.values():
        assert environ["NUMBA_NUM_THREADS"] == environ["OPENCV_FOR_THREADS_NUM"] == share
        for name, value in MALLOC_ENVIRON.items():
            assert environ[name] == str(value)
            # set before the worker process started: glibc reads them once, at start-up
            assert environ.get(f"start:{name}", str(value)) == str(value)
