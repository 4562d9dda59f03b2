"""``zhurong-tk warmup`` and the start-up savings of short commands."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

import zhurong_tk.tracks.detect
from zhurong_tk.cli import main as cli_main
from zhurong_tk.synth import tracks as synth


def test_warmup_compiles_bytecode_and_every_kernel_family():
    source = zhurong_tk.tracks.detect.__file__
    cached = importlib.util.cache_from_source(source)
    if os.path.exists(cached):
        os.remove(cached)  # warmup must write it again
    result = CliRunner().invoke(cli_main.cli, ["warmup"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = [line.split(":")[0].strip() for line in result.output.splitlines()[:-1]]
    assert names == ["bytecode", "tracks", "audio"]
    assert result.output.splitlines()[-1].startswith("kernels ready")
    # a .pyc Python accepts for this source: its header records the source's size and mtime
    with open(cached, "rb") as fh:
        header = fh.read(16)
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[12:16], "little") == os.stat(source).st_size


# a fresh interpreter: the test process has long loaded numba's array support and scipy
_BLAS_PROBE = """
import sys
from zhurong_tk._numba_setup import skip_blas_probe
first, again = skip_blas_probe(), skip_blas_probe()
import numba.np.arraymath
import numpy as np
from zhurong_tk.tracks import detect_tracks
found = len(detect_tracks(np.load(sys.argv[1])).tracks)
loaded = "scipy.linalg" in sys.modules
import scipy.linalg  # still importable by whoever needs it
print(first, again, numba.np.arraymath._HAVE_BLAS, loaded, found)
"""


def test_tracks_kernels_run_without_numba_importing_scipy_linalg(tmp_path):
    scene = synth.track_scene(width=320, height=240, n_ruts=2, seed=3)
    np.save(tmp_path / "scene.npy", synth.render(scene))  # synth itself loads scipy
    out = subprocess.run(
        [sys.executable, "-c", _BLAS_PROBE, str(tmp_path / "scene.npy")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    first, again, have_blas, loaded, found = out
    assert (first, again, have_blas, loaded) == ("True", "False", "False", "False")
    assert int(found) == len(scene["ruts"]) == 2
