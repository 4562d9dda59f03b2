"""Per-file tasks for the batch tests (importable by Dask's worker processes)."""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path

from zhurong_tk.errors import MediaReadError, OutputWriteError
from zhurong_tk.io.outputs import write_bytes


def count_bytes(path: Path, folder: Path) -> dict:
    """Writes report.json with the file's size; misbehaves on request by file name."""
    data = path.read_bytes() if path.exists() else None
    if data is None:
        raise MediaReadError(path, "no such file")
    if b"crash" in data:
        os.kill(os.getpid(), signal.SIGKILL)  # as a decoder's segfault would
    if b"hang" in data:
        time.sleep(600)
    if b"bug" in data:
        raise ZeroDivisionError("division by zero")
    if b"nospace" in data:  # as the disk filling up while this input's results are written
        raise OutputWriteError(folder / "report.json", "No space left on device", errno.ENOSPC)
    if b"bad" in data:
        raise MediaReadError(path, "truncated: header declares 2,044 bytes, file has 3")
    (folder / "report.json").write_text(json.dumps({"bytes": len(data)}))
    return {"bytes": len(data)}


def slow_copy(path: Path, folder: Path) -> dict:
    """A third of a second per input, then report.json: for runs interrupted midway."""
    time.sleep(0.3)
    (folder / "report.json").write_text(json.dumps({"bytes": len(path.read_bytes())}))
    return {}


def write_100k(path: Path, folder: Path) -> dict:
    """Writes 100 kB of results through the library's atomic writer (a disk fills up)."""
    write_bytes(folder / "result.bin", path.read_bytes()[:1] * 100_000)
    return {}


_prepared = False


def prepare_slowly() -> None:
    """Takes 2 s on its first call in a process (as imports and kernels do), nothing after."""
    global _prepared
    if not _prepared:
        time.sleep(2.0)
        _prepared = True
