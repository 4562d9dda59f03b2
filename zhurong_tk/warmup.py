"""Run every numba kernel once on tiny inputs, so that their compiled code is cached;
compile the package's Python bytecode where the install has none."""

from __future__ import annotations

import compileall
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

#: The kernel families, in the order :func:`compile_kernels` runs them.
FAMILIES = ("tracks", "audio")


def compile_kernels(families: Iterable[str] = FAMILIES) -> Iterator[tuple[str, float]]:
    """Compile (or load from cache) each kernel family; yield ``(name, seconds)``.

    Parameters
    ----------
    families : iterable of str
        Which of :data:`FAMILIES` to run [default: all].
    """
    for name in families:
        started = time.perf_counter()
        {"tracks": _run_tracks, "audio": _run_audio}[name]()
        yield name, time.perf_counter() - started


def compile_bytecode() -> bool:
    """Write the package's missing or stale ``.pyc`` files, as ``pip install`` does.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` (set on some servers and
    containers) has none, and every command compiled its modules from source: ~0.1 s of
    a 1.5 s ``tracks detect`` on the reference machine. Python reads them even with
    that variable set. A read-only install is left as it is.

    Returns
    -------
    bool
        Whether every module compiled (``False`` where a folder is read-only).
    """
    import zhurong_tk
    import zhurong_tk.cli

    folders = dict.fromkeys([*zhurong_tk.__path__, *zhurong_tk.cli.__path__])
    # quiet=2: a read-only folder is not an error of the warm-up's
    return all(compileall.compile_dir(folder, quiet=2) for folder in folders)


def _run_tracks() -> None:
    from zhurong_tk.synth import tracks as synth_tracks
    from zhurong_tk.tracks.detect import detect_tracks

    scene = synth_tracks.track_scene(width=160, height=120, seed=1)
    detect_tracks(synth_tracks.render(scene))


def _run_audio() -> None:
    import soundfile

    from zhurong_tk.audio.analyze import analyze, close_analysis

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "noise.wav"
        rng = np.random.default_rng(0)
        soundfile.write(path, 0.1 * rng.standard_normal(48_000).astype(np.float32), 48_000)
        close_analysis(analyze(path))
