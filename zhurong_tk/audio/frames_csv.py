"""``frames.csv``: the per-frame table as text, written while the analysis runs.

An hour's table is ~170 000 rows, ~4 M numbers: a numba kernel formats them
(0.2 s; Python's ``%`` took 1.5 s and held the GIL the analysis's other stages
need), in the analysis's reduction stage as each block of frames is ready.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from zhurong_tk.audio import _kernels
from zhurong_tk.audio import features as features_mod
from zhurong_tk.audio.levels import P_REF

N_PLAIN = 2 + len(features_mod.FEATURE_NAMES)  # time, RMS, then the spectral features


class FrameSink(Protocol):
    """Receives the frame table as it grows (see :class:`~.analyze.AudioAnalyzer`).

    :meth:`begin` is called once, before any rows; :meth:`add` is called from the
    analysis's worker threads, one thread per channel, each channel's blocks in order.
    """

    def begin(self, columns: list[str], channels: list[int | str]) -> None: ...

    def add(self, channel: int | str, rows: np.ndarray) -> None: ...


@dataclasses.dataclass(frozen=True)
class CsvLayout:
    """Which frame-table columns go into the CSV, with their header and number formats.

    Third-octave series are left to the API (:attr:`ChannelAnalysis.frames`) to keep the
    file readable; band levels are written in dB (silence: an empty cell): RMS in
    full-scale units and levels in dBFS, or with ``sensitivity_pa`` (Pa per full scale)
    ``rms_pa`` in pascals and levels in dB SPL (``_db_spl``), as ``report.json`` has them.
    """

    header: list[str]
    keep: list[int]
    formats: list[str]
    multi: bool
    sensitivity_pa: float | None = None

    @classmethod
    def for_columns(
        cls, columns: list[str], *, multi: bool, sensitivity_pa: float | None = None
    ) -> CsvLayout:
        keep = list(range(N_PLAIN)) + [
            i for i, c in enumerate(columns) if c.startswith(("octave_", "user_"))
        ]
        rms, db = ("rms_pa", "_db_spl") if sensitivity_pa else ("rms", "_db")
        header = (["channel"] if multi else []) + [
            (rms if columns[i] == "rms" else columns[i]) if i < N_PLAIN else f"{columns[i]}{db}"
            for i in keep
        ]
        formats = ["%.6f", "%.6g"] + ["%.6g"] * (N_PLAIN - 2) + ["%.3f"] * (len(keep) - N_PLAIN)
        return cls(header, keep, formats, multi, sensitivity_pa)

    def header_line(self) -> str:
        return ",".join(self.header) + "\n"

    def format(self, rows: np.ndarray, channel: int | str) -> str:
        """CSV text of frame-table rows ``(n, n_columns)`` of one channel."""
        block = rows[:, self.keep].astype(np.float64)
        with np.errstate(divide="ignore"):
            block[:, N_PLAIN:] = 10 * np.log10(block[:, N_PLAIN:])
        if self.sensitivity_pa:
            block[:, 1] *= self.sensitivity_pa
            block[:, N_PLAIN:] += 20 * np.log10(self.sensitivity_pa / P_REF)
        prefix = f"{channel}," if self.multi else ""
        text = format_table(block, self.decimals, prefix)
        if text is None:  # a value beyond the kernel's exact range: Python's formatting
            row_fmt = prefix + ",".join(self.formats) + "\n"
            text = (row_fmt * len(block)) % tuple(block.ravel().tolist())
            text = text.replace("-inf", "")
        return text

    @functools.cached_property
    def decimals(self) -> np.ndarray:
        """Per column: digits after the point for ``%.Nf``, -1 for ``%.6g``."""
        return np.array([-1 if f == "%.6g" else int(f[2:-1]) for f in self.formats], np.int64)


def format_table(values: np.ndarray, decimals: np.ndarray, prefix: str = "") -> str | None:
    """CSV text of a float64 table, each row ``prefix`` then the columns in ``%.<d>f``
    (``decimals[c] >= 0``) or ``%.6g`` (-1), -inf as an empty cell: the characters Python's
    ``%`` operator writes, formatted by a numba kernel without the GIL (4x faster).

    Returns None if a value lies beyond the kernel's exact range (see
    :func:`~._kernels.format_rows`); the caller then formats with Python.
    """
    head = np.frombuffer(prefix.encode(), np.uint8)
    n_rows, n_cols = values.shape
    out = np.empty(n_rows * (len(head) + 25 * n_cols + 1), np.uint8)
    written = _kernels.format_rows(np.ascontiguousarray(values, np.float64), decimals, head, out)
    if written < 0:
        return None
    return out[:written].tobytes().decode("ascii")


class FramesCsv:
    """A :class:`FrameSink` that writes ``frames.csv`` as the frames arrive.

    The first channel's rows go straight into ``path`` (after the header); each
    further channel's into a part file beside it, appended by :meth:`finish`, so
    the file lists channel after channel as :func:`~.analyze.write_frames_csv` does.

    Parameters
    ----------
    path : path-like
        The file to write, normally a temporary path of
        :meth:`~zhurong_tk.io.outputs.OutputDir.atomic` (renamed into place after).
    sensitivity_pa : float, optional
        Pa per full scale: RMS in pascals and levels in dB SPL (see :class:`CsvLayout`).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, sensitivity_pa: float | None = None
    ) -> None:
        self.path = Path(path)
        self.sensitivity_pa = sensitivity_pa
        self.layout: CsvLayout | None = None
        self._files: dict[int | str, IO[str]] = {}
        self._parts: list[Path] = []

    def begin(self, columns: list[str], channels: list[int | str]) -> None:
        self.layout = CsvLayout.for_columns(
            columns, multi=len(channels) > 1, sensitivity_pa=self.sensitivity_pa
        )
        first = open(self.path, "w", newline="")  # noqa: SIM115 - closed by finish/close
        first.write(self.layout.header_line())
        self._files[channels[0]] = first
        for index, channel in enumerate(channels[1:], start=1):
            part = self.path.with_name(f"{self.path.name}.part{index}")
            self._parts.append(part)
            self._files[channel] = open(part, "w", newline="")  # noqa: SIM115

    def add(self, channel: int | str, rows: np.ndarray) -> None:
        assert self.layout is not None, "begin() first"
        self._files[channel].write(self.layout.format(rows, channel))

    def finish(self) -> None:
        """Close the files and append the further channels' parts to the first."""
        files = list(self._files.values())
        for fh in files[1:]:
            fh.close()
        if files:
            first = files[0]
            for part in self._parts:
                with open(part, newline="") as src:
                    shutil.copyfileobj(src, first, 1 << 20)
            first.close()
        self.close()

    def close(self) -> None:
        """Close everything and delete the part files (``path`` itself is the caller's)."""
        for fh in self._files.values():
            fh.close()
        for part in self._parts:
            part.unlink(missing_ok=True)
        self._files, self._parts = {}, []

    def __enter__(self) -> FramesCsv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
