"""What a batch leaves at the top of its output folder: ``index.json`` and ``overview.jpg``.

The ledger is the run's memory (every attempt, appended); the index is its
table of contents (each input's latest state, rewritten whole at the end of
every run), and the overview a contact sheet of the results' pictures with
the failures among them, so hundreds of results can be looked over at once.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.outputs import write_bytes, write_text

INDEX_SCHEMA = "zhurong-tk/batch.index/1"
#: The picture shown for a result, by the first of these names its folder holds.
RESULT_PICTURES = ("overlay.png", "contact_sheet.jpg", "spectrogram.png", "spectrogram_ch0.png")
#: Report lists counted in a result's digest ("3 tracks", "12 frames").
DIGEST_LISTS = ("tracks", "frames", "events", "segments", "tonal_lines")
#: At most this many tiles on the overview (failures first, then an even sample).
MAX_TILES = 48
TILE_WIDTH = 200


def digest(report: dict[str, Any]) -> dict[str, int]:
    """Counts of a report's main lists, e.g. ``{"tracks": 3}``; summed over its
    ``channels`` where it has a part per channel (audio)."""
    channels = report.get("channels")
    parts = channels if isinstance(channels, list) else [report]
    counts: dict[str, int] = {}
    for part in parts:
        for k in DIGEST_LISTS:
            if isinstance(part, dict) and isinstance(part.get(k), list):
                counts[k] = counts.get(k, 0) + len(part[k])
    return counts


def read_digest(folder: str | os.PathLike[str]) -> dict[str, int]:
    """The digest of the report in a result folder (empty when it has none)."""
    for name in ("report.json", "index.json"):
        path = Path(folder) / name
        if path.is_file():
            try:
                return digest(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                return {}
    return {}


def write_index(
    out_dir: str | os.PathLike[str],
    records: Sequence[dict[str, Any]],
    earlier: Sequence[dict[str, Any]] = (),
    *,
    command: str,
    seconds: float,
) -> Path:
    """Write ``out_dir/index.json``: one entry per input, its latest state.

    Parameters
    ----------
    records : sequence of dict
        The latest ledger record of each input of this run, in input order.
    earlier : sequence of dict
        The latest records of inputs of earlier runs into the same folder (listed after
        this run's, with ``"this_run": false``).
    command : str
        The command the batch ran.
    seconds : float
        Wall time of this run.
    """
    entries = []
    for this_run, r in [(True, r) for r in records] + [(False, r) for r in earlier]:
        entry = {
            "input": r["input"],
            "status": r["status"],
            "result": r.get("result"),
            "error": r.get("error"),
            "seconds": r.get("seconds"),
            "sha256": r.get("sha256"),
            "command": r.get("command"),
            "this_run": this_run,
        }
        if r["status"] == "done" and r.get("result"):
            entry["digest"] = _digest_of(out_dir, r)
        entries.append(entry)

    def counts(chosen: list[dict[str, Any]]) -> dict[str, int]:
        by_status = {s: sum(e["status"] == s for e in chosen) for s in ("done", "failed")}
        return {"inputs": len(chosen), **by_status}

    index = {
        "schema": INDEX_SCHEMA,
        "command": command,
        **counts(entries),
        "this_run": {**counts(entries[: len(records)]), "seconds": round(seconds, 3)},
        "seconds": round(seconds, 3),
        "results": entries,
    }
    path = Path(out_dir) / "index.json"
    write_text(path, json.dumps(index, indent=1, ensure_ascii=False) + "\n", overwrite=True)
    return path


def write_overview(
    out_dir: str | os.PathLike[str], records: Sequence[dict[str, Any]], *, command: str
) -> Path | None:
    """Write ``out_dir/overview.jpg``: each result's picture and each failure's reason.

    Returns None (and writes nothing) when there is nothing to show.
    """
    from zhurong_tk.video.sheet import contact_sheet

    failed = [r for r in records if r["status"] == "failed"]
    done = [r for r in records if r["status"] == "done" and r.get("result")]
    shown_failed = failed[: MAX_TILES // 3] if done else failed[:MAX_TILES]
    room = MAX_TILES - len(shown_failed)
    if len(done) > room:
        picks = np.linspace(0, len(done) - 1, room).round().astype(int)
        done = [done[i] for i in sorted(set(picks))]
    shown = sorted(shown_failed + done, key=lambda r: r["input"])
    if not shown:
        return None
    # decoding the results' pictures is most of the work (PNG: ~20 ms a megapixel), and the
    # batch waits for it: decode them side by side (cv2 lets go of the GIL while it decodes)
    done_folders = [Path(out_dir) / r["result"] for r in shown if r["status"] == "done"]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # threads start as needed
        pictures = iter(pool.map(_picture_tile, done_folders))
    tiles, labels = [], []
    for r in shown:
        name = Path(r["input"]).name
        if r["status"] == "failed":
            tiles.append(_failure_tile(_reason(r)))
            labels.append(f"FAILED {name}")
            continue
        tiles.append(next(pictures))
        counts = _digest_of(out_dir, r)
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
        labels.append(f"{name}: {summary}" if summary else name)
    title = (
        f"zhurong-tk batch {command}: {len(records)} inputs, "
        f"{sum(r['status'] == 'done' for r in records)} done, {len(failed)} failed"
        + (f"; {len(shown)} shown" if len(shown) < len(records) else "")
    )
    sheet = contact_sheet(tiles, labels, columns=min(6, len(tiles)), title=title)
    ok, encoded = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 BGR image
        return None
    path = Path(out_dir) / "overview.jpg"
    write_bytes(path, encoded.tobytes(), overwrite=True)
    return path


def _digest_of(out_dir: str | os.PathLike[str], record: dict[str, Any]) -> dict[str, int]:
    known = (record.get("summary") or {}).get("digest")
    return known if isinstance(known, dict) else read_digest(Path(out_dir) / record["result"])


def _reason(record: dict[str, Any]) -> str:
    """The error without the input's path in front (the tile's label names the file)."""
    error = record.get("error") or "failed"
    for path in (record.get("path"), record.get("input")):
        if path and error.startswith(f"{path}: "):
            return error[len(path) + 2 :]
    return error


def _picture_tile(folder: Path) -> np.ndarray:
    from zhurong_tk.video.sheet import thumbnail

    for name in RESULT_PICTURES:
        path = folder / name
        if path.is_file():
            data = np.fromfile(path, dtype=np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2)
            if image is not None:
                return thumbnail(image, TILE_WIDTH)
    return _text_tile("(no picture)", (60, 60, 60))


def _failure_tile(error: str) -> np.ndarray:
    return _text_tile(error, (40, 40, 150))


def _text_tile(text: str, colour: tuple[int, int, int]) -> np.ndarray:
    height = round(TILE_WIDTH * 0.75)
    tile = np.empty((height, TILE_WIDTH, 3), np.uint8)
    tile[:] = colour
    lines = textwrap.wrap(text.encode("ascii", "replace").decode(), 30)[:7]
    for i, line in enumerate(lines):
        cv2.putText(
            tile,
            line,
            (6, 20 + 18 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (240, 240, 240),
            1,
            cv2.LINE_AA,
        )
    return tile
