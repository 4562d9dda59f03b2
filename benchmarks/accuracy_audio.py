"""Activity segments and tone fundamentals on random scenes, against their truth.

    python3 benchmarks/accuracy_audio.py              # seeds 0-399 (~1 min on 2 cores)
    python3 benchmarks/accuracy_audio.py --seeds 400:800
    python3 benchmarks/accuracy_audio.py --layered    # events that overlap in pairs

Each scene is :func:`zhurong_tk.synth.audio.random_scene` (2-5 events in gusty wind at
fair levels, 16-100 kHz), written as float WAV and analysed by
:func:`zhurong_tk.audio.analyze`. An event is matched when a found segment (not
wind-like) has both edges within ±0.25 s (the issue's criterion); a tone is read when a
tonal line over its time is within 0.5 Hz of its mean fundamental. Prints recall and
precision, per kind, and the misses. With ``--layered`` the scenes are
:func:`zhurong_tk.synth.audio.layered_scene` (a motor's tone or friction with another
kind of event sounding over part of it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from multiprocessing import Pool


def score(task: tuple[int, str]) -> dict:
    from zhurong_tk.audio import analyze, close_analysis
    from zhurong_tk.synth import audio as synth_audio

    seed, generator = task
    scene = getattr(synth_audio, generator)(seed)
    with tempfile.TemporaryDirectory() as folder:
        path = synth_audio.write(
            os.path.join(folder, "scene.wav"),
            scene,
            sr=scene["samplerate"],
            subtype="FLOAT",
            truth=False,
        )
        result = analyze(path)
        channel = result.channels[0]
        found = [(s.start_s, s.end_s, s.kind) for s in channel.segments if s.kind != "wind-like"]
        lines = [(ln.freq_hz, ln.start_s, ln.end_s) for ln in channel.tonal_lines]
        close_analysis(result)
    used: set[int] = set()
    rows = []
    for seg in scene["segments"]:
        hit = next(
            (
                i
                for i, (start, end, _) in enumerate(found)
                if i not in used
                and abs(start - seg["start_s"]) <= 0.25
                and abs(end - seg["end_s"]) <= 0.25
            ),
            None,
        )
        if hit is not None:
            used.add(hit)
        read = None
        if seg["kind"] == "tonal":
            mean_hz = (seg["f0_hz"] + seg["f1_hz"]) / 2
            reach = 0.5 + abs(seg["f1_hz"] - seg["f0_hz"]) / 2
            read = any(
                abs(hz - mean_hz) <= reach and end > seg["start_s"] and start < seg["end_s"]
                for hz, start, end in lines
            )
        rows.append(
            {
                "kind": seg["kind"],
                "span": (seg["start_s"], seg["end_s"]),
                "hit": hit is not None,
                "kind_ok": hit is not None and found[hit][2] == seg["kind"],
                "read": read,
            }
        )
    return {"seed": seed, "rows": rows, "found": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0:400", help="first:past (default 0:400)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--layered", action="store_true", help="scenes of overlapping events (layered_scene)"
    )
    parser.add_argument("--json", help="also write each scene's events and segments found here")
    args = parser.parse_args()
    first, past = (int(v) for v in args.seeds.split(":"))
    with Pool(args.workers) as pool:
        generator = "layered_scene" if args.layered else "random_scene"
        tasks = [(seed, generator) for seed in range(first, past)]
        scores = sorted(pool.map(score, tasks), key=lambda s: s["seed"])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(scores, fh)
    rows = [row for s in scores for row in s["rows"]]
    found = sum(len(s["found"]) for s in scores)
    hits = sum(row["hit"] for row in rows)
    print(f"{len(scores)} scenes (seeds {first}-{past - 1}), {len(rows)} events, {found} found")
    print(f"recall {hits / len(rows):.3f}  precision {hits / max(found, 1):.3f}")
    for kind in ("tonal", "broadband", "impulsive"):
        mine = [row for row in rows if row["kind"] == kind]
        matched = sum(row["hit"] for row in mine)
        labelled = sum(row["kind_ok"] for row in mine)
        print(f"  {kind:10s} {matched:4d} of {len(mine):4d} matched, {labelled} labelled so")
    tones = [row for row in rows if row["read"] is not None]
    print(f"tone fundamentals within 0.5 Hz: {sum(row['read'] for row in tones)} of {len(tones)}")
    print("missed:")
    for s in scores:
        for row in s["rows"]:
            if not row["hit"]:
                near = [
                    (round(a, 2), round(b, 2), k)
                    for a, b, k in s["found"]
                    if b > row["span"][0] - 1 and a < row["span"][1] + 1
                ]
                print(f"  seed {s['seed']}: {row['kind']} {row['span']} found near: {near}")


if __name__ == "__main__":
    main()
