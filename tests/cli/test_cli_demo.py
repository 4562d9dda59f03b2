from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zhurong_tk import samples
from zhurong_tk.cli.main import cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(out), "--no-samples"], catch_exceptions=False
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
    assert "checks against the truth passed" in result.stdout
    assert "Public samples: not present" not in result.stdout  # --no-samples says nothing of them


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


@pytest.mark.slow
def test_demo_without_samples_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(samples.ENV_VAR, str(tmp_path / "no-samples-here"))
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(tmp_path / "o"), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["samples"] is None and doc["ok"] is True


@pytest.mark.slow
@pytest.mark.samples
def test_demo_with_the_public_samples(samples_root, tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "o")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["samples"]["root"] == str(samples_root)
    assert report["samples"]["failures"] == []
    assert report["samples"]["by_kind"]["audio"] == 5
    assert f"Public samples in {samples_root}" in result.stdout
