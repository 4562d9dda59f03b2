"""The batch ledger: one JSON line per input and attempt, appended durably.

``OUTDIR/ledger.jsonl`` is the run's memory. Each record says what was done to
which input (path, size, content hash, the options' key), how it ended
(``done`` or ``failed`` with the reason), how long it took and where its
results are. A line is written whole and flushed to disk before the next
input is reported, so a run killed at any moment leaves every finished
input recorded; a half-written last line (the kill landed mid-write) is
ignored on reading. Re-running the same command reads the ledger to skip
what is already done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zhurong_tk.errors import OutputWriteError

LEDGER_NAME = "ledger.jsonl"
LEDGER_SCHEMA = "zhurong-tk/batch.ledger/1"


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as ``"sha256:<hex>"``."""
    with open(path, "rb") as fh:
        return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()


def options_key(command: str, options: dict[str, Any]) -> str:
    """A short key of the command and its options: equal keys, equal results."""
    text = json.dumps({"command": command, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class FileState:
    """What an input is now: its size, modification time and content hash.

    For a PDS4 label these cover the product, label and data files together
    (``size`` the sum, ``mtime_ns`` the latest, ``sha256`` of every file's
    hash), and ``parts`` lists each file's ``[name, size, mtime_ns]``.
    """

    size: int
    mtime_ns: int
    sha256: str
    parts: tuple[tuple[str, int, int], ...] = ()


def file_state(path: str | os.PathLike[str], known: dict[str, Any] | None = None) -> FileState:
    """The input's state; its hash is taken from ``known`` (an earlier ledger
    record) when sizes and modification times are unchanged, as ``make`` and
    ``rsync`` do, so a re-run does not read every finished file again.

    A PDS4 label stands for its product: a data file that changed, appeared
    or went missing changes the state as the label's own bytes do.

    Raises
    ------
    OSError
        The file cannot be read (the batch records the input as failed).
    """
    files = [Path(path), *_data_files(path)]
    stats = [os.stat(path), *(_stat_or_none(f) for f in files[1:])]
    parts = tuple(
        (f.name, st.st_size, st.st_mtime_ns) if st else (f.name, -1, 0)
        for f, st in zip(files, stats, strict=True)
    )
    size = sum(max(p[1], 0) for p in parts)
    mtime_ns = max(p[2] for p in parts)
    if len(parts) == 1:
        parts = ()
    if (
        known
        and known.get("size") == size
        and known.get("mtime_ns") == mtime_ns
        and [list(p) for p in parts] == [list(p) for p in known.get("parts") or ()]
    ):
        return FileState(size, mtime_ns, known["sha256"], parts)
    if not parts:
        return FileState(size, mtime_ns, content_hash(path), parts)
    digest = hashlib.sha256()
    for i, (f, part) in enumerate(zip(files, parts, strict=True)):
        try:
            state = content_hash(f) if part[1] >= 0 else "missing"
        except OSError:  # a data file that cannot be read: the task says why
            if i == 0:
                raise
            state = "unreadable"
        digest.update(f"{part[0]}\0{state}\n".encode())
    return FileState(size, mtime_ns, "sha256:" + digest.hexdigest(), parts)


def _data_files(path: str | os.PathLike[str]) -> list[Path]:
    from zhurong_tk.errors import ZhurongError
    from zhurong_tk.io.pds4 import label_file_names, looks_like_label

    if not looks_like_label(path):
        return []
    try:
        return [f for f in label_file_names(path) if f != Path(path)]
    except (ZhurongError, OSError):  # a broken label: the task says why; its bytes are the state
        return []


def _stat_or_none(path: Path) -> os.stat_result | None:
    """The file's stat; None where it is no readable file (missing, a folder, a name
    the system refuses): for the state, that is what it is."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


class Ledger:
    """Records of a batch's output folder, read once and appended to.

    Parameters
    ----------
    out_dir : path
        The batch's output folder; the ledger is ``out_dir/ledger.jsonl``.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = Path(out_dir) / LEDGER_NAME
        self.latest: dict[str, dict[str, Any]] = {}  # input's real path -> its last record
        self.folder_of: dict[str, str] = {}  # input's real path -> its last result folder
        self.holders: dict[str, str] = {}  # result folder (lower case) -> the input it holds
        if self.path.exists():
            for record in _read_records(self.path):
                self._note(record)
        try:  # an output the run cannot write to fails now, before any work
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                # a line cut short by a killed run is ended, so the next record starts whole
                if os.fstat(fd).st_size and _last_byte(self.path) != b"\n":
                    _write_durably(fd, b"\n")
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputWriteError(self.path, exc.strerror or str(exc), exc.errno) from exc

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as a line, flushed to disk before returning.

        Raises
        ------
        OutputWriteError
            The ledger could not be written (disk full, read-only); the file
            is cut back to its last whole record.
        """
        record = {"schema": LEDGER_SCHEMA, **record}
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputWriteError(self.path, exc.strerror or str(exc), exc.errno) from exc
        try:
            end = os.fstat(fd).st_size
            _write_durably(fd, line)
        except OSError as exc:
            with contextlib.suppress(OSError):  # leave no half record behind
                os.ftruncate(fd, end)
            raise OutputWriteError(self.path, exc.strerror or str(exc), exc.errno) from exc
        finally:
            os.close(fd)
        self._note(record)

    def _note(self, record: dict[str, Any]) -> None:
        self.latest[record["path"]] = record
        result = record.get("result")
        if record.get("status") == "done" and isinstance(result, str) and result:
            result = Path(result).as_posix()
            self.folder_of[record["path"]] = result
            self.holders[result.lower()] = record["path"]

    def decide(
        self,
        path: str | os.PathLike[str],
        key: str,
        result_folder: str | os.PathLike[str],
        *,
        retry_failed: bool = False,
        force: bool = False,
    ) -> tuple[str, FileState | None]:
        """What to do with an input: ``"run"``, ``"skip-done"`` or ``"skip-failed"``.

        Done inputs are skipped while their content hash, the options' key and
        the result folder are unchanged; failed ones are skipped unless
        ``retry_failed`` (or they changed); ``force`` runs everything. Returns
        the file's state too (None when it cannot be read: it runs, to be
        recorded as failed with the reason).
        """
        real = os.path.realpath(path)
        earlier = self.latest.get(real)
        try:
            state = file_state(real, earlier)
        except OSError:
            return "run", None
        if force or earlier is None:
            return "run", state
        same = earlier.get("sha256") == state.sha256 and earlier.get("options") == key
        if not same:
            return "run", state
        if earlier.get("status") == "done" and Path(result_folder).is_dir():
            return "skip-done", state
        if earlier.get("status") == "failed" and not retry_failed:
            return "skip-failed", state
        return "run", state


def _write_durably(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # a write may stop short when the disk fills; the next one raises
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def _read_records(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run
            if isinstance(record, dict) and "path" in record:
                yield record
