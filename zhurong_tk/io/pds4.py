"""PDS4 archive products: an XML label and the data files it describes.

Tianwen-1's science data are released in PDS4, the planetary archive standard:
each product is a data file (``.2B``, ``.2C``, ...) beside a label (``.2BL``,
``.2CL``, ``.xml``) that describes its tables and arrays. Labels are read with
``pds4_tools``, the PDS Small Bodies Node's reader; this module adds what a
batch of untrusted downloads needs around it:

- a product is recognised by its label's content (the PDS4 namespace), never
  by a file name, and found from its data file through the labels beside it;
- a label is untrusted XML: before any parser expands it, :mod:`defusedxml`
  refuses DTDs and entity declarations (PDS4 labels never need them) and the
  size is bounded;
- a data file that is missing, shorter than its label says, or holds a data
  type this module does not decode is refused with a message naming both
  files, before any data is read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.errors import MediaReadError, UnsupportedFormatError

PDS4_NAMESPACE = "http://pds.nasa.gov/pds4/pds/v1"
#: Labels larger than this are refused (real ones are tens of kB).
LABEL_MAX_BYTES = 8_000_000
#: Binary field and array element types read here (PDS4 Standards Reference, 4B.1).
BINARY_TYPES = frozenset(
    {
        "SignedByte",
        "UnsignedByte",
        "SignedMSB2",
        "SignedMSB4",
        "SignedMSB8",
        "UnsignedMSB2",
        "UnsignedMSB4",
        "UnsignedMSB8",
        "SignedLSB2",
        "SignedLSB4",
        "SignedLSB8",
        "UnsignedLSB2",
        "UnsignedLSB4",
        "UnsignedLSB8",
        "IEEE754MSBSingle",
        "IEEE754MSBDouble",
        "IEEE754LSBSingle",
        "IEEE754LSBDouble",
        "ComplexMSB8",
        "ComplexMSB16",
        "ComplexLSB8",
        "ComplexLSB16",
        "UnsignedBitString",
        "SignedBitString",
        "ASCII_String",
        "ASCII_Integer",
        "ASCII_Real",
        "ASCII_Date_Time_YMD",
        "ASCII_Date_Time_YMD_UTC",
        "UTF8_String",
    }
)
#: Label elements reported for every product, by path below the root.
LABEL_FACTS = {
    "logical_identifier": "Identification_Area/logical_identifier",
    "version_id": "Identification_Area/version_id",
    "title": "Identification_Area/title",
    "product_class": "Identification_Area/product_class",
    "start_time": "Observation_Area/Time_Coordinates/start_date_time",
    "stop_time": "Observation_Area/Time_Coordinates/stop_date_time",
    "processing_level": "Observation_Area/Primary_Result_Summary/processing_level",
    "mission": "Observation_Area/Investigation_Area/name",
    "observing_system": "Observation_Area/Observing_System/name",
    "target": "Observation_Area/Target_Identification/name",
}


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of a table (a group's fields are named ``"Group, Field"``)."""

    name: str
    data_type: str
    unit: str | None
    repetitions: int
    description: str | None


@dataclasses.dataclass(frozen=True)
class StructureInfo:
    """One table or array of a product, as its label declares it."""

    name: str
    kind: str  # "Table_Binary", "Array_2D_Image", ...
    data_file: str
    offset: int
    shape: tuple[int, ...]
    fields: tuple[FieldInfo, ...] = ()
    data_type: str | None = None  # an array's element type


@dataclasses.dataclass(frozen=True)
class ProductInfo:
    """A PDS4 product: its label, data files, facts from the label and its structures.

    Attributes
    ----------
    label : str
        Path of the label.
    facts : dict
        ``logical_identifier``, ``start_time``, ``mission``, ... (see
        :data:`LABEL_FACTS`; None where the label has no such element) and
        ``mission_area``: the label's mission-specific block as a nested dict
        (Tianwen-1: instrument, work mode, landing site, local solar times).
    structures : tuple of StructureInfo
    """

    label: str
    data_files: tuple[str, ...]
    facts: dict[str, Any]
    structures: tuple[StructureInfo, ...]


def looks_like_label(path: str | os.PathLike[str]) -> bool:
    """True when the file starts as XML and names the PDS4 namespace near its top."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<") and PDS4_NAMESPACE.encode() in head


def find_label(path: str | os.PathLike[str]) -> Path:
    """The label of a product given by its label or by one of its data files.

    Raises
    ------
    MediaReadError
        ``path`` is missing, or no PDS4 label beside it names it.
    """
    p = Path(path)
    if not p.is_file():
        raise MediaReadError(p, "no such file" if not p.exists() else "not a file")
    if looks_like_label(p):
        return p
    wanted = f"<file_name>{p.name}</file_name>".encode()
    for candidate in sorted(p.parent.iterdir()):
        if candidate == p or not candidate.is_file():
            continue
        with contextlib.suppress(OSError):
            small = candidate.stat().st_size <= LABEL_MAX_BYTES
            if small and looks_like_label(candidate) and wanted in candidate.read_bytes():
                return candidate
    raise MediaReadError(p, "not a PDS4 label, and no label beside it names it as its data file")


def product_labels(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The labels of the products named by ``paths``: labels, data files (their label
    is found beside them), or folders searched recursively for labels. Each label once.

    Raises
    ------
    MediaReadError
        A path that is missing, or a file that is neither a label nor a data
        file with its label beside it.
    """
    labels: dict[str, Path] = {}
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = [f for f in sorted(p.rglob("*")) if f.is_file() and looks_like_label(f)]
            for label in found:
                labels.setdefault(os.path.realpath(label), label)
            continue
        label = find_label(p)
        labels.setdefault(os.path.realpath(label), label)
    return list(labels.values())


def collect_labels(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], list[dict[str, str]]]:
    """:func:`product_labels` of each path on its own: the labels found, and for each
    path that names no product, ``{"path", "error"}`` (one bad name hides no other)."""
    labels: list[Path] = []
    seen: set[str] = set()
    failures: list[dict[str, str]] = []
    for path in paths:
        try:
            found = product_labels([path])
        except MediaReadError as exc:
            failures.append({"path": str(path), "error": str(exc)})
            continue
        for label in found:
            # one product reached twice (a label and its data file, a relative and an
            # absolute path, a copy of the label) is read once
            keys = {os.path.realpath(label), _label_digest(label)}
            if not keys & seen:
                labels.append(label)
            seen |= keys
    return labels, failures


def _label_digest(label: Path) -> str:
    import hashlib

    try:
        return "sha256:" + hashlib.sha256(label.read_bytes()).hexdigest()
    except OSError:
        return os.path.realpath(label)


def check_label_xml(label: str | os.PathLike[str]) -> bytes:
    """Read a label's bytes and refuse unsafe or malformed XML before any parser expands it.

    Raises
    ------
    MediaReadError
        Too large, not well-formed, or declaring a DTD or entities (a PDS4
        label never does; entity tricks can exhaust memory or read local files).
    UnsupportedFormatError
        Well-formed XML whose root is not a PDS4 product.
    """
    import xml.etree.ElementTree as ET

    import defusedxml
    import defusedxml.ElementTree as safe_et

    p = Path(label)
    size = p.stat().st_size
    if size > LABEL_MAX_BYTES:
        raise MediaReadError(p, f"label is {size:,} bytes: larger than any real PDS4 label")
    raw = p.read_bytes()
    try:
        root = safe_et.fromstring(raw, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise MediaReadError(p, "label declares a DTD (refused: PDS4 labels have none)") from None
    except defusedxml.DefusedXmlException as exc:
        raise MediaReadError(p, f"label declares entities (refused): {exc}") from None
    except ET.ParseError as exc:
        raise MediaReadError(p, f"label is not well-formed XML ({exc})") from None
    if not root.tag.startswith(f"{{{PDS4_NAMESPACE}}}"):
        raise UnsupportedFormatError(p, f"XML, but not a PDS4 label (root <{root.tag}>)")
    return raw


def open_product(path: str | os.PathLike[str]) -> ProductInfo:
    """Describe a PDS4 product from its label; check its data files without reading them.

    Parameters
    ----------
    path : path-like
        The label, or a data file with its label beside it.

    Raises
    ------
    MediaReadError
        Unsafe or malformed label; a data file missing or shorter than the
        label says (the message names the data file and the label).
    UnsupportedFormatError
        Not a PDS4 product, or a field of a type this module does not decode.
    """
    label = find_label(path)
    check_label_xml(label)
    structures = _structures_of(str(label))
    infos = []
    for structure in structures:
        info = _structure_info(label, structure)
        _check_data_file(label, structure, info)
        infos.append(info)
    full = structures.label
    facts: dict[str, Any] = {key: full.findtext(where) for key, where in LABEL_FACTS.items()}
    mission_area = full.find("Observation_Area/Mission_Area")  # the label parsed once
    facts["mission_area"] = (
        _element_dict(mission_area.getroot()) if mission_area is not None else None
    )
    files = tuple(dict.fromkeys(i.data_file for i in infos))
    return ProductInfo(str(label), files, facts, tuple(infos))


def read_table(product: ProductInfo, name: str | None = None) -> dict[str, np.ndarray]:
    """The columns of a product's table as numpy arrays, by field name.

    Parameters
    ----------
    product : ProductInfo
        From :func:`open_product`.
    name : str, optional
        The table's name [default: the first table].

    Returns
    -------
    dict of str to numpy.ndarray
        One array per field, records along the first axis (``(records,)``, or
        ``(records, repetitions)`` for a field repeated in a group); bit
        strings as ``uint8`` arrays of their bytes, ``(records, bytes)``.

    Raises
    ------
    MediaReadError
        The data file cannot be decoded as its label describes.
    """
    tables = [s for s in product.structures if s.kind.startswith("Table")]
    chosen = next((s for s in tables if name in (None, s.name)), None)
    if chosen is None:
        raise UnsupportedFormatError(
            product.label, f"has no table {name!r}" if name else "no table"
        )
    structures = _structures_of(product.label)
    structure = next(s for s in structures if s.id == chosen.name)
    columns: dict[str, np.ndarray] = {}
    try:
        for field in chosen.fields:
            values = structure[field.name]
            if field.data_type.endswith("BitString"):
                width = values.dtype.itemsize
                # numpy's bytes dtype drops trailing zero bytes: take the raw buffer
                raw = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
                columns[field.name] = raw.reshape(*values.shape, width)
            else:
                columns[field.name] = np.asarray(values)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaReadError(
            chosen.data_file,
            f"cannot be decoded as its label {Path(product.label).name} says ({exc})",
        ) from None
    finally:
        # the parse was kept for this read only: a data file replaced later is read afresh
        _cached_structures.cache_clear()
    return columns


def _structures_of(label: str):
    """The structures of a label, parsed once for :func:`open_product` and the
    :func:`read_table` that follows it (keyed by the label's size and time;
    dropped once the table is read)."""
    st = os.stat(label)
    return _cached_structures(label, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _cached_structures(label: str, size: int, mtime_ns: int):
    return _read_label(Path(label))


def _read_label(label: Path):
    """pds4_tools' structures of a label, lazily (no data read), silently."""
    import pds4_tools

    hook = sys.excepthook  # pds4_tools installs its own on every read
    try:
        return pds4_tools.read(
            str(label), lazy_load=True, quiet=True, no_scale=True, decode_strings=False
        )
    except Exception as exc:  # pds4_tools raises bare exceptions of many kinds
        raise MediaReadError(label, f"pds4_tools cannot read the label ({exc})") from None
    finally:
        sys.excepthook = hook


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _walk_fields(node: Any, prefix: str = "", repeat: int = 1) -> Iterator[FieldInfo]:
    for field in _as_list(node.get("Field_Binary")) + _as_list(node.get("Field_Character")):
        yield FieldInfo(
            name=prefix + field["name"],
            data_type=field["data_type"],
            unit=field.get("unit"),
            repetitions=repeat,
            description=field.get("description"),
        )
    for group in _as_list(node.get("Group_Field_Binary")) + _as_list(
        node.get("Group_Field_Character")
    ):
        yield from _walk_fields(group, f"{prefix}{group['name']}, ", repeat * group["repetitions"])


def _structure_info(label: Path, structure: Any) -> StructureInfo:
    meta = structure.meta_data
    # pds4_tools joins the file name to the label's folder as given: joined again, a
    # relative label path would name its folder twice
    data_file = str(label.parent / Path(structure.parent_filename).name)
    if structure.is_table():
        record = meta.get("Record_Binary") or meta.get("Record_Character") or {}
        fields = tuple(_walk_fields(record))
        for field in fields:
            if field.data_type not in BINARY_TYPES:
                raise UnsupportedFormatError(
                    label, f"field {field.name!r} has data type {field.data_type!r}, not read here"
                )
        return StructureInfo(
            name=structure.id,
            kind=structure.type,
            data_file=data_file,
            offset=int(meta.get("offset", 0)),
            shape=(int(meta["records"]),),
            fields=fields,
        )
    element = meta.get("Element_Array", {})
    data_type = element.get("data_type")
    if data_type not in BINARY_TYPES:
        raise UnsupportedFormatError(
            label, f"array {structure.id!r} has data type {data_type!r}, not read here"
        )
    axes = sorted(_as_list(meta.get("Axis_Array")), key=lambda a: int(a.get("sequence_number", 0)))
    return StructureInfo(
        name=structure.id,
        kind=structure.type,
        data_file=data_file,
        offset=int(meta.get("offset", 0)),
        shape=tuple(int(a["elements"]) for a in axes),
        data_type=data_type,
    )


def _check_data_file(label: Path, structure: Any, info: StructureInfo) -> None:
    data = Path(info.data_file)
    if not data.is_file():
        raise MediaReadError(data, f"missing: the label {label.name} describes it")
    needed = info.offset + _byte_length(structure, info)
    size = data.stat().st_size
    if size < needed:
        raise MediaReadError(
            data,
            f"truncated: {size:,} bytes, the label {label.name} describes {needed:,}",
        )


def _byte_length(structure: Any, info: StructureInfo) -> int:
    meta = structure.meta_data
    if structure.is_table():
        record = meta.get("Record_Binary") or meta.get("Record_Character") or {}
        return int(record.get("record_length", 0)) * info.shape[0]
    sizes = {"Byte": 1, "2": 2, "4": 4, "8": 8, "Single": 4, "Double": 8, "16": 16}
    element = next((n for suffix, n in sizes.items() if info.data_type.endswith(suffix)), 1)
    return int(np.prod(info.shape, dtype=np.int64)) * element


def _element_dict(element: Any) -> Any:
    """An XML element as plain values: children by tag (a repeated tag: a list), text
    leaves as text, and a leaf with a ``unit`` attribute as ``{"value", "unit"}`` with
    the value a number where it reads as one (``-4.918556 km`` keeps its kilometres)."""
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        unit = element.get("unit")
        if unit is None:
            return text
        try:
            value: Any = float(text)
        except ValueError:
            value = text
        return {"value": value, "unit": unit}
    out: dict[str, Any] = {}
    for child in children:
        key, value = _local(child.tag), _element_dict(child)
        if key in out:
            out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
        else:
            out[key] = value
    return out


def image_structure(product: ProductInfo) -> StructureInfo:
    """The product's first 2-D or 3-D array (an image), as its label declares it.

    Raises
    ------
    UnsupportedFormatError
        The product has no image array.
    """
    for structure in product.structures:
        if structure.kind.startswith(("Array_2D", "Array_3D")) and len(structure.shape) in (2, 3):
            return structure
    raise UnsupportedFormatError(product.label, "PDS4 product without an image array")


def read_array(product: ProductInfo, name: str | None = None) -> np.ndarray:
    """An array of a product as numpy, in the label's axis order (the first axis is the
    label's ``sequence_number`` 1: lines for an image, bands first for a band-sequential
    cube), values as stored (no scaling).

    Raises
    ------
    MediaReadError
        The data file cannot be decoded as its label says.
    """
    chosen = (
        image_structure(product)
        if name is None
        else next((s for s in product.structures if s.name == name), None)
    )
    if chosen is None:
        raise UnsupportedFormatError(product.label, f"has no array {name!r}")
    structures = _structures_of(product.label)
    try:
        structure = next(s for s in structures if s.id == chosen.name)
        return np.asarray(structure.data)
    except (OSError, ValueError) as exc:
        label_name = Path(product.label).name
        raise MediaReadError(
            chosen.data_file, f"cannot be decoded as its label {label_name} says ({exc})"
        ) from None
    finally:
        _cached_structures.cache_clear()


# ---------------------------------------------------------------- signals (audio)

#: A signal array's axis of channels is at most this long (else it is not a channel axis).
MAX_CHANNELS = 64
_RATE_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_INTERVAL_UNITS = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "μs": 1e-6,
    "microseconds": 1e-6,
    "ns": 1e-9,
    "nanoseconds": 1e-9,
}


@dataclasses.dataclass(frozen=True)
class SignalRequest:
    """What to take as a signal from a product the label alone does not settle.

    Attributes
    ----------
    field : str, optional
        A table field holding the samples (a repeated field is read record
        after record); needed when the product has no signal array.
    rate_hz : float, optional
        The sample rate, when the label declares none (or to override it).
    """

    field: str | None = None
    rate_hz: float | None = None


@dataclasses.dataclass(frozen=True)
class SignalSource:
    """Where a product's samples are: a media file it wraps, or an array or table field.

    Attributes
    ----------
    product : ProductInfo
    media_file : str or None
        An audio or video file named in the label that is not a table or array
        (``Encoded_Audio``, ``Encoded_Video``, a native file): read as any such file.
    structure : StructureInfo or None
        The array, or the table holding ``field``.
    field : str or None
    time_axis : int
        The array's axis along which samples follow each other.
    rate_hz : float or None
    rate_from : str or None
        Where the rate came from (the label element and its value, or the request).
    """

    product: ProductInfo
    media_file: str | None = None
    structure: StructureInfo | None = None
    field: str | None = None
    time_axis: int = 0
    rate_hz: float | None = None
    rate_from: str | None = None

    def facts(self) -> dict[str, Any]:
        """The product's label facts and what was read from it, for a report."""
        facts = {"label": self.product.label, **self.product.facts}
        if self.media_file:
            facts["media_file"] = self.media_file
        if self.structure is not None:
            facts["structure"] = self.structure.name
            facts["structure_kind"] = self.structure.kind
            facts["data_file"] = self.structure.data_file
        if self.field:
            facts["field"] = self.field
        if self.rate_hz:
            facts["rate_hz"] = self.rate_hz
            facts["rate_from"] = self.rate_from
        return facts


def label_file_names(label: str | os.PathLike[str]) -> list[Path]:
    """The files a label names (``File/file_name``), beside the label, each once,
    read from the XML alone (the product is not opened).

    Raises
    ------
    MediaReadError, UnsupportedFormatError
        As :func:`check_label_xml`.
    """
    root = _safe_root(label)
    names = [
        (child.text or "").strip()
        for file in root.iter()
        if _local(file.tag) == "File"
        for child in file
        if _local(child.tag) == "file_name"
    ]
    folder = Path(label).parent
    return list(dict.fromkeys(folder / n for n in names if n))


def media_files(product: ProductInfo, kinds: Iterable[str]) -> list[str]:
    """Files the label names that are not its tables or arrays and hold media of ``kinds``
    (:class:`~zhurong_tk.io.sniff.Kind` values: ``"audio"``, ``"video"``, ``"container"``)."""
    from zhurong_tk.io.sniff import sniff

    wanted = set(kinds)
    found = []
    for path in map(str, label_file_names(product.label)):
        if path in product.data_files or not Path(path).is_file():
            continue
        kind, _ = sniff(path)
        if kind.value in wanted:
            found.append(path)
    return found


def label_sample_rate(label: str | os.PathLike[str]) -> tuple[float, str] | None:
    """The sample rate a label declares, and the element that says so.

    Looks for elements named like ``sampling_rate``/``sample_frequency`` (units
    Hz to GHz) or ``sampling_interval``/``sample_interval`` (units s to ns) in
    any namespace (PDS4 has no common element for it: missions put it in their
    own dictionaries). None when there is none.
    """
    for el in _safe_root(label).iter():
        name = _local(el.tag).lower()
        text = (el.text or "").strip()
        unit = (el.get("unit") or "").strip().lower()
        try:
            value = float(text)
        except ValueError:
            continue
        if value <= 0 or not np.isfinite(value):
            continue
        is_rate = "sampl" in name and ("rate" in name or "frequency" in name)
        is_interval = "sampl" in name and ("interval" in name or "period" in name)
        said = f"{_local(el.tag)} = {text} {el.get('unit')}"
        if is_rate and unit in _RATE_UNITS:
            return value * _RATE_UNITS[unit], said
        if is_interval and unit in _INTERVAL_UNITS:
            return 1.0 / (value * _INTERVAL_UNITS[unit]), said
    return None


def find_signal(
    product: ProductInfo, request: SignalRequest | None = None, *, media: Iterable[str] = ()
) -> SignalSource:
    """Where to read a signal (audio, or any sampled time series) from a product.

    In order: a media file of the ``media`` kinds the label names; the table
    field ``request.field``; the product's first 1-D array, or 2-D array that
    is not an image (samples along its longer axis, unless an axis is named
    like time or sample, channels along the other).

    Raises
    ------
    UnsupportedFormatError
        The product holds no such signal; the message says what it holds.
    ParameterError
        The requested field does not exist, or no sample rate is known.
    """
    from zhurong_tk.errors import ParameterError

    request = request or SignalRequest()
    found = media_files(product, media) if media else []
    if found:
        return SignalSource(product, media_file=found[0])
    if request.field:
        for structure in product.structures:
            names = [f.name for f in structure.fields]
            match = [n for n in names if request.field in (n, n.rsplit(", ", 1)[-1])]
            if match:
                chosen = SignalSource(product, structure=structure, field=match[0])
                return _with_rate(chosen, request)
        fields = [f.name for s in product.structures for f in s.fields]
        raise ParameterError(
            f"{product.label}: no table field {request.field!r}"
            + (f" (fields: {', '.join(fields)})" if fields else " (the product has no table)")
        )
    tables = [s for s in product.structures if s.fields]
    for structure in product.structures:
        if structure.kind == "Array_1D" or (
            structure.kind.startswith("Array_2D") and not structure.kind.endswith("Image")
        ):
            if len(structure.shape) not in (1, 2):
                continue
            axis = _time_axis(product, structure)
            return _with_rate(SignalSource(product, structure=structure, time_axis=axis), request)
    raise UnsupportedFormatError(
        product.label,
        f"PDS4 product without a signal: {describe_contents(product)}"
        + ("; name a table field (--field) to read it as one" if tables else ""),
    )


def _is_real_number_type(data_type: str | None) -> bool:
    """Integers and IEEE floats: what samples can be (not bit strings, text or complex)."""
    return (
        bool(data_type)
        and data_type.startswith(("Signed", "Unsigned", "IEEE754"))
        and ("BitString" not in data_type)
    )


def _with_rate(source: SignalSource, request: SignalRequest) -> SignalSource:
    from zhurong_tk.errors import ParameterError

    data_type = (
        next(f.data_type for f in source.structure.fields if f.name == source.field)
        if source.field
        else source.structure.data_type
    )
    if not _is_real_number_type(data_type):
        what = f"field {source.field!r}" if source.field else f"array {source.structure.name!r}"
        raise UnsupportedFormatError(
            source.product.label, f"{what} holds {data_type} values, not samples of a signal"
        )
    if request.rate_hz:
        return dataclasses.replace(source, rate_hz=float(request.rate_hz), rate_from="--rate")
    declared = label_sample_rate(source.product.label)
    if declared is None:
        what = f"field {source.field!r}" if source.field else f"array {source.structure.name!r}"
        raise ParameterError(
            f"{source.product.label}: the label declares no sample rate for its {what};"
            " give it with --rate HZ"
        )
    return dataclasses.replace(source, rate_hz=declared[0], rate_from=f"label: {declared[1]}")


def _time_axis(product: ProductInfo, structure: StructureInfo) -> int:
    if len(structure.shape) == 1:
        return 0
    names = _axis_names(product.label, structure.name)
    for i, name in enumerate(names):
        if any(word in name.lower() for word in ("time", "sample", "record")):
            return i
    return int(np.argmax(structure.shape))


def _axis_names(label: str, structure_name: str) -> list[str]:
    for structure in _structures_of(label):
        if structure.id == structure_name:
            axes = _as_list(structure.meta_data.get("Axis_Array"))
            axes = sorted(axes, key=lambda a: int(a.get("sequence_number", 0)))
            return [str(a.get("axis_name", "")) for a in axes]
    return []


def describe_contents(product: ProductInfo) -> str:
    """What a product holds, in a few words ("Table_Binary TABLE_0 (14 records, 28 fields)")."""
    parts = []
    for s in product.structures:
        if s.fields:
            parts.append(f"{s.kind} {s.name} ({s.shape[0]} records, {len(s.fields)} fields)")
        else:
            parts.append(f"{s.kind} {s.name} ({' × '.join(map(str, s.shape))} {s.data_type})")
    return "; ".join(parts) or "no table or array"


def signal_channels(source: SignalSource) -> tuple[int, int]:
    """``(frames, channels)`` of a source read from an array or a table field."""
    structure = source.structure
    if source.field:
        field = next(f for f in structure.fields if f.name == source.field)
        return structure.shape[0] * field.repetitions, 1
    frames = structure.shape[source.time_axis]
    channels = 1 if len(structure.shape) == 1 else structure.shape[1 - source.time_axis]
    if channels > MAX_CHANNELS:
        raise UnsupportedFormatError(
            source.product.label,
            f"array {structure.name!r} is {' × '.join(map(str, structure.shape))}:"
            f" {channels} channels is not a signal (at most {MAX_CHANNELS})",
        )
    return frames, channels


def signal_chunks(source: SignalSource, chunk_frames: int = 65536) -> Iterator[np.ndarray]:
    """A source's samples as float32 chunks ``(n, channels)``, in time order.

    An array is read through pds4_tools' memory-mapped ``section``, a chunk at
    a time (never whole); a table field is read with its table. Integer samples
    are scaled to PCM full scale (±1, as WAV readers do) unless the label
    scales them; float samples are as stored, times the label's scaling.
    """
    structure = source.structure
    frames, channels = signal_channels(source)
    label = source.product.label
    if source.field:
        samples = np.ascontiguousarray(read_table(source.product, structure.name)[source.field])
        samples = samples.reshape(-1)
        scale, offset = 1.0, 0.0

        def take(start: int, stop: int) -> np.ndarray:
            return samples[start:stop]

        what = f"field {source.field!r}"
    else:
        try:
            parsed = next(s for s in _structures_of(label) if s.id == structure.name)
            element = parsed.meta_data.get("Element_Array", {})
            scale = float(element.get("scaling_factor", 1.0))
            offset = float(element.get("value_offset", 0.0))
            section = parsed.section  # memory-mapped by pds4_tools: a slice reads only itself
        except (OSError, ValueError) as exc:
            raise MediaReadError(
                structure.data_file, f"cannot be read as its label {Path(label).name} says ({exc})"
            ) from None
        finally:
            _cached_structures.cache_clear()

        def take(start: int, stop: int) -> np.ndarray:
            if len(structure.shape) == 1:
                return np.asarray(section[start:stop])
            if source.time_axis == 0:
                return np.asarray(section[start:stop, :])
            return np.asarray(section[:, start:stop]).T

        what = f"array {structure.name!r}"
    for start in range(0, frames, chunk_frames):
        raw = take(start, start + chunk_frames)
        if raw.dtype.kind not in "iuf":
            raise UnsupportedFormatError(
                label, f"{what} holds {raw.dtype} values, not real numbers: not a signal"
            )
        pcm = _pcm_scaling(raw.dtype) if scale == 1.0 and offset == 0.0 else None
        chunk = raw.astype(np.float64)
        chunk = (chunk - pcm[1]) / pcm[0] if pcm is not None else chunk * scale + offset
        yield chunk.reshape(len(chunk), channels).astype(np.float32)


def _pcm_scaling(dtype: np.dtype) -> tuple[float, float] | None:
    """``(full_scale, centre)`` of integer samples; None for floats."""
    if dtype.kind == "i":
        return float(2 ** (8 * dtype.itemsize - 1)), 0.0
    if dtype.kind == "u":
        half = float(2 ** (8 * dtype.itemsize - 1))
        return half, half
    return None


def _safe_root(label: str | os.PathLike[str]):
    import defusedxml.ElementTree as safe_et

    return safe_et.fromstring(check_label_xml(label), forbid_dtd=True)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
