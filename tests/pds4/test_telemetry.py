"""Rover telemetry from PDS4 products: decoded against the truth, merged, measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import sample_path
from tests.pds4.test_reader import HF, LF
from zhurong_tk.cli.main import cli
from zhurong_tk.errors import MediaReadError, UnsupportedFormatError
from zhurong_tk.io.pds4 import open_product
from zhurong_tk.synth import pds4 as synth_pds4
from zhurong_tk.telemetry import (
    decode_time,
    merge,
    path_steps,
    scaled_unit,
    sign_magnitude,
    summarise,
    telemetry_from_product,
    traverse_geojson,
)


def test_the_packed_time_field():
    # the first record of the real LF product: 170338800 s + 601 ms after 2016-01-01 BJT
    raw = np.frombuffer(bytes.fromhex("0A2729F00259"), np.uint8)
    assert str(decode_time(raw)[0]) == "2021-05-25T04:20:00.601"
    with pytest.raises(ValueError, match="above 999"):
        decode_time(np.frombuffer(bytes.fromhex("0A2729F003E8"), np.uint8))


def test_sign_magnitude_words_and_label_units():
    words = np.array([0x0005, 0x8005, 0x7FFF, 0xFFFF, 0x8000]).astype(">u2").view(">i2")
    assert sign_magnitude(words).tolist() == [5, -5, 32767, -32767, 0]
    assert scaled_unit("10um/s") == pytest.approx((1e-5, "m/s"))
    assert scaled_unit("0.01m") == (0.01, "m")
    assert scaled_unit("0.005493deg") == (0.005493, "deg")
    with pytest.raises(ValueError, match="not understood"):
        scaled_unit("furlongs")


@pytest.fixture
def drive(tmp_path):
    scene = synth_pds4.roper_scene(records=30, samples=32, pause_after=9, pause_s=300)
    return synth_pds4.write(tmp_path / "HX1-Ro_SYNTH_00001_A.2BL", scene), scene


def test_telemetry_decodes_to_the_truth(drive):
    label, scene = drive
    tel = telemetry_from_product(open_product(label))
    assert [str(t) + "Z" for t in tel.time] == scene["time_utc"]
    c = tel.columns
    assert np.allclose(c["x_north_m"], scene["north_m"], atol=1e-5)
    assert np.allclose(c["y_east_m"], scene["east_m"], atol=1e-5)
    assert np.allclose(c["yaw_deg"], scene["yaw_deg"], atol=1e-4)
    heading = np.radians(scene["heading_deg"])
    assert np.allclose(c["vx_m_s"], scene["speed_m_s"] * np.cos(heading), atol=1e-5)
    assert np.allclose(c["vy_m_s"], scene["speed_m_s"] * np.sin(heading), atol=1e-5)
    assert c["frame_count"].tolist() == list(range(1, 31))
    assert tel.notes == []  # the records' times agree with the label's start and stop


def test_the_traverse_is_measured(drive):
    label, scene = drive
    summary = summarise(telemetry_from_product(open_product(label)))
    assert summary["distance_m"] == pytest.approx(scene["distance_m"], abs=1e-3)
    assert summary["start"] == scene["time_utc"][0] and summary["stop"] == scene["time_utc"][-1]
    # headings of travel over each 0.5 m: the chords' directions, half a step into the turn
    assert summary["heading_start_deg"] == pytest.approx(scene["heading_deg"][0] - 1.0, abs=0.05)
    assert summary["heading_end_deg"] == pytest.approx(scene["heading_deg"][-1] + 1.0, abs=0.05)
    assert summary["total_turning_deg"] == pytest.approx(4.0 * (14.5 - 0.5), abs=0.05)
    (gap,) = summary["gaps"]
    assert gap["start"] == scene["time_utc"][9] and gap["duration_s"] == pytest.approx(309.091)
    low, high = summary["ranges"]["roll_deg"]  # around ±180: across the wrap, not 360° wide
    assert high - low < 5.0


def test_a_missing_position_is_bridged_not_lost(drive):
    label, _ = drive
    tel = telemetry_from_product(open_product(label))
    north, east = tel.columns["x_north_m"], tel.columns["y_east_m"]
    keep = np.ones(len(tel), bool)
    keep[[0, 5]] = False  # the first record's position and a later one are missing
    chords = np.hypot(np.diff(north[keep]), np.diff(east[keep])).sum()
    north[~keep] = np.nan
    east[~keep] = np.nan
    assert path_steps(north, east).sum() == pytest.approx(chords)
    assert path_steps(north, east)[[0, 4]].tolist() == [0.0, 0.0]  # into records 1 and 5
    summary = summarise(tel)
    assert summary["distance_m"] == pytest.approx(chords, abs=1e-4)
    assert summary["records_without_position"] == 2
    first, last = np.flatnonzero(keep)[[0, -1]]
    assert summary["displacement_m"] == pytest.approx(
        np.hypot(north[last] - north[first], east[last] - east[first]), abs=1e-4
    )
    assert summary["heading_start_deg"] is not None
    geo = traverse_geojson(tel)
    assert len(geo["features"][0]["geometry"]["coordinates"]) == len(tel) - 2
    assert [f["geometry"] for f in geo["features"][1:]][5] is None
    json.dumps(geo, allow_nan=False)  # valid JSON: no NaN anywhere


def test_the_median_speed_is_not_fooled_by_repeated_positions(drive):
    # positions update at their own cadence: here every other record repeats the last one
    label, scene = drive
    tel = telemetry_from_product(open_product(label))
    tel = tel.take(np.arange(22))  # the drive before its pause, then a little after
    for key in ("x_north_m", "y_east_m"):
        tel.columns[key][1::2] = tel.columns[key][0:-1:2]
    summary = summarise(tel)
    assert summary["median_speed_m_s"] == pytest.approx(scene["speed_m_s"], rel=0.02)


def test_a_product_with_no_records_is_refused_by_name(drive, tmp_path):
    label, _ = drive
    text = label.read_text().replace("<records>30</records>", "<records>0</records>")
    empty = tmp_path / "empty" / label.name
    empty.parent.mkdir()
    empty.write_text(text)
    empty.with_suffix(".2B").write_bytes(b"")
    with pytest.raises(MediaReadError, match="holds no records") as caught:
        telemetry_from_product(open_product(empty))
    assert str(empty) in str(caught.value)
    # beside a good product: that one is measured, the empty one named
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["telemetry", "extract", str(label), str(empty), "--out", out])
    assert result.exit_code == 1 and "holds no records" in result.stderr
    assert "30 records from 1 product(s)" in result.stdout


def test_one_product_reached_twice_is_read_once(drive, tmp_path):
    label, _ = drive
    copy = label.with_name("copy_of_label.xml")  # a byte-identical copy of the label
    copy.write_bytes(label.read_bytes())
    data = label.with_suffix(".2B")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["telemetry", "extract", str(label), str(copy), str(data), "--out", out]
    )
    assert result.exit_code == 0, result.output
    assert "30 records from 1 product(s)" in result.stdout


def test_products_are_merged_by_time_and_a_record_counts_once(tmp_path):
    a = synth_pds4.write(tmp_path / "A.2BL", synth_pds4.roper_scene(records=10, samples=16))
    later = synth_pds4.roper_scene(records=10, samples=16, start="2021-05-25T04:20:04.601")
    b = synth_pds4.write(tmp_path / "B.2BL", later)
    ta, tb = (telemetry_from_product(open_product(p)) for p in (a, b))
    merged = merge([tb, ta, ta])  # the same product given twice
    assert len(merged) == 20
    assert np.all(np.diff(merged.time.astype(np.int64)) > 0)
    assert merged.notes == ["10 records present in more than one product counted once"]


def test_a_product_without_telemetry_is_refused(drive):
    label, _ = drive
    text = label.read_text().replace("Rover_Location_X", "Something_Else")
    label.write_text(text)
    with pytest.raises(UnsupportedFormatError, match="carries no rover telemetry"):
        telemetry_from_product(open_product(label))


def test_cli_extract_writes_the_traverse_and_names_a_bad_product(drive, tmp_path):
    label, scene = drive
    broken = tmp_path / "broken"
    broken.mkdir()
    bad = synth_pds4.write(broken / "C.2BL", synth_pds4.roper_scene(records=4, samples=8))
    bad.with_suffix(".2B").unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["telemetry", "extract", str(label), str(bad), "--out", out])
    assert result.exit_code == 1
    assert f"zhurong-tk: error: {bad.with_suffix('.2B')}: missing" in result.stderr
    assert "30 records from 1 product(s)" in result.stdout
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == "zhurong-tk/telemetry.extract/1"
    assert doc["summary"]["records"] == 30 and len(doc["failed"]) == 1
    rows = (out / "telemetry.csv").read_text().splitlines()
    assert len(rows) == 31 and rows[0].startswith("time_utc,product,record,x_north_m")
    geo = json.loads((out / "traverse.geojson").read_text())
    line = geo["features"][0]["geometry"]
    assert line["type"] == "LineString" and len(line["coordinates"]) == 30
    east, north, _ = line["coordinates"][-1]
    assert (east, north) == pytest.approx((scene["east_m"][-1], scene["north_m"][-1]), abs=1e-4)
    assert (out / "traverse.png").stat().st_size > 10_000
    again = CliRunner().invoke(cli, ["telemetry", "extract", str(label), "--out", out])
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.samples
def test_the_real_products_give_a_sensible_traverse(samples_root):
    parts = [telemetry_from_product(open_product(sample_path(samples_root, p))) for p in (LF, HF)]
    for part in parts:  # decoded times land on the label's start and stop
        assert not [n for n in part.notes if "from the label" in n]
        assert str(part.time[0]).startswith("2021-05-25T04:20")
    summary = summarise(merge(parts))
    assert summary["records"] == 150
    assert 6.0 < summary["distance_m"] < 7.5  # the rover drove a few metres
    assert -10 < summary["ranges"]["pitch_deg"][0] < summary["ranges"]["pitch_deg"][1] < 10
    assert 0 < summary["ranges"]["solar_incidence_deg"][0] < 90
    # the rover turned from 133° through 180° to 0°: one interval, unwrapped, and said so
    low, high = summary["ranges"]["yaw_deg"]
    assert low < -180 < high
    assert (
        f"yaw_deg is given unwrapped, as one interval across the ±180° wrap: {low:g}° is"
        f" {round(low + 360, 4):g}° as recorded"
    ) in summary["range_notes"]
    assert not [n for n in summary["range_notes"] if "solar" in n]  # 220-234° as recorded
    assert summary["median_speed_m_s"] == pytest.approx(0.055, abs=0.01)
