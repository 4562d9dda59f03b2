"""What every benchmark script shares: one case per fresh process, best of a few runs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def run_process(argv: list[str], timeout_s: float) -> dict:
    """Run one case in a fresh process: wall seconds, peak RSS, and the case's own JSON.

    A case that times itself (after its imports) prints a JSON object as its last
    ``{``-line; its keys (``"seconds"`` among them) override the wall time.
    """
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        deadline = t0 + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"error": f">timeout ({timeout_s:.0f} s)"}
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read(), stderr.read().strip()
    if code != 0:
        return {"error": err.splitlines()[-1] if err else f"exit {code}"}
    row = {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            row.update(json.loads(line))
            break
    return row


def best_of(repeat: int, run: Callable[[], dict]) -> dict:
    """The fastest of ``repeat`` runs of ``run()``, with the largest peak memory seen."""
    runs = []
    for _ in range(max(1, repeat)):
        runs.append(run())
        if "error" in runs[-1]:
            break
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    best = min(good, key=lambda r: r["seconds"])
    return {**best, "peak_mb": max(r["peak_mb"] for r in good), "runs": len(good)}


def arguments(
    description: str, *, quick: str, workdir: Path, timeout_s: float
) -> argparse.ArgumentParser:
    """The options every benchmark takes: --quick, --skip, --repeat, --workdir, --timeout."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--skip", nargs="*", default=[], help="case names to skip")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs per case; the fastest counts (timings on a busy machine drift)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=workdir, help="cache of the generated inputs"
    )
    parser.add_argument("--timeout", type=float, default=timeout_s, help="seconds per run at most")
    return parser
