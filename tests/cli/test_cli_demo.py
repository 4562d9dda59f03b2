from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zhurong_tk import samples
from zhurong_tk.cli.main import cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    # one full run serves every test here: samples looked for and absent, results as JSON
    # (the table is read in the run with the samples below)
    base = tmp_path_factory.mktemp("demo")
    out = base / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(samples.ENV_VAR, str(base / "no-samples-here"))
        result = CliRunner().invoke(
            cli, ["demo", "--out", str(out), "--format", "json"], catch_exceptions=False
        )
    return out, result


@pytest.mark.slow
def test_demo_checks_pass_against_the_truth(demo_run):
    out, result = demo_run
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "zhurong-tk/demo/1"
    assert report["ok"] is True
    assert report["samples"] is None
    kinds = sorted({m["kind"] for m in report["media"]})
    assert kinds == ["audio", "image", "video"]
    for media in report["media"]:
        assert (out / media["path"]).is_file()
        assert (out / (media["path"] + ".truth.json")).is_file()
    quantities = {(c["subject"], c["quantity"]) for c in report["checks"]}
    assert ("edl_vfr.mp4", "max_timestamp_error_s") in quantities
    assert ("egress_aac.m4a", "decoded_duration_s") in quantities
    assert ("tracks_02.jpg", "ruts_found") in quantities  # the steering scene is checked too
    # a batch over a generated archive with bad files in it, run twice
    assert ("batch", "bad_files_failed_with_reason") in quantities
    assert ("batch", "rerun_skipped") in quantities
    index = json.loads((out / "batch" / "index.json").read_text())
    assert (index["inputs"], index["done"], index["failed"]) == (12, 10, 2)
    assert (out / "batch" / "overview.jpg").is_file()
    assert all(c["ok"] for c in report["checks"])
    assert json.loads(result.stdout) == report  # --format json prints the report itself


@pytest.mark.slow
def test_demo_refuses_to_replace_results(demo_run):
    out, _ = demo_run
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(out), "--no-samples"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "report.json: already exists (use --overwrite to replace it)"
    )


def _summary_lines(samples_found, *, samples_wanted):
    from zhurong_tk.cli.demo import _print_summary
    from zhurong_tk.demo import Check

    result = {"checks": [Check("x.wav", "duration_s", 1.0, 1.0, 0.01, True)], "elapsed_s": 1.0}
    result["samples"] = samples_found
    runner = CliRunner()
    with runner.isolation() as (stdout, *_):
        _print_summary(result, "o", samples_wanted=samples_wanted)
        return stdout.getvalue().decode().splitlines()


def test_demo_says_when_the_samples_it_looked_for_are_absent_and_not_otherwise():
    absent = _summary_lines(None, samples_wanted=True)
    assert absent[0] == "Synthetic media: 1 of 1 checks against the truth passed"
    assert absent[2].startswith("Public samples: not present (set ZHURONG_TK_SAMPLES")
    skipped = _summary_lines(None, samples_wanted=False)  # --no-samples says nothing of them
    assert not any("Public samples" in line for line in skipped)
    assert skipped[-1] == "Report: o/report.json (1.0 s)"


@pytest.mark.slow
@pytest.mark.samples
def test_demo_with_the_public_samples(samples_root, tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "o")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["samples"]["root"] == str(samples_root)
    assert report["samples"]["failures"] == []
    assert report["samples"]["by_kind"]["audio"] == 5
    assert "checks against the truth passed" in result.stdout
    assert f"Public samples in {samples_root}" in result.stdout
