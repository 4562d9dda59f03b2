"""Find the public sample media (``../shared/fixtures`` beside the project).

The real Mars recordings, EDL footage and rover images are not part of this
repository. They are looked up, in order, in:

1. the folder named by the environment variable ``ZHURONG_TK_SAMPLES``;
2. ``shared/fixtures`` beside the project's root (``<root>/../shared/fixtures``);
3. ``../shared/fixtures`` and ``shared/fixtures`` relative to the working directory.

A folder counts only if it holds ``SOURCES.md``, the provenance file that
comes with the samples.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ZHURONG_TK_SAMPLES"
_MARKER = "SOURCES.md"


def candidates() -> list[Path]:
    """Folders searched for the samples, in order."""
    found: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        found.append(Path(env).expanduser())
    project_root = Path(__file__).resolve().parents[1]
    found.append(project_root.parent / "shared" / "fixtures")
    cwd = Path.cwd()
    found += [cwd.parent / "shared" / "fixtures", cwd / "shared" / "fixtures"]
    return found


def samples_dir() -> Path | None:
    """The samples folder, or None when it is not present on this machine.

    When ``ZHURONG_TK_SAMPLES`` is set it is the only place searched, so a
    test run can be pointed at another copy (or at nothing) on purpose.
    """
    if os.environ.get(ENV_VAR):
        path = candidates()[0]
        return path.resolve() if (path / _MARKER).is_file() else None
    for path in candidates():
        if (path / _MARKER).is_file():
            return path.resolve()
    return None


def sample(relative: str) -> Path | None:
    """Path of one sample (``"audio/mars_wind.flac"``), or None if absent."""
    root = samples_dir()
    if root is None:
        return None
    path = root / relative
    return path if path.exists() else None
