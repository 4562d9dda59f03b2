"""The installed layout: cli/ maps to zhurong_tk.cli and every package is listed."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import zhurong_tk
from tests.conftest import REPO


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(("zhurong_tk", *p.parent.relative_to(REPO / "zhurong_tk").parts)).rstrip(".")
        for p in (REPO / "zhurong_tk").rglob("__init__.py")
    }
    on_disk.add("zhurong_tk.cli")
    assert listed == on_disk
    assert config["package-dir"]["zhurong_tk.cli"] == "cli"


def test_cli_subpackage_is_the_top_level_cli_folder():
    import zhurong_tk.cli.main as main

    assert main.__file__.startswith(str(REPO / "cli"))


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "zhurong_tk", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"zhurong-tk, version {zhurong_tk.__version__}"


def test_library_does_not_import_click():
    # the library stays usable without the CLI layer's dependencies being loaded
    code = "import sys, zhurong_tk.io.probe, zhurong_tk.demo; print('click' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_audio_analysis_of_a_wav_loads_neither_pyav_nor_scipy_ndimage(tmp_path):
    # start-up is part of every command's time: PyAV (~55 ms) is for containers only, and
    # scipy.ndimage (~0.2 s) was replaced by three small kernels
    code = (
        "import sys, numpy as np, soundfile as sf\n"
        "from zhurong_tk.audio import analyze, close_analysis\n"
        f"path = {str(tmp_path / 'noise.wav')!r}\n"
        "sf.write(path, np.random.default_rng(0).normal(0, 0.1, 48000), 16000)\n"
        "close_analysis(analyze(path))\n"
        "print(sorted(m for m in ('av', 'scipy.ndimage', 'cv2') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
