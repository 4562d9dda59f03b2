"""A rover's traverse from its telemetry: merged, measured, drawn."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from zhurong_tk.telemetry.decode import Telemetry

#: Records closer than this in time and position are one record seen twice.
DUPLICATE_TIME_MS = 1
DUPLICATE_DISTANCE_M = 1e-3
#: A pause between records longer than this many median intervals (and 60 s) is a gap.
GAP_FACTOR = 10.0
GAP_MIN_S = 60.0
#: A heading change larger than this between consecutive moving records is a turn.
TURN_DEG = 5.0


def merge(parts: Sequence[Telemetry]) -> Telemetry:
    """Join telemetry from several products into one, sorted by time.

    A record present in two products (the same time to the millisecond and
    the same position to the millimetre: an overlapping release) is kept
    once, from the first product given.
    """
    if not parts:
        raise ValueError("no telemetry to merge")
    time = np.concatenate([p.time for p in parts])
    columns = {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns}
    product = np.concatenate([p.product for p in parts])
    record = np.concatenate([p.record for p in parts])
    notes = [n for p in parts for n in p.notes]
    merged = Telemetry(time, columns, product, record, notes)
    order = np.argsort(time, kind="stable")
    merged = merged.take(order)
    keep = np.ones(len(merged), dtype=bool)
    if len(merged) > 1:
        same_time = np.abs(np.diff(merged.time).astype(np.int64)) < DUPLICATE_TIME_MS
        xyz = np.stack([merged.columns[k] for k in ("x_north_m", "y_east_m", "z_down_m")], 1)
        same_place = np.nan_to_num(np.linalg.norm(np.diff(xyz, axis=0), axis=1), nan=0.0)
        keep[1:] = ~(same_time & (same_place < DUPLICATE_DISTANCE_M))
    dropped = int((~keep).sum())
    result = merged.take(keep)
    if dropped:
        result.notes.append(f"{dropped} records present in more than one product counted once")
    return result


def path_steps(north: np.ndarray, east: np.ndarray) -> np.ndarray:
    """Horizontal distance driven into each record from the one before (``n - 1`` steps).

    A record without a position (NaN) adds no distance, and the next record with one
    is measured from the last known position: the path bridges a missing value
    rather than losing the steps on either side of it.
    """
    north = _filled_forward(np.asarray(north, np.float64))
    east = _filled_forward(np.asarray(east, np.float64))
    return np.nan_to_num(np.hypot(np.diff(north), np.diff(east)), nan=0.0)


def _filled_forward(values: np.ndarray) -> np.ndarray:
    known = np.isfinite(values)
    if known.all() or not known.any():
        return values
    last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)


#: Speeds are measured over this many record intervals: positions update at their own
#: cadence (some records repeat the last one), so one interval's speed is 0 or too high.
SPEED_WINDOW = 10


def _window_speeds(step: np.ndarray, intervals: np.ndarray, gap_s: float) -> np.ndarray:
    """Path length over time in each run of ``SPEED_WINDOW`` intervals that moved and
    holds no gap (fewer intervals when the whole traverse is shorter)."""
    width = min(SPEED_WINDOW, len(step))
    if width == 0:
        return np.empty(0)
    ok = (intervals > 0) & (intervals <= gap_s)
    kernel = np.ones(width)
    path = np.convolve(step, kernel, "valid")
    time = np.convolve(np.where(ok, intervals, 0.0), kernel, "valid")
    whole = np.convolve(ok.astype(float), kernel, "valid") == width
    use = whole & (path > 0)
    return path[use] / time[use]


def summarise(telemetry: Telemetry) -> dict[str, Any]:
    """Time span, distance driven, heading changes, attitude ranges and gaps.

    Returns
    -------
    dict
        ``start``/``stop`` (UTC, ISO 8601), ``duration_s``, ``records``,
        ``distance_m`` (along the path, horizontal), ``displacement_m`` (start
        to end), ``heading_start_deg``/``heading_end_deg`` (of travel, from
        north through east, over each 0.5 m of path), ``turns`` (heading
        changes above 5° between those: time, from, to), ``total_turning_deg``,
        ``yaw_turns`` (the rover's yaw changing by more than 5° from one record
        to the next, with how far it moved: turns on the spot show here),
        ``median_speed_m_s`` (of the path over each 10 record intervals that
        moved, gaps excluded), ``records_without_position``,
        ``ranges`` (min/max of each attitude and sun angle; angles across the
        ±180° wrap where they sit near it, so one may run past ±180°: -226.6 is
        133.4), ``range_notes`` (says so for each such range), ``gaps`` (pauses
        far longer than usual).
    """
    n = len(telemetry)
    if n == 0:
        raise ValueError("no records")
    c = telemetry.columns
    north, east = c["x_north_m"], c["y_east_m"]
    step = path_steps(north, east)
    seconds = (telemetry.time - telemetry.time[0]) / np.timedelta64(1, "ms") / 1000.0
    heading = _travel_heading(north, east)
    located = np.flatnonzero(np.isfinite(north) & np.isfinite(east))
    turns = []
    idx = np.flatnonzero(~np.isnan(heading))
    total_turning = 0.0
    for a, b in itertools.pairwise(idx):
        change = _wrap180(heading[b] - heading[a])
        total_turning += abs(change)
        if abs(change) > TURN_DEG:
            turns.append(
                {
                    "time": _iso(telemetry.time[b]),
                    "from_deg": round(float(heading[a]), 2),
                    "to_deg": round(float(heading[b]), 2),
                    "change_deg": round(float(change), 2),
                }
            )
    # the rover's own yaw also shows turns on the spot, which the path cannot
    yaw_turns = []
    yaw = c["yaw_deg"]
    for i in np.flatnonzero(np.abs(_wrap180_array(np.diff(yaw))) > TURN_DEG):
        yaw_turns.append(
            {
                "time": _iso(telemetry.time[i + 1]),
                "from_deg": _round(yaw[i], 2),
                "to_deg": _round(yaw[i + 1], 2),
                "change_deg": _round(_wrap180(yaw[i + 1] - yaw[i]), 2),
                "moved_m": _round(step[i], 3),
            }
        )
    intervals = np.diff(seconds)
    gap_limit = max(GAP_MIN_S, GAP_FACTOR * float(np.median(intervals))) if len(intervals) else 0.0
    gaps = []
    if len(intervals):
        for i in np.flatnonzero(intervals > gap_limit):
            gaps.append(
                {
                    "start": _iso(telemetry.time[i]),
                    "end": _iso(telemetry.time[i + 1]),
                    "duration_s": round(float(intervals[i]), 3),
                    "moved_m": round(float(step[i]), 3),
                }
            )
    ranges = {}
    range_notes = []
    for key in (
        "roll_deg",
        "pitch_deg",
        "yaw_deg",
        "z_down_m",
        "solar_incidence_deg",
        "solar_azimuth_deg",
    ):
        recorded = c[key][np.isfinite(c[key])]
        values = unwrap_about_mean(recorded) if key.endswith("_deg") else recorded
        if not len(values):
            continue
        ranges[key] = [round(float(values.min()), 4), round(float(values.max()), 4)]
        if key.endswith("_deg") and not np.array_equal(values, recorded):
            # say which ends are not as recorded, in the recording's own convention
            start = 0.0 if recorded.min() >= 0 else -180.0
            ends = [(v, round((v - start) % 360 + start, 4)) for v in ranges[key]]
            moved = [f"{v:g}° is {r:g}°" for v, r in ends if r != v]
            range_notes.append(
                f"{key} is given unwrapped, as one interval across the "
                f"{'0/360' if start == 0 else '±180'}° wrap: {' and '.join(moved)} as recorded"
            )
    speed = _window_speeds(step, intervals, gap_limit)
    a, b = (located[0], located[-1]) if len(located) else (0, 0)
    return {
        "start": _iso(telemetry.time[0]),
        "stop": _iso(telemetry.time[-1]),
        "duration_s": round(float(seconds[-1]), 3),
        "records": n,
        "products": sorted({str(p) for p in telemetry.product}),
        "distance_m": round(float(np.sum(step)), 4),
        "displacement_m": _round(math.hypot(north[b] - north[a], east[b] - east[a]), 4),
        "records_without_position": int(n - len(located)),
        "heading_start_deg": _round(heading[idx[0]]) if len(idx) else None,
        "heading_end_deg": _round(heading[idx[-1]]) if len(idx) else None,
        "total_turning_deg": round(float(total_turning), 2),
        "turns": turns,
        "yaw_turns": yaw_turns,
        "median_speed_m_s": _round(np.median(speed)) if len(speed) else None,
        "ranges": ranges,
        "range_notes": range_notes,
        "gaps": gaps,
    }


def traverse_geojson(telemetry: Telemetry, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The traverse as GeoJSON: a LineString in the landing site's local frame.

    Coordinates are metres ``[east, north, up]`` from the landing site's
    origin (GeoJSON's x, y order, so a viewer shows north up), not longitude
    and latitude; the landing site's areocentric position from the label is
    given in the properties. Each record is also a Point with its time and
    attitude.
    """
    c = telemetry.columns
    east, north, up = c["y_east_m"], c["x_north_m"], -c["z_down_m"]
    # a record without a position is a Point feature without geometry (GeoJSON's null),
    # and no vertex of the line; a missing height alone is left out of its coordinates
    coordinates = [
        None
        if not (math.isfinite(e) and math.isfinite(n))
        else [round(float(e), 4), round(float(n), 4)]
        + ([round(float(u), 4)] if math.isfinite(u) else [])
        for e, n, u in zip(east, north, up, strict=True)
    ]
    site = ((facts or {}).get("mission_area") or {}).get("Landing_Site_Location")
    line = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [xyz for xyz in coordinates if xyz is not None],
        },
        "properties": {
            "name": "traverse",
            "frame": "landing-site topocentric, metres east, north, up (not longitude/latitude)",
            "landing_site": site,
            "start": _iso(telemetry.time[0]),
            "stop": _iso(telemetry.time[-1]),
        },
    }
    points = [
        {
            "type": "Feature",
            "geometry": None if xyz is None else {"type": "Point", "coordinates": xyz},
            "properties": {
                "time": _iso(telemetry.time[i]),
                "product": str(telemetry.product[i]),
                "record": int(telemetry.record[i]),
                "roll_deg": _round(c["roll_deg"][i]),
                "pitch_deg": _round(c["pitch_deg"][i]),
                "yaw_deg": _round(c["yaw_deg"][i]),
            },
        }
        for i, xyz in enumerate(coordinates)
    ]
    return {"type": "FeatureCollection", "features": [line, *points]}


def unwrap_about_mean(degrees: np.ndarray) -> np.ndarray:
    """Angles spread over more than 180° put within ±180° of their circular mean, so an
    angle near ±180 (Zhurong's roll) ranges and plots across the wrap, not over 360°."""
    values = np.asarray(degrees, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(finite) == 0 or np.ptp(finite) <= 180.0:
        return values
    rad = np.radians(finite)
    centre = math.degrees(math.atan2(np.sin(rad).mean(), np.cos(rad).mean()))
    return centre + (values - centre + 180.0) % 360.0 - 180.0


def _broken_at_gaps(minutes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN inserted where the records pause for long, so a line does not bridge the gap."""
    if len(minutes) < 3:
        return minutes, values
    steps = np.diff(minutes)
    cut = np.flatnonzero(steps > max(GAP_MIN_S / 60.0, GAP_FACTOR * float(np.median(steps))))
    return np.insert(minutes, cut + 1, np.nan), np.insert(values, cut + 1, np.nan)


def traverse_figure(telemetry: Telemetry, *, title: str = ""):
    """The path coloured by time, and attitude and sun angles over time.

    Returns a :class:`matplotlib.figure.Figure` (not pyplot: no global state).
    """
    from matplotlib.figure import Figure

    c = telemetry.columns
    minutes = (telemetry.time - telemetry.time[0]) / np.timedelta64(1, "ms") / 60_000.0
    fig = Figure(figsize=(11, 5.2), dpi=110, layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1.0, 1.25])
    path = fig.add_subplot(grid[:, 0])
    path.plot(c["y_east_m"], c["x_north_m"], color="0.75", linewidth=1, zorder=1)
    dots = path.scatter(c["y_east_m"], c["x_north_m"], c=minutes, cmap="viridis", s=14, zorder=2)
    path.plot(c["y_east_m"][:1], c["x_north_m"][:1], "k^", markersize=8, label="start")
    path.set_aspect("equal", adjustable="datalim")
    path.set_xlabel("east of the landing site [m]")
    path.set_ylabel("north of the landing site [m]")
    path.legend(loc="best", fontsize=8)
    fig.colorbar(dots, ax=path, label="minutes since the first record", shrink=0.8)
    attitude = fig.add_subplot(grid[0, 1])

    def line(ax, key: str, **style) -> None:
        x, y = _broken_at_gaps(minutes, unwrap_about_mean(c[key]))
        ax.plot(x, y, ".-", markersize=3, linewidth=0.8, **style)

    line(attitude, "roll_deg", label="roll", color="tab:blue")
    line(attitude, "pitch_deg", label="pitch", color="tab:green")
    attitude.set_ylabel("roll, pitch [deg]")
    yaw = attitude.twinx()
    line(yaw, "yaw_deg", color="tab:red")
    yaw.set_ylabel("yaw [deg]", color="tab:red")
    attitude.legend(loc="upper left", fontsize=8)
    sun = fig.add_subplot(grid[1, 1], sharex=attitude)
    line(sun, "solar_incidence_deg", color="tab:purple")
    sun.set_ylabel("solar incidence [deg]", color="tab:purple")
    azimuth = sun.twinx()
    line(azimuth, "solar_azimuth_deg", color="tab:orange")
    azimuth.set_ylabel("solar azimuth [deg]", color="tab:orange")
    sun.set_xlabel(f"minutes since {_iso(telemetry.time[0])}")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


#: Heading of travel is measured over this much path (centimetre steps are mostly noise).
HEADING_BASE_M = 0.5


def _travel_heading(north: np.ndarray, east: np.ndarray) -> np.ndarray:
    """Heading of travel (degrees from north through east) at the records where another
    ``HEADING_BASE_M`` of path has been driven since the last such record; NaN elsewhere."""
    heading = np.full(len(north), np.nan)
    located = np.flatnonzero(np.isfinite(north) & np.isfinite(east))
    if len(located) < 2:
        return heading
    last = int(located[0])
    for i in located[1:]:
        dn, de = north[i] - north[last], east[i] - east[last]
        if math.hypot(dn, de) >= HEADING_BASE_M - 1e-3:  # float32 positions: 0.5 m is 0.4999…
            heading[i] = math.degrees(math.atan2(de, dn))
            last = i
    return heading


def _wrap180_array(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def _wrap180(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def _round(value: Any, digits: int = 3) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="ms")) + "Z"
