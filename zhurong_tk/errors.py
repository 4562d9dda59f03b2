"""One exception hierarchy for the whole toolkit.

Every error a user can cause (bad parameters, unreadable media, existing
outputs) is a :class:`ZhurongError`. The classes also derive from the builtin
exception a caller would naturally catch (rasterio's habit), so
``except ValueError`` or ``except OSError`` keep working.

The command line maps them to one-line messages and exit codes:

========  ===========================================================
code      meaning
========  ===========================================================
0         everything succeeded
1         some input could not be processed (read errors, existing output)
2         usage: bad option or parameter value
3         internal error (a bug; re-run with ``--debug`` and report it)
130       interrupted (Ctrl-C)
141       standard output closed by its reader (e.g. piped into ``head``)
========  ===========================================================
"""

from __future__ import annotations

import os

EXIT_OK = 0
EXIT_INPUT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE, as for a process the shell's pipe closed
EXIT_BROKEN_PIPE = 141


class ZhurongError(Exception):
    """Base class of every error zhurong-tk raises on purpose."""

    exit_code = EXIT_INPUT_FAILED


class ParameterError(ZhurongError, ValueError):
    """A parameter value is out of range or inconsistent; the message names it."""

    exit_code = EXIT_USAGE


class MediaReadError(ZhurongError, OSError):
    """A media file is missing, empty, truncated or corrupt.

    Parameters
    ----------
    path : str or os.PathLike
        The file that could not be read.
    reason : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def __reduce__(self):  # keep the two-argument form picklable (worker processes)
        return (type(self), (self.path, self.reason))


class UnsupportedFormatError(MediaReadError):
    """The file is readable but is not a kind of media this operation supports."""


class OutputExistsError(ZhurongError, FileExistsError):
    """A result would replace an existing file; pass ``overwrite=True`` to allow it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: already exists (use --overwrite to replace it)")

    def __str__(self) -> str:
        return f"{self.path}: already exists (use --overwrite to replace it)"

    def __reduce__(self):
        return (type(self), (self.path,))


class OutputWriteError(ZhurongError, OSError):
    """An output could not be written (permissions, disk full); nothing partial is left.

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder that could not be written.
    reason : str
        What went wrong.
    errno : int, optional
        The system's error number (``errno.ENOSPC`` for a full disk), when
        there was one: a batch stops on a full or read-only output.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, errno: int | None = None) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
        self.errno = errno

    def __str__(self) -> str:
        return f"{self.path}: cannot write: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.errno))
