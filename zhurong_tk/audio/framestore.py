"""A growing table of per-frame values kept on disk, so memory stays flat for any duration."""

from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path

import numpy as np


class FrameStore:
    """Append rows of ``n_columns`` float32 values; read them back as a memory map.

    The rows go to a temporary file (deleted by :meth:`close`), so a 10-hour
    recording's frame table costs disk, not memory.
    """

    def __init__(self, n_columns: int, *, folder: str | os.PathLike[str] | None = None) -> None:
        self.n_columns = n_columns
        fd, name = tempfile.mkstemp(prefix="zhurong-frames-", suffix=".f32", dir=folder)
        self._fh = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.rows = 0
        # the file goes when the store does, even if nobody calls close()
        self._cleanup = weakref.finalize(self, _remove, self._fh, self.path)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.n_columns:
            raise ValueError(f"expected (n, {self.n_columns}) rows, got {rows.shape}")
        self._fh.write(rows.tobytes())
        self.rows += len(rows)

    def array(self) -> np.ndarray:
        """All rows as a read-only ``(rows, n_columns)`` array (memory-mapped); ends appending."""
        if not self._fh.closed:
            self._fh.close()
        if self.rows == 0:
            return np.empty((0, self.n_columns), np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.rows, self.n_columns))

    def chunks(self, rows_per_chunk: int = 65536):
        """Yield ``(first_row, rows)`` blocks read from the file (not mapped): memory stays
        at one block however long the table."""
        if not self._fh.closed:
            self._fh.flush()
        with open(self.path, "rb") as fh:
            for start in range(0, self.rows, rows_per_chunk):
                count = min(rows_per_chunk, self.rows - start)
                yield start, _read_rows(fh, start, count, self.n_columns)

    def columns(self, indices) -> np.ndarray:
        """The listed columns of every row, ``(rows, len(indices))`` float32, read in chunks."""
        indices = list(indices)
        out = np.empty((self.rows, len(indices)), np.float32)
        for start, block in self.chunks():
            out[start : start + len(block)] = block[:, indices]
        return out

    def column(self, index: int) -> StoredColumn:
        """One column as a read-only sequence whose slices are read from the file when asked
        for (see :class:`StoredColumn`); ends appending."""
        if not self._fh.closed:
            self._fh.close()
        return StoredColumn(self.path, self.rows, self.n_columns, index)

    def close(self) -> None:
        self._cleanup()

    def __enter__(self) -> FrameStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class StoredColumn:
    """A column of a :class:`FrameStore`: ``len()``, and contiguous slices as new float32
    arrays read from the file.

    Nothing is mapped: a mapped file's pages count in the process's memory until the whole
    map goes, so one scan of an hour's onset envelope (43 MB at 48 kHz) through a memory map
    added that much to the analysis's peak.
    """

    def __init__(self, path: Path, rows: int, n_columns: int, index: int) -> None:
        if not 0 <= index < n_columns:
            raise IndexError(f"column {index} of {n_columns}")
        self.path, self.rows, self.n_columns, self.index = path, rows, n_columns, index

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("a StoredColumn is read in slices")
        start, stop, step = key.indices(self.rows)
        if step != 1:
            raise ValueError("a StoredColumn is read in contiguous slices")
        with open(self.path, "rb") as fh:
            rows = _read_rows(fh, start, max(0, stop - start), self.n_columns)
        return rows.reshape(-1) if self.n_columns == 1 else rows[:, self.index].copy()


def _read_rows(fh, start: int, count: int, n_columns: int) -> np.ndarray:
    """Rows ``start`` to ``start + count`` of a frame table's open file, ``(count, n_columns)``."""
    fh.seek(4 * n_columns * start)
    block = np.fromfile(fh, dtype=np.float32, count=count * n_columns)
    if len(block) != count * n_columns:
        raise OSError(f"{fh.name}: the frame table ends early")
    return block.reshape(count, n_columns)


def _remove(fh, path: Path) -> None:
    if not fh.closed:
        fh.close()
    path.unlink(missing_ok=True)
