"""Decode the rover telemetry fields of Tianwen-1 products into physical values.

Zhurong's RoPeR radar products carry, with every trace, the rover's state at
that moment. The label gives each field's type and unit; two encodings it does
not spell out were derived from the two public products and the label's own
start and stop times (docs/pds4_tianwen1.md):

- ``Time`` (6-byte ``UnsignedBitString``): big-endian unsigned whole seconds
  (4 bytes) and milliseconds (2 bytes) since 2016-01-01T00:00:00 Beijing time
  (2015-12-31T16:00:00 UTC), counted without leap seconds. The first and last
  records land on the label's start and stop times to the millisecond. (The
  same ground segment's Chang'e-4 products use the same layout from 2010.)
- the ``SignedMSB2`` telemetry integers (velocities, positions, pitch, roll)
  are sign-magnitude, not two's complement: with that reading they agree with
  the float fields of the same record to 1e-6 m and 1e-4 degrees.

Positions are the float fields ``Rover_Location_X/Y/Z``, metres in the
landing site's topocentric frame: x north, y east, z down (the direction of
travel agrees with the yaw to a median 1.4° only in that reading).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from zhurong_tk.errors import MediaReadError, UnsupportedFormatError
from zhurong_tk.io.pds4 import ProductInfo, read_table

#: Zero of the products' ``Time`` field: 2016-01-01T00:00:00 Beijing time, in UTC.
TIME_EPOCH = np.datetime64("2015-12-31T16:00:00.000", "ms")
#: A sign-magnitude 16-bit word with only the sign bit set: "no value".
SIGN_MAGNITUDE_FILL = 0x8000
#: Fields a product must have to carry rover telemetry.
REQUIRED = ("Time", "Rover_Location_X", "Rover_Location_Y", "Rover_Location_Z")
#: Float fields copied as they are: (field, column, unit the label must give).
FLOAT_FIELDS = (
    ("Rover_Location_X", "x_north_m", "m"),
    ("Rover_Location_Y", "y_east_m", "m"),
    ("Rover_Location_Z", "z_down_m", "m"),
    ("Rover_Attitude_Roll", "roll_deg", "deg"),
    ("Rover_Attitude_Pitch", "pitch_deg", "deg"),
    ("Rover_Attitude_Yaw", "yaw_deg", "deg"),
    ("Solar_Incidence_Angle", "solar_incidence_deg", "deg"),
    ("Solar_Azimuth_Angle", "solar_azimuth_deg", "deg"),
)
#: Sign-magnitude velocity fields, in the label's unit (e.g. ``10um/s``).
VELOCITY_FIELDS = (("Velocity_Vx", "vx_m_s"), ("Velocity_Vy", "vy_m_s"), ("Velocity_Vz", "vz_m_s"))
_SI = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "s": 1.0, "deg": 1.0, "m/s": 1.0}


@dataclasses.dataclass
class Telemetry:
    """Per-record rover telemetry, one row per record, in time order.

    Attributes
    ----------
    time : numpy.ndarray of datetime64[ms]
        UTC.
    columns : dict of str to numpy.ndarray
        ``x_north_m``, ``y_east_m``, ``z_down_m`` (landing-site frame),
        ``roll_deg``, ``pitch_deg``, ``yaw_deg``, ``vx_m_s``, ``vy_m_s``,
        ``vz_m_s`` (NaN where the rover sent no value), ``solar_incidence_deg``,
        ``solar_azimuth_deg``, ``frame_count``, ``quality`` (the record's
        quality byte); a column a product lacks is NaN.
    product : numpy.ndarray of str
        The product each record came from (its logical identifier).
    record : numpy.ndarray of int
        The record's index in its product.
    notes : list of str
        What a user should know (label times not matching, fill values).
    """

    time: np.ndarray
    columns: dict[str, np.ndarray]
    product: np.ndarray
    record: np.ndarray
    notes: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index: np.ndarray) -> Telemetry:
        """The records at ``index`` (an integer or boolean array), in that order."""
        return Telemetry(
            self.time[index],
            {k: v[index] for k, v in self.columns.items()},
            self.product[index],
            self.record[index],
            list(self.notes),
        )


COLUMNS = (
    *(c for _, c, _ in FLOAT_FIELDS),
    *(c for _, c in VELOCITY_FIELDS),
    "frame_count",
    "quality",
)


def decode_time(raw: np.ndarray) -> np.ndarray:
    """Decode 6-byte ``Time`` fields (``(n, 6)`` uint8) into UTC ``datetime64[ms]``.

    Raises
    ------
    ValueError
        A millisecond word above 999 (not this encoding).
    """
    raw = np.asarray(raw, dtype=np.uint8).reshape(-1, 6)
    seconds = raw[:, :4].copy().view(">u4").ravel().astype(np.int64)
    millis = raw[:, 4:].copy().view(">u2").ravel().astype(np.int64)
    if (millis > 999).any():
        raise ValueError("time field's sub-second word above 999: not seconds + milliseconds")
    return TIME_EPOCH + (seconds * 1000 + millis).astype("timedelta64[ms]")


def sign_magnitude(values: np.ndarray) -> np.ndarray:
    """16-bit sign-magnitude words (read as any 16-bit integer) as signed integers."""
    word = np.asarray(values).astype(np.int64) & 0xFFFF
    return np.where(word & 0x8000, -(word & 0x7FFF), word)


def scaled_unit(unit: str | None) -> tuple[float, str]:
    """A label unit such as ``"10um/s"``, ``"0.01m"`` or ``"deg"`` as (factor, SI unit).

    Raises
    ------
    ValueError
        A unit not understood here.
    """
    text = (unit or "").strip().replace("µ", "u")
    match = re.fullmatch(r"([0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z/]+)", text)
    if not match or match.group(2).removesuffix("/s") not in _SI:
        raise ValueError(f"unit {unit!r} not understood")
    number, base = match.groups()
    factor = float(number) if number else 1.0
    if base.endswith("/s"):
        return factor * _SI[base[:-2]], "m/s"
    return factor * _SI[base], "deg" if base == "deg" else ("s" if base == "s" else "m")


def telemetry_from_product(
    product: ProductInfo, table: dict[str, np.ndarray] | None = None
) -> Telemetry:
    """The rover telemetry of every record of a product.

    ``table``: the product's columns when already read (:func:`read_table`).

    Raises
    ------
    UnsupportedFormatError
        The product's table has no rover telemetry (no ``Time`` and
        ``Rover_Location_*`` fields), or a unit this decoder does not know.
    MediaReadError
        The data file cannot be decoded as its label says.
    """
    tables = [s for s in product.structures if s.kind.startswith("Table")]
    fields = {f.name: f for t in tables[:1] for f in t.fields}
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise UnsupportedFormatError(
            product.label, f"carries no rover telemetry (no field {', '.join(missing)})"
        )
    table = read_table(product) if table is None else table
    n = len(table["Time"])
    if n == 0:
        raise MediaReadError(product.label, "its table holds no records")
    notes: list[str] = []
    try:
        time = decode_time(table["Time"])
    except ValueError as exc:
        raise UnsupportedFormatError(product.label, f"Time field: {exc}") from None
    columns: dict[str, np.ndarray] = {}
    for field, column, unit in FLOAT_FIELDS:
        if field not in table:
            columns[column] = np.full(n, np.nan)
            continue
        factor, _ = _unit(product, fields[field].unit, unit)
        columns[column] = table[field].astype(np.float64) * factor
    for field, column in VELOCITY_FIELDS:
        if field not in table:
            columns[column] = np.full(n, np.nan)
            continue
        factor, _ = _unit(product, fields[field].unit, "m/s")
        word = np.asarray(table[field]).astype(np.int64) & 0xFFFF
        value = sign_magnitude(word).astype(np.float64) * factor
        value[word == SIGN_MAGNITUDE_FILL] = np.nan
        columns[column] = value
    name = product.facts.get("logical_identifier") or product.label
    fills = int(np.isnan(columns["vx_m_s"]).sum())
    if fills and fills < n:
        notes.append(f"{name}: {fills} of {n} records carry no velocity (fill value)")
    columns["frame_count"] = (
        table["Frame_Count"].astype(np.float64) if "Frame_Count" in table else np.full(n, np.nan)
    )
    if "Quality_Information" in table:
        columns["quality"] = table["Quality_Information"].reshape(n, -1)[:, 0].astype(np.float64)
    else:
        columns["quality"] = np.full(n, np.nan)
    notes += [f"{name}: {note}" for note in _check_label_times(product, time)]
    return Telemetry(
        time=time,
        columns=columns,
        product=np.full(n, name, dtype=object),
        record=np.arange(n),
        notes=notes,
    )


def _unit(product: ProductInfo, unit: str | None, expected: str) -> tuple[float, str]:
    try:
        factor, base = scaled_unit(unit)
    except ValueError as exc:
        raise UnsupportedFormatError(product.label, str(exc)) from None
    if base != expected:
        raise UnsupportedFormatError(
            product.label, f"unit {unit!r} where a unit of {expected} was expected"
        )
    return factor, base


def _check_label_times(product: ProductInfo, time: np.ndarray) -> list[str]:
    """The decoded times against the label's start and stop (they agree to the ms)."""
    notes = []
    for key, value in (("start_time", time.min()), ("stop_time", time.max())):
        declared = _parse_time(product.facts.get(key))
        if declared is None or not len(time):
            continue
        off = abs((value - declared) / np.timedelta64(1, "ms")) / 1000
        if off > 1.0:
            notes.append(
                f"{key.replace('_', ' ')} of the records is {off:.1f} s from the label's"
                f" ({product.facts[key]})"
            )
    return notes


def _parse_time(text: Any) -> np.datetime64 | None:
    if not text:
        return None
    try:
        return np.datetime64(str(text).rstrip("Z"), "ms")
    except ValueError:
        return None
