"""The main job, end to end: ``zhurong-tk demo``.

Generates a small set of synthetic rover media with known truth, runs every
available analysis on them and on the real public samples (when
``../shared/fixtures`` is present) and compares what was found with the
truth. Each capability adds its own section here.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk import samples as samples_mod
from zhurong_tk.io.audio import count_frames
from zhurong_tk.io.outputs import OutputDir, report
from zhurong_tk.io.probe import probe, probe_many
from zhurong_tk.io.video import VideoReader
from zhurong_tk.synth import audio as synth_audio
from zhurong_tk.synth import tracks as synth_tracks
from zhurong_tk.synth import video as synth_video

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclasses.dataclass
class Check:
    """One comparison of a found value with the truth."""

    subject: str
    quantity: str
    expected: Any
    found: Any
    tolerance: Any
    ok: bool


def _close(subject: str, quantity: str, expected: float, found: float | None, tol: float) -> Check:
    ok = found is not None and math.isfinite(found) and abs(found - expected) <= tol
    return Check(subject, quantity, expected, found, tol, bool(ok))


def _equal(subject: str, quantity: str, expected: Any, found: Any) -> Check:
    return Check(subject, quantity, expected, found, 0, expected == found)


def generate_media(folder: Path, *, seed: int = 0) -> list[tuple[str, Path]]:
    """Write the demo's synthetic media (and truth files) into ``folder``.

    Returns ``(kind, path)`` pairs. Deterministic for a given seed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, Path]] = []
    egress = synth_audio.egress_scene(duration_s=40.0, seed=seed)
    made.append(("audio", synth_audio.write(folder / "egress.wav", egress, sr=48_000)))
    made.append(
        ("audio", synth_audio.write(folder / "egress_aac.m4a", egress, sr=44_100, channels=2))
    )
    made.append(("video", synth_video.write(folder / "edl.mp4", synth_video.edl_scene(seed=seed))))
    made.append(
        (
            "video",
            synth_video.write(
                folder / "edl_vfr.mp4", synth_video.edl_scene(seed=seed + 1, variable_rate=True)
            ),
        )
    )
    for i, (n_ruts, curvature) in enumerate([(2, 0.0), (4, 0.0), (2, 0.03), (0, 0.0)]):
        scene = synth_tracks.track_scene(seed=seed + i, n_ruts=n_ruts, curvature_per_m=curvature)
        made.append(("image", synth_tracks.write(folder / f"tracks_{i:02d}.jpg", scene)))
    return made


def _load_truth(path: Path) -> dict[str, Any]:
    import json

    return json.loads(synth_audio.truth_path(path).read_text())


def check_probe(kind: str, path: Path) -> list[Check]:
    """Probe a generated file and compare its facts with the truth."""
    truth = _load_truth(path)
    name = path.name
    result = probe(path)
    if not result.ok:
        return [Check(name, "readable", True, result.error, None, False)]
    info = result.info
    checks = [_equal(name, "kind", kind, result.kind)]
    if kind == "audio":
        sr = truth["samplerate"]
        frames, _ = count_frames(path)
        checks += [
            _equal(name, "samplerate_hz", sr, info.samplerate),
            _equal(name, "channels", truth["channels"], info.channels),
            # AAC pads to whole 1024-sample frames: allow one frame either way
            _close(
                name,
                "decoded_duration_s",
                truth["duration_s"],
                frames / sr,
                0.0 if path.suffix == ".wav" else 1024 / sr,
            ),
        ]
    elif kind == "video":
        times = np.array([f.time_s for f in VideoReader(path).frames()])
        expected = np.array(truth["frame_times_s"])
        err = float(np.max(np.abs(times - expected))) if len(times) == len(expected) else math.inf
        checks += [
            _equal(name, "size", [truth["width"], truth["height"]], [info.width, info.height]),
            _equal(name, "frames_decoded", truth["n_frames"], len(times)),
            _close(name, "max_timestamp_error_s", 0.0, err, 1e-4),
        ]
        if not truth["variable_rate"]:
            checks.append(_close(name, "fps", truth["fps"], info.fps, 1e-3))
    elif kind == "image":
        checks += [
            _equal(name, "size", [truth["width"], truth["height"]], [info.width, info.height]),
            _equal(name, "channels", 3, info.channels),
        ]
    return checks


def survey_samples(root: Path) -> dict[str, Any]:
    """Probe every public sample; count kinds and failures."""
    kinds: Counter[str] = Counter()
    failures = []
    for result in probe_many([root]):
        kinds[result.kind] += 1
        if not result.ok:
            failures.append({"path": os.path.relpath(result.path, root), "error": result.error})
    return {
        "root": str(root),
        "files": sum(kinds.values()),
        "by_kind": dict(kinds),
        "failures": failures,
    }


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    use_samples: bool = True,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the demo and write ``report.json`` (plus the generated media) into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Results folder; ``media/`` inside it receives the generated files.
    seed : int
        Seed of every generator.
    use_samples : bool
        Also survey the public samples when they are present.
    overwrite : bool
        Replace the results of an earlier run.
    progress : callable, optional
        Called with a short line before each step.

    Returns
    -------
    dict
        The report: ``checks`` (each with expected, found, tolerance, ok),
        ``samples`` (or None) and ``ok``.
    """
    say = progress or (lambda _msg: None)
    out = OutputDir(out_dir, overwrite=overwrite)
    out.check_free("report.json", "media")
    started = time.perf_counter()
    say("generating synthetic media with known truth")
    made = generate_media(out.path / "media", seed=seed)  # creates the folder
    checks: list[Check] = []
    for kind, path in made:
        say(f"probing {path.name}")
        checks += check_probe(kind, path)
    root = samples_mod.samples_dir() if use_samples else None
    samples = None
    if root is not None:
        say(f"probing the public samples in {root}")
        samples = survey_samples(root)
    elif use_samples:
        log.info("public samples not found (set %s to their folder); skipped", samples_mod.ENV_VAR)
    ok = all(c.ok for c in checks) and (samples is None or not samples["failures"])
    result = report(
        "demo",
        SCHEMA_VERSION,
        seed=seed,
        media=[{"kind": k, "path": os.path.relpath(p, out.path)} for k, p in made],
        checks=checks,
        samples=samples,
        ok=ok,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    out.json("report.json", result)
    return result
