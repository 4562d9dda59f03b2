"""``zhurong-tk info``: what is this file?"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from zhurong_tk.cli.options import format_option
from zhurong_tk.errors import EXIT_INPUT_FAILED
from zhurong_tk.io.outputs import report, to_jsonable
from zhurong_tk.io.probe import ProbeResult, probe_many

SCHEMA_VERSION = 1


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@format_option("table", "json", "jsonl")
@click.option(
    "--verify",
    is_flag=True,
    help="Decode every file completely: exact frame counts, truncation and decode errors.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse images with more pixels [default: 150,000,000 or $ZHURONG_TK_MAX_PIXELS].",
)
def info(paths: tuple[str, ...], output_format: str, verify: bool, max_pixels: int | None) -> None:
    """Probe media files and print what they are.

    PATHS are files or folders (walked recursively for audio, video and image
    files). The kind of each file is read from its content, not its name.
    A file that cannot be read is reported with the reason; the others are
    still probed, and the exit status is 1.
    """
    results: list[ProbeResult] = []
    for result in probe_many(paths, verify=verify, max_pixels=max_pixels):
        results.append(result)
        if output_format == "jsonl":
            click.echo(json.dumps(to_jsonable(result.to_dict()), ensure_ascii=False))
        if not result.ok:
            click.echo(f"zhurong-tk: error: {result.path}: {result.error}", err=True)
    failed = sum(not r.ok for r in results)
    if output_format == "json":
        doc = report(
            "info",
            SCHEMA_VERSION,
            files=[r.to_dict() for r in results],
            summary={"files": len(results), "failed": failed},
        )
        click.echo(json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False))
    elif output_format == "table":
        _print_table(results)
    if not results:
        click.echo("zhurong-tk: error: no media files found", err=True)
        sys.exit(EXIT_INPUT_FAILED)
    if failed:
        click.echo(f"zhurong-tk: {failed} of {len(results)} files could not be read", err=True)
        sys.exit(EXIT_INPUT_FAILED)


def _fmt_seconds(value: float | None) -> str:
    return "? s" if value is None else f"{value:.3f} s"


def describe(result: ProbeResult) -> list[tuple[str, str, str]]:
    """Rows ``(kind, format, details)`` for one file; extra rows for audio tracks of a video."""
    d = result.to_dict()
    if not result.ok:
        return [("error", "", d["error"])]
    if result.kind == "audio":
        frames = ("" if d["frames_exact"] else "~") + f"{d['frames']} frames"
        rows = [
            (
                "audio",
                _format_name(result.path, d["format"], d["codec"]),
                f"{d['samplerate']} Hz · {d['channels']} ch · {frames} · "
                f"{_fmt_seconds(d['duration_s'])}",
            )
        ]
    elif result.kind == "video":
        fps = "? fps" if d["fps"] is None else f"{d['fps']:.3f} fps"
        count = "?" if d["frame_count_reported"] is None else str(d["frame_count_reported"])
        rotation = f" · rotated {d['rotation_deg']}°" if d["rotation_deg"] else ""
        rows = [
            (
                "video",
                _format_name(result.path, d["format"], d["codec"]),
                f"{d['width']}×{d['height']} · {fps} · {count} frames reported · "
                f"{_fmt_seconds(d['duration_s'])}{rotation}",
            )
        ]
        for track in d["audio"]:
            exact = "" if track["frames_exact"] else "~"
            rows.append(
                (
                    "└ audio",
                    f"{track['codec']} #{track['stream_index']}",
                    f"{track['samplerate']} Hz · {track['channels']} ch · "
                    f"{exact}{track['frames']} frames · {_fmt_seconds(track['duration_s'])}",
                )
            )
    elif result.kind == "pds4":
        rows = _pds4_rows(d)
    else:
        rows = [
            (
                "image",
                d["format"],
                f"{d['width']}×{d['height']} · {d['channels']} ch · {d['dtype']}",
            )
        ]
    for note in d.get("notes", []):
        rows.append(("  note", "", note))
    return rows


def _pds4_rows(d: dict) -> list[tuple[str, str, str]]:
    facts = d["facts"]
    mission = facts.get("mission_area") or {}
    parts = (facts.get("mission"), mission.get("instrument_id"), mission.get("product_level"))
    what = " ".join(str(v) for v in parts if v)
    span = f"{facts.get('start_time') or '?'} – {facts.get('stop_time') or '?'}"
    rows = [("pds4", "PDS4 label", f"{what} · {span}".strip(" ·"))]
    for s in d["structures"]:
        shape = "×".join(str(n) for n in s["shape"])
        size = f"{shape} records · {len(s['fields'])} fields" if s["fields"] else shape
        rows.append(("└ " + s["kind"], s["name"], f"{size} · {Path(s['data_file']).name}"))
        for f in s["fields"]:
            unit = f" [{f['unit']}]" if f["unit"] not in (None, "none") else ""
            repeat = f" ×{f['repetitions']}" if f["repetitions"] > 1 else ""
            rows.append(("  field", f["data_type"], f"{f['name']}{repeat}{unit}"))
    return rows


def _format_name(path: str, container: str, codec: str) -> str:
    """``"FLAC PCM_16"``, ``"m4a aac"``: FFmpeg's container lists ("mov,mp4,m4a,...") shortened."""
    if "," in container:
        suffix = path.rsplit(".", 1)[-1].lower()
        names = container.split(",")
        container = suffix if suffix in names else names[0]
    return f"{container} {codec}"


def _print_table(results: list[ProbeResult]) -> None:
    lines = []
    for result in results:
        for i, (kind, fmt, details) in enumerate(describe(result)):
            lines.append((result.path if i == 0 else "", kind, fmt, details))
    if not lines:
        return
    widths = [min(max(len(line[c]) for line in lines), 70) for c in range(3)]
    header = ("PATH", "KIND", "FORMAT", "DETAILS")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    for row in [header, *lines]:
        click.echo(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
        )
