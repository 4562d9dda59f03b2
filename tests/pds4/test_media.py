"""PDS4 products in the audio and video commands: signals in arrays and table fields,
wrapped media files, camera products as an image sequence, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from tests.conftest import sample_path
from zhurong_tk.audio.analyze import analyze, close_analysis
from zhurong_tk.cli.main import cli
from zhurong_tk.errors import ParameterError, UnsupportedFormatError
from zhurong_tk.io.audio import AudioReader, probe_audio
from zhurong_tk.io.pds4 import SignalRequest, label_sample_rate
from zhurong_tk.synth import pds4 as synth_pds4

SR = 8000


def _tone(freq: float = 440.0, amplitude: float = 0.5, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return amplitude * np.sin(2 * np.pi * freq * t)


def _samples(path, signal=None) -> np.ndarray:
    reader = AudioReader(path, signal=signal)
    return np.concatenate(list(reader.blocks(3001)))  # an odd block: chunking must not matter


@pytest.mark.parametrize(
    ("declare", "said"), [("rate", "sampling_rate = 8 kHz"), ("interval", "125 microseconds")]
)
def test_an_array_product_is_audio_at_the_rate_its_label_declares(tmp_path, declare, said):
    x = _tone()
    label = synth_pds4.write_signal_product(
        tmp_path / "mcs.xml", x, SR, data_type="SignedMSB2", declare=declare
    )
    info = probe_audio(label)
    assert (info.samplerate, info.channels, info.frames, info.backend) == (SR, 1, len(x), "pds4")
    assert said in info.product["rate_from"] and info.product["mission"] == "HX-1"
    # big-endian 16-bit integers at PCM full scale, read back to within one step
    assert np.abs(_samples(label)[:, 0] - x).max() < 1 / 32767
    # the same from the data file, the label found beside it
    assert probe_audio(label.with_suffix(".dat")).frames == len(x)


def test_the_analysis_of_an_array_product_finds_its_tone_and_level(tmp_path):
    label = synth_pds4.write_signal_product(tmp_path / "mcs.xml", _tone(440.0, 0.5), SR)
    result = analyze(label)
    try:
        channel = result.channels[0]
        peak_hz = channel.psd.freqs[int(np.argmax(channel.psd.mean))]
        assert abs(peak_hz - 440.0) <= SR / result.stft.n_fft
        rms_dbfs = channel.levels["rms"]["dbfs"]
        assert rms_dbfs == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    finally:
        close_analysis(result)


def test_a_two_channel_array_puts_time_along_its_time_axis(tmp_path):
    x = np.stack([_tone(440.0, 0.5), _tone(100.0, 0.25)], axis=1)
    label = synth_pds4.write_signal_product(
        tmp_path / "stereo.xml", x, SR, data_type="IEEE754LSBSingle", declare="interval"
    )
    info = probe_audio(label)
    assert (info.channels, info.frames) == (2, len(x))  # axes: Channel (2) first, then Time
    assert np.abs(_samples(label) - x).max() < 1e-6  # floats as stored


def test_the_label_s_scaling_applies_to_an_array_instead_of_pcm_full_scale(tmp_path):
    x = _tone(amplitude=0.5, seconds=0.5)
    label = synth_pds4.write_signal_product(tmp_path / "pa.xml", x, SR, data_type="SignedLSB2")
    # stored counts of 1 mPa each, offset by 0.25 Pa: pressure in pascal, not full scale
    text = label.read_text().replace(
        "<data_type>SignedLSB2</data_type>",
        "<data_type>SignedLSB2</data_type>\n<scaling_factor>0.001</scaling_factor>"
        "<value_offset>0.25</value_offset>",
    )
    label.write_text(text)
    expected = np.round(x * 32767) * 0.001 + 0.25
    assert np.abs(_samples(label)[:, 0] - expected).max() < 1e-4


def test_a_table_field_is_read_record_after_record(tmp_path):
    x = _tone(seconds=0.3)  # 2400 samples
    label = synth_pds4.write_signal_product(
        tmp_path / "table.xml", x, SR, layout="table", declare=None, record_samples=1000
    )
    with pytest.raises(UnsupportedFormatError, match=r"without a signal: Table_Binary.*--field"):
        probe_audio(label)
    with pytest.raises(ParameterError, match=r"declares no sample rate.*--rate HZ"):
        probe_audio(label, signal=SignalRequest(field="SOUND_DATA"))
    with pytest.raises(ParameterError, match=r"no table field 'NOPE' \(fields: Sound, SOUND_DATA"):
        probe_audio(label, signal=SignalRequest(field="NOPE", rate_hz=SR))
    signal = SignalRequest(field="SOUND_DATA", rate_hz=SR)
    info = probe_audio(label, signal=signal)
    assert info.frames == 3000  # three records of 1000, the last padded with zeros
    assert info.product["field"] == "Sound, SOUND_DATA" and info.product["rate_from"] == "--rate"
    y = _samples(label, signal)[:, 0]
    assert np.abs(y[: len(x)] - x).max() < 1 / 32767 and not y[len(x) :].any()


def test_a_label_naming_an_audio_file_reads_that_file(tmp_path):
    x = _tone(seconds=1.0)
    label = synth_pds4.write_signal_product(tmp_path / "wrapped.xml", x, SR, layout="wav")
    info = probe_audio(label)
    assert info.backend == "soundfile" and info.path.endswith("wrapped.wav")
    assert info.product["media_file"].endswith("wrapped.wav")
    direct, _ = sf.read(tmp_path / "wrapped.wav", dtype="float32", always_2d=True)
    assert np.array_equal(_samples(label), direct)


@pytest.mark.parametrize(
    ("rate_xml", "expected"),
    [
        ('<sampling_frequency unit="MHz">100</sampling_frequency>', 1e8),
        ('<msn:sample_interval unit="ns" xmlns:msn="urn:x">10</msn:sample_interval>', 1e8),
        ('<sampling_rate unit="furlong">3</sampling_rate>', None),  # a unit we cannot convert
        ('<sampling_rate unit="Hz">-1</sampling_rate>', None),
        ("<sampling_rate>48000</sampling_rate>", None),  # no unit: not guessed
    ],
)
def test_the_label_sample_rate_is_found_in_any_namespace_and_unit(tmp_path, rate_xml, expected):
    label = synth_pds4.write_signal_product(tmp_path / "m.xml", _tone(seconds=0.1), SR)
    text = label.read_text().replace('<sampling_rate unit="kHz">8</sampling_rate>', rate_xml)
    label.write_text(text)
    found = label_sample_rate(label)
    assert (found[0] if found else None) == (pytest.approx(expected) if expected else None)


def test_odd_rates_and_arrays_that_are_no_signal_are_refused(tmp_path):
    label = synth_pds4.write_signal_product(tmp_path / "m.xml", _tone(seconds=0.1), SR)
    with pytest.raises(ParameterError, match="not a whole number of hertz"):
        probe_audio(label, signal=SignalRequest(rate_hz=1000.5))
    wide = synth_pds4.write_signal_product(
        tmp_path / "wide.xml", np.zeros((100, 80)), SR, data_type="IEEE754LSBSingle"
    )
    # 80 "channels" of 100 samples: the longer axis is time only when it is named so
    text = wide.read_text().replace("<axis_name>Time</axis_name>", "<axis_name>Line</axis_name>")
    wide.write_text(text)
    with pytest.raises(UnsupportedFormatError, match="80 channels is not a signal"):
        probe_audio(wide)


def test_fields_and_arrays_of_text_bits_or_complex_values_are_no_signal(tmp_path):
    radar = synth_pds4.write(
        tmp_path / "radar.2BL", synth_pds4.roper_scene(records=4, samples=8), truth=False
    )
    for field in ("Channel", "Quality_Information"):
        with pytest.raises(UnsupportedFormatError, match="holds UnsignedBitString values, not"):
            probe_audio(radar, signal=SignalRequest(field=field, rate_hz=SR))
    label = synth_pds4.write_signal_product(tmp_path / "c.xml", np.zeros(16), SR)
    label.write_text(label.read_text().replace("SignedLSB2", "ComplexLSB8"))
    label.with_suffix(".dat").write_bytes(bytes(16 * 8))  # 16 complex values of 8 bytes
    with pytest.raises(UnsupportedFormatError, match="holds ComplexLSB8 values, not samples"):
        probe_audio(label)


def test_audio_analyze_on_a_product_writes_the_label_facts(tmp_path):
    label = synth_pds4.write_signal_product(tmp_path / "mcs.xml", _tone(), SR)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["audio", "analyze", str(label), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["input"]["format"] == "PDS4 Array_1D"
    assert report["input"]["product"]["start_time"] == "2021-05-22T02:40:00.000Z"
    # the mission's own block (instrument, its parameters) comes along
    assert report["input"]["product"]["mission_area"]["instrument_id"] == "MCS"
    assert (out / "spectrogram.png").is_file()


def test_the_real_radar_product_is_refused_as_audio_unless_a_field_and_rate_are_given(
    samples_root, tmp_path
):
    label = sample_path(samples_root, "pds4/zhurong_roper/" + LF_NAME)
    runner = CliRunner()
    refused = runner.invoke(cli, ["audio", "analyze", str(label), "--out", str(tmp_path / "a")])
    assert refused.exit_code == 1 and "without a signal: Table_Binary TABLE_0" in refused.output
    out = tmp_path / "b"
    args = ["audio", "analyze", str(label), "--field", "ECHO_DATA", "--rate", "1e8"]
    done = runner.invoke(cli, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    report = json.loads((out / "report.json").read_text())
    assert report["input"]["frames"] == 14 * 3000  # 14 traces of 1500 complex samples
    assert report["input"]["product"]["start_time"].startswith("2021-05-25T04:20")


LF_NAME = "HX1-Ro_GRAS_RoPeR-LF-RI_SCI_N_20210525042000_20210525042951_00011_A.2BL"


# ---------------------------------------------------------------- video


def _frames(path, out, *extra):
    result = CliRunner().invoke(cli, ["video", "frames", str(path), "--out", str(out), *extra])
    index = json.loads((out / "index.json").read_text()) if (out / "index.json").exists() else None
    return result, index


def test_a_label_naming_a_video_file_gives_that_video_s_frames(tmp_path):
    from zhurong_tk.synth import video as synth_video

    scene = synth_video.drive_scene(duration_s=4.0, fps=10.0, width=160, height=120)
    movie = synth_video.write(tmp_path / "drop_camera.mp4", scene, truth=False)
    label = synth_pds4.write_media_product(tmp_path / "drop_camera.xml", movie, "Encoded_Video")
    result, index = _frames(label, tmp_path / "out", "--every", "1s")
    assert result.exit_code == 0, result.output
    assert index["video"]["path"] == str(movie)
    assert index["video"]["product"]["media_file"] == str(movie)
    _, direct = _frames(movie, tmp_path / "direct", "--every", "1s")
    assert [f["time_s"] for f in index["frames"]] == [f["time_s"] for f in direct["frames"]]
    # how many frames the near-duplicate filter keeps varies with the encoder's threads
    assert index["frames"] and direct["video"]["product"] is None
    assert index["video"]["frames_decoded"] == direct["video"]["frames_decoded"] == 40


def test_products_without_a_video_are_refused_saying_what_they_hold(tmp_path):
    radar = synth_pds4.write(
        tmp_path / "radar.2BL", synth_pds4.roper_scene(records=4, samples=32), truth=False
    )
    result, index = _frames(radar, tmp_path / "out")
    assert result.exit_code == 1 and index is None
    assert "PDS4 product without a video: Table_Binary" in result.output
    camera = synth_pds4.write_image_product(tmp_path / "cam.2CL", np.zeros((8, 8), np.uint8))
    result, _ = _frames(camera, tmp_path / "out2")
    assert result.exit_code == 1 and "a camera product is one frame" in result.output


def test_a_folder_of_camera_products_is_a_sequence_timed_by_their_labels(tmp_path):
    folder = tmp_path / "descent"
    folder.mkdir()
    # names in the reverse of time order, spacing uneven: the labels' times decide
    stamps = ["04:20:00.000", "04:20:00.500", "04:20:02.000"]
    for i, stamp in enumerate(stamps):
        image = np.random.default_rng(i).integers(0, 256, (96, 128), dtype=np.uint8)
        synth_pds4.write_image_product(
            folder / f"frame_{9 - i}.2CL", image, start_time=f"2021-05-14T{stamp}Z"
        )
    result, index = _frames(folder, tmp_path / "out", "--every", "0.1s")
    assert result.exit_code == 0, result.output
    assert [f["time_s"] for f in index["frames"]] == pytest.approx([0.0, 0.5, 2.0])
    assert "times from the PDS4 labels" in " ".join(index["video"]["notes"])
    product = index["video"]["product"]
    assert product["products"] == 3 and product["start_time"] == "2021-05-14T04:20:00.000Z"


# ---------------------------------------------------------------- batch


def test_audio_inputs_collect_signal_products_but_not_radar_or_camera_labels(tmp_path):
    from zhurong_tk.batch.inputs import expand_inputs
    from zhurong_tk.cli.batch import _suffixes

    synth_pds4.write(tmp_path / "radar.2BL", synth_pds4.roper_scene(records=4, samples=8))
    synth_pds4.write_image_product(tmp_path / "camera.2CL", np.zeros((32, 48), np.uint8))
    x = _tone(seconds=0.2)
    synth_pds4.write_signal_product(tmp_path / "mcs_array.xml", x, SR)
    synth_pds4.write_signal_product(tmp_path / "mcs_wrapped.xml", x, SR, layout="wav")
    synth_pds4.write_signal_product(
        tmp_path / "mcs_stereo.xml", np.stack([x, x], 1), SR, data_type="IEEE754LSBSingle"
    )
    found = expand_inputs([tmp_path], _suffixes("audio"))
    assert sorted(p.name for p in found) == [
        "mcs_array.xml",
        "mcs_stereo.xml",
        "mcs_wrapped.wav",  # by its suffix, as any sound file
        "mcs_wrapped.xml",
    ]


@pytest.mark.slow
def test_a_batch_analyses_signal_products_and_fails_a_broken_one_with_its_reason(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    synth_pds4.write_signal_product(archive / "good.xml", _tone(seconds=0.5), SR)
    broken = synth_pds4.write_signal_product(archive / "cut.xml", _tone(seconds=0.5), SR)
    data = broken.with_suffix(".dat")
    data.write_bytes(data.read_bytes()[:100])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["batch", "--out", str(out), "--jobs", "1", "audio", "analyze", str(archive)]
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("1 done, 0 skipped, 1 failed")
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    failed = next(r for r in ledger if r["status"] == "failed")
    assert failed["input"].endswith("cut.xml") and "truncated" in failed["error"]
    assert "cut.dat" in failed["error"]  # the message names the data file and its label
