"""The radar processing chain against analytic results, and radargrams of products."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import sample_path
from tests.pds4.test_reader import HF, LF
from zhurong_tk.cli.main import cli
from zhurong_tk.errors import ParameterError
from zhurong_tk.radar import process
from zhurong_tk.radar.radargram import Processing, radargram_to_folder
from zhurong_tk.synth import pds4 as synth_pds4


def test_dewow_removes_a_slow_drift_and_keeps_the_echo():
    t = np.arange(400)
    echo = np.where(np.abs(t - 200) < 3, 1.0, 0.0)
    traces = np.tile(echo + 0.01 * t, (3, 1))  # a linear drift: its running mean is itself
    out = process.dewow(traces, 25)
    assert np.abs(out[:, 20:180]).max() < 1e-9
    assert out[0, 200] == pytest.approx(1.0 - 5 / 25)


def test_time_zero_lines_up_each_trace_on_its_direct_wave():
    traces = np.zeros((4, 100))
    for i, zero in enumerate([20, 21, 19, 20]):
        traces[i, zero] = 10.0
        traces[i, zero + 40] = 1.0  # the reflector, 40 samples below
    aligned, zero = process.align_time_zero(traces, search=30)
    assert zero.tolist() == [20, 21, 19, 20]
    assert np.all(aligned[:, 0] == 10.0) and np.all(aligned[:, 40] == 1.0)


def test_background_removal_removes_what_all_traces_share():
    flat = np.tile(np.sin(np.arange(50)), (6, 1))
    dipping = np.zeros((6, 50))
    dipping[np.arange(6), 10 + 3 * np.arange(6)] = 1.0
    out = process.remove_background(flat + dipping)
    assert np.allclose(out, dipping - dipping.mean(axis=0))


def test_bandpass_keeps_the_band_and_removes_the_rest():
    dt = 2e-9  # Nyquist 250 MHz
    t = np.arange(2000) * dt
    inside, outside = np.sin(2 * np.pi * 50e6 * t), np.sin(2 * np.pi * 5e6 * t)
    out = process.bandpass((inside + outside)[None, :], 20e6, 90e6, dt)
    assert np.allclose(out[0, 200:-200], inside[200:-200], atol=0.02)
    with pytest.raises(ParameterError, match="Nyquist"):
        process.bandpass(inside[None, :], 20e6, 80e6, 1e-8 * 2)


def test_gains_and_depth():
    decaying = np.exp(-np.arange(300) / 40.0)[None, :] * np.cos(np.arange(300))[None, :]
    agc = process.gain_agc(decaying, 20)
    rms = np.sqrt(np.mean(np.abs(agc[0, 20:280].reshape(-1, 20)) ** 2, axis=1))
    assert np.allclose(rms, 1.0, atol=0.15)  # the same level at every time
    times = np.array([0.0, 10.0, 100.0])
    gain = process.gain_exponential(np.ones((1, 3)), times, 0.01, 1.0)
    assert gain[0].tolist() == pytest.approx([1.0, 10 * np.exp(0.1), 100 * np.exp(1.0)])
    # 100 ns two-way in ε_r = 4: v = c/2, depth = v t / 2
    assert process.depth_axis(100.0, 4.0) == pytest.approx(0.299792458 * 100 / 2 / 2)


def test_a_radargram_finds_the_dipping_reflector_of_a_synthetic_product(tmp_path):
    scene = synth_pds4.roper_scene(records=30, samples=300)
    label = synth_pds4.write(tmp_path / "S.2BL", scene)
    doc = radargram_to_folder(label, tmp_path / "out", steps=Processing(gain="none"))
    truth = np.array(scene["reflector_delay_ns"]) / scene["sample_interval_ns"]
    found = np.array(doc["strongest_reflection_samples"])
    assert np.abs(found - truth).max() <= 1.0
    assert doc["sample_interval_ns"] == 10.0 and doc["distance_m"] == pytest.approx(14.5, abs=1e-3)
    assert [s["step"] for s in doc["processing"]][:2] == ["dewow", "time_zero"]
    saved = np.load(tmp_path / "out" / "traces.npz")
    assert saved["amplitude"].shape == (30, doc["samples"])
    assert np.array_equal(saved["sample"], np.arange(doc["samples"]))
    assert np.diff(saved["time_ns"]) == pytest.approx(10.0)
    assert (tmp_path / "out" / "radargram.png").stat().st_size > 10_000


def test_cli_radargram_of_a_good_and_a_bad_product(tmp_path):
    good = synth_pds4.write(tmp_path / "G.2BL", synth_pds4.roper_scene(records=8, samples=64))
    bad = synth_pds4.write(tmp_path / "B.2BL", synth_pds4.roper_scene(records=8, samples=64))
    bad.with_suffix(".2B").write_bytes(b"\0" * 100)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["radar", "radargram", str(good), str(bad), "--out", str(out), "--gain", "exp"]
    )
    assert result.exit_code == 1
    assert "B.2B: truncated" in result.stderr and "G.2BL: LF, 8 traces" in result.stdout
    doc = json.loads((out / "G.2BL" / "report.json").read_text())
    assert doc["schema"] == "zhurong-tk/radar.radargram/1"
    assert doc["processing"][-1] == {"step": "gain", "kind": "exp", "a_per_ns": 0.002, "b": 1.0}


@pytest.mark.samples
@pytest.mark.parametrize(("relative", "channel", "traces"), [(LF, "LF", 14), (HF, "HF", 136)])
def test_the_real_products_give_radargrams(samples_root, tmp_path, relative, channel, traces):
    doc = radargram_to_folder(sample_path(samples_root, relative), tmp_path)
    assert (doc["channel"], doc["traces"]) == (channel, traces)
    # the direct wave at the same place in every trace, the echoes gone within the window
    zero = doc["processing"][1]["zero_samples"]
    assert max(zero) - min(zero) <= 6
    assert 10 < doc["signal_extent_samples"] < doc["samples"] // 2
    assert 6.0 < doc["distance_m"] < 7.5
    # HF's sample interval is not in the product: no time axis, not sample numbers as ns
    saved = np.load(tmp_path / "traces.npz")
    assert ("time_ns" in saved) == (doc["sample_interval_ns"] is not None) == (channel == "LF")


@pytest.mark.samples
def test_a_band_that_suits_one_channel_fails_the_other_alone(samples_root, tmp_path):
    # the channels' bands do not overlap: LF's complex samples reach 50 MHz, HF's far more
    folder = sample_path(samples_root, LF).parent
    out = tmp_path / "out"
    args = ["radar", "radargram", str(folder), "--along-traverse", "--out", str(out)]
    result = CliRunner().invoke(
        cli, [*args, "--bandpass", "100", "1500", "--hf-sample-interval", "0.3"]
    )
    assert result.exit_code == 1
    assert "LF channel: band-pass 100-1500 MHz" in result.stderr
    doc = json.loads((out / "report.json").read_text())
    assert list(doc["channels"]) == ["HF"] and doc["failed"][0]["path"] == "LF channel"
    assert not (out / "radargram_LF.png").exists() and (out / "radargram_HF.png").exists()


def test_a_single_trace_keeps_its_echoes(tmp_path):
    label = synth_pds4.write(tmp_path / "S.2BL", synth_pds4.roper_scene(records=1, samples=300))
    doc = radargram_to_folder(label, tmp_path / "out", steps=Processing(gain="none"))
    assert {"step": "background_removal", "skipped": "a single trace"} in doc["processing"]
    amplitude = np.load(tmp_path / "out" / "traces.npz")["amplitude"]
    assert amplitude.shape[0] == 1 and amplitude.max() > 0


@pytest.mark.slow
def test_batch_picks_up_labels_in_folders_by_content(tmp_path):
    archive = tmp_path / "archive"
    for sol in ("sol011", "sol012"):
        (archive / sol).mkdir(parents=True)
        synth_pds4.write(
            archive / sol / "RoPeR_LF.2BL", synth_pds4.roper_scene(records=6, samples=64)
        )
    # a label named like anything: still a product
    synth_pds4.write(
        archive / "sol012" / "label.xml", synth_pds4.roper_scene(records=6, samples=64)
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["batch", "--out", str(out), "--jobs", "1", "radar", "radargram", str(archive)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 done, 0 skipped, 0 failed")
    index = json.loads((out / "index.json").read_text())
    assert sorted(e["result"] for e in index["results"]) == [
        "sol011/RoPeR_LF.2BL",
        "sol012/RoPeR_LF.2BL",
        "sol012/label.xml",
    ]


def test_a_product_without_traces_is_named_for_what_it_holds(tmp_path):
    camera = synth_pds4.write_image_product(tmp_path / "camera.2CL", np.zeros((32, 48), np.uint8))
    result = CliRunner().invoke(
        cli, ["radar", "radargram", str(camera), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert f"{camera}: not a RoPeR radar product: it holds Array_2D_Image" in result.stderr
    assert "32 × 48 UnsignedByte" in result.stderr


def test_inputs_collect_image_product_labels_for_image_commands(tmp_path):
    from zhurong_tk.batch.inputs import PDS4_IMAGE_LABELS, expand_inputs
    from zhurong_tk.io.sniff import IMAGE_SUFFIXES

    synth_pds4.write(tmp_path / "radar.2BL", synth_pds4.roper_scene(records=4, samples=8))
    image = np.zeros((32, 48), np.uint8)
    synth_pds4.write_image_product(tmp_path / "camera.2CL", image)
    (tmp_path / "photo.png").write_bytes(b"")
    found = expand_inputs([tmp_path], IMAGE_SUFFIXES | {PDS4_IMAGE_LABELS})
    assert sorted(p.name for p in found) == ["camera.2CL", "photo.png"]


def test_a_folder_stands_for_the_products_in_it(tmp_path):
    sol = tmp_path / "sol11"
    (sol / "lf").mkdir(parents=True)
    synth_pds4.write(sol / "A.2BL", synth_pds4.roper_scene(records=8, samples=64))
    synth_pds4.write(sol / "lf" / "B.2BL", synth_pds4.roper_scene(records=6, samples=64))
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["radar", "radargram", str(sol), str(tmp_path / "empty"), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "8 traces" in result.stdout and "6 traces" in result.stdout
    assert "empty: no PDS4 product label in this folder" in result.stderr
    reports = sorted(p.parent.name for p in out.rglob("report.json"))
    assert reports == ["A.2BL", "B.2BL"]


def test_products_along_a_traverse_make_one_radargram_per_channel(tmp_path):
    first = synth_pds4.roper_scene(records=10, samples=200)
    later = synth_pds4.roper_scene(
        records=10,
        samples=200,
        start="2021-05-25T04:25:00.601",
        start_north_m=first["north_m"][-1] + 0.5,
        start_east_m=first["east_m"][-1],
    )
    a = synth_pds4.write(tmp_path / "A.2BL", first)
    b = synth_pds4.write(tmp_path / "B.2BL", later)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["radar", "radargram", str(b), str(a), "--along-traverse", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text())
    lf = doc["channels"]["LF"]
    assert lf["traces"] == 20 and lf["products"] == ["A.2B", "B.2B"]  # in time order
    assert lf["distance_m"] == pytest.approx(4.5 + 0.5 + 4.5, abs=1e-3)
    assert (out / "radargram_LF.png").is_file() and (out / "traces_LF.npz").is_file()


@pytest.mark.parametrize(
    ("option", "value"), [("--dewow", ["1"]), ("--background", ["1"]), ("--bandpass", ["40", "10"])]
)
def test_impossible_windows_are_usage_errors(option, value, tmp_path):
    label = synth_pds4.write(tmp_path / "S.2BL", synth_pds4.roper_scene(records=4, samples=32))
    result = CliRunner().invoke(
        cli, ["radar", "radargram", str(label), "--out", str(tmp_path / "o"), option, *value]
    )
    assert result.exit_code == 2 and option in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("interval_ns", "key"), [(10.0, "a_per_ns"), (None, "a_per_sample")])
def test_the_exponential_gain_is_recorded_in_the_axis_it_was_applied_on(interval_ns, key):
    from zhurong_tk.radar.radargram import RadarTraces, run_chain

    data = RadarTraces(np.ones((3, 50), np.complex64), interval_ns, "HF", np.arange(3.0), [])
    steps = Processing(dewow_samples=None, time_zero=False, background_traces=None, gain="exp")
    traces, applied = run_chain(data, steps)
    assert applied[-1] == {"step": "gain", "kind": "exp", key: 0.002, "b": 1.0}
    # exp(a·t)·t^b at the last sample, t in the recorded unit
    t = 49 * (interval_ns or 1.0)
    assert abs(traces[0, -1]) == pytest.approx(np.exp(0.002 * t) * t)
