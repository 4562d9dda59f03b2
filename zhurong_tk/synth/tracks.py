"""Rear-camera images of wheel tracks, rendered through a pinhole camera.

The ground is the plane Z = 0 in a world frame with X to the right and Y away
from the rover (along the tracks it left behind); the camera sits at height
``h`` looking along +Y, pitched down, with a little roll and yaw. Every pixel's
ray is intersected with the ground, and the texture, the ruts (with soft
edges, raised rims and a grouser tread pattern) and the rocks (with shadows)
are evaluated *in ground coordinates*, so perspective, foreshortening and
convergence to a vanishing point are exact. Ground truth is each rut's image
centreline (a polyline of projected points), its endpoints, the vanishing
point of straight ruts and the horizon.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError
from zhurong_tk.io._ffmpeg import cv2
from zhurong_tk.io.outputs import write_json
from zhurong_tk.synth.audio import truth_path

SCENE_SCHEMA = "zhurong-tk/synth.tracks/1"
#: Zhurong's wheel track width (centre to centre of left and right wheels), metres.
ZHURONG_TRACK_WIDTH_M = 1.2
#: A rut counts as visible (must be found) from this image length, as a fraction of the diagonal.
MIN_VISIBLE_LENGTH = 0.15


def track_scene(
    *,
    width: int = 640,
    height: int = 480,
    n_ruts: int = 2,
    seed: int = 0,
    curvature_per_m: float = 0.0,
    horizon: bool | None = None,
    ripples: bool = False,
) -> dict[str, Any]:
    """Ground truth of a rear-camera image with ``n_ruts`` wheel ruts.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    n_ruts : int
        0 to 4 ruts: 2 is one left/right wheel pair, 4 two passes side by side.
    seed : int
        Seed of the camera pose, rut placement and every texture.
    curvature_per_m : float
        Steering: the ruts follow ``X = x0 + c·Y²/2`` (0 gives straight ruts).
    horizon : bool, optional
        Force the sky in (True) or out (False) of view; by default the pitch decides.
    ripples : bool
        Lay a field of wind ripples over the ground: parallel ridges 0.3-1.2 m apart,
        20-70° either side of the view's lateral axis (oblique to the ruts), as
        ``ripples`` (``azimuth_deg``, ``wavelength_m``, ``amplitude``). Ridges
        running along the ruts would be ruts to any detector; across them, rows.

    Returns
    -------
    dict
        ``camera`` (``f_px``, ``cx``, ``cy``, ``height_m``, ``pitch_deg``,
        ``roll_deg``, ``yaw_deg``), ``ruts`` (each with ``offset_m``,
        ``width_m``, ``depth``, ``tread_period_m``, image ``points`` and
        endpoints ``x1, y1, x2, y2``), ``pairs``, ``vanishing_point``
        (``{"x", "y"}`` or None) and ``horizon_y`` at the image centre.
    """
    if not 0 <= n_ruts <= 4:
        raise ParameterError(f"n_ruts must be 0..4, got {n_ruts}")
    if width < 32 or height < 32:
        raise ParameterError(f"image must be at least 32×32, got {width}×{height}")
    rng = np.random.default_rng(seed)
    hfov = math.radians(rng.uniform(55, 80))
    f_px = (width / 2) / math.tan(hfov / 2)
    pitch_lo, pitch_hi = (12, 22) if horizon else (40, 55) if horizon is False else (12, 50)
    camera = {
        "f_px": float(f_px),
        "cx": width / 2 + float(rng.uniform(-0.02, 0.02)) * width,
        "cy": height / 2 + float(rng.uniform(-0.02, 0.02)) * height,
        "height_m": float(rng.uniform(0.8, 1.6)),
        "pitch_deg": float(rng.uniform(pitch_lo, pitch_hi)),
        "roll_deg": float(rng.uniform(-5, 5)),
        "yaw_deg": float(rng.uniform(-15, 15)),
    }
    lateral = float(rng.uniform(-0.4, 0.4))
    half = ZHURONG_TRACK_WIDTH_M / 2
    offsets = {
        0: [],
        1: [lateral],
        2: [lateral - half, lateral + half],
        3: [lateral - half, lateral + half, lateral + half + 1.5],
        4: [lateral - half - 0.9, lateral + half - 0.9, lateral - half + 0.9, lateral + half + 0.9],
    }[n_ruts]
    tread = float(rng.uniform(0.08, 0.14))
    ruts = []
    for x0 in offsets:
        ruts.append(
            {
                "offset_m": float(x0),
                "width_m": float(rng.uniform(0.16, 0.24)),
                "depth": float(rng.uniform(0.35, 0.6)),
                "tread_period_m": tread,
                "y_start_m": float(rng.uniform(0.0, 0.5)),
                "y_end_m": float(rng.uniform(14.0, 30.0)),
            }
        )
    scene = {
        "schema": SCENE_SCHEMA,
        "seed": int(seed),
        "width": int(width),
        "height": int(height),
        "camera": camera,
        "curvature_per_m": float(curvature_per_m),
        "sun_azimuth_deg": float(rng.uniform(0, 360)),
        "noise_sigma": float(rng.uniform(0.005, 0.02)),
        "blur_sigma_px": float(rng.uniform(0.3, 1.2)),
        "jpeg_quality": int(rng.integers(70, 95)),
        "n_rocks": int(rng.integers(10, 60)),
        "ruts": ruts,
    }
    if ripples:  # drawn apart from the rest: a scene's other features stay as they were
        ripple_rng = np.random.default_rng([seed, 5])
        scene["ripples"] = {
            "azimuth_deg": float(ripple_rng.uniform(20, 70) * ripple_rng.choice([-1, 1])),
            "wavelength_m": float(ripple_rng.uniform(0.3, 1.2)),
            "amplitude": float(ripple_rng.uniform(0.1, 0.3)),
        }
    _add_image_truth(scene)
    return scene


def _rotation(cam: dict[str, Any]) -> np.ndarray:
    """World → camera rotation (camera: x right, y down, z forward)."""
    p, r, y = (math.radians(cam[k]) for k in ("pitch_deg", "roll_deg", "yaw_deg"))
    level = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # looking along +Y, level
    yaw = np.array([[math.cos(y), math.sin(y), 0], [-math.sin(y), math.cos(y), 0], [0, 0, 1]])
    pitch = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return roll @ pitch @ level @ yaw


def _intrinsics(cam: dict[str, Any]) -> np.ndarray:
    return np.array([[cam["f_px"], 0, cam["cx"]], [0, cam["f_px"], cam["cy"]], [0, 0, 1.0]])


def project(scene: dict[str, Any], points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points ``(N, 3)`` to pixels; returns ``(uv (N, 2), in_front (N,))``."""
    cam = scene["camera"]
    centre = np.array([0.0, 0.0, cam["height_m"]])
    pc = (points_world - centre) @ _rotation(cam).T
    in_front = pc[:, 2] > 1e-6
    uvw = pc @ _intrinsics(cam).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = uvw[:, :2] / uvw[:, 2:3]
    return uv, in_front


def rut_centreline_m(scene: dict[str, Any], rut: dict[str, Any], y: np.ndarray) -> np.ndarray:
    """Lateral position X (metres) of a rut's centre at distances ``y``."""
    return rut["offset_m"] + 0.5 * scene["curvature_per_m"] * y**2


def _visible_centreline(scene: dict[str, Any], rut: dict[str, Any], n: int = 400) -> np.ndarray:
    """Pixels of a rut's centreline inside the image where it is at least 1.5 px wide.

    Sampled evenly in 1/Y (even steps down the image on flat ground), first over
    the whole rut to find the visible stretch, then ``n`` points over that stretch
    alone, so a rut entering from the side is sampled as densely as one from the bottom.
    """
    w, h = scene["width"], scene["height"]
    cam = scene["camera"]
    eye = np.array([0, 0, cam["height_m"]])

    def sample(near: float, far: float, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ys = 1.0 / np.linspace(1.0 / near, 1.0 / far, count)
        pts = np.column_stack([rut_centreline_m(scene, rut, ys), ys, np.zeros_like(ys)])
        uv, front = project(scene, pts)
        inside = (
            front & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
        )
        dist = np.linalg.norm(pts - eye, axis=1)
        wide = rut["width_m"] * cam["f_px"] / np.maximum(dist, 1e-6) >= 1.5
        return uv, ys, inside & wide

    uv, ys, keep = sample(max(rut["y_start_m"], 0.05), rut["y_end_m"], 4000)
    if keep.sum() < 2:
        return uv[keep]
    uv, _, keep = sample(float(ys[keep].min()), float(ys[keep].max()), n)
    return uv[keep]


def tread_period_px(scene: dict[str, Any], rut: dict[str, Any], x: float, y: float) -> float:
    """True grouser period in image pixels along ``rut`` where it passes nearest ``(x, y)``.

    The image distance between the rut's centreline points one tread period
    apart on the ground, at the ground distance whose projection is nearest
    the pixel: what :func:`zhurong_tk.tracks.detect_tracks` reports as
    ``tread_period_px`` at a rut's near end.
    """
    ys = np.linspace(max(rut["y_start_m"], 0.05), rut["y_end_m"], 4000)
    ground = np.column_stack([rut_centreline_m(scene, rut, ys), ys, np.zeros_like(ys)])
    uv, _ = project(scene, ground)
    y0 = float(ys[int(np.nanargmin(np.hypot(uv[:, 0] - x, uv[:, 1] - y)))])
    pair = np.array([y0, y0 + rut["tread_period_m"]])
    ends, _ = project(scene, np.column_stack([rut_centreline_m(scene, rut, pair), pair, [0, 0]]))
    return float(np.hypot(*(ends[1] - ends[0])))


def _add_image_truth(scene: dict[str, Any]) -> None:
    w, h = scene["width"], scene["height"]
    cam = scene["camera"]
    r = _rotation(cam)
    k = _intrinsics(cam)
    # vanishing point of the ground direction +Y (meaningful for straight ruts)
    d = k @ (r @ np.array([0.0, 1.0, 0.0]))
    vp = {"x": float(d[0] / d[2]), "y": float(d[1] / d[2])} if abs(d[2]) > 1e-9 else None
    # horizon: image of the ground plane's line at infinity, evaluated at the image centre column
    n_cam = r @ np.array([0.0, 0.0, 1.0])  # ground normal in camera coords
    line = np.linalg.inv(k).T @ n_cam  # l·(u,v,1) = 0
    horizon_y = float(-(line[0] * w / 2 + line[2]) / line[1]) if abs(line[1]) > 1e-12 else None
    diag = math.hypot(w, h)
    for rut in scene["ruts"]:
        uv = _visible_centreline(scene, rut)
        length = float(np.sum(np.hypot(*np.diff(uv, axis=0).T))) if len(uv) > 1 else 0.0
        rut["points"] = np.round(uv, 2).tolist()
        rut["visible_length_px"] = round(length, 1)
        # shorter glimpses (a rut crossing a corner) are neither required nor false when found
        rut["visible"] = length >= MIN_VISIBLE_LENGTH * diag
        if len(uv) >= 2:
            (x1, y1), (x2, y2) = uv[0], uv[-1]
            rut.update(
                {
                    "x1": float(x1),
                    "y1": float(y1),
                    "x2": float(x2),
                    "y2": float(y2),
                    "angle_deg": float(math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180.0),
                }
            )
    visible = [i for i, rut in enumerate(scene["ruts"]) if rut["visible"]]
    scene["pairs"] = [
        {"ruts": [a, b], "spacing_m": scene["ruts"][b]["offset_m"] - scene["ruts"][a]["offset_m"]}
        for a, b in zip(visible[::2], visible[1::2], strict=False)
        if abs(scene["ruts"][b]["offset_m"] - scene["ruts"][a]["offset_m"] - ZHURONG_TRACK_WIDTH_M)
        < 1e-6
    ]
    straight = scene["curvature_per_m"] == 0.0
    scene["vanishing_point"] = vp if (straight and len(visible) >= 2) else None
    scene["horizon_y"] = horizon_y


def _periodic_noise(rng: np.random.Generator, size: int, slope: float = 1.6) -> np.ndarray:
    """Tileable 1/f^slope noise (spectral synthesis), zero mean, unit variance.

    Periodic by construction, so wrapping it over the ground plane leaves no seam.
    """
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal((size, size))) / radius**slope
    spectrum[0, 0] = 0.0
    noise = np.fft.irfft2(spectrum, s=(size, size))
    return (noise / noise.std()).astype(np.float32)


def render(scene: dict[str, Any]) -> np.ndarray:
    """Render the scene as an ``(height, width, 3)`` uint8 BGR image (before JPEG)."""
    w, h = scene["width"], scene["height"]
    cam = scene["camera"]
    rng = np.random.default_rng([scene["seed"], 3])
    r = _rotation(cam)
    kinv = np.linalg.inv(_intrinsics(cam))
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ kinv.T @ r  # camera → world directions
    dz = rays[..., 2]
    ground = dz < -1e-4
    t = np.where(ground, -cam["height_m"] / np.where(ground, dz, -1.0), np.inf)
    gx = np.where(ground, t * rays[..., 0], 0.0)
    gy = np.where(ground, t * rays[..., 1], 0.0)
    dist = np.where(ground, t * np.linalg.norm(rays, axis=-1), np.inf)

    # Ground texture: value noise tiled in metres, sampled with remap (bilinear).
    tex_size, tex_m = 1024, 8.0
    tex = _periodic_noise(rng, tex_size)
    map_x = ((gx / tex_m) % 1.0 * (tex_size - 1)).astype(np.float32)
    map_y = ((gy / tex_m) % 1.0 * (tex_size - 1)).astype(np.float32)
    albedo = 0.45 + 0.07 * cv2.remap(
        tex, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
    )

    shade = np.zeros_like(albedo)
    for rut in scene["ruts"]:
        xc = rut_centreline_m(scene, rut, gy)
        across = (gx - xc) / (rut["width_m"] / 2)
        along = (gy >= rut["y_start_m"]) & (gy <= rut["y_end_m"])
        floor = np.exp(-(across**4))  # flat-bottomed, soft-edged
        rim = np.exp(-((np.abs(across) - 1.25) ** 2) / 0.05)
        phase = 2 * np.pi * gy / rut["tread_period_m"]
        tread = 0.5 + 0.5 * np.tanh(3 * np.cos(phase))  # grouser marks: near-square wave
        shade += along * (-rut["depth"] * floor * (0.75 + 0.25 * tread) + 0.12 * rim)
    ripples = scene.get("ripples")
    if ripples:
        # wind ripples: parallel ridges across the ground, lit on their sunward flanks
        azimuth = math.radians(ripples["azimuth_deg"])
        along_wave = gx * math.cos(azimuth) + gy * math.sin(azimuth)
        shade += ripples["amplitude"] * np.cos(2 * np.pi * along_wave / ripples["wavelength_m"])
    albedo = albedo + 0.35 * shade

    sun = math.radians(scene["sun_azimuth_deg"])
    sdx, sdy = math.cos(sun), math.sin(sun)
    rocks = rng.uniform([-6, 0.5, 0.03], [6, 20, 0.25], size=(scene["n_rocks"], 3))
    for x, y, radius in rocks:
        d2 = ((gx - x) ** 2 + (gy - y) ** 2) / radius**2
        sh2 = ((gx - x - 1.2 * radius * sdx) ** 2 + (gy - y - 1.2 * radius * sdy) ** 2) / (
            1.3 * radius
        ) ** 2
        albedo = np.where(sh2 < 1, albedo * 0.6, albedo)
        albedo = np.where(
            d2 < 1,
            0.55 + 0.25 * np.sqrt(np.clip(1 - d2, 0, 1)) * ((gx - x) * sdx + (gy - y) * sdy < 0),
            albedo,
        )

    # Distance haze: contrast fades toward the sky's brightness.
    haze = 1.0 - np.exp(-np.where(ground, dist, 1e9) / 25.0)
    sky_level = 0.78
    grey = albedo * (1 - haze) + sky_level * haze
    sky_ramp = np.clip(0.70 + 0.15 * (1 - v / h), 0, 1)
    grey = np.where(ground, grey, sky_ramp)
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), scene["blur_sigma_px"])
    grey = grey + rng.normal(0, scene["noise_sigma"], grey.shape).astype(np.float32)
    tint = np.array([0.78, 0.95, 1.12], np.float32)  # BGR butterscotch
    return np.clip(grey[..., None] * tint * 255 + 0.5, 0, 255).astype(np.uint8)


def write(path: str | os.PathLike[str], scene: dict[str, Any], *, truth: bool = True) -> Path:
    """Render and save; ``.jpg`` uses the scene's JPEG quality. Writes ``<path>.truth.json``."""
    path = Path(path)
    image = render(scene)
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, scene["jpeg_quality"]]
        if path.suffix.lower() in (".jpg", ".jpeg")
        else []
    )
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise ParameterError(f"cv2 cannot encode {path.suffix!r} images")
    path.write_bytes(data.tobytes())
    if truth:
        write_json(truth_path(path), scene, overwrite=True)
    return path


def scene_set(count: int = 50, *, seed: int = 0, width: int = 640, height: int = 480):
    """A seeded mix of rear-camera scenes for scoring a detector.

    Scene ``i`` has 0–4 ruts (two-rut wheel pairs most often) and in about a
    quarter of the scenes the rover steered (curvature up to 0.04 per metre).
    Yields ``(index, scene)``; the same arguments always give the same scenes.
    """
    for i in range(count):
        rng = np.random.default_rng([seed, 1000 + i])
        n_ruts = int(rng.choice([0, 1, 2, 2, 3, 4]))
        curvature = float(rng.choice([0.0, 0.0, 0.0, rng.uniform(-0.04, 0.04)]))
        yield (
            i,
            track_scene(
                width=width,
                height=height,
                n_ruts=n_ruts,
                seed=seed * 100_000 + i,
                curvature_per_m=curvature,
            ),
        )


def encode_like_release(scene: dict[str, Any]) -> np.ndarray:
    """Render and pass through the scene's JPEG quality, as a released image would be."""
    ok, data = cv2.imencode(
        ".jpg", render(scene), [cv2.IMWRITE_JPEG_QUALITY, scene["jpeg_quality"]]
    )
    if not ok:
        raise ParameterError("cv2 cannot encode JPEG")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
