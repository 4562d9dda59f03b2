"""Wheel-track detection speed and memory against its floor and peers, measured in one run.

    python3 benchmarks/bench_tracks.py            # 1, 4 and 12 MP JPEGs (~1 min)
    python3 benchmarks/bench_tracks.py --quick    # 1 and 4 MP (~35 s)

Each configuration runs in its own process (peak RSS is that process's own,
read with ``os.wait4``), on the same generated JPEG (:mod:`zhurong_tk.synth.tracks`,
two ruts, seed 0). The Python cases decode the JPEG with ``cv2.imread`` before
their timer starts, run their pipeline once untimed (numba's cache, lazy
initialisation), then report the fastest of three timed calls from BGR to
lines (the conversion to grey is part of every pipeline):

- cv2 cvtColor to grey (floor): every pixel read once;
- numpy ``image.sum()`` (floor): the same, single-threaded;
- zhurong-tk :func:`zhurong_tk.tracks.detect_tracks` end to end, with numba's
  ``workqueue`` threading layer as the command line picks it, and again with the
  ``omp`` layer (a parallel region starts in ~4 µs there, ~40 µs with workqueue,
  whose workers also start on cold caches: the detector opens ~50 per image);
- cv2 ``Canny(50, 150)`` + ``HoughLinesP`` (rho 1, theta 1°, threshold 80,
  minLineLength 5 % of the width, maxLineGap 10) at full resolution;
- cv2 LSD: ``cv2.createLineSegmentDetector().detect`` at full resolution;
- scikit-image ``canny(sigma=2)`` + ``hough_line`` + ``hough_line_peaks``.

On the 4 MP image the command ``zhurong-tk tracks detect IMG --out DIR --overwrite``
is timed whole (wall clock, imports included) after one untimed run.

Prints a table per size of seconds, ms per megapixel, peak MB, what was found
(tracks, segments or peaks), time ÷ the cvtColor floor and peer time ÷ ours,
then the issue's targets. Inputs are cached in ``--workdir``.
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

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "zhurong-bench-tracks"
SIZES = {"1 MP": (1152, 864), "4 MP": (2304, 1728), "12 MP": (4000, 3000)}
FLOOR = "cv2 cvtColor to grey (floor)"
SUM = "numpy image.sum() (floor)"
OURS = "zhurong-tk detect_tracks"
OURS_OMP = "zhurong-tk detect_tracks, numba omp layer"
HOUGHP = "cv2 Canny + HoughLinesP"
LSD = "cv2 LSD"
SKIMAGE = "skimage canny + hough_line + peaks"
CLI = "zhurong-tk tracks detect (CLI, wall)"
CLI_SIZE = "4 MP"

PRELUDE = textwrap.dedent("""
    import json, sys, time
    import cv2
    import numpy as np
    image = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
    assert image is not None, sys.argv[1]
    def timed(run, calls=3):
        first = time.perf_counter()
        found = run()  # untimed: numba's cache, lazy initialisation
        first = time.perf_counter() - first
        best = float("inf")
        for _ in range(calls):
            t0 = time.perf_counter()
            found = run()
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"seconds": best, "first_s": first, "found": found}))
""")

PYTHON_CASES = {
    FLOOR: """
        def run():
            cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            return None
        timed(run)
    """,
    SUM: """
        def run():
            image.sum()
            return None
        timed(run)
    """,
    OURS: """
        import os
        os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # as the command line
        from zhurong_tk.tracks import detect_tracks
        def run():
            return len(detect_tracks(image).tracks)
        timed(run)
    """,
    OURS_OMP: """
        import os
        os.environ["NUMBA_THREADING_LAYER"] = "omp"
        from zhurong_tk.tracks import detect_tracks
        def run():
            return len(detect_tracks(image).tracks)
        timed(run)
    """,
    HOUGHP: """
        def run():
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            edges = cv2.Canny(grey, 50, 150)
            lines = cv2.HoughLinesP(edges, 1, np.pi / 180, 80,
                                    minLineLength=0.05 * grey.shape[1], maxLineGap=10)
            return 0 if lines is None else len(lines)
        timed(run)
    """,
    LSD: """
        if not hasattr(cv2, "createLineSegmentDetector"):
            sys.exit("unavailable in this cv2 build")
        def run():
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            lines = cv2.createLineSegmentDetector().detect(grey)[0]
            return 0 if lines is None else len(lines)
        timed(run)
    """,
    SKIMAGE: """
        from skimage.feature import canny
        from skimage.transform import hough_line, hough_line_peaks
        def run():
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
            edges = canny(grey, sigma=2)
            hspace, angles, dists = hough_line(edges)
            return len(hough_line_peaks(hspace, angles, dists)[0])
        timed(run)
    """,
}


def generate(workdir: Path, size: str) -> Path:
    """The JPEG of ``size`` (rendered at full size: ~15 s and 2.5 GB at 12 MP)."""
    width, height = SIZES[size]
    path = workdir / f"tracks_{width}x{height}.jpg"
    if not path.exists():
        # in a child process: Linux keeps the peak RSS of a process that forks and
        # execs in the child's, so this one must stay small for os.wait4's figures
        print(f"rendering {path.name} ...", file=sys.stderr, flush=True)
        tmp = path.with_name(f"{path.stem}.part.jpg")
        code = (
            "import sys\n"
            "from zhurong_tk.synth.tracks import track_scene, write\n"
            f"scene = track_scene(width={width}, height={height}, n_ruts=2, seed=0)\n"
            "write(sys.argv[1], scene, truth=False)\n"
        )
        subprocess.run([sys.executable, "-c", code, str(tmp)], check=True)
        tmp.replace(path)
    return path


def megapixels(size: str) -> float:
    width, height = SIZES[size]
    return width * height / 1e6


def ms_per_mp(row: dict, size: str) -> float | None:
    return row["seconds"] * 1e3 / megapixels(size) if "seconds" in row else None


def print_table(size: str, path: Path, rows: dict[str, dict]) -> None:
    width, height = SIZES[size]
    floor = rows.get(FLOOR, {}).get("seconds")
    ours = rows.get(OURS, {}).get("seconds")
    print(
        f"\n| {size} ({width}×{height}, {path.stat().st_size / 1e6:.1f} MB JPEG) | seconds "
        "| ms/MP | peak MB | found | × floor time | peer ÷ ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | {row['error'][:120]} | | | | | |")
            continue
        x_floor = f"{row['seconds'] / floor:.1f}" if floor and name != CLI else ""
        peer = ""
        if ours and name in (HOUGHP, LSD, SKIMAGE):
            peer = f"{row['seconds'] / ours:.2f}"
        found = row.get("found")
        print(
            f"| {name} | {row['seconds']:.4f} | {ms_per_mp(row, size):.2f} "
            f"| {row['peak_mb']:.0f} | {'' if found is None else found} | {x_floor} | {peer} |"
        )


def check_targets(report: dict[str, dict[str, dict]]) -> None:
    """Print the issue's targets against every size measured."""

    def met(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    print("\nTargets (issue 5):")
    for size, rows in report.items():
        ours = rows.get(OURS, {})
        if "seconds" not in ours:
            print(f"- {size}: zhurong-tk failed: {ours.get('error')}")
            continue
        t, ms = ours["seconds"], ms_per_mp(ours, size)
        lines = [f"end to end ≤ 5 ms/MP: {ms:.2f} ms/MP {met(ms <= 5)}"]
        floor = rows.get(FLOOR, {})
        if "seconds" in floor:
            lines[0] += f" (floor {ms_per_mp(floor, size):.2f} ms/MP)"
        for name, label, factor in (
            (HOUGHP, "faster than cv2 Canny+HoughLinesP", 1.0),
            (SKIMAGE, "≥ 10× faster than scikit-image", 10.0),
        ):
            peer = rows.get(name, {})
            if "seconds" in peer:
                r = peer["seconds"] / t
                ok = r >= factor if factor > 1 else r > factor
                lines.append(f"{label}: {r:.2f}× {met(ok)}")
            elif "error" in peer:
                ok = peer["error"].startswith(">timeout")
                lines.append(f"{label}: peer {peer['error']} {met(ok)}")
        print(f"- {size}: " + "; ".join(lines))
    per_mp = [(s, ms_per_mp(r[OURS], s)) for s, r in report.items() if "seconds" in r.get(OURS, {})]
    if len(per_mp) > 1:
        (s0, first), (s1, last) = per_mp[0], per_mp[-1]
        t0, t1 = first * megapixels(s0), last * megapixels(s1)
        print(
            "- cost linear in pixel count (ms/MP not growing with size): "
            + ", ".join(f"{s} {v:.2f}" for s, v in per_mp)
            + f" ms/MP; time × {t1 / t0:.2f} for pixels × {megapixels(s1) / megapixels(s0):.2f} "
            f"{met(last <= 1.25 * first)}"
        )
    cli = report.get(CLI_SIZE, {}).get(CLI)
    if cli is not None:
        if "seconds" in cli:
            s = cli["seconds"]
            label = f"`tracks detect` on the {CLI_SIZE} JPEG ≤ 1.5 s wall"
            print(f"- {label}: {s:.2f} s {met(s <= 1.5)}")
        else:
            print(f"- `tracks detect` on the {CLI_SIZE} JPEG: failed: {cli['error']}")


def main() -> None:
    parser = arguments(
        __doc__.split("\n\n")[0],
        quick="1 and 4 MP only (a smoke run)",
        workdir=DEFAULT_WORKDIR,
        timeout_s=60.0,
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = ["1 MP", "4 MP"] if args.quick else list(SIZES)
    paths = {size: generate(args.workdir, size) for size in sizes}
    zhurong = shutil.which("zhurong-tk") or "zhurong-tk"
    # load or compile numba's on-disk cache once so no case pays compilation
    subprocess.run([zhurong, "warmup"], check=True, stdout=subprocess.DEVNULL)
    report: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_tracks_") as tmp:
        for size in sizes:
            path = paths[size]
            rows = {}
            for name, code in PYTHON_CASES.items():
                if name in args.skip:
                    continue
                argv = [sys.executable, "-c", PRELUDE + textwrap.dedent(code), str(path)]
                t0 = time.perf_counter()
                rows[name] = best_of(args.repeat, partial(run_process, argv, args.timeout))
                print(f"  {size} {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            if size == CLI_SIZE and CLI not in args.skip:
                argv = [zhurong, "tracks", "detect", str(path), "--out", f"{tmp}/out"]
                argv.append("--overwrite")
                run_process(argv, args.timeout)  # untimed: the page cache and numba's
                rows[CLI] = best_of(args.repeat, partial(run_process, argv, args.timeout))
            print_table(size, path, rows)
            report[size] = rows
    first = {s: r[OURS]["first_s"] for s, r in report.items() if "first_s" in r.get(OURS, {})}
    if first:
        print(
            "\nzhurong-tk first (untimed) call in each process, numba cache load included: "
            + ", ".join(f"{s} {v:.2f} s" for s, v in first.items())
        )
    check_targets(report)
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
