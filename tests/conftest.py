"""Shared fixtures: a seeded rng, the public samples (skipped when absent), the bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zhurong_tk import samples

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "fixtures" / "bad"
MANIFEST = json.loads((REPO / "fixtures" / "samples.json").read_text())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20210522)  # Zhurong's drive-off day


@pytest.fixture(scope="session")
def samples_root() -> Path:
    root = samples.samples_dir()
    if root is None:
        pytest.skip(
            "public samples not found: place them in ../shared/fixtures beside the project "
            f"or set {samples.ENV_VAR}"
        )
    return root


def sample_path(root: Path, relative: str) -> Path:
    path = root / relative
    if not path.exists():
        pytest.skip(f"sample {relative} is missing from {root}")
    return path


def manifest_entries(kind: str | None = None) -> list[dict]:
    return [e for e in MANIFEST["samples"] if kind is None or e["kind"] == kind]
