"""Rover telemetry carried in Tianwen-1 PDS4 products (issue 7).

:func:`telemetry_from_product` decodes a product's per-record telemetry into
physical values (:class:`Telemetry`), :func:`merge` joins products into one
time-ordered traverse without counting a record twice, and
:func:`summarise` measures it (time span, distance driven, heading changes,
attitude ranges, gaps).
"""

from zhurong_tk.telemetry.decode import (
    TIME_EPOCH,
    Telemetry,
    decode_time,
    scaled_unit,
    sign_magnitude,
    telemetry_from_product,
)
from zhurong_tk.telemetry.traverse import (
    merge,
    path_steps,
    summarise,
    traverse_figure,
    traverse_geojson,
)

__all__ = [
    "TIME_EPOCH",
    "Telemetry",
    "decode_time",
    "merge",
    "path_steps",
    "scaled_unit",
    "sign_magnitude",
    "summarise",
    "telemetry_from_product",
    "traverse_figure",
    "traverse_geojson",
]
