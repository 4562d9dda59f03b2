"""``telemetry extract`` as a library call: products in, one merged traverse out."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from zhurong_tk.errors import MediaReadError, ZhurongError
from zhurong_tk.io.outputs import OutputDir, report
from zhurong_tk.io.pds4 import ProductInfo, collect_labels, open_product
from zhurong_tk.telemetry.decode import COLUMNS, telemetry_from_product
from zhurong_tk.telemetry.traverse import (
    merge,
    path_steps,
    summarise,
    traverse_figure,
    traverse_geojson,
)

SCHEMA_VERSION = 1
OUTPUTS = ("report.json", "telemetry.csv", "traverse.geojson", "traverse.png")


def extract_to_folder(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Decode the telemetry of every product, merge it by time, write it and its summary.

    Writes ``telemetry.csv`` (one row per record), ``traverse.geojson``,
    ``traverse.png`` and ``report.json`` (products with their label facts,
    the summary, and the products that could not be read, with why).

    Raises
    ------
    MediaReadError
        None of the products could be read (each one's reason is in the message).
    """
    out = OutputDir(out_dir, overwrite=overwrite)
    out.check_free(*OUTPUTS)
    products: list[dict[str, Any]] = []
    parts = []
    inputs = [str(p) for p in paths]
    labels, failures = collect_labels(inputs)
    infos = []
    for label in labels:
        try:
            info = open_product(label)
            part = telemetry_from_product(info)
        except ZhurongError as exc:
            failures.append({"path": str(label), "error": str(exc)})
            continue
        parts.append(part)
        infos.append(info)
        products.append(_describe(info, part))
    if not parts:
        reasons = "; ".join(f["error"] for f in failures) or "no PDS4 labels found"
        raise MediaReadError(", ".join(inputs), f"no telemetry read ({reasons})")
    merged = merge(parts)
    summary = summarise(merged)
    doc = report(
        "telemetry.extract",
        SCHEMA_VERSION,
        products=products,
        failed=failures,
        summary=summary,
        notes=merged.notes,
        frame="landing-site topocentric: x north, y east, z down (metres)",
        time_encoding=(
            "Time: 4-byte big-endian seconds + 2-byte milliseconds since 2016-01-01T00:00:00"
            " Beijing time (2015-12-31T16:00:00 UTC), no leap seconds"
        ),
        outputs=list(OUTPUTS),
    )
    out.csv("telemetry.csv", _header(), _rows(merged))
    out.json("traverse.geojson", traverse_geojson(merged, infos[0].facts))
    title = f"{len(parts)} product(s), {summary['start']} – {summary['stop']}"
    out.figure("traverse.png", traverse_figure(merged, title=title))
    out.json("report.json", doc)
    out.finish("telemetry")
    return doc


def _describe(info: ProductInfo, part: Any) -> dict[str, Any]:
    mission = info.facts.get("mission_area") or {}
    return {
        "label": info.label,
        "data_files": list(info.data_files),
        "logical_identifier": info.facts.get("logical_identifier"),
        "mission": info.facts.get("mission"),
        "instrument": mission.get("instrument_id") or info.facts.get("observing_system"),
        "start_time": info.facts.get("start_time"),
        "stop_time": info.facts.get("stop_time"),
        "records": len(part),
        "mission_area": mission,
        "notes": part.notes,
    }


def _header() -> list[str]:
    return ["time_utc", "product", "record", *COLUMNS, "distance_m"]


def _rows(telemetry: Any) -> Iterable[list[Any]]:
    c = telemetry.columns
    distance = np.concatenate([[0.0], np.cumsum(path_steps(c["x_north_m"], c["y_east_m"]))])
    for i in range(len(telemetry)):
        row: list[Any] = [
            str(np.datetime_as_string(telemetry.time[i], unit="ms")) + "Z",
            telemetry.product[i],
            int(telemetry.record[i]),
        ]
        for key in COLUMNS:
            value = float(c[key][i])
            if key in ("frame_count", "quality"):
                row.append(int(value) if np.isfinite(value) else value)
            else:  # the products' float32 values: their 7 digits, not float64's noise
                row.append(float(f"{value:.7g}") if np.isfinite(value) else value)
        row.append(round(float(distance[i]), 4))
        yield row
