"""The main job, end to end: ``zhurong-tk demo``.

Generates a small set of synthetic rover media with known truth, runs every
available analysis on them and on the real public samples (when
``../shared/fixtures`` is present) and compares what was found with the
truth. Each capability adds its own section here.
"""

from __future__ import annotations

import dataclasses
import json
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
#: Public samples the demo runs ``video frames`` and ``tracks detect`` on (when present).
SAMPLE_VIDEOS = (
    "video/m2020_lcam_descent",
    "video/m2020_edl_downlook_reprojected.webm",
    "video/generic/opencv_box.mp4",
)
SAMPLE_TRACKS = (
    "images/m2020_first_drive_wheel_tracks.jpg",
    "images/mer_spirit_husband_hill_panorama.png",
    "images/yutu/yutu2_rover_wheel_tracks_small.png",
    "images/msl_navcam_NLB_524534514EDR_F0562034NCAM00280M_.jpeg",
    "images/msl_navcam_NRB_524534514EDR_F0562034NCAM00280M_.jpeg",
)


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
    made.append(
        ("video", synth_video.write(folder / "drive.mp4", synth_video.drive_scene(seed=seed)))
    )
    for i, (n_ruts, curvature) in enumerate([(2, 0.0), (4, 0.0), (2, 0.03), (0, 0.0)]):
        scene = synth_tracks.track_scene(seed=seed + i, n_ruts=n_ruts, curvature_per_m=curvature)
        made.append(("image", synth_tracks.write(folder / f"tracks_{i:02d}.jpg", scene)))
    return made


def _load_truth(path: Path) -> dict[str, Any]:
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
            # exact for PCM, and for AAC in MP4 (its edit list trims the 1024-sample
            # frames' priming and padding); elsewhere allow one codec frame either way
            _close(
                name,
                "decoded_duration_s",
                truth["duration_s"],
                frames / sr,
                0.0 if path.suffix in (".wav", ".flac", ".m4a", ".mp4", ".mov") else 1024 / sr,
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


def match_segments(
    found: list[dict], truth: list[dict], tol_s: float = 0.25
) -> tuple[int, int, int]:
    """``(hits, truths, events found)``: both edges within ``tol_s`` (wind-like not counted)."""
    events = [f for f in found if f["kind"] != "wind-like"]
    used: set[int] = set()
    hits = 0
    for seg in truth:
        for i, f in enumerate(events):
            if (
                i not in used
                and abs(f["start_s"] - seg["start_s"]) <= tol_s
                and abs(f["end_s"] - seg["end_s"]) <= tol_s
            ):
                used.add(i)
                hits += 1
                break
    return hits, len(truth), len(events)


def check_audio_analysis(path: Path, out_dir: Path, *, overwrite: bool) -> list[Check]:
    """Run ``audio analyze`` on a generated recording and compare with its truth."""
    from zhurong_tk.audio.analyze import analyze_to_folder

    truth = _load_truth(path)
    result, _ = analyze_to_folder(path, out_dir, overwrite=overwrite)
    name = path.name
    checks = []
    for ch in result.channels[:1]:  # the channels of the generated files are copies
        segments = [s.to_dict() for s in ch.segments]
        hits, n_truth, n_found = match_segments(segments, truth["segments"])
        if len(truth["segments"]) > 1:
            checks.append(_close(name, "segment_recall", 1.0, hits / n_truth, 0.1))
            checks.append(_close(name, "segment_precision", 1.0, hits / max(n_found, 1), 0.1))
        for seg in (s for s in truth["segments"] if s["kind"] == "tonal"):
            line = min(
                ch.tonal_lines, key=lambda ln: abs(ln.freq_start_hz - seg["f0_hz"]), default=None
            )
            checks.append(
                _close(
                    name,
                    f"tone_{seg['f0_hz']:g}Hz_start_hz",
                    seg["f0_hz"],
                    line.freq_start_hz if line else None,
                    0.5,
                )
            )
            checks.append(
                _equal(
                    name,
                    f"tone_{seg['f0_hz']:g}Hz_harmonics",
                    seg["harmonics"],
                    [h.number for h in line.harmonics] if line else None,
                )
            )
        if truth["impulses"]:
            # every clank found within 15 ms (onsets of motors and friction are found too, rightly)
            found = np.array([i.time_s for i in ch.impulses])
            hit = sum(
                bool(len(found)) and float(np.min(np.abs(found - imp["time_s"]))) <= 0.015
                for imp in truth["impulses"]
            )
            checks.append(_equal(name, "clanks_found_within_15ms", len(truth["impulses"]), hit))
            train = next((s for s in ch.segments if s.kind == "impulsive"), None)
            checks.append(
                _equal(
                    name,
                    "clank_train_count",
                    len(truth["impulses"]),
                    train.evidence.get("impulses") if train else None,
                )
            )
    return checks


def _box_iou(a: list[int], b: list[int]) -> float:
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / max(a[2] * a[3] + b[2] * b[3] - w * h, 1)


def check_video_frames(path: Path, out_dir: Path, *, overwrite: bool) -> list[Check]:
    """Run ``video frames`` on a generated video and compare with its truth."""
    from zhurong_tk.video.extract import FrameSelection, extract_frames

    truth = _load_truth(path)
    name = path.name
    drive = truth.get("kind") == "drive"
    selection = (
        FrameSelection(motion=True)
        if drive
        else FrameSelection(scenes=True, events="edl", every_s=1.0)
    )
    index = extract_frames(path, OutputDir(out_dir, overwrite=overwrite), selection)
    times = np.array(truth["frame_times_s"])
    kept = index["frames"]
    error = max((abs(f["time_s"] - times[f["frame"]]) for f in kept), default=math.inf)
    checks = [_close(name, "kept_frame_time_error_s", 0.0, error, 1e-4)]
    events = index["events"]

    def phase(kind: str) -> dict | None:
        return next((e for e in events if e["kind"] == kind), None)

    if drive:
        motion = phase("motion")
        for edge in ("start_s", "end_s"):
            found = motion[edge] if motion else None
            checks.append(_close(name, f"motion_{edge}", truth["motion"][edge], found, 0.5))
        boxes = [f for f in kept if "box" in f and truth["boxes"][f["frame"]]]
        ious = [_box_iou(f["box"], truth["boxes"][f["frame"]]) for f in boxes]
        checks.append(
            _close(name, "motion_box_median_iou", 1.0, float(np.median(ious)) if ious else 0, 0.5)
        )
        return checks
    cuts = [c["frame"] for c in index["cuts"]]
    found_cuts = sum(any(abs(c - t["frame"]) <= 1 for c in cuts) for t in truth["cuts"])
    checks.append(_equal(name, "cuts_within_1_frame", len(truth["cuts"]), found_cuts))
    flash_frames = {f["frame"] for f in truth["flashes"]}
    checks.append(_equal(name, "flashes_taken_for_cuts", 0, sum(c in flash_frames for c in cuts)))
    for kind in ("hover", "dust"):
        event = phase(kind)
        for edge in ("start_s", "end_s"):
            found = event[edge] if event else None
            checks.append(_close(name, f"{kind}_{edge}", truth[kind][edge], found, 0.5))
    return checks


def check_track_detection(path: Path, out_dir: Path, *, overwrite: bool) -> list[Check]:
    """Run ``tracks detect`` on a generated image and compare with its truth.

    Checked with issue 5's measure (angle within 3°, true centreline within
    1.5 % of the width of the detected line, or of the polyline of a bent one;
    no false tracks; vanishing point of straight ruts within 2 % of the
    diagonal).
    """
    from zhurong_tk.tracks.run import detect_to_folder
    from zhurong_tk.tracks.score import match_ruts

    truth = _load_truth(path)
    _, doc = detect_to_folder(path, out_dir, overwrite=overwrite)
    m = match_ruts(truth, doc["tracks"])
    name = path.name
    checks = [
        _equal(name, "ruts_found", m["ruts"], m["true_positives"]),
        _equal(name, "false_tracks", 0, m["detections"] - m["true_positives"]),
    ]
    if truth["vanishing_point"] is not None:
        vp = doc["vanishing_point"]
        diag = math.hypot(truth["width"], truth["height"])
        error = (
            math.hypot(
                vp["x"] - truth["vanishing_point"]["x"], vp["y"] - truth["vanishing_point"]["y"]
            )
            / diag
            if vp
            else None
        )
        checks.append(_close(name, "vanishing_point_error_of_diagonal", 0.0, error, 0.02))
    return checks


def detect_into(path: Path, folder: Path) -> dict[str, Any]:
    """The demo batch's task: ``tracks detect`` one image into its result folder."""
    from zhurong_tk.tracks.run import detect_to_folder

    _, doc = detect_to_folder(path, folder, n_threads=1)
    return {"digest": {"tracks": len(doc["tracks"])}}


def generate_archive(folder: Path, *, seed: int = 0, count: int = 10) -> dict[str, Any]:
    """A small hazcam archive: ``count`` generated images, one per sol folder, all
    named ``rear.jpg`` (two inputs must never share a result folder), plus a
    truncated copy and an empty file. Returns the paths of the good and bad ones."""
    good = []
    for i, scene in synth_tracks.scene_set(count, seed=seed + 100):
        (folder / f"sol{i:03d}").mkdir(parents=True, exist_ok=True)
        good.append(synth_tracks.write(folder / f"sol{i:03d}" / "rear.jpg", scene))
    (folder / "sol999").mkdir(parents=True, exist_ok=True)
    truncated = folder / "sol999" / "rear.jpg"
    data = good[0].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])  # a downlink cut short
    empty = folder / "sol999" / "rear_cam2.png"
    empty.write_bytes(b"")
    return {"good": good, "bad": [truncated, empty]}


def check_batch(media: Path, out_dir: Path, *, seed: int, jobs: int | None = None) -> list[Check]:
    """Run a ``tracks detect`` batch over a generated archive with bad files in it,
    then again, and compare with the truth: every good image done, every bad one failed
    with its reason, the ruts found, and the re-run skipping everything."""
    from zhurong_tk.batch import run_batch
    from zhurong_tk.io.sniff import IMAGE_SUFFIXES
    from zhurong_tk.tracks.score import match_ruts

    archive = generate_archive(media, seed=seed)

    def run(force: bool) -> Any:
        return run_batch(
            detect_into,
            [media],
            out_dir,
            command="tracks detect",
            options={"demo": 1},
            suffixes=IMAGE_SUFFIXES,
            jobs=jobs,
            force=force,  # the first run does everything, even in a demo folder run before
        )

    first = run(True)
    subject = "batch"
    errors = {r["input"]: r["error"] for r in first.records if r["status"] == "failed"}
    true_ruts = found = detections = 0
    for r in first.records:
        if r["status"] != "done":
            continue
        doc = json.loads((out_dir / r["result"] / "report.json").read_text())
        m = match_ruts(_load_truth(Path(r["input"])), doc["tracks"])
        true_ruts, found = true_ruts + m["ruts"], found + m["true_positives"]
        detections += m["detections"]
    again = run(False)
    return [
        _equal(subject, "images_done", len(archive["good"]), first.done),
        _equal(
            subject,
            "bad_files_failed_with_reason",
            sorted(os.path.relpath(p, media) for p in archive["bad"]),
            sorted(
                os.path.relpath(p, media)
                for p, e in errors.items()
                if e and "internal error" not in e
            ),
        ),
        _close(subject, "rut_recall", 1.0, found / true_ruts if true_ruts else None, 0.2),
        _close(subject, "rut_precision", 1.0, found / detections if detections else None, 0.2),
        _equal(subject, "rerun_skipped", first.done + first.failed, again.skipped),
        _equal(subject, "rerun_ran", 0, again.done + again.failed),
    ]


def check_pds4(folder: Path, out_dir: Path, *, seed: int, overwrite: bool) -> list[Check]:
    """Write a synthetic RoPeR product, extract its telemetry and its radargram, and
    compare with the truth: times, distance, the gap, the dipping reflector."""
    from zhurong_tk.radar.radargram import Processing, radargram_to_folder
    from zhurong_tk.synth import pds4 as synth_pds4
    from zhurong_tk.telemetry.run import extract_to_folder

    folder.mkdir(parents=True, exist_ok=True)
    scene = synth_pds4.roper_scene(records=40, samples=300, pause_after=19, pause_s=300, seed=seed)
    label = synth_pds4.write(folder / "HX1-Ro_SYNTH_RoPeR-LF_00001_A.2BL", scene)
    name = label.name
    doc = extract_to_folder([label], out_dir / "telemetry", overwrite=overwrite)
    summary = doc["summary"]
    gaps = summary["gaps"]
    radar = radargram_to_folder(
        label, out_dir / "radar", steps=Processing(gain="none"), overwrite=overwrite
    )
    truth = np.array(scene["reflector_delay_ns"]) / scene["sample_interval_ns"]
    found = np.array(radar["strongest_reflection_samples"])
    return [
        _equal(name, "telemetry_start", scene["time_utc"][0], summary["start"]),
        _equal(name, "telemetry_stop", scene["time_utc"][-1], summary["stop"]),
        _close(name, "distance_driven_m", scene["distance_m"], summary["distance_m"], 0.01),
        _close(name, "gap_s", 300 + 0.5 / 0.055, gaps[0]["duration_s"] if gaps else None, 0.01),
        _close(name, "reflector_max_error_samples", 0.0, float(np.abs(found - truth).max()), 1.0),
        *check_pds4_sound(folder, out_dir / "audio", overwrite=overwrite),
    ]


def check_pds4_sound(folder: Path, out_dir: Path, *, overwrite: bool) -> list[Check]:
    """A climate-station sound record as a PDS4 array product (rate in the label): its
    motor hum found at the frequency written, its level as written."""
    from zhurong_tk.audio.analyze import analyze_to_folder
    from zhurong_tk.synth import pds4 as synth_pds4

    rate, hum_hz, amplitude = 16000, 120.0, 0.3
    t = np.arange(6 * rate) / rate
    # wind-like noise, and from 2 s to 5 s a drive motor's hum with two harmonics
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    on = (t >= 2.0) & (t < 5.0)
    hum = sum(amplitude / k * np.sin(2 * np.pi * k * hum_hz * t) for k in (1, 2, 3)) * on
    samples = noise + hum
    label = synth_pds4.write_signal_product(folder / "HX1-Ro_SYNTH_MCS_00001_A.xml", samples, rate)
    result, _ = analyze_to_folder(label, out_dir, overwrite=overwrite)
    lines = result.channels[0].tonal_lines
    found = min((ln.freq_hz for ln in lines), key=lambda f: abs(f - hum_hz), default=None)
    rms = result.channels[0].levels["rms"]["dbfs"]
    power = np.mean(samples**2)
    return [
        _close(label.name, "tone_hz", hum_hz, found, 0.5),
        _close(label.name, "rms_dbfs", 10 * np.log10(power), rms, 0.1),
    ]


def summarise_pds4(root: Path, out_dir: Path, *, overwrite: bool) -> dict[str, Any]:
    """Telemetry and radargrams of the real RoPeR products: a few sanity figures."""
    from zhurong_tk.errors import ZhurongError
    from zhurong_tk.radar.radargram import radargram_to_folder
    from zhurong_tk.telemetry.run import extract_to_folder

    try:
        doc = extract_to_folder([root], out_dir / "telemetry", overwrite=overwrite)
    except ZhurongError as exc:
        return {"path": str(root), "error": str(exc)}
    s = doc["summary"]
    radargrams = []
    for product in doc["products"]:
        label = Path(product["label"])
        try:
            radar = radargram_to_folder(label, out_dir / "radar" / label.name, overwrite=overwrite)
        except ZhurongError as exc:
            radargrams.append({"path": str(label), "error": str(exc)})
            continue
        radargrams.append(
            {
                "path": str(label),
                "channel": radar["channel"],
                "traces": radar["traces"],
                "signal_extent_samples": radar["signal_extent_samples"],
            }
        )
    return {
        "path": str(root),
        "products": len(doc["products"]),
        "records": s["records"],
        "start": s["start"],
        "stop": s["stop"],
        "distance_m": s["distance_m"],
        "radargrams": radargrams,
    }


def summarise_video(path: Path, out_dir: Path, *, overwrite: bool) -> dict[str, Any]:
    """``video frames`` on a real video or image folder: what it found, for the summary."""
    from zhurong_tk.errors import ZhurongError
    from zhurong_tk.video.extract import FrameSelection, extract_frames

    try:
        index = extract_frames(
            path,
            OutputDir(out_dir, overwrite=overwrite),
            FrameSelection(scenes=True, events="edl", every_s=1.0),
        )
    except ZhurongError as exc:
        return {"path": str(path), "error": str(exc)}
    return {
        "path": str(path),
        "frames_analysed": index["video"]["frames_analysed"],
        "frames_kept": len(index["frames"]),
        "events": [
            {"kind": e["kind"], "start_s": e["start_s"], "end_s": e["end_s"]}
            for e in index["events"]
        ],
        "warnings": index["warnings"],
    }


def batch_sample_tracks(paths: list[Path], out_dir: Path) -> list[dict[str, Any]]:
    """``tracks detect`` over real images as one batch: per image how many ruts, and
    where they converge (or why it failed)."""
    from zhurong_tk.batch import run_batch
    from zhurong_tk.io.sniff import IMAGE_SUFFIXES

    summary = run_batch(
        detect_into,
        paths,
        out_dir,
        command="tracks detect",
        options={"demo": 1},
        suffixes=IMAGE_SUFFIXES,
        force=True,
    )
    by_input = {r["input"]: r for r in summary.records}
    found = []
    for path in paths:
        record = by_input.get(str(path))
        if record is None or record["status"] != "done":
            found.append({"path": str(path), "error": record["error"] if record else "not run"})
            continue
        doc = json.loads((out_dir / record["result"] / "report.json").read_text())
        found.append(
            {
                "path": str(path),
                "tracks": len(doc["tracks"]),
                "pairs": len(doc["pairs"]),
                "vanishing_point": doc["vanishing_point"],
            }
        )
    return found


def summarise_recording(path: Path, out_dir: Path, *, overwrite: bool) -> dict[str, Any]:
    """Analyse a real recording; a few sanity figures for the demo's summary."""
    from zhurong_tk.audio.analyze import analyze_to_folder
    from zhurong_tk.errors import ZhurongError

    try:
        result, _ = analyze_to_folder(path, out_dir, overwrite=overwrite)
    except ZhurongError as exc:
        return {"path": str(path), "error": str(exc)}
    ch = result.channels[0]
    f, p = ch.psd.freqs, ch.psd.mean
    low = float(np.sum(p[f < 300]) / np.sum(p)) if np.sum(p) > 0 else None
    kinds = Counter(s.kind for s in ch.segments)
    return {
        "path": str(path),
        "duration_s": ch.samples / result.sr,
        "samplerate": result.sr,
        "rms_dbfs": ch.levels["rms"]["dbfs"],
        "power_below_300hz": low,
        "slope_db_per_octave": ch.spectral_slope["db_per_octave"] if ch.spectral_slope else None,
        "segments": dict(kinds),
        "tonal_lines_hz": [round(ln.freq_hz, 2) for ln in ch.tonal_lines],
        "impulses": len(ch.impulses),
        "warnings": result.warnings,
    }


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
    out.check_free("report.json", "media", "audio", "video", "tracks", "pds4", "batch", "samples")
    started = time.perf_counter()
    say("generating synthetic media with known truth")
    made = generate_media(out.path / "media", seed=seed)  # creates the folder
    checks: list[Check] = []
    for kind, path in made:
        say(f"probing {path.name}")
        checks += check_probe(kind, path)
    for kind, path in made:
        if kind == "audio":
            say(f"audio analyze {path.name}")
            checks += check_audio_analysis(
                path, out.path / "audio" / path.name, overwrite=overwrite
            )
    for kind, path in made:
        if kind == "image":
            say(f"tracks detect {path.name}")
            checks += check_track_detection(
                path, out.path / "tracks" / path.name, overwrite=overwrite
            )
    for kind, path in made:
        if kind == "video":
            say(f"video frames {path.name}")
            checks += check_video_frames(path, out.path / "video" / path.name, overwrite=overwrite)
    say("telemetry extract and radar radargram of a generated RoPeR product")
    checks += check_pds4(
        out.path / "media" / "pds4", out.path / "pds4", seed=seed, overwrite=overwrite
    )
    say("batch: tracks detect over a generated archive with bad files in it, twice")
    checks += check_batch(out.path / "media" / "archive", out.path / "batch", seed=seed)
    root = samples_mod.samples_dir() if use_samples else None
    samples = None
    if root is not None:
        say(f"probing the public samples in {root}")
        samples = survey_samples(root)
        runs = {
            "audio": (
                "audio analyze",
                summarise_recording,
                [*sorted((root / "audio").glob("*")), root / "video/generic/opencv_box.mp4"],
            ),
            "video": ("video frames", summarise_video, [root / r for r in SAMPLE_VIDEOS]),
        }
        for kind, (command, summarise, paths) in runs.items():
            samples[kind] = []
            for path in paths:
                if path.exists():
                    say(f"{command} {path.name} (public sample)")
                    folder = out.path / "samples" / kind / path.name
                    samples[kind].append(summarise(path, folder, overwrite=overwrite))
        if (root / "pds4" / "zhurong_roper").is_dir():
            say("telemetry extract and radar radargram of the real RoPeR products")
            samples["pds4"] = summarise_pds4(
                root / "pds4" / "zhurong_roper", out.path / "samples" / "pds4", overwrite=overwrite
            )
        say("batch: tracks detect over the public sample images")
        samples["tracks"] = batch_sample_tracks(
            [p for p in (root / r for r in SAMPLE_TRACKS) if p.exists()],
            out.path / "samples" / "tracks",
        )
    elif use_samples:
        log.info("public samples not found (set %s to their folder); skipped", samples_mod.ENV_VAR)
    ok = all(c.ok for c in checks) and (
        samples is None
        or (
            not samples["failures"]
            and not any(
                "error" in a
                for a in samples.get("audio", [])
                + samples.get("video", [])
                + samples.get("tracks", [])
                + ([samples["pds4"]] if "pds4" in samples else [])
                + (samples.get("pds4") or {}).get("radargrams", [])
            )
        )
    )
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
