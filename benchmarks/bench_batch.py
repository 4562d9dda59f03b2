"""Batch throughput: one worker against two, and Dask against a plain process pool, in one run.

    python3 benchmarks/bench_batch.py            # 500 files: 200 audio, 200 images, 100 videos
    python3 benchmarks/bench_batch.py --quick    # 40 files (a smoke run, a few minutes)
    python3 benchmarks/bench_batch.py --files 1000

The inputs are generated with :mod:`zhurong_tk.synth` and cached in ``--workdir``
(``--work``): 40 % audio (10 s egress scenes at 48 kHz, WAV and FLAC in turn), 40 %
images (1152×864 rear-camera scenes, JPEG and PNG in turn), 20 % videos (320×240 H.264:
6 s descents and 4 s drives in turn). One file in ten of each kind is corrupt, spread
through the list: a copy of a good file cut in half, random bytes with the kind's
suffix, or an empty file, in turn. Each kind runs the batch task users run,
``functools.partial(zhurong_tk.cli.batch.run_command, words, options)`` for
``audio analyze``, ``tracks detect`` and ``video frames`` (their default options unless
``--options KIND=ARGS``), four ways over the same files, each into a fresh output folder:

- ``jobs1``: :func:`zhurong_tk.batch.run_batch` with ``jobs=1`` (it starts and closes its
  own one-worker LocalCluster, timed: what ``zhurong-tk batch --jobs 1`` costs);
- ``jobs2``: the same with ``jobs=2``;
- ``pool``: the local pool baseline, ``concurrent.futures.ProcessPoolExecutor(2)``
  (spawn) calling :func:`zhurong_tk.batch.run.run_one` per file (no ledger, no hashing);
  its two processes are started before the timer, as the running cluster's are;
- ``cluster``: ``run_batch(scheduler=ADDRESS)`` on a 2-worker
  ``LocalCluster(threads_per_worker=1, processes=True)`` started before the timer (a new one
  per kind) and closed after.

``--skip`` takes case names (jobs1, jobs2, pool, cluster) and kinds (audio, images,
videos). Every case passes ``--timeout`` as the longest time for one file (the batch's
``--timeout``), so a hung input cannot stall the benchmark. ``--repeat`` (default 2) runs
the cases in rounds and keeps each case's fastest: on a shared host a slow spell lasts
minutes, so one run of hundreds of files does not average it out (identical two-worker
image runs measured 21.5-27.8 s).

A thread of this process samples the RSS of every worker process (those started by
multiprocessing's spawn, as Dask's nannies and the pool both do) every 0.5 s; per worker
it reports the RSS when 25 % and when 90 % of the files were done, and the largest seen.
Not from 10 %: a worker's heap grows over its first 10-15 files to the working set of the
largest input it meets (video frames in one process: 164 MB after 5 files, 187 after 10,
193 after 15, then 193-204 MB over the next 285).
Prints a table per kind (seconds, files/s, done and failed counts, mean task seconds from
the records, worker memory), a summary of the ratios (speed-up = jobs1 ÷ jobs2 time; Dask
overhead = cluster ÷ pool − 1, and jobs2 ÷ pool − 1 with the cluster's start-up),
then the issue's targets.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import logging
import math
import multiprocessing
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from _harness import arguments

if TYPE_CHECKING:
    import psutil

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "zhurong-bench-batch"
WORKERS = 2
SAMPLE_S = 0.5  # RSS sampling period
CORRUPT_EVERY = 10  # one file in ten is corrupt
CORRUPT_VARIANTS = ("truncated", "random", "empty")
AUDIO_S = 10.0  # egress_scene's shortest; ~0.5 s to analyse
IMAGE_SIZE = (1152, 864)  # ~1 MP
VIDEO_SIZE = (320, 240)
# the targets
SPEEDUP = 1.7
OVERHEAD = 0.15
SLOW_FILE_S = 0.2  # the overhead target is for files at least this slow
FLAT = 1.10  # late ÷ early worker RSS counted as flat
EARLY, LATE = 0.25, 0.90  # the fractions of the files done at "early" and "late"
EARLY_PC, LATE_PC = f"{EARLY * 100:.0f} %", f"{LATE * 100:.0f} %"
SPAN = f"{LATE_PC} ÷ {EARLY_PC}"  # how the memory columns are headed

#: kind -> (command words, share of the files, suffixes taken in turn, description)
KINDS: dict[str, tuple[tuple[str, str], float, tuple[str, ...], str]] = {
    "audio": (("audio", "analyze"), 0.4, (".wav", ".flac"), f"{AUDIO_S:g} s WAV/FLAC, 48 kHz"),
    "images": (
        ("tracks", "detect"),
        0.4,
        (".jpg", ".png"),
        f"{IMAGE_SIZE[0]}×{IMAGE_SIZE[1]} JPEG/PNG",
    ),
    "videos": (
        ("video", "frames"),
        0.2,
        (".mp4",),
        f"{VIDEO_SIZE[0]}×{VIDEO_SIZE[1]} H.264, 6 s/4 s",
    ),
}
CASES = {
    "jobs1": "run_batch jobs=1 (its own LocalCluster)",
    "jobs2": "run_batch jobs=2 (its own LocalCluster)",
    "pool": f"ProcessPoolExecutor({WORKERS}), spawn (local pool)",
    "cluster": f"run_batch on a running {WORKERS}-worker LocalCluster",
}


# ---------------------------------------------------------------- inputs


def _render(kind: str, index: int, path: str) -> str:
    """Write good input ``index`` of ``kind`` to ``path`` (in a pool process)."""
    from zhurong_tk.synth import audio, tracks, video

    tmp = Path(path).with_name(f".part-{Path(path).name}")
    seed = 1000 + index
    if kind == "audio":
        audio.write(tmp, audio.egress_scene(duration_s=AUDIO_S, seed=seed), truth=False)
    elif kind == "images":
        width, height = IMAGE_SIZE
        scene = tracks.track_scene(width=width, height=height, n_ruts=index % 5, seed=seed)
        tracks.write(tmp, scene, truth=False)
    else:
        width, height = VIDEO_SIZE
        scene = (
            video.edl_scene(duration_s=6.0, width=width, height=height, seed=seed)
            if index % 2 == 0
            else video.drive_scene(duration_s=4.0, width=width, height=height, seed=seed)
        )
        video.write(tmp, scene, truth=False)
    tmp.replace(path)  # complete files only: an interrupted run leaves no half input
    return path


def _corrupt(variant: str, source: Path, path: Path, seed: int) -> None:
    """Write a corrupt input: half of ``source``, random bytes, or nothing."""
    import numpy as np

    if variant == "truncated":
        data = source.read_bytes()
        data = data[: len(data) // 2]
    elif variant == "random":
        data = np.random.default_rng(seed).bytes(64_000)
    else:
        data = b""
    tmp = path.with_name(f".part-{path.name}")
    tmp.write_bytes(data)
    tmp.replace(path)


def plan(kind: str, n: int) -> list[tuple[str, str | None]]:
    """Names of the ``n`` inputs of ``kind`` and which are corrupt (their variant), spread
    evenly through the list so no case meets them all at once."""
    suffixes = KINDS[kind][2]
    n_bad = max(1, round(n / CORRUPT_EVERY))
    bad = {min(n - 1, int((k + 0.5) * n / n_bad)): k for k in range(n_bad)}
    names: list[tuple[str, str | None]] = []
    for i in range(n):
        suffix = suffixes[i % len(suffixes)]
        if i in bad:
            variant = CORRUPT_VARIANTS[bad[i] % len(CORRUPT_VARIANTS)]
            names.append((f"{i:04d}-{variant}{suffix}", variant))
        else:
            names.append((f"{i:04d}{suffix}", None))
    return names


def generate(workdir: Path, counts: dict[str, int]) -> dict[str, tuple[list[Path], int]]:
    """Each kind's inputs and its corrupt count, rendering the missing ones on two processes."""
    inputs: dict[str, tuple[list[Path], int]] = {}
    todo: list[tuple[str, int, Path]] = []
    bad: list[tuple[str, str, Path, int]] = []
    for kind, n in counts.items():
        folder = workdir / kind
        folder.mkdir(parents=True, exist_ok=True)
        names = plan(kind, n)
        paths = [folder / name for name, _ in names]
        inputs[kind] = (paths, sum(variant is not None for _, variant in names))
        for i, ((_, variant), path) in enumerate(zip(names, paths, strict=True)):
            if variant is None and not path.exists():
                todo.append((kind, i, path))
            elif variant is not None and not path.exists():
                bad.append((kind, variant, path, i))
    if todo:
        print(f"rendering {len(todo)} inputs into {workdir} ...", file=sys.stderr, flush=True)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
            jobs = [pool.submit(_render, kind, i, str(path)) for kind, i, path in todo]
            for job in concurrent.futures.as_completed(jobs):
                job.result()
    for kind, variant, path, i in bad:
        good = [p for p in inputs[kind][0] if "-" not in p.stem]
        source = min(good, key=lambda p: abs(int(p.stem) - i))  # the nearest good file
        _corrupt(variant, source, path, seed=i)
    return inputs


# ---------------------------------------------------------------- memory


def _nearest(samples: list[tuple[float, float]], when: float) -> float:
    """The value of the sample taken nearest ``when``."""
    return min(samples, key=lambda s: abs(s[0] - when))[1]


class WorkerMemory:
    """Sample the RSS of this process's worker processes in a thread while in the block.

    Workers are the descendants started by multiprocessing's spawn (``spawn_main`` in
    their command line): Dask's nannies and the pool both start them so. Call
    :meth:`file_done` as each file completes: "early" and "late" are when 25 % and 90 %
    of the files are done (the time since start would put "early" amid the workers'
    start-up and imports on a short run).
    """

    def __init__(self, period_s: float = SAMPLE_S) -> None:
        self.period_s = period_s
        self.samples: dict[int, list[tuple[float, float]]] = {}  # pid -> [(t, MB)]
        self.done: list[float] = []  # when each file completed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._workers: set[int] = set()

    def __enter__(self) -> WorkerMemory:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def file_done(self, *_: object) -> None:
        """Note that one more file is complete (usable as run_batch's ``progress``)."""
        self.done.append(time.perf_counter() - self._t0)

    def _is_worker(self, proc: psutil.Process) -> bool:
        import psutil

        if proc.pid in self._workers:
            return True
        try:
            # not remembered when false: caught between fork and exec, a new worker still
            # shows this process's command line
            if any("spawn_main" in word for word in proc.cmdline()):
                self._workers.add(proc.pid)
                return True
        except psutil.Error:
            pass
        return False

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            t = time.perf_counter() - self._t0
            for proc in me.children(recursive=True):
                try:
                    if self._is_worker(proc):
                        rss = proc.memory_info().rss / 2**20
                        self.samples.setdefault(proc.pid, []).append((t, rss))
                except psutil.Error:  # it ended between the listing and the reading
                    pass
            self._stop.wait(self.period_s)

    def per_worker(self) -> list[dict[str, float]]:
        """Per worker alive through the run: RSS (MB) when 25 % and 90 % of the files
        were done, and the largest seen."""
        if not self.done:
            return []
        n = len(self.done)
        early_t = self.done[max(0, math.ceil(EARLY * n) - 1)]
        late_t = self.done[max(0, math.ceil(LATE * n) - 1)]
        rows = []
        for samples in self.samples.values():
            # a worker started late (a replacement) or gone early has no trend to show
            if samples[0][0] > early_t + self.period_s or samples[-1][0] < late_t - self.period_s:
                continue
            early, late = _nearest(samples, early_t), _nearest(samples, late_t)
            rows.append(
                {
                    "early_mb": early,
                    "late_mb": late,
                    "max_mb": max(s[1] for s in samples),
                    "late_over_early": late / early,
                }
            )
        return rows


# ---------------------------------------------------------------- cases


def _task(kind: str, options: list[str]) -> Callable[[Path, Path], dict]:
    """The task ``zhurong-tk batch`` runs for ``kind``'s command."""
    from zhurong_tk.cli.batch import run_command

    return functools.partial(run_command, KINDS[kind][0], options)


def _summarise(seconds: float, outcomes: list[dict], memory: WorkerMemory, n_workers: int) -> dict:
    """A case's row: time, done and failed counts, mean task seconds, worker memory."""
    done = [o for o in outcomes if o["status"] == "done"]
    workers = memory.per_worker()
    return {
        "seconds": seconds,
        "done": len(done),
        "failed": len(outcomes) - len(done),
        "task_s": sum(o.get("seconds", 0.0) for o in done) / len(done) if done else None,
        "workers": workers,
        "workers_seen": len(memory.samples),
        "workers_expected": n_workers,
        "peak_mb": max((w["max_mb"] for w in workers), default=0.0),
    }


def case_batch(
    kind: str,
    files: list[Path],
    out: Path,
    options: list[str],
    timeout_s: float,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> dict:
    """``run_batch`` over ``files`` on a new cluster of ``jobs`` workers, or on ``scheduler``."""
    from zhurong_tk.batch import run_batch
    from zhurong_tk.cli.batch import BATCHABLE, _suffixes

    words = KINDS[kind][0]
    shutil.rmtree(out, ignore_errors=True)
    with WorkerMemory() as memory:
        t0 = time.perf_counter()
        summary = run_batch(
            _task(kind, options),
            [str(p) for p in files],
            out,
            command=" ".join(words),
            options={"args": options},  # as the command line keys them
            suffixes=_suffixes(BATCHABLE[words]),
            jobs=jobs,
            scheduler=scheduler,
            timeout_s=timeout_s,
            progress=memory.file_done,
        )
        seconds = time.perf_counter() - t0
    if summary.skipped:  # a fresh folder skips nothing; if it did, the times are wrong
        raise RuntimeError(f"{summary.skipped} inputs skipped in a fresh output folder")
    shutil.rmtree(out, ignore_errors=True)
    return _summarise(seconds, summary.records, memory, jobs or WORKERS)


#: What run_batch's local workers run with: Dask's one-thread settings and a share of the cores.
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // WORKERS)),
    "OPENCV_FOR_THREADS_NUM": str(max(1, (os.cpu_count() or 1) // WORKERS)),
}


def _pid_after(seconds: float) -> int:
    """This process's id, after a pause (to start every process of a pool)."""
    time.sleep(seconds)
    return os.getpid()


def case_pool(
    kind: str, files: list[Path], out: Path, options: list[str], timeout_s: float
) -> dict:
    """The same task over the same files on a plain process pool, one folder per file."""
    from zhurong_tk.batch import result_folders
    from zhurong_tk.batch.run import run_one

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    folders = result_folders(files, out)  # the layout run_batch writes
    task = _task(kind, options)
    context = multiprocessing.get_context("spawn")
    with (
        WorkerMemory() as memory,
        concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as pool,
    ):
        # start both processes before the timer, as the running cluster's workers are;
        # each sleeps so the pool cannot hand both calls to one process. They get the
        # thread settings run_batch gives its workers (Dask's and the core share).
        saved = dict(os.environ)
        os.environ.update(WORKER_ENV)
        try:
            pids = set(pool.map(_pid_after, [0.3] * WORKERS))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if len(pids) != WORKERS:
            raise RuntimeError(f"the pool started {len(pids)} processes, not {WORKERS}")
        t0 = time.perf_counter()
        jobs = [
            pool.submit(run_one, task, str(path), str(folder), timeout_s)
            for path, folder in zip(files, folders, strict=True)
        ]
        outcomes = []
        for job in concurrent.futures.as_completed(jobs):
            outcomes.append(job.result())
            memory.file_done()
        seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return _summarise(seconds, outcomes, memory, WORKERS)


def case_cluster(
    kind: str, files: list[Path], out: Path, options: list[str], timeout_s: float
) -> dict:
    """``run_batch`` on a 2-worker LocalCluster started before the timer."""
    import dask
    from distributed import LocalCluster

    from zhurong_tk.batch.run import DASK_CONFIG

    with dask.config.set(DASK_CONFIG):  # the worker environment run_batch's own cluster gets
        cluster = LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            env={k: WORKER_ENV[k] for k in ("NUMBA_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")},
            dashboard_address=":0",  # a free port: never clashes with another run
            silence_logs=logging.ERROR,
        )
    try:
        return case_batch(kind, files, out, options, timeout_s, scheduler=cluster.scheduler_address)
    finally:
        cluster.close()


def run_kind(
    kind: str,
    files: list[Path],
    tmp: Path,
    options: list[str],
    args: argparse.Namespace,
    skip: set[str],
) -> dict[str, dict]:
    """Every case not skipped, each the best of ``--repeat`` runs taken in rounds.

    Round-robin (jobs1, jobs2, pool, cluster, then again), so a slow spell of the
    machine (a shared host's noise lasts minutes) falls on every case alike.
    """
    runners = {
        "jobs1": functools.partial(case_batch, jobs=1),
        "jobs2": functools.partial(case_batch, jobs=WORKERS),
        "pool": case_pool,
        "cluster": case_cluster,
    }
    runs: dict[str, list[dict]] = {name: [] for name in runners if name not in skip}
    for round_no in range(max(1, args.repeat)):
        for name in runs:
            if runs[name] and "error" in runs[name][-1]:
                continue  # a broken case is not retried
            t0 = time.perf_counter()
            try:
                row = runners[name](kind, files, tmp / f"{kind}-{name}", options, args.timeout)
            except Exception as exc:  # one broken case must not hide the others
                row = {"error": f"{type(exc).__name__}: {exc}"}
            runs[name].append(row)
            print(
                f"  {kind} {name} (round {round_no + 1}): {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return {name: fastest(rows) for name, rows in runs.items()}


def fastest(runs: list[dict]) -> dict:
    """The fastest good run, with the largest peak memory and every run's seconds."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    best = min(good, key=lambda r: r["seconds"])
    return {
        **best,
        "peak_mb": max(r["peak_mb"] for r in good),
        "runs": len(good),
        "all_seconds": [round(r["seconds"], 2) for r in good],
    }


# ---------------------------------------------------------------- report


def _ratio(rows: dict[str, dict], top: str, bottom: str) -> float | None:
    """Time of case ``top`` ÷ time of case ``bottom``, when both ran."""
    a, b = rows.get(top, {}).get("seconds"), rows.get(bottom, {}).get("seconds")
    return a / b if a and b else None


def _round_ratios(rows: dict[str, dict], top: str, bottom: str) -> list[float]:
    """The same ratio round by round (the cases of a round run back to back, so a slow spell
    of the host falls on both); empty with one round."""
    a, b = rows.get(top, {}).get("all_seconds", []), rows.get(bottom, {}).get("all_seconds", [])
    if len(a) < 2 or len(a) != len(b):
        return []
    return [x / y for x, y in zip(a, b, strict=True)]


def _memory(row: dict) -> tuple[str, str]:
    """The memory cells of a row: each worker's RSS early → late (max), and late ÷ early."""
    workers = row.get("workers", [])
    text = "; ".join(
        f"{w['early_mb']:.0f} → {w['late_mb']:.0f} ({w['max_mb']:.0f})" for w in workers
    )
    ratios = ", ".join(f"{w['late_over_early']:.2f}" for w in workers)
    return text, ratios


def print_table(kind: str, files: list[Path], n_bad: int, rows: dict[str, dict]) -> None:
    """One kind's cases side by side; a failed count other than the corrupt count is marked."""
    print(
        f"\n| {kind}: {len(files)} files ({n_bad} corrupt), {KINDS[kind][3]} | seconds | files/s "
        f"| done | failed | mean task s | worker RSS MB at {EARLY_PC} → {LATE_PC} of files (max) "
        f"| {SPAN} |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {CASES[name]} | {row['error'][:120]} | | | | | | |")
            continue
        task_s = f"{row['task_s']:.3f}" if row["task_s"] is not None else ""
        failed = f"{row['failed']}" + ("" if row["failed"] == n_bad else " (!)")
        memory, ratios = _memory(row)
        print(
            f"| {CASES[name]} | {row['seconds']:.2f} | {len(files) / row['seconds']:.2f} "
            f"| {row['done']} | {failed} | {task_s} | {memory} | {ratios} |"
        )


def print_summary(report: dict[str, dict], inputs: dict[str, tuple[list[Path], int]]) -> None:
    """The ratios of every kind, one line each."""
    print(
        "\n| kind | files | mean task s (jobs=1) | speed-up jobs1 ÷ jobs2 "
        f"| Dask overhead cluster ÷ pool − 1 | jobs2 ÷ pool − 1 | worst RSS {SPAN} "
        "| failed = corrupt |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for kind, rows in report.items():
        files, n_bad = inputs[kind]
        task_s = rows.get("jobs1", {}).get("task_s")
        speedup = _ratio(rows, "jobs1", "jobs2")
        overhead = _ratio(rows, "cluster", "pool")
        start_up = _ratio(rows, "jobs2", "pool")
        flat = [w["late_over_early"] for r in rows.values() for w in r.get("workers", [])]
        good = [r for r in rows.values() if "error" not in r]
        failed_ok = all(r["failed"] == n_bad for r in good) if good else None
        speedups = ", ".join(f"{r:.2f}" for r in _round_ratios(rows, "jobs1", "jobs2"))
        overheads = ", ".join(f"{r - 1:+.0%}" for r in _round_ratios(rows, "cluster", "pool"))
        cells = [
            f"{task_s:.3f}" if task_s else "",
            (f"{speedup:.2f}×" + (f" (rounds: {speedups})" if speedups else "")) if speedup else "",
            (f"{overhead - 1:+.1%}" + (f" (rounds: {overheads})" if overheads else ""))
            if overhead
            else "",
            f"{start_up - 1:+.1%}" if start_up else "",
            f"{max(flat):.2f}" if flat else "",
            "" if failed_ok is None else ("yes" if failed_ok else "NO"),
        ]
        print(f"| {kind} | {len(files)} | " + " | ".join(cells) + " |")


def check_targets(report: dict[str, dict]) -> None:
    """Print the issue's targets against every kind measured."""

    def met(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    print("\nTargets (issue 6):")
    for kind, rows in report.items():
        lines = []
        speedup = _ratio(rows, "jobs1", "jobs2")
        if speedup and kind in ("audio", "images"):
            label = f"speed-up on {WORKERS} workers ≥ {SPEEDUP}×: {speedup:.2f}×"
            lines.append(f"{label} {met(speedup >= SPEEDUP)}")
        overhead = _ratio(rows, "cluster", "pool")
        task_s = rows.get("jobs1", {}).get("task_s") or rows.get("pool", {}).get("task_s")
        if overhead and task_s:
            label = f"Dask overhead ≤ {OVERHEAD:.0%} against the pool: {overhead - 1:+.1%}"
            if task_s >= SLOW_FILE_S:
                lines.append(f"{label} {met(overhead - 1 <= OVERHEAD)}")
            else:  # the target is for files of at least SLOW_FILE_S
                lines.append(f"{label} (files of {task_s:.2f} s < {SLOW_FILE_S} s: not a target)")
        flat = [w["late_over_early"] for r in rows.values() for w in r.get("workers", [])]
        if flat:
            worst = max(flat)
            lines.append(
                f"worker memory flat ({SPAN} ≤ {FLAT}): worst {worst:.2f} {met(worst <= FLAT)}"
            )
        print(f"- {kind}: " + ("; ".join(lines) if lines else "nothing measured"))


def main() -> None:
    parser = arguments(
        __doc__.split("\n\n")[0],
        quick="40 files (a smoke run) instead of --files",
        workdir=DEFAULT_WORKDIR,
        timeout_s=120.0,
    )
    parser.add_argument("--work", dest="workdir", type=Path, help="the same as --workdir")
    parser.add_argument(
        "--files",
        type=int,
        default=500,
        help="files in all (40 %% audio, 40 %% images, 20 %% videos)",
    )
    parser.add_argument(
        "--options",
        action="append",
        default=[],
        metavar="KIND=ARGS",
        help="the command's options for a kind, e.g. 'images=--threads 1' [default: none]",
    )
    args = parser.parse_args()
    total = 40 if args.quick else args.files
    skip = set(args.skip)
    options = {kind: [] for kind in KINDS}
    for item in args.options:
        kind, _, text = item.partition("=")
        if kind not in KINDS:
            parser.error(f"--options: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        options[kind] = shlex.split(text)
    counts = {k: max(2, round(total * KINDS[k][1])) for k in KINDS if k not in skip}
    # the jobs cases must start their own clusters, whatever the shell points at
    os.environ.pop("DASK_SCHEDULER_ADDRESS", None)

    args.workdir.mkdir(parents=True, exist_ok=True)
    inputs = generate(args.workdir, counts)
    zhurong = shutil.which("zhurong-tk") or "zhurong-tk"
    # load or compile numba's on-disk cache once so no case pays compilation
    subprocess.run([zhurong, "warmup"], check=True, stdout=subprocess.DEVNULL)
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        for kind, (files, n_bad) in inputs.items():
            rows = run_kind(kind, files, Path(tmp), options[kind], args, skip)
            print_table(kind, files, n_bad, rows)
            report[kind] = rows
    print_summary(report, inputs)
    check_targets(report)
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
