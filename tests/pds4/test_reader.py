"""PDS4 products: found by content, read with pds4_tools, refused clearly when bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import sample_path
from zhurong_tk.errors import MediaReadError, UnsupportedFormatError
from zhurong_tk.io import pds4
from zhurong_tk.io.probe import probe
from zhurong_tk.synth import pds4 as synth_pds4

LF = "pds4/zhurong_roper/HX1-Ro_GRAS_RoPeR-LF-RI_SCI_N_20210525042000_20210525042951_00011_A.2BL"
HF = "pds4/zhurong_roper/HX1-Ro_GRAS_RoPeR-HF-HH_SCI_N_20210525042001_20210525043243_00011_A.2BL"


@pytest.fixture
def product(tmp_path):
    scene = synth_pds4.roper_scene(records=12, samples=64)
    label = synth_pds4.write(tmp_path / "HX1-Ro_SYNTH_00001_A.2BL", scene)
    return label, label.with_suffix(".2B"), scene


def test_a_product_is_described_from_its_label_or_its_data_file(product):
    label, data, scene = product
    for given in (label, data):
        info = pds4.open_product(given)
        assert info.label == str(label) and info.data_files == (str(data),)
        assert info.facts["start_time"] == scene["time_utc"][0]
        assert info.facts["mission_area"]["instrument_id"] == "RoPeR"
        (table,) = info.structures
        assert (table.kind, table.shape, len(table.fields)) == ("Table_Binary", (12,), 23)
        echo = next(f for f in table.fields if f.name == "Scientific_Data, ECHO_DATA")
        assert (echo.data_type, echo.repetitions) == ("IEEE754LSBSingle", 128)


def test_a_product_given_by_a_relative_path_is_read(product, tmp_path, monkeypatch):
    # the data file's path once came out with the label's folder twice (dir/dir/x.2B)
    label, data, _ = product
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    info = pds4.open_product(Path("..") / label.name)
    assert info.data_files == (str(Path("..") / data.name),)
    assert len(pds4.read_table(info)["Scientific_Data, ECHO_DATA"]) == 12


def test_table_columns_come_back_with_their_shapes_and_raw_bit_strings(product):
    label, _, scene = product
    columns = pds4.read_table(pds4.open_product(label))
    assert columns["Scientific_Data, ECHO_DATA"].shape == (12, 128)
    assert columns["Time"].shape == (12, 6) and columns["Time"].dtype == np.uint8
    # a trailing zero byte survives (numpy's bytes dtype would drop it)
    assert columns["Quality_Information"].shape == (12, 1)
    assert np.allclose(columns["Rover_Location_X"], scene["north_m"], atol=1e-5)


def _edit(label, old: str, new: str) -> None:
    text = label.read_text()
    assert old in text
    label.write_text(text.replace(old, new, 1))


def test_a_missing_data_file_is_named_with_its_label(product):
    label, data, _ = product
    data.unlink()
    with pytest.raises(MediaReadError) as info:
        pds4.open_product(label)
    assert str(info.value) == f"{data}: missing: the label {label.name} describes it"


def test_a_truncated_data_file_is_named_with_its_label(product):
    label, data, _ = product
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(MediaReadError, match=r"truncated: .* bytes, the label .*2BL describes"):
        pds4.open_product(label)


def test_an_unknown_data_type_is_refused_before_reading(product):
    label, _, _ = product
    _edit(label, "<data_type>IEEE754LSBSingle</data_type>", "<data_type>IEEE754LSBFoo</data_type>")
    with pytest.raises(UnsupportedFormatError, match="data type 'IEEE754LSBFoo', not read here"):
        pds4.open_product(label)


@pytest.mark.parametrize(
    ("prolog", "message"),
    [
        ('<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "declares a DTD"),
        ('<!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', "declares a DTD"),
    ],
)
def test_labels_with_entities_are_refused_before_any_parser_expands_them(product, prolog, message):
    label, _, _ = product
    _edit(label, "<Product_Observational", prolog + "\n<Product_Observational")
    with pytest.raises(MediaReadError, match=message):
        pds4.open_product(label)


def test_malformed_and_foreign_xml_get_clear_errors(product, tmp_path):
    label, _, _ = product
    label.write_text(label.read_text()[:-40])
    with pytest.raises(MediaReadError, match="not well-formed XML"):
        pds4.open_product(label)
    other = tmp_path / "feed.xml"
    other.write_text('<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    with pytest.raises(MediaReadError, match="no label beside it names it"):
        pds4.open_product(other)  # no PDS4 namespace: not taken for a label at all


def test_a_binary_file_without_a_label_is_refused(tmp_path):
    data = tmp_path / "orphan.2B"
    data.write_bytes(bytes(range(256)))
    with pytest.raises(MediaReadError, match="no label beside it names it as its data file"):
        pds4.open_product(data)


def test_an_absurdly_large_label_is_refused_unread(product, monkeypatch):
    label, _, _ = product
    monkeypatch.setattr(pds4, "LABEL_MAX_BYTES", 1000)
    with pytest.raises(MediaReadError, match="larger than any real PDS4 label"):
        pds4.check_label_xml(label)


def test_probe_recognises_a_product_by_content_whatever_its_name(product, tmp_path):
    label, data, _ = product
    renamed = tmp_path / "label_without_extension"
    renamed.write_bytes(label.read_bytes())
    result = probe(renamed)
    assert result.kind == "pds4" and result.info.structures[0].shape == (12,)
    data_result = probe(data)
    assert data_result.kind == "pds4" and "data file of the PDS4 label" in data_result.notes[0]
    data.unlink()
    broken = probe(label)
    assert broken.kind == "error" and broken.error.startswith(f"{data}: missing")


@pytest.mark.samples
@pytest.mark.parametrize(("relative", "records", "fields"), [(LF, 14, 28), (HF, 136, 29)])
def test_the_real_roper_products(samples_root, relative, records, fields):
    info = pds4.open_product(sample_path(samples_root, relative))
    (table,) = info.structures
    assert (table.shape, len(table.fields)) == ((records,), fields)
    assert info.facts["mission"] == "HX-1" and info.facts["start_time"].startswith("2021-05-25T04")
    site = info.facts["mission_area"]["Landing_Site_Location"]
    assert site["latitude"] == {"value": 25.083319, "unit": "deg"}
    assert site["altitude"] == {"value": -4.918556, "unit": "km"}
    columns = pds4.read_table(info)
    science = [k for k in columns if k.startswith("Scientific_Data")]
    assert all(columns[k].dtype == np.float32 for k in science)


def test_a_pds4_image_product_is_an_image_for_every_command(tmp_path):
    import cv2

    from zhurong_tk.io.image import probe_image, read_image
    from zhurong_tk.synth import tracks as synth_tracks
    from zhurong_tk.tracks.run import detect_to_folder

    scene = synth_tracks.track_scene(seed=3)
    bgr = synth_tracks.render(scene)
    label = synth_pds4.write_image_product(tmp_path / "NaTeCam.2CL", bgr[..., ::-1].copy())
    info = probe_image(label)
    assert (info.format, info.width, info.height, info.channels) == (
        "PDS4 Array_3D_Image",
        640,
        480,
        3,
    )
    assert np.array_equal(read_image(label), bgr)  # bands in the label's order, as BGR
    assert np.array_equal(read_image(label.with_suffix(".2C")), bgr)  # by its data file
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    grey_label = synth_pds4.write_image_product(tmp_path / "grey.2CL", grey)
    assert np.array_equal(read_image(grey_label), grey)  # 16-bit big-endian, native out
    with pytest.raises(MediaReadError, match="above the limit of 1,000"):
        probe_image(grey_label, max_pixels=1000)
    _, from_product = detect_to_folder(label, tmp_path / "product")
    png = tmp_path / "same.png"
    cv2.imwrite(str(png), bgr)
    _, from_png = detect_to_folder(png, tmp_path / "png")
    assert len(from_product["tracks"]) == len(from_png["tracks"]) == 2
    assert from_product["tracks"][0]["x1"] == pytest.approx(from_png["tracks"][0]["x1"])
    assert from_product["pds4"]["mission"] == "HX-1" and from_png["pds4"] is None


def test_verify_reads_every_table_of_a_product(tmp_path):
    label = synth_pds4.write(tmp_path / "S.2BL", synth_pds4.roper_scene(records=8, samples=32))
    assert probe(label).notes == []  # without --verify nothing is read
    checked = probe(label, verify=True)
    assert checked.kind == "pds4"
    assert [n for n in checked.notes if n.startswith("verified:")] == [
        f"verified: {checked.info.structures[0].name}: 8 records read"
    ]
    data = label.with_suffix(".2B")
    data.write_bytes(data.read_bytes()[:-10])
    broken = probe(label, verify=True)
    assert broken.kind == "error" and "truncated" in broken.error
