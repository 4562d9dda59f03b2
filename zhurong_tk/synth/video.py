"""Descent (EDL) video with known cuts, flashes, pans, a hover and dust.

A scene is a list of shots, each a view of its own procedural crater field
that the camera descends into (zooms) while drifting. Events with known
frame numbers are laid on top:

- hard cuts: the terrain switches to another field;
- flashes: one or two over-exposed frames that are *not* cuts (pyro firing,
  sun glint at backshell separation);
- fast pans: a few frames of large translation, also not cuts;
- hover: the camera holds still (hazard avoidance) — only sensor noise changes;
- dust: sharpness collapses and brightness rises as the plume rises at touchdown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import av, cv2
from zhurong_tk.io.outputs import write_json
from zhurong_tk.synth.audio import truth_path

SCENE_SCHEMA = "zhurong-tk/synth.video/1"


def edl_scene(
    *,
    duration_s: float = 12.0,
    fps: float = 30.0,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    variable_rate: bool = False,
) -> dict[str, Any]:
    """Ground truth of a descent video.

    Parameters
    ----------
    duration_s : float
        Length in seconds (at least 6).
    fps : float
        Nominal frame rate in Hz.
    width, height : int
        Frame size in pixels (even numbers, for H.264's 4:2:0).
    seed : int
        Seed for the terrain and the event schedule.
    variable_rate : bool
        Jitter frame intervals (±30 %) so timestamps are not ``index / fps``.

    Returns
    -------
    dict
        ``frame_times_s`` (presentation time of every frame), ``cuts`` (first
        frame of each new shot), ``flashes``, ``pans`` and the ``hover`` and
        ``dust`` phases as ``{"start_frame", "end_frame", "start_s", "end_s"}``
        (end exclusive).
    """
    if duration_s < 6.0:
        raise ParameterError(f"duration_s must be at least 6 s, got {duration_s}")
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ParameterError(f"width and height must be even and >= 64, got {width}×{height}")
    if not 1.0 <= fps <= 240.0:
        raise ParameterError(f"fps must be 1..240, got {fps}")
    rng = np.random.default_rng(seed)
    n = round(duration_s * fps)
    if variable_rate:
        dt = (1.0 / fps) * rng.uniform(0.7, 1.3, n)
        times = np.concatenate([[0.0], np.cumsum(dt[:-1])])
    else:
        times = np.arange(n) / fps
    times = np.round(times, 6)

    def frame_at(fraction: float) -> int:
        return round(fraction * n)

    # Layout (fractions of the video): shot A [0, .22) | cut | shot B with a flash and a
    # fast pan | cut | shot C: hover [.55, .70), descent, dust [.82, 1.0)
    cuts = [frame_at(0.22 + rng.uniform(-0.02, 0.02)), frame_at(0.42 + rng.uniform(-0.02, 0.02))]
    flash = frame_at(0.30 + rng.uniform(-0.02, 0.02))
    flashes = [flash, flash + 1]
    pan_start = frame_at(0.36)
    pans = [{"start_frame": pan_start, "end_frame": pan_start + max(3, int(0.2 * fps))}]
    hover = (frame_at(0.55), frame_at(0.70))
    dust = (frame_at(0.82), n)

    def phase(a: int, b: int) -> dict[str, Any]:
        end_s = float(times[b]) if b < n else float(times[-1] + 1.0 / fps)
        return {"start_frame": a, "end_frame": b, "start_s": float(times[a]), "end_s": end_s}

    return {
        "schema": SCENE_SCHEMA,
        "kind": "edl",
        "seed": int(seed),
        "fps": float(fps),
        "width": int(width),
        "height": int(height),
        "n_frames": n,
        "variable_rate": bool(variable_rate),
        "frame_times_s": times.tolist(),
        "cuts": [{"frame": c, "time_s": float(times[c])} for c in cuts],
        "flashes": [{"frame": f, "time_s": float(times[f])} for f in flashes],
        "pans": [phase(p["start_frame"], p["end_frame"]) for p in pans],
        "hover": phase(*hover),
        "dust": phase(*dust),
    }


def _terrain(rng: np.random.Generator, size: int) -> np.ndarray:
    """A crater field: multi-octave noise plus rimmed, shadowed craters; float32 in [0, 1]."""
    img = np.zeros((size, size), np.float32)
    for octave in range(1, 7):
        cells = 2**octave + 1
        layer = cv2.resize(
            rng.standard_normal((cells, cells)).astype(np.float32),
            (size, size),
            interpolation=cv2.INTER_CUBIC,
        )
        img += layer / octave
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(int(rng.integers(25, 45))):
        cx, cy = rng.uniform(0, size, 2)
        r = size * rng.uniform(0.01, 0.08)
        d = np.hypot(xx - cx, yy - cy) / r
        bowl = np.where(d < 1, -(1 - d**2), 0) * 1.2
        rim = np.exp(-((d - 1) ** 2) / 0.02) * 0.8
        shade = np.clip((xx - cx) / r, -1, 1) * (d < 1) * 0.5  # sun from the right
        img += (bowl + rim + shade).astype(np.float32)
    img -= img.min()
    img /= img.max() + 1e-6
    return 0.25 + 0.55 * img


def drive_scene(
    *,
    duration_s: float = 8.0,
    fps: float = 30.0,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
) -> dict[str, Any]:
    """Ground truth of a fixed camera filming a rover drive past (the drop camera).

    The ground is still (sensor noise only) until the rover enters from the
    left, drives across and parks right of centre, where it stays.

    Returns
    -------
    dict
        ``frame_times_s``, ``motion`` (``{"start_frame","end_frame","start_s","end_s"}``
        while the rover moves) and ``boxes``: the rover's ``[x, y, width, height]``
        in each frame (clipped to the picture), or None while it is out of view.
    """
    if duration_s < 4.0:
        raise ParameterError(f"duration_s must be at least 4 s, got {duration_s}")
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ParameterError(f"width and height must be even and >= 64, got {width}×{height}")
    rng = np.random.default_rng(seed)
    n = round(duration_s * fps)
    times = np.round(np.arange(n) / fps, 6)
    start = round(n * rng.uniform(0.2, 0.3))
    stop = round(n * rng.uniform(0.65, 0.75))
    rover_w, rover_h = round(0.22 * width), round(0.16 * height)
    y = round(0.55 * height)
    x_from, x_to = -rover_w, round(0.6 * width)
    boxes: list[list[int] | None] = []
    for i in range(n):
        k = min(1.0, max(0.0, (i - start) / (stop - start)))
        x = round(x_from + k * (x_to - x_from))
        x0, x1 = max(0, x), min(width, x + rover_w)
        boxes.append([x0, y, x1 - x0, rover_h] if x1 > x0 else None)
    return {
        "schema": SCENE_SCHEMA,
        "kind": "drive",
        "seed": int(seed),
        "fps": float(fps),
        "width": int(width),
        "height": int(height),
        "n_frames": n,
        "variable_rate": False,
        "frame_times_s": times.tolist(),
        "motion": {
            "start_frame": start,
            "end_frame": stop + 1,
            "start_s": float(times[start]),
            "end_s": float(times[min(stop + 1, n - 1)]),
        },
        "boxes": boxes,
    }


def _render_drive(scene: dict[str, Any]) -> Iterator[np.ndarray]:
    rng = np.random.default_rng([scene["seed"], 7])
    w, h = scene["width"], scene["height"]
    ground = _terrain(np.random.default_rng([scene["seed"], 100]), 2 * max(w, h))[:h, :w]
    ground = np.stack([ground * t for t in (0.8, 0.97, 1.2)], axis=-1)
    for box in scene["boxes"]:
        frame = ground.copy()
        if box is not None:
            x, y, bw, bh = box
            frame[y : y + bh, x : x + bw] = (0.82, 0.84, 0.86)  # white-grey body
            wheels = y + bh - max(2, bh // 4)
            frame[wheels : y + bh, x : x + bw : 2] = (0.12, 0.12, 0.12)  # wheels, grousers
        frame = frame + rng.normal(0, 0.008, frame.shape).astype(np.float32)
        yield np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)


def render(scene: dict[str, Any]) -> Iterator[np.ndarray]:
    """Yield the scene's frames as ``(height, width, 3)`` uint8 BGR, one at a time."""
    if scene.get("kind") == "drive":
        yield from _render_drive(scene)
        return
    rng = np.random.default_rng([scene["seed"], 7])
    w, h, n = scene["width"], scene["height"], scene["n_frames"]
    size = 2 * max(w, h)
    shots = [_terrain(np.random.default_rng([scene["seed"], 100 + i]), size) for i in range(3)]
    tints = [(0.85, 1.0, 1.15), (0.9, 1.0, 1.1), (0.8, 0.97, 1.2)]  # BGR: Mars butterscotch
    cut_frames = [c["frame"] for c in scene["cuts"]]
    flash_frames = {f["frame"] for f in scene["flashes"]}
    hover = scene["hover"]
    dust = scene["dust"]
    pans = scene["pans"]
    scale, cx, cy = 1.0, size / 2, size / 2
    held = None
    for i in range(n):
        shot = sum(i >= c for c in cut_frames)
        if i in cut_frames:
            scale, cx, cy = 1.0, size / 2, size / 2
        in_hover = hover["start_frame"] <= i < hover["end_frame"]
        if not in_hover:
            scale *= 1.004  # descending: the ground grows
            cx += 0.6
            cy += 0.3
            for p in pans:
                if p["start_frame"] <= i < p["end_frame"]:
                    cx += 0.06 * w  # whip pan: far beyond normal drift, not a cut
        if in_hover and held is not None:
            view = held
        else:
            m = cv2.getRotationMatrix2D((cx, cy), 0.0, scale)
            m[0, 2] += w / 2 - cx
            m[1, 2] += h / 2 - cy
            view = cv2.warpAffine(
                shots[shot], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            held = view if in_hover else None
        frame = view.copy()
        if dust["start_frame"] <= i < dust["end_frame"]:
            k = (i - dust["start_frame"] + 1) / max(1, dust["end_frame"] - dust["start_frame"])
            sigma = 1.0 + 9.0 * min(1.0, 2.5 * k)
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
            frame = frame * (1 - 0.6 * min(1.0, 2 * k)) + 0.85 * 0.6 * min(1.0, 2 * k)
        if i in flash_frames:
            frame = np.clip(frame * 1.8 + 0.35, 0, 1)
        frame = frame + rng.normal(0, 0.008, frame.shape).astype(np.float32)  # sensor noise
        bgr = np.stack([frame * t for t in tints[shot]], axis=-1)
        yield np.clip(bgr * 255 + 0.5, 0, 255).astype(np.uint8)


def write(
    path: str | os.PathLike[str],
    scene: dict[str, Any],
    *,
    codec: str = "libx264",
    crf: int = 18,
    truth: bool = True,
) -> Path:
    """Encode ``scene`` to a video file with exact presentation timestamps.

    Written with PyAV so that each frame's pts is its true time (variable
    rate included); H.264 by default, ``codec="mpeg4"`` or ``"libvpx-vp9"``
    (for ``.webm``) also work. Writes ``<path>.truth.json`` beside it.
    """
    path = Path(path)
    times = scene["frame_times_s"]
    time_base = Fraction(1, 90_000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(scene["fps"]).limit_denominator(1001))
        stream.width, stream.height = scene["width"], scene["height"]
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        for i, image in enumerate(render(scene)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = round(times[i] * 90_000)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    if truth:
        write_json(truth_path(path), scene, overwrite=True)
    return path
