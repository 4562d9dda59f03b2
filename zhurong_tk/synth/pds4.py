"""Synthetic Tianwen-1 RoPeR products (PDS4 label + binary table) with known truth.

The layout follows the real low-frequency radar products (one record per
trace: channel word, packed time, frame count, data length, the trace, then
the rover's velocities, positions and attitude as sign-magnitude integers,
the same in float, sun angles and a quality byte), so a reader tested on these
reads the archive. The rover drives at a constant speed along a heading that
turns at a constant rate; each trace is a complex time-domain echo with the
direct wave and one dipping reflector.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.io.outputs import write_json
from zhurong_tk.telemetry.decode import TIME_EPOCH

ANGLE_LSB_DEG = 0.005493  # the label's unit; the encoder uses it exactly
SAMPLE_INTERVAL_NS = 10.0  # the LF channel's 15 µs window over 1500 samples


def roper_scene(
    *,
    records: int = 40,
    samples: int = 300,
    start: str = "2021-05-25T04:20:00.601",
    trace_spacing_m: float = 0.5,
    speed_m_s: float = 0.055,
    heading_deg: float = -105.0,
    turn_deg_per_m: float = -4.0,
    start_north_m: float = 5.38,
    start_east_m: float = 0.12,
    reflector_ns: float = 900.0,
    reflector_slope_ns_per_m: float = 30.0,
    direct_sample: int = 20,
    pause_after: int | None = None,
    pause_s: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """A drive with one radar trace every ``trace_spacing_m``; returns the truth.

    ``pause_after`` (a record index) stops the rover for ``pause_s`` seconds
    after that record: a gap in the telemetry.
    """
    rng = np.random.default_rng(seed)
    dt_s = trace_spacing_m / speed_m_s
    times_ms = np.arange(records) * dt_s * 1000.0
    if pause_after is not None:
        times_ms[pause_after + 1 :] += pause_s * 1000.0
    start_ms = round((np.datetime64(start, "ms") - TIME_EPOCH) / np.timedelta64(1, "ms"))
    times_ms = start_ms + np.round(times_ms).astype(np.int64)
    # a constant-rate turn: heading changes linearly with distance
    distance = np.arange(records) * trace_spacing_m
    heading = heading_deg + turn_deg_per_m * distance
    step_heading = np.radians(heading[:-1] + turn_deg_per_m * trace_spacing_m / 2)
    north = start_north_m + np.concatenate(
        [[0.0], np.cumsum(trace_spacing_m * np.cos(step_heading))]
    )
    east = start_east_m + np.concatenate([[0.0], np.cumsum(trace_spacing_m * np.sin(step_heading))])
    down = 0.42 + 0.01 * np.sin(distance / 3.0)
    roll = 180.0 + rng.normal(0.0, 0.4, records)  # Zhurong's roll sits near ±180
    roll = (roll + 180.0) % 360.0 - 180.0
    pitch = -1.5 + rng.normal(0.0, 0.5, records)
    yaw = (heading + 180.0) % 360.0 - 180.0
    incidence = np.linspace(7.9, 10.0, records)
    azimuth = np.linspace(220.5, 234.0, records)
    return {
        "kind": "roper_lf",
        "records": records,
        "samples": samples,
        "time_ms_since_epoch": times_ms.tolist(),
        "time_utc": [
            str(np.datetime_as_string(TIME_EPOCH + np.timedelta64(int(t), "ms"), unit="ms")) + "Z"
            for t in times_ms
        ],
        "north_m": north.tolist(),
        "east_m": east.tolist(),
        "down_m": down.tolist(),
        "roll_deg": roll.tolist(),
        "pitch_deg": pitch.tolist(),
        "yaw_deg": yaw.tolist(),
        "speed_m_s": speed_m_s,
        "heading_deg": heading.tolist(),
        "solar_incidence_deg": incidence.tolist(),
        "solar_azimuth_deg": azimuth.tolist(),
        "distance_m": float(distance[-1]),
        "sample_interval_ns": SAMPLE_INTERVAL_NS,
        "direct_sample": direct_sample,
        "reflector_ns": reflector_ns,
        # a dipping layer (a flat one would go with the background): its delay per trace
        "reflector_delay_ns": (reflector_ns + reflector_slope_ns_per_m * distance).tolist(),
        "seed": seed,
    }


def _traces(scene: dict[str, Any]) -> np.ndarray:
    """Complex echoes, ``(records, samples)``: the direct wave and one reflector."""
    rng = np.random.default_rng(scene["seed"] + 1)
    n, m = scene["records"], scene["samples"]
    t = np.arange(m)
    f = 55e6 * SAMPLE_INTERVAL_NS * 1e-9  # cycles per sample at 55 MHz

    def wavelet(centre: float, amplitude: float) -> np.ndarray:
        envelope = np.exp(-0.5 * ((t - centre) / 3.0) ** 2)
        return amplitude * envelope * np.exp(2j * np.pi * f * (t - centre))

    echoes = np.empty((n, m), np.complex64)
    for i in range(n):
        reflector = scene["direct_sample"] + scene["reflector_delay_ns"][i] / SAMPLE_INTERVAL_NS
        trace = wavelet(scene["direct_sample"], 1e9) + wavelet(reflector, 2e7)
        noise = rng.normal(0, 2e5, m) + 1j * rng.normal(0, 2e5, m)
        echoes[i] = trace + noise
    return echoes


def _sign_magnitude(value: float) -> int:
    magnitude = min(round(abs(value)), 0x7FFF)
    return (0x8000 | magnitude) if value < 0 else magnitude


FIELDS = [
    # name, data_type, length, unit, description
    ("Channel", "UnsignedBitString", 4, "none", "channel identifier, 0x146F1111"),
    ("Time", "UnsignedBitString", 6, "none", "trace time"),
    ("Frame_Count", "UnsignedByte", 1, "none", "trace counter"),
    ("Effective_Data_Length", "UnsignedMSB2", 2, "none", "science data length in bytes"),
]
TELEMETRY_FIELDS = [
    ("Velocity_Vx", "SignedMSB2", 2, "10um/s", "velocity Vx"),
    ("Velocity_Vy", "SignedMSB2", 2, "10um/s", "velocity Vy"),
    ("Velocity_Vz", "SignedMSB2", 2, "10um/s", "velocity Vz"),
    ("Position_X", "SignedMSB2", 2, "0.01m", "position X"),
    ("Position_Y", "SignedMSB2", 2, "0.01m", "position Y"),
    ("Position_Z", "SignedMSB2", 2, "0.01m", "position Z"),
    ("Pitch", "SignedMSB2", 2, "0.005493deg", "attitude pitch"),
    ("Yaw", "SignedMSB2", 2, "0.005493deg", "attitude yaw"),
    ("Roll", "SignedMSB2", 2, "0.005493deg", "attitude roll"),
    ("Rover_Location_X", "IEEE754LSBSingle", 4, "m", "rover position X, landing-site frame"),
    ("Rover_Location_Y", "IEEE754LSBSingle", 4, "m", "rover position Y, landing-site frame"),
    ("Rover_Location_Z", "IEEE754LSBSingle", 4, "m", "rover position Z, landing-site frame"),
    ("Rover_Attitude_Roll", "IEEE754LSBSingle", 4, "deg", "rover attitude roll"),
    ("Rover_Attitude_Pitch", "IEEE754LSBSingle", 4, "deg", "rover attitude pitch"),
    ("Rover_Attitude_Yaw", "IEEE754LSBSingle", 4, "deg", "rover attitude yaw"),
    ("Solar_Incidence_Angle", "IEEE754LSBSingle", 4, "deg", "solar incidence angle"),
    ("Solar_Azimuth_Angle", "IEEE754LSBSingle", 4, "deg", "solar azimuth angle"),
    ("Quality_Information", "UnsignedBitString", 1, "none", "quality information"),
]


def _records(scene: dict[str, Any]) -> tuple[bytes, int]:
    echoes = _traces(scene)
    m = scene["samples"]
    rows = []
    for i in range(scene["records"]):
        t = scene["time_ms_since_epoch"][i]
        head = bytes.fromhex("146F1111") + struct.pack(">IH", t // 1000, t % 1000)
        head += struct.pack(">BH", (i + 1) % 256, 8 * m)
        science = np.concatenate([echoes[i].real, echoes[i].imag]).astype("<f4").tobytes()
        north, east, down = scene["north_m"][i], scene["east_m"][i], scene["down_m"][i]
        heading = math.radians(scene["heading_deg"][i])
        speed = scene["speed_m_s"] / 1e-5
        ints = [
            speed * math.cos(heading),
            speed * math.sin(heading),
            0.0,
            (east + 0.0026) / 0.01,
            (north + 0.0897) / 0.01,
            (1.3438 - down) / 0.01,
            -scene["pitch_deg"][i] / ANGLE_LSB_DEG,
            0.0,  # yaw: two's complement on the rover, not read by zhurong-tk
            0.0,
        ]
        telemetry = b"".join(struct.pack(">H", _sign_magnitude(v)) for v in ints)
        telemetry += struct.pack(
            "<8f",
            north,
            east,
            down,
            scene["roll_deg"][i],
            scene["pitch_deg"][i],
            scene["yaw_deg"][i],
            scene["solar_incidence_deg"][i],
            scene["solar_azimuth_deg"][i],
        )
        rows.append(head + science + telemetry + b"\x00")
    return b"".join(rows), len(rows[0])


def _field_xml(
    number: int, location: int, name: str, dtype: str, length: int, unit: str, text: str
) -> str:
    return f"""				<Field_Binary>
					<name>{name}</name>
					<field_number>{number}</field_number>
					<field_location unit="byte">{location}</field_location>
					<data_type>{dtype}</data_type>
					<field_length unit="byte">{length}</field_length>
					<unit>{unit}</unit>
					<description>{text}</description>
				</Field_Binary>
"""


def _label_head(lid: str, title: str, start: str, stop: str, instrument: str) -> str:
    """A Tianwen-1 label's opening: identification, times, mission, instrument, target
    (the caller continues inside ``Observation_Area``)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1">
	<Identification_Area>
		<logical_identifier>{lid}</logical_identifier>
		<version_id>1.0</version_id>
		<title>{title}</title>
		<information_model_version>1.12.0.0</information_model_version>
		<product_class>Product_Observational</product_class>
	</Identification_Area>
	<Observation_Area>
		<Time_Coordinates>
			<start_date_time>{start}</start_date_time>
			<stop_date_time>{stop}</stop_date_time>
		</Time_Coordinates>
		<Primary_Result_Summary>
			<purpose>Science</purpose>
			<processing_level>Calibrated</processing_level>
		</Primary_Result_Summary>
		<Investigation_Area>
			<name>HX-1</name>
			<type>Mission</type>
		</Investigation_Area>
		<Observing_System>
			<name>HX-1 Rover</name>
			<Observing_System_Component>
				<name>{instrument}</name>
				<type>Instrument</type>
			</Observing_System_Component>
		</Observing_System>
		<Target_Identification>
			<name>Mars</name>
			<type>Planet</type>
		</Target_Identification>"""


def label_xml(scene: dict[str, Any], data_name: str, data_size: int, record_length: int) -> str:
    """The PDS4 label of a synthetic product whose data file is ``data_name``."""
    m = scene["samples"]
    fields, location, number = [], 1, 1
    for name, dtype, length, unit, text in FIELDS:
        fields.append(_field_xml(number, location, name, dtype, length, unit, text))
        location, number = location + length, number + 1
    group = f"""				<Group_Field_Binary>
					<name>Scientific_Data</name>
					<group_number>1</group_number>
					<repetitions>{2 * m}</repetitions>
					<fields>1</fields>
					<groups>0</groups>
					<group_location unit="byte">{location}</group_location>
					<group_length unit="byte">{8 * m}</group_length>
					<Field_Binary>
						<name>ECHO_DATA</name>
						<field_location unit="byte">1</field_location>
						<data_type>IEEE754LSBSingle</data_type>
						<field_length unit="byte">4</field_length>
						<unit>none</unit>
						<description>real part, then imaginary part</description>
					</Field_Binary>
				</Group_Field_Binary>
"""
    location += 8 * m
    after = []
    for name, dtype, length, unit, text in TELEMETRY_FIELDS:
        after.append(_field_xml(number, location, name, dtype, length, unit, text))
        location, number = location + length, number + 1
    product = Path(data_name).stem
    head = _label_head(
        f"{product}.2B",
        "HX-1 mission (synthetic, zhurong-tk)",
        scene["time_utc"][0],
        scene["time_utc"][-1],
        "Mars Rover Penetrating Radar",
    )
    return f"""{head}
		<Mission_Area>
			<product_id>{product}.2B</product_id>
			<product_level>2B</product_level>
			<instrument_name>Mars Rover Penetrating Radar</instrument_name>
			<instrument_id>RoPeR</instrument_id>
			<Work_Mode_Parm>
				<channel>Low_Frequency_Mode</channel>
				<data_content>LF_Real_and_Imaginary Data</data_content>
				<trigger_mode>Fixed_Distance_Trigger</trigger_mode>
			</Work_Mode_Parm>
			<Landing_Site_Location>
				<reference_frame>MARS_COORDINATE_SYSTEM</reference_frame>
				<longitude unit="deg">109.908440</longitude>
				<latitude unit="deg">25.083319</latitude>
				<altitude unit="km">-4.918556</altitude>
			</Landing_Site_Location>
		</Mission_Area>
	</Observation_Area>
	<File_Area_Observational>
		<File>
			<file_name>{data_name}</file_name>
			<file_size unit="byte">{data_size}</file_size>
			<records>{scene["records"]}</records>
		</File>
		<Table_Binary>
			<offset unit="byte">0</offset>
			<records>{scene["records"]}</records>
			<Record_Binary>
				<fields>{number - 1}</fields>
				<groups>1</groups>
				<record_length unit="byte">{record_length}</record_length>
{"".join(fields)}{group}{"".join(after)}			</Record_Binary>
		</Table_Binary>
	</File_Area_Observational>
</Product_Observational>
"""


def write(label_path: str | os.PathLike[str], scene: dict[str, Any], *, truth: bool = True) -> Path:
    """Write the label at ``label_path`` and its data file beside it (``.2BL`` → ``.2B``);
    with ``truth``, ``<label>.truth.json``. Returns the label's path."""
    label = Path(label_path)
    data = label.with_suffix(".2B") if label.suffix.upper() == ".2BL" else label.with_suffix(".dat")
    table, record_length = _records(scene)
    data.write_bytes(table)
    label.write_text(label_xml(scene, data.name, len(table), record_length), encoding="utf-8")
    if truth:
        write_json(Path(f"{label}.truth.json"), scene, overwrite=True)
    return label


def _array_xml(kind: str, data_type: str, axes: list[tuple[str, int]]) -> str:
    """An array's element in a file area: its type and ``Axis_Array``s, first axis first
    (the slowest varying)."""
    axis_xml = "".join(
        f"""			<Axis_Array>
				<axis_name>{name}</axis_name>
				<elements>{n}</elements>
				<sequence_number>{i + 1}</sequence_number>
			</Axis_Array>
"""
        for i, (name, n) in enumerate(axes)
    )
    return f"""		<{kind}>
			<offset unit="byte">0</offset>
			<axes>{len(axes)}</axes>
			<axis_index_order>Last Index Fastest</axis_index_order>
			<Element_Array>
				<data_type>{data_type}</data_type>
			</Element_Array>
{axis_xml}		</{kind}>
"""


def write_image_product(
    label_path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    start_time: str = "2021-05-25T04:20:00.000Z",
) -> Path:
    """Write a grey (lines × samples) or colour (lines × samples × 3, RGB) image as a PDS4
    product, like a Tianwen-1 camera's ``.2C``: 8 or 16-bit, band-sequential, beside
    its label (``.2CL`` → ``.2C``), taken at ``start_time``. Returns the label's path."""
    label = Path(label_path)
    data = label.with_suffix(".2C") if label.suffix.upper() == ".2CL" else label.with_suffix(".img")
    pixels = np.asarray(image)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError("8 or 16-bit pixels")
    cube = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
    element = "UnsignedByte" if pixels.dtype == np.uint8 else "UnsignedMSB2"
    data.write_bytes(cube.astype(">u2" if element == "UnsignedMSB2" else np.uint8).tobytes())
    axes = [("Band", cube.shape[0])] if pixels.ndim == 3 else []
    axes += [("Line", cube.shape[1]), ("Sample", cube.shape[2])]
    kind = "Array_3D_Image" if pixels.ndim == 3 else "Array_2D_Image"
    label.write_text(
        f"""{
            _label_head(
                f"{data.stem}.2C",
                "HX-1 mission (synthetic camera image, zhurong-tk)",
                start_time,
                start_time,
                "Navigation and Terrain Camera",
            )
        }
	</Observation_Area>
	<File_Area_Observational>
		<File>
			<file_name>{data.name}</file_name>
		</File>
{_array_xml(kind, element, axes)}	</File_Area_Observational>
</Product_Observational>
""",
        encoding="utf-8",
    )
    return label


#: numpy types of the synthetic signal products' sample encodings.
SIGNAL_TYPES = {"SignedLSB2": "<i2", "SignedMSB2": ">i2", "IEEE754LSBSingle": "<f4"}


def write_signal_product(
    label_path: str | os.PathLike[str],
    samples: np.ndarray,
    rate_hz: float,
    *,
    layout: str = "array",
    data_type: str = "SignedLSB2",
    declare: str | None = "rate",
    record_samples: int = 1000,
) -> Path:
    """Write a sampled signal (climate-station sound, say) as a PDS4 product.

    Parameters
    ----------
    samples : numpy.ndarray
        ``(n,)`` or ``(n, channels)``, values in [-1, 1].
    layout : {"array", "table", "wav"}
        ``"array"``: an ``Array_1D`` (``Array_2D`` with a Channel axis first and
        a Time axis, for several channels); ``"table"``: a ``Table_Binary`` whose
        records each hold ``record_samples`` samples in the group field
        ``SOUND_DATA`` (first channel only); ``"wav"``: a WAV file the label names
        as ``Encoded_Audio``.
    data_type : str
        Sample encoding of an array or table (integers at PCM full scale).
    declare : {"rate", "interval", None}
        How the label's Mission_Area states the rate: ``sampling_rate`` in kHz,
        ``sampling_interval`` in microseconds, or not at all.

    Returns
    -------
    pathlib.Path
        The label (its data file beside it, ``.dat`` or ``.wav``).
    """
    import soundfile as sf

    label = Path(label_path)
    x = np.asarray(samples, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    n, channels = x.shape
    dtype = np.dtype(SIGNAL_TYPES[data_type])
    stored = np.round(x * 32767).astype(dtype) if dtype.kind == "i" else x.astype(dtype)
    if layout == "wav":
        data = label.with_suffix(".wav")
        sf.write(data, x.astype(np.float32), int(rate_hz), subtype="PCM_16")
        area = """		<Encoded_Audio>
			<offset unit="byte">0</offset>
			<encoding_standard_id>WAV</encoding_standard_id>
		</Encoded_Audio>
"""
    elif layout == "array":
        data = label.with_suffix(".dat")
        data.write_bytes(np.ascontiguousarray(stored.T if channels > 1 else stored[:, 0]).tobytes())
        axes = [("Channel", channels), ("Time", n)] if channels > 1 else [("Time", n)]
        kind = "Array_2D" if channels > 1 else "Array_1D"
        area = _array_xml(kind, data_type, axes)
    elif layout == "table":
        data = label.with_suffix(".dat")
        records = -(-n // record_samples)
        column = np.zeros(records * record_samples, dtype)
        column[:n] = stored[:, 0]
        data.write_bytes(column.tobytes())
        size = dtype.itemsize
        area = f"""		<Table_Binary>
			<offset unit="byte">0</offset>
			<records>{records}</records>
			<Record_Binary>
				<fields>0</fields>
				<groups>1</groups>
				<record_length unit="byte">{record_samples * size}</record_length>
				<Group_Field_Binary>
					<name>Sound</name>
					<group_number>1</group_number>
					<repetitions>{record_samples}</repetitions>
					<fields>1</fields>
					<groups>0</groups>
					<group_location unit="byte">1</group_location>
					<group_length unit="byte">{record_samples * size}</group_length>
					<Field_Binary>
						<name>SOUND_DATA</name>
						<field_location unit="byte">1</field_location>
						<data_type>{data_type}</data_type>
						<field_length unit="byte">{size}</field_length>
					</Field_Binary>
				</Group_Field_Binary>
			</Record_Binary>
		</Table_Binary>
"""
    else:
        raise ValueError(f"layout must be array, table or wav, not {layout!r}")
    said = {
        "rate": f'<sampling_rate unit="kHz">{rate_hz / 1e3:.9g}</sampling_rate>',
        "interval": f'<sampling_interval unit="microseconds">{1e6 / rate_hz:.12g}'
        "</sampling_interval>",
        None: "",
    }[declare]
    head = _label_head(
        f"{data.stem}.2B",
        "HX-1 mission (synthetic sound record, zhurong-tk)",
        "2021-05-22T02:40:00.000Z",
        "2021-05-22T02:40:00.000Z",
        "Mars Climate Station",
    )
    label.write_text(
        f"""{head}
		<Mission_Area>
			<instrument_id>MCS</instrument_id>
			{said}
		</Mission_Area>
	</Observation_Area>
	<File_Area_Observational>
		<File>
			<file_name>{data.name}</file_name>
		</File>
{area}	</File_Area_Observational>
</Product_Observational>
""",
        encoding="utf-8",
    )
    return label


def write_media_product(
    label_path: str | os.PathLike[str], media_path: str | os.PathLike[str], element: str
) -> Path:
    """Write a label beside ``media_path`` that names it as ``element`` (``Encoded_Audio``,
    ``Encoded_Video``): how an archive wraps a published sound or film. Returns the label."""
    label = Path(label_path)
    media = Path(media_path)
    if media.parent.resolve() != label.parent.resolve():
        raise ValueError("the label must sit beside its file")
    head = _label_head(
        f"{media.stem}.2B",
        "HX-1 mission (synthetic media product, zhurong-tk)",
        "2021-05-22T02:40:00.000Z",
        "2021-05-22T02:41:00.000Z",
        "Mars Climate Station",
    )
    label.write_text(
        f"""{head}
	</Observation_Area>
	<File_Area_Observational>
		<File>
			<file_name>{media.name}</file_name>
		</File>
		<{element}>
			<offset unit="byte">0</offset>
			<encoding_standard_id>{media.suffix.lstrip(".").upper()}</encoding_standard_id>
		</{element}>
	</File_Area_Observational>
</Product_Observational>
""",
        encoding="utf-8",
    )
    return label
