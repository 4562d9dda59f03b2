"""Video frame extraction speed and memory against its floors and peers, measured in one run.

    python3 benchmarks/bench_video.py            # 720p 60 s and 240 s, 1080p 60 s (~20 min)
    python3 benchmarks/bench_video.py --quick    # 720p 20 s and 60 s, 1080p 20 s

The longer 720p input (240 s, or 60 s with --quick) checks that peak memory does
not grow with length, so it runs only the cv2 floor and the zhurong-tk cases.

Each configuration runs in its own process (peak RSS is that process's own,
read with ``os.wait4``), on the same generated H.264 file:

- cv2 decode (floor): ``cv2.VideoCapture`` read loop, every frame to BGR
  (the Python cases time themselves after their imports; the command-line
  cases are timed whole, start-up included);
- PyAV decode: every frame, no colour conversion (``thread_type="AUTO"``);
- PyAV keyframes: ``skip_frame = "NONKEY"``;
- zhurong-tk library: :func:`zhurong_tk.video.extract.extract_frames` with
  scenes, EDL events and one frame a second, timed after imports;
- ``zhurong-tk video frames --scenes --events edl --every 1s`` (analysis mode);
- ``zhurong-tk video frames --keyframes``;
- PySceneDetect: ``scenedetect -i VIDEO -o DIR detect-content list-scenes save-images``;
- ffmpeg CLI (imageio-ffmpeg's static binary): ``select='gt(scene,0.4)'`` and
  ``fps=1``, writing JPEGs.

Prints a table of seconds, peak MB, speed relative to the cv2 floor
(floor time / case time) and peer time / analysis-mode time, then the issue's
targets. The inputs are one rendered 20 s clip per frame size
(:mod:`zhurong_tk.synth.video`), repeated to length by stream copy with
ffmpeg's concat demuxer (no re-encode); they are cached in ``--workdir``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path

from _harness import arguments, best_of, run_process

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "zhurong-bench-video"
BASE_S = 20  # seconds rendered per frame size; longer inputs repeat it
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
ANALYSIS = "zhurong-tk analysis (CLI)"
LIBRARY = "zhurong-tk analysis (library)"
KEYFRAMES = "zhurong-tk --keyframes (CLI)"
KEYFRAMES_LIB = "zhurong-tk --keyframes (library)"
FLOOR = "cv2 decode (floor)"
PYSCENEDETECT = "PySceneDetect"
LONG_CASES = (FLOOR, "PyAV keyframes only", ANALYSIS, KEYFRAMES_LIB, KEYFRAMES)

PRELUDE = textwrap.dedent("""
    import json, sys, time
    path, out = sys.argv[1], sys.argv[2]
    def done(t0, **extra):
        print(json.dumps({"seconds": time.perf_counter() - t0, **extra}))
""")

PYTHON_CASES = {
    FLOOR: """
        import cv2
        t0 = time.perf_counter()
        cap = cv2.VideoCapture(path)
        n = 0
        while cap.read()[0]:
            n += 1
        cap.release()
        done(t0, frames=n)
    """,
    "PyAV decode (no colour conv.)": """
        import av
        t0 = time.perf_counter()
        n = 0
        with av.open(path) as container:
            container.streams.video[0].thread_type = "AUTO"
            for _ in container.decode(video=0):
                n += 1
        done(t0, frames=n)
    """,
    "PyAV keyframes only": """
        import av
        t0 = time.perf_counter()
        n = 0
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                n += 1
        done(t0, frames=n)
    """,
    LIBRARY: """
        from zhurong_tk.io.outputs import OutputDir
        from zhurong_tk.video.extract import FrameSelection, extract_frames
        t0 = time.perf_counter()
        index = extract_frames(path, OutputDir(out),
                               FrameSelection(scenes=True, events="edl", every_s=1.0))
        done(t0, frames=index["video"]["frames_analysed"])
    """,
    KEYFRAMES_LIB: """
        from zhurong_tk.io.outputs import OutputDir
        from zhurong_tk.video.extract import FrameSelection, extract_frames
        t0 = time.perf_counter()
        index = extract_frames(path, OutputDir(out), FrameSelection(keyframes=True))
        done(t0, frames=index["video"]["frames_analysed"])
    """,
}


def cli_cases(ffmpeg: str) -> dict[str, list[str]]:
    """Commands run as they are; ``{path}`` and ``{out}`` are filled in per run."""
    zhurong = shutil.which("zhurong-tk") or "zhurong-tk"
    scenedetect = shutil.which("scenedetect") or "scenedetect"
    ff = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", "{path}"]
    frames = [zhurong, "-q", "video", "frames", "{path}", "--out", "{out}"]
    return {
        ANALYSIS: [*frames, "--scenes", "--events", "edl", "--every", "1s"],
        KEYFRAMES: [*frames, "--keyframes"],
        PYSCENEDETECT: [
            scenedetect,
            "-q",
            "-i",
            "{path}",
            "-o",
            "{out}",
            "detect-content",
            "list-scenes",
            "save-images",
        ],
        "ffmpeg select gt(scene,0.4)": [
            *ff,
            "-vf",
            "select='gt(scene,0.4)'",
            "-fps_mode",
            "vfr",
            "{out}/%04d.jpg",
        ],
        "ffmpeg fps=1": [*ff, "-vf", "fps=1", "{out}/%04d.jpg"],
    }


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        sys.exit("install imageio-ffmpeg (the bench extra) for the ffmpeg binary")
    return imageio_ffmpeg.get_ffmpeg_exe()


def base_clip(workdir: Path, size: str) -> Path:
    """The rendered clip of ``BASE_S`` seconds at ``size`` (slow: ~4 s CPU per 720p second)."""
    path = workdir / f"edl_{size}_{BASE_S}s.mp4"
    if not path.exists():
        from zhurong_tk.synth.video import edl_scene, write

        width, height = SIZES[size]
        print(f"rendering {path.name} ...", file=sys.stderr, flush=True)
        scene = edl_scene(duration_s=BASE_S, fps=30, width=width, height=height, seed=0)
        tmp = path.with_suffix(".part.mp4")
        write(tmp, scene, truth=False)
        tmp.replace(path)
    return path


def generate(workdir: Path, ffmpeg: str, size: str, duration_s: int) -> Path:
    """``duration_s`` of video at ``size``: the base clip repeated by stream copy."""
    base = base_clip(workdir, size)
    if duration_s == BASE_S:
        return base
    if duration_s % BASE_S:
        raise ValueError(f"lengths are multiples of {BASE_S} s, got {duration_s}")
    path = workdir / f"edl_{size}_{duration_s}s.mp4"
    if not path.exists():
        print(f"concatenating {path.name} ...", file=sys.stderr, flush=True)
        listing = workdir / f"{path.stem}.txt"
        listing.write_text(f"file '{base.name}'\n" * (duration_s // BASE_S))
        tmp = path.with_suffix(".part.mp4")
        concat = ["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp)]
        subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *concat], check=True
        )
        tmp.replace(path)
        listing.unlink()
    return path


def run_once(name: str, command: list[str], path: Path, timeout_s: float) -> dict:
    """One run of a case on ``path`` in a fresh folder; counts the images it wrote."""
    with tempfile.TemporaryDirectory(prefix="bench_video_") as tmp:
        out = Path(tmp) / "out"
        if name.startswith("ffmpeg"):
            out.mkdir()  # ffmpeg does not create the folder of its image sequence
        argv = [a.replace("{path}", str(path)).replace("{out}", str(out)) for a in command]
        row = run_process(argv, timeout_s)
        row["images"] = sum(
            1
            for p in (out.rglob("*") if out.exists() else ())
            if p.suffix in (".jpg", ".png") and p.stem not in ("contact_sheet", "signals")
        )
    return row


def probe(path: Path) -> str:
    import av

    with av.open(str(path)) as container:
        st = container.streams.video[0]
        seconds = float(st.duration * st.time_base) if st.duration else container.duration / 1e6
        return (
            f"{st.codec_context.name} {st.codec_context.width}×{st.codec_context.height}, "
            f"{seconds:.0f} s, {st.frames or '?'} frames, {path.stat().st_size / 1e6:.0f} MB"
        )


def fmt_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def print_table(label: str, rows: dict[str, dict]) -> None:
    floor = rows.get(FLOOR, {}).get("seconds")
    ours = rows.get(ANALYSIS, {}).get("seconds")
    print(f"\n| {label} | seconds | peak MB | images | × cv2 floor speed | peer ÷ analysis |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error'][:120]} | | | | |")
            continue
        speed = floor / row["seconds"] if floor else None
        peer = None
        if ours and not name.startswith(("zhurong", "cv2", "PyAV")):
            peer = row["seconds"] / ours
        print(
            f"| {name} | {row['seconds']:.2f} | {row['peak_mb']:.0f} | {row.get('images', 0)} "
            f"| {fmt_ratio(speed)} | {fmt_ratio(peer)} |"
        )


def check_targets(report: list[dict]) -> None:
    """Print the issue's targets against every input measured."""
    print("\nTargets (issue), per input:")
    for item in report:
        rows = item["rows"]

        def sec(name: str, rows: dict = rows) -> float | None:
            return rows.get(name, {}).get("seconds")

        floor, ours, lib = sec(FLOOR), sec(ANALYSIS), sec(LIBRARY)
        keys, peer = sec(KEYFRAMES), sec(PYSCENEDETECT)
        keys_lib = sec(KEYFRAMES_LIB)
        lines = []
        if floor and ours:
            speed = floor / ours
            lib_txt = f" (library call {floor / lib:.2f}×)" if lib else ""
            lines.append(
                f"analysis ≥ 0.9× decode-only speed: {speed:.2f}×{lib_txt} "
                f"{'MET' if speed >= 0.9 else 'NOT MET'}"
            )
        if peer and ours:
            r = peer / ours
            met = "MET" if r >= 1.5 else "NOT MET"
            lines.append(f"≥ 1.5× faster than PySceneDetect: {r:.2f}× {met}")
        if floor and (keys or keys_lib):
            # the floor is timed after imports, like the library call; the command
            # adds start-up, the contact sheet and the plot (~1 s)
            r = floor / (keys_lib or keys)
            cli = f", command {floor / keys:.2f}×" if keys and keys_lib else ""
            lines.append(
                f"--keyframes ≥ 5× faster than full decode: library {r:.2f}×{cli} "
                f"{'MET' if r >= 5 else 'NOT MET'}"
            )
        if ours:
            mb = rows[ANALYSIS]["peak_mb"]
            lines.append(f"analysis peak < 300 MB: {mb:.0f} MB {'MET' if mb < 300 else 'NOT MET'}")
        print(f"- {item['label']}: " + "; ".join(lines))
    by_length = [
        (item["duration_s"], item["rows"][ANALYSIS]["peak_mb"])
        for item in report
        if item["size"] == "720p" and "peak_mb" in item["rows"].get(ANALYSIS, {})
    ]
    if len(by_length) > 1:
        print(
            "- analysis peak MB by length at 720p (independent of length): "
            + ", ".join(f"{d} s → {mb:.0f} MB" for d, mb in by_length)
        )


def main() -> None:
    parser = arguments(
        __doc__.split("\n\n")[0],
        quick="shorter inputs (a smoke run)",
        workdir=DEFAULT_WORKDIR,
        timeout_s=600.0,
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    ffmpeg = ffmpeg_exe()
    # the long 720p input checks that memory does not grow with length: it runs the
    # floor and zhurong-tk cases only (the peers' ratios come from the other inputs)
    inputs = (
        [("720p", 20, False), ("720p", 60, True), ("1080p", 20, False)]
        if args.quick
        else [("720p", 60, False), ("720p", 240, True), ("1080p", 60, False)]
    )
    paths = [(size, d, generate(args.workdir, ffmpeg, size, d), long) for size, d, long in inputs]
    commands = {
        name: [sys.executable, "-c", PRELUDE + textwrap.dedent(code), "{path}", "{out}"]
        for name, code in PYTHON_CASES.items()
    }
    commands.update(cli_cases(ffmpeg))
    order = [
        FLOOR,
        "PyAV decode (no colour conv.)",
        "PyAV keyframes only",
        LIBRARY,
        ANALYSIS,
        KEYFRAMES_LIB,
        KEYFRAMES,
        PYSCENEDETECT,
        "ffmpeg select gt(scene,0.4)",
        "ffmpeg fps=1",
    ]
    # warm the disk cache and any lazily compiled code so no case pays it
    run_once(LIBRARY, commands[LIBRARY], paths[0][2], args.timeout)
    report = []
    for size, duration, path, long in paths:
        label = f"{size} {duration} s"
        print(f"\n{label}: {probe(path)}", flush=True)
        rows = {}
        for name in order:
            if name in args.skip or (long and name not in LONG_CASES):
                continue
            t0 = time.perf_counter()
            rows[name] = best_of(
                args.repeat, partial(run_once, name, commands[name], path, args.timeout)
            )
            print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        print_table(label, rows)
        report.append({"label": label, "size": size, "duration_s": duration, "rows": rows})
    check_targets(report)
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
