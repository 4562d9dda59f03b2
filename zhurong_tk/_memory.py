"""glibc's malloc settings for the processes zhurong-tk owns (the command line, batch workers).

The streaming passes allocate and free arrays of a few MB per block (scipy's FFT has no
``out=``). With glibc's defaults such blocks go back to the kernel when freed, and the
next block faults the pages in again: over an hour of 48 kHz audio a read+FFT loop spent
2.2 of its 4.4 s in the kernel zeroing pages (0.2 s with these settings). A library must
not change its host process's allocator, so only the command line and the batch engine's
own workers apply them; the same goes for sparing such a process the garbage collector's
last sweeps at exit (:func:`skip_exit_collections`).
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import os
import sys

MMAP_THRESHOLD = 64 << 20  # blocks below 64 MB come from the heap, and are reused
TRIM_THRESHOLD = 256 << 20  # up to 256 MB free at the heap's top stays mapped
# each malloc arena keeps its own freed blocks: a batch worker runs every task on a thread
# beside its event loop, and the threads of a task's pass drew on fresh arenas, which then
# held their blocks too (RSS stepped 330 -> 394 MB after 20 audio files, measured; no
# faster). Two arenas let two threads allocate at once and bound what is kept.
ARENA_MAX = 2

#: The same settings as environment variables, for processes about to start (glibc reads
#: them once, at start-up).
MALLOC_ENVIRON = {
    "MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD,
    "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD,
    "MALLOC_ARENA_MAX": ARENA_MAX,
}


_applied = False  # keep_freed_memory() applied the settings in this process


def keep_freed_memory() -> bool:
    """Apply the settings to this process (glibc's ``mallopt``); True if applied.

    A setting the user gives in the environment wins; other C libraries are left alone.
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in MALLOC_ENVIRON):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # from <malloc.h>
    global _applied
    _applied = (
        bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD))
        and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))
        and bool(mallopt(m_arena_max, ARENA_MAX))
    )
    return _applied


def hand_back_freed_memory() -> bool:
    """Return the heap's free memory to the system (glibc's ``malloc_trim``) in a process
    that keeps freed memory with these settings; True if it did.

    For the end of a streaming pass: the blocks its stages freed stay mapped, and what the
    process does next (the figures: matplotlib's import and drawing) would add its own peak
    to theirs (an hour of audio at 48 kHz: ~80 MB handed back). In any other process (a
    host that imported the library) nothing is done.
    """
    ours = _applied or all(os.environ.get(k) == str(v) for k, v in MALLOC_ENVIRON.items())
    if not ours or not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim(0)
    return True


@functools.cache
def skip_exit_collections() -> None:
    """Exempt this process's objects from the garbage collector's sweeps at exit.

    At exit the interpreter collects cycles once more, walking every object numba and
    LLVM made: 0.25-0.3 s after one kernel call (a sixth of a short command), 0.3-0.5 s
    in a batch worker, whose cluster waits for it to exit. Those objects die with the
    process anyway; everything the process writes is written and closed by then.
    ``atexit`` runs before the sweeps, so the freeze is registered there.
    """
    atexit.register(gc.freeze)
