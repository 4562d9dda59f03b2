"""``zhurong-tk telemetry``: rover telemetry from Tianwen-1 PDS4 products."""

from __future__ import annotations

import json

import click

from zhurong_tk.cli.options import format_option, out_option, overwrite_option


@click.group()
def telemetry() -> None:
    """Rover telemetry carried in PDS4 archive products."""


@telemetry.command("extract")
@click.argument("products", nargs=-1, required=True, type=click.Path())
@out_option
@overwrite_option
@format_option("table", "json")
def extract_command(products, out_dir, overwrite, output_format) -> None:
    """Decode, merge and summarise the rover telemetry in PRODUCTS.

    PRODUCTS are PDS4 labels, their data files (the label is found beside them) or
    folders searched for labels. Records from all products are merged by time
    (a record in two products counts once) and written to --out as telemetry.csv,
    traverse.geojson (the path in the landing site's frame), traverse.png and
    report.json (time span, distance, heading changes, attitude ranges, gaps).
    A product that cannot be read is reported on stderr; the others are used
    (exit status 1).
    """
    import sys

    from zhurong_tk.errors import EXIT_INPUT_FAILED
    from zhurong_tk.io.outputs import to_jsonable
    from zhurong_tk.telemetry.run import extract_to_folder

    doc = extract_to_folder(products, out_dir, overwrite=overwrite)
    for failure in doc["failed"]:
        click.echo(f"zhurong-tk: error: {failure['error']}", err=True)
    if output_format == "json":
        click.echo(json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False))
    else:
        _print(doc, out_dir)
    if doc["failed"]:
        sys.exit(EXIT_INPUT_FAILED)


def _print(doc: dict, out_dir: str) -> None:
    s = doc["summary"]
    click.echo(
        f"{s['records']} records from {len(doc['products'])} product(s), "
        f"{s['start']} – {s['stop']} ({s['duration_s'] / 60:.1f} min)"
    )
    heading = (
        f"heading {s['heading_start_deg']:.0f}° → {s['heading_end_deg']:.0f}°"
        if s["heading_start_deg"] is not None
        else "no heading (under 0.5 m driven)"
    )
    displacement = _number(s["displacement_m"], ".2f", " m")
    speed = _number(s["median_speed_m_s"], ".3f", " m/s")
    click.echo(
        f"  drove {s['distance_m']:.2f} m ({displacement} start to end), {heading}, "
        f"median speed {speed}"
    )
    if s.get("records_without_position"):
        click.echo(f"  {s['records_without_position']} records without a position (bridged)")
    for turn in s["yaw_turns"]:
        click.echo(
            f"  yaw {_number(turn['from_deg'], '.1f', '°')} → {_number(turn['to_deg'], '.1f', '°')}"
            f" at {turn['time']} (moved {_number(turn['moved_m'], '.2f', ' m')})"
        )
    for name, (low, high) in s["ranges"].items():
        click.echo(f"  {name}: {low:g} … {high:g}")
    for note in s.get("range_notes", []):
        click.echo(f"  note: {note}")
    for gap in s["gaps"]:
        click.echo(f"  gap {gap['duration_s']:.0f} s from {gap['start']}")
    for note in doc["notes"]:
        click.echo(f"  note: {note}")
    click.echo(f"→ {out_dir}/telemetry.csv, traverse.geojson, traverse.png, report.json")


def _number(value: float | None, spec: str, unit: str) -> str:
    return "unknown" if value is None else f"{value:{spec}}{unit}"
