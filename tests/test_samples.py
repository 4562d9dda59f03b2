from __future__ import annotations

import hashlib

import pytest

from tests.conftest import MANIFEST
from zhurong_tk import samples


def test_environment_variable_wins_and_is_exclusive(tmp_path, monkeypatch):
    (tmp_path / "SOURCES.md").write_text("provenance")
    monkeypatch.setenv(samples.ENV_VAR, str(tmp_path))
    assert samples.samples_dir() == tmp_path.resolve()
    assert samples.sample("audio/none.flac") is None
    monkeypatch.setenv(samples.ENV_VAR, str(tmp_path / "elsewhere"))
    assert samples.samples_dir() is None  # pointed at nothing on purpose: nothing found


def test_a_folder_without_sources_md_does_not_count(tmp_path, monkeypatch):
    monkeypatch.setenv(samples.ENV_VAR, str(tmp_path))
    assert samples.samples_dir() is None


def test_default_is_shared_fixtures_beside_the_project(monkeypatch):
    monkeypatch.delenv(samples.ENV_VAR, raising=False)
    project = samples.candidates()[0]
    assert project.parts[-2:] == ("shared", "fixtures")


@pytest.mark.samples
def test_samples_match_the_manifest_checksums(samples_root):
    for entry in MANIFEST["samples"]:
        path = samples_root / entry["path"]
        assert path.stat().st_size == entry["bytes"], entry["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["path"]
