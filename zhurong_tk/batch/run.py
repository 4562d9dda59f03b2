"""Run one per-file task over many inputs, on local worker processes or a Dask cluster.

The engine is dask.distributed: a :class:`~distributed.LocalCluster` of
single-threaded worker processes on this machine by default, or an existing
cluster's scheduler. Dask replaces a worker that dies; with the scheduler's
``allowed-failures`` at 0 and ``worker-saturation`` at 1.0 a crash fails only
the task that caused it (measured: docs/batch_engine_research.md). Dask has
no per-task timeout, so each task arms a :mod:`faulthandler` watchdog that
ends its worker process when the time is up, even inside a C or numba loop.

Every task writes into a hidden folder under the output folder and renames
it into place when complete, so a run killed midway never leaves a result
folder that looks finished; the ledger records each input as it completes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import faulthandler
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zhurong_tk._memory import MALLOC_ENVIRON, skip_exit_collections
from zhurong_tk.batch.inputs import expand_inputs, result_folders
from zhurong_tk.batch.ledger import Ledger, options_key
from zhurong_tk.batch.overview import write_index, write_overview
from zhurong_tk.errors import OutputWriteError, ZhurongError

log = logging.getLogger(__name__)

#: Scheduler settings the runner needs (see the module's docstring).
DASK_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
    # the workers' statistical profiler samples every task's stack each 10 ms and keeps
    # what it saw: memory that grew with every file (audio analyze: +60 MB per 60 files)
    "distributed.worker.profile.enabled": False,
    # a worker's event loop wakes every 20 ms to time itself, every 100 ms to read its
    # memory and every 500 ms to sample the host: each wake takes the GIL from the running
    # task (an audio worker's loop used 75 ms of CPU a second, 31 with these; its tasks 7-15 %
    # slower than in a plain process, within noise with these, measured). A blocked loop is still
    # reported (at 3 s), and a runaway task still stopped at the memory limit
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
    # Dask's default environment for new workers, with our malloc settings for its
    # MALLOC_TRIM_THRESHOLD_ of 64 kB: that value turns off glibc's adaptive mmap threshold,
    # so every large array is a fresh mmap and page faults (audio analyze ran 28 % slower per
    # file, measured); ours keep freed blocks for reuse, as the command line does
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
        **MALLOC_ENVIRON,
    },
}
PARTIAL = ".partial"  # where tasks write before their results are renamed into place

Task = Callable[[Path, Path], dict[str, Any]]


class BatchStopped(ZhurongError, OSError):
    """The output filled up or became read-only: the batch stopped.

    The input that met it is not recorded as failed (a re-run does it);
    every input finished before is in the ledger, every result folder in
    place is complete.
    """

    def __init__(self, reason: str, done: int, errno: int | None = None) -> None:
        self.reason = reason
        self.done = done
        super().__init__(reason)
        self.errno = errno

    def __str__(self) -> str:
        return (
            f"{self.reason}; the batch stopped ({self.done} inputs done in this run are in"
            " the ledger; run the same command again when the output has room)"
        )

    def __reduce__(self):
        return (type(self), (self.reason, self.done, self.errno))


@dataclasses.dataclass
class BatchSummary:
    """How a batch ended.

    Attributes
    ----------
    done, skipped, failed : int
        Inputs finished now, skipped (done before, or failed before without
        ``retry_failed``), and failed now.
    failed_before : int
        Of the skipped, those that failed in an earlier run.
    seconds : float
        Wall time of the run.
    records : list of dict
        This run's ledger records, in completion order.
    """

    done: int = 0
    skipped: int = 0
    failed: int = 0
    failed_before: int = 0
    seconds: float = 0.0
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def run_one(
    task: Task,
    path: str,
    folder: str,
    timeout_s: float | None,
    prepare: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run ``task(path, partial_folder)`` and rename the folder into ``folder``.

    Runs on a worker, after ``prepare()`` (the task's imports and compiled
    kernels: a fresh worker's first input must not pay for them against its
    timeout or its time). A :class:`ZhurongError` (bad input) is a failed record
    with its one-line message; any other exception is a failed record marked
    as an internal error. With ``timeout_s``, a watchdog ends the whole
    worker process when the time is up (Dask then reports the worker lost);
    a marker file left beside the partial folder tells the runner why.
    """
    skip_exit_collections()  # a local cluster's close waits for its workers to exit
    final = Path(folder)
    partial = final.parent / f"{PARTIAL}-{final.name}-{uuid.uuid4().hex[:8]}"
    marker = None
    started = time.perf_counter()
    try:
        if prepare is not None:
            prepare()
            started = time.perf_counter()
        _make_folder(partial)
        if timeout_s:
            marker = open(_timeout_marker(final), "w")  # noqa: SIM115 - the watchdog writes it
            faulthandler.dump_traceback_later(timeout_s, exit=True, file=marker)
        try:
            summary = task(Path(path), partial)
        finally:
            if marker is not None:
                faulthandler.cancel_dump_traceback_later()
        try:
            _replace(partial, final)
        except OSError as exc:
            raise OutputWriteError(final, exc.strerror or str(exc), exc.errno) from exc
        return {"status": "done", "summary": summary, "seconds": time.perf_counter() - started}
    except Exception as exc:
        outcome = {"status": "failed", "seconds": time.perf_counter() - started}
        if _output_lost(exc):  # every input after this one would fail too: the run stops
            outcome["stop"] = exc.errno
        if isinstance(exc, ZhurongError):
            outcome["error"] = str(exc)
            outcome["exit_code"] = exc.exit_code
        else:  # a bug in a task must not end the batch
            outcome["error"] = f"internal error: {type(exc).__name__}: {exc}"
        return outcome
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if marker is not None:
            marker.close()
            Path(marker.name).unlink(missing_ok=True)


#: System errors that mean the output as a whole cannot take more results.
OUTPUT_LOST = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def _output_lost(exc: BaseException) -> bool:
    """A full or read-only output (or, for our own writers, one we may not write to)."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, OutputWriteError):
        return code in OUTPUT_LOST or code in (errno.EACCES, errno.EPERM)
    # a raw OSError from a library writing into the result folder
    return isinstance(exc, OSError) and not isinstance(exc, ZhurongError) and code in OUTPUT_LOST


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise OutputWriteError(folder, exc.strerror or str(exc), exc.errno) from exc


def _timeout_marker(folder: Path) -> Path:
    return folder.parent / f"{PARTIAL}-{folder.name}.timeout"


def _replace(partial: Path, final: Path) -> None:
    """Move a finished result folder into place, replacing an older one."""
    if final.exists():
        old = final.parent / f"{PARTIAL}-{final.name}-old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
        os.replace(partial, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, final)


def run_batch(
    task: Task,
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    command: str,
    options: dict[str, Any],
    suffixes: frozenset[str],
    manifest: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    timeout_s: float | None = None,
    retry_failed: bool = False,
    force: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    prepare: Callable[[], None] | None = None,
) -> BatchSummary:
    """Run ``task`` on every input into its own folder under ``out_dir``, resumably.

    Parameters
    ----------
    task : callable ``(input_path, folder) -> dict``
        Analyses one input and writes its results into ``folder`` (an empty,
        hidden folder renamed into place when the task returns); returns a
        JSON-able summary. Must be picklable (a module-level function, or a
        :func:`functools.partial` of one).
    inputs, manifest, suffixes
        Folders, globs, files and a manifest, see :func:`expand_inputs`.
    command, options
        Name and options of the analysis: with the inputs' content hashes
        they decide what a re-run can skip.
    jobs : int, optional
        Worker processes on this machine [default: the number of cores].
    scheduler : str, optional
        Address of a Dask scheduler to run on instead (its workers need
        zhurong-tk and the input paths).
    timeout_s : float, optional
        Longest time for one input; a task still running then is stopped
        (its worker process ended and replaced) and recorded as failed.
    retry_failed, force
        Run inputs that failed before again; run everything again.
    progress : callable, optional
        Called with each ledger record as it is written.
    prepare : callable, optional
        Called on the worker before each input's clock starts: loads what
        ``task`` needs (imports, compiled kernels) once per worker process,
        so its first input is not timed out for it. Must be picklable and
        cheap after its first call in a process.

    Returns
    -------
    BatchSummary

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, after the workers are stopped; the ledger holds every input
        finished until then.
    OutputWriteError
        ``out_dir`` or its ledger cannot be written (before any work, or when
        the disk fills while recording).
    BatchStopped
        The output filled up or became read-only during the run.

    Notes
    -----
    At the end, ``out_dir/index.json`` lists each input's latest state and
    ``out_dir/overview.jpg`` shows the results' pictures and the failures.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(out, exc.strerror or str(exc), exc.errno) from exc
    files = expand_inputs(inputs, suffixes, manifest=manifest)
    ledger = Ledger(out)
    folders = result_folders(files, out, ledger)
    # a killed run leaves its partial folders beside the result folders, nowhere else:
    # look there, not through every finished result
    for parent in {f.parent for f in folders}:
        for stale in parent.glob(f"{PARTIAL}-*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    key = options_key(command, options)
    summary = BatchSummary()
    todo = []
    for path, folder in zip(files, folders, strict=True):
        action, state = ledger.decide(path, key, folder, retry_failed=retry_failed, force=force)
        if action == "run":
            todo.append((path, folder, state))
        else:
            summary.skipped += 1
            summary.failed_before += action == "skip-failed"

    def record(path: Path, folder: Path, state: Any, outcome: dict[str, Any]) -> None:
        entry = {
            "path": os.path.realpath(path),
            "input": str(path),
            "status": outcome["status"],
            "options": key,
            "command": command,
            "result": str(folder.relative_to(out)) if outcome["status"] == "done" else None,
            "error": outcome.get("error"),
            "exit_code": outcome.get("exit_code"),
            "summary": outcome.get("summary"),
            "seconds": round(outcome.get("seconds", 0.0), 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **(dataclasses.asdict(state) if state is not None else {}),
        }
        ledger.append(entry)
        summary.records.append(entry)
        if outcome["status"] == "done":
            summary.done += 1
        else:
            summary.failed += 1
        if progress is not None:
            progress(entry)

    if todo:
        _run_all(task, todo, record, command, jobs, scheduler, timeout_s, summary, prepare)
    summary.seconds = time.perf_counter() - started
    # the index describes the output folder: this run's inputs, then those of earlier runs
    # into it whose results are still there
    ours = dict.fromkeys(map(os.path.realpath, files))  # in input order, each once
    latest = [ledger.latest[real] for real in ours]
    earlier = [
        r
        for real, r in ledger.latest.items()
        if real not in ours
        and (r["status"] != "done" or (r.get("result") and (out / r["result"]).is_dir()))
    ]
    write_index(out, latest, earlier, command=command, seconds=summary.seconds)
    write_overview(out, latest + earlier, command=command)
    return summary


def _run_all(task, todo, record, command, jobs, scheduler, timeout_s, summary, prepare) -> None:
    """Run the inputs still to do on the cluster, recording each as it completes."""
    from distributed import as_completed

    with _client(jobs, scheduler) as (client, cluster):
        futures = client.map(
            run_one,
            [task] * len(todo),
            [str(p) for p, _, _ in todo],
            [str(f) for _, f, _ in todo],
            [timeout_s] * len(todo),
            [prepare] * len(todo),
            key=[
                f"zhurong-{command.replace(' ', '-')}-{uuid.uuid4().hex[:8]}-{i}"
                for i in range(len(todo))
            ],
            pure=False,
        )
        where = {f.key: item for f, item in zip(futures, todo, strict=True)}
        try:
            for future in as_completed(futures):
                path, folder, state = where[future.key]
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died: a crash, or the watchdog
                    outcome = _lost_worker(folder, exc, timeout_s)
                future.release()
                if outcome.get("stop"):
                    # not recorded as failed: the input is fine, and a re-run does it
                    raise BatchStopped(outcome["error"], summary.done, outcome["stop"])
                record(path, folder, state, outcome)
        except (KeyboardInterrupt, OutputWriteError, BatchStopped):
            # the ledger holds every input finished so far; a re-run does the rest. Dask
            # logs the connections the killed workers drop, tracebacks and all: not news
            logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
            client.cancel(futures)
            _kill_workers(cluster)
            raise


def _lost_worker(folder: Path, exc: Exception, timeout_s: float | None) -> dict[str, Any]:
    marker = _timeout_marker(folder)
    timed_out = marker.exists() and marker.stat().st_size > 0
    marker.unlink(missing_ok=True)
    for leftover in folder.parent.glob(f"{PARTIAL}-{folder.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if timed_out:
        return {
            "status": "failed",
            "error": f"timed out after {timeout_s:g} s",
            "seconds": timeout_s,
        }
    name = type(exc).__name__
    return {"status": "failed", "error": f"the worker process died ({name}: a crash in a decoder?)"}


class _client:
    """A Dask client on a new local cluster (or the given scheduler), closed on exit."""

    def __init__(self, jobs: int | None, scheduler: str | None) -> None:
        self.jobs = jobs or os.cpu_count() or 1
        self.scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        self.cluster = None
        self.client = None
        self._restore: tuple[int, float] | None = None

    def __enter__(self):
        import dask
        from distributed import Client, LocalCluster

        self._config = dask.config.set(DASK_CONFIG)
        self._config.__enter__()
        # Dask reports at INFO on stderr (workers joining, connections closing): a batch
        # reports its own progress. On a cluster of our own, even its warnings and errors are
        # about workers that died (a timeout, a crash) and the tasks they held, which the
        # batch reports as those inputs' failures, naming the files; on a shared cluster
        # they come through. (Dask's settings give its client logger a level of its own.)
        self._logs = [logging.getLogger(n) for n in ("distributed", "distributed.client")]
        self._log_levels = [log.level for log in self._logs]
        quiet = logging.WARNING if self.scheduler else logging.CRITICAL
        for log in self._logs:
            log.setLevel(max(log.getEffectiveLevel(), quiet))
        if self.scheduler:
            self.client = Client(self.scheduler)
            # the scheduler reads its own settings, not ours: set them for this run
            self._restore = self.client.run_on_scheduler(_configure_scheduler, 0, 1.0)
        else:
            # workers must not see the terminal's Ctrl-C: the client stops them
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                # the cores shared out: a worker's numba kernels and cv2's thread pool (sized
                # to every core, in every process) use its share, not all of them
                share = str(max(1, (os.cpu_count() or 1) // self.jobs))
                self.cluster = LocalCluster(
                    n_workers=self.jobs,
                    threads_per_worker=1,
                    processes=True,
                    env={"NUMBA_NUM_THREADS": share, "OPENCV_FOR_THREADS_NUM": share},
                    dashboard_address=":0",  # a free port: runs side by side never clash
                    silence_logs=logging.CRITICAL,
                )
            finally:
                signal.signal(signal.SIGINT, previous)
            self.client = Client(self.cluster)
        return self.client, self.cluster

    def __exit__(self, *exc: object) -> None:
        try:
            if self.client is not None:
                if self.scheduler and self._restore is not None:  # a shared cluster
                    with contextlib.suppress(Exception):
                        self.client.run_on_scheduler(_configure_scheduler, *self._restore)
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self._config.__exit__(None, None, None)
            for log, level in zip(self._logs, self._log_levels, strict=True):
                log.setLevel(level)


def _configure_scheduler(
    allowed_failures: int, saturation: float, dask_scheduler=None
) -> tuple[int, float]:  # pragma: no cover - runs on the scheduler
    """Set the scheduler's retry count and saturation; return the previous values."""
    previous = (dask_scheduler.allowed_failures, dask_scheduler.WORKER_SATURATION)
    dask_scheduler.allowed_failures = allowed_failures
    dask_scheduler.WORKER_SATURATION = saturation
    return previous


def _kill_workers(cluster: Any) -> None:
    """End local workers at once (a hung task would hold a graceful close for seconds)."""
    if cluster is None:
        return
    for worker in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(getattr(worker, "process", None), "pid", None)
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
