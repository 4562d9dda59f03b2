"""Which files a batch runs on, and where each one's results go.

Inputs come as folders (searched recursively for the command's file types),
glob patterns, explicit files, or a manifest (one path per line, or a CSV
with a ``path`` column). Each input gets its own result folder under the
output folder, mirroring its path below the inputs' common folder: two inputs
never share one (a file name repeated in two folders included), and no input
can place results outside the output folder.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from zhurong_tk.errors import ParameterError

if TYPE_CHECKING:
    from zhurong_tk.batch.ledger import Ledger

_GLOB_CHARS = re.compile(r"[*?[]")


def read_manifest(path: str | os.PathLike[str]) -> list[str]:
    """Paths listed in a manifest: one per line (blank lines and ``#`` comments
    skipped), or a CSV whose header has a ``path`` column. Relative paths are
    taken from the manifest's own folder.

    Raises
    ------
    ParameterError
        The manifest cannot be read, or is a CSV without a ``path`` column.
    """
    manifest = Path(path)
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ParameterError(f"{manifest}: cannot read the manifest: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{manifest}: the manifest is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if manifest.suffix.lower() == ".csv" or ("," in first and "path" in first.lower()):
        reader = csv.DictReader(io.StringIO(text))
        column = next((f for f in reader.fieldnames or () if f.strip().lower() == "path"), None)
        if column is None:
            raise ParameterError(f"{manifest}: a CSV manifest needs a 'path' column")
        entries = [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    else:
        entries = [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [str(p if Path(p).is_absolute() else manifest.parent / p) for p in entries]


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


#: Put in ``suffixes`` to collect PDS4 labels too, recognised by content whatever their name.
PDS4_LABELS = "<pds4-label>"
#: The same for the labels of image products only (camera ``.2C`` products).
PDS4_IMAGE_LABELS = "<pds4-image-label>"
#: The same for the labels of products with a signal: a 1-D array, a 2-D array that is not
#: an image, or an audio file (a table field needs ``--field``: name such labels explicitly).
PDS4_SIGNAL_LABELS = "<pds4-signal-label>"
_SIGNAL_MARKS = (b"<Array_1D", b"<Array_2D>", b"<Encoded_Audio")
_PDS4_SENTINELS = {
    PDS4_LABELS: lambda text: True,
    PDS4_IMAGE_LABELS: lambda text: b"<Array_2D" in text or b"<Array_3D" in text,
    PDS4_SIGNAL_LABELS: lambda text: any(mark in text for mark in _SIGNAL_MARKS),
}


def _wanted(path: Path, suffixes: frozenset[str]) -> bool:
    if not path.is_file() or path.name.startswith("."):
        return False
    if path.suffix.lower() in suffixes:
        return True
    tests = [test for sentinel, test in _PDS4_SENTINELS.items() if sentinel in suffixes]
    if tests:
        from zhurong_tk.io.pds4 import looks_like_label

        if not looks_like_label(path):
            return False
        try:  # a label is small: what it declares decides
            text = path.read_bytes()[:2_000_000]
        except OSError:
            return False
        return any(test(text) for test in tests)
    return False


def expand_inputs(
    items: Iterable[str | os.PathLike[str]],
    suffixes: frozenset[str],
    *,
    manifest: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The input files of a batch, each once, in a stable order.

    Parameters
    ----------
    items : iterable of str or path
        Folders (searched recursively for files with ``suffixes``, hidden files
        skipped), glob patterns (``**`` for any depth; files matched are
        filtered by ``suffixes`` too), or files, taken as given whatever their
        type: a missing or unreadable one is kept, for the batch to record
        as failed with its reason.
    suffixes : frozenset of str
        Lower-case file suffixes of the command's media, e.g. ``".wav"``.
    manifest : path, optional
        A manifest whose paths are added (see :func:`read_manifest`).

    Returns
    -------
    list of pathlib.Path
        Folder contents in natural order (``frame_2`` before ``frame_10``),
        duplicates (the same file reached twice) dropped.

    Raises
    ------
    ParameterError
        Nothing at all to process.
    """
    entries = [str(i) for i in items]
    if manifest is not None:
        entries += read_manifest(manifest)
    found: list[Path] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found += sorted((p for p in path.rglob("*") if _wanted(p, suffixes)), key=_natural_key)
        elif _GLOB_CHARS.search(entry) and not path.exists():
            matches = [Path(m) for m in glob.glob(entry, recursive=True)]
            files = [p for p in matches if _wanted(p, suffixes)]
            for folder in (p for p in matches if p.is_dir()):
                files += [p for p in folder.rglob("*") if _wanted(p, suffixes)]
            found += sorted(files, key=_natural_key)
        else:
            found.append(path)
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    if not unique:
        raise ParameterError(f"no input files found in {', '.join(entries) or 'nothing given'}")
    return list(unique.values())


def result_folders(
    inputs: list[Path], out: str | os.PathLike[str], ledger: Ledger | None = None
) -> list[Path]:
    """Each input's result folder under ``out``: its path below the inputs' common
    folder, the file name (suffix included) as the last part.

    ``data/sol1/a.wav`` and ``data/sol2/a.wav`` go to ``out/sol1/a.wav/`` and
    ``out/sol2/a.wav/``. Characters that are awkward in file names become
    ``_`` (a name that then repeats another gets ``-2``, ``-3``...); every
    folder is checked to lie inside ``out``.

    With the output's ``ledger``, runs into one output never share a folder
    either: an input keeps the folder an earlier run gave it, and a folder
    holding another input's results is not given to a new one (it gets the
    next ``-2``, ``-3``...).
    """
    out = Path(out)
    real = [Path(os.path.realpath(p)) for p in inputs]
    if not real:
        return []
    common = Path(os.path.commonpath([str(p.parent) for p in real]))
    resolved_out = Path(os.path.realpath(out))
    holders = ledger.holders if ledger is not None else {}
    earlier = ledger.folder_of if ledger is not None else {}
    folders: list[Path] = []
    # result folders given out, and the folders above them, by who has them (keys in lower
    # case: case-blind file systems); one result folder never lies inside another, where
    # replacing the outer one on a re-run would delete the inner
    users: dict[str, set[str]] = {}
    above: dict[str, set[str]] = {}

    def give(key: str, owner: str) -> None:
        users.setdefault(key, set()).add(owner)
        parts = key.split("/")
        for i in range(1, len(parts)):
            above.setdefault("/".join(parts[:i]), set()).add(owner)

    for key, owner in holders.items():
        give(key.lower(), owner)

    def clash(parts: list[str], owner: str) -> int:
        """The part where this folder meets another input's result folder, or -1."""
        keys = ["/".join(parts[: i + 1]).lower() for i in range(len(parts))]
        for i, key in enumerate(keys[:-1]):
            if users.get(key, {owner}) - {owner}:
                return i  # inside another's result folder
        others = users.get(keys[-1], set()) | above.get(keys[-1], set())
        return len(parts) - 1 if others - {owner} else -1

    for path in real:
        owner = str(path)
        mine = earlier.get(owner)
        if mine is not None and clash(Path(mine).parts, owner) < 0:
            folder = out / mine
        else:
            parts = path.relative_to(common).parts
            safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", part).lstrip(".") or "_" for part in parts]
            # "a b.wav" and "a_b.wav"; another run's a.wav; a folder named like a result
            counts = [1] * len(safe)
            trial = list(safe)
            while (i := clash(trial, owner)) >= 0:
                counts[i] += 1
                trial[i] = f"{safe[i]}-{counts[i]}"
            folder = out.joinpath(*trial)
        give(folder.relative_to(out).as_posix().lower(), owner)
        if not Path(os.path.realpath(folder)).is_relative_to(resolved_out):
            raise ParameterError(f"{path}: its result folder would lie outside {out}")
        folders.append(folder)
    return folders
