"""Egress-like rover audio: wind, motor tones, wheel friction and clanks.

The default scene follows Zhurong's drive-off of 2021-05-22 as the Mars
Climate Station heard it: wind throughout; the drive motors powering up (a
tonal segment with harmonics); the pinion on the ramp's rack (a train of
metallic clanks); wheels on the ramp (broadband friction); wheels on the
ground (motor tone again, lower, with friction).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy import signal

from zhurong_tk.errors import ParameterError
from zhurong_tk.io.outputs import write_json

SCENE_SCHEMA = "zhurong-tk/synth.audio/1"
FADE_S = 0.05  # raised-cosine ramps at segment edges, so onsets are not clicks


def egress_scene(*, duration_s: float = 40.0, seed: int = 0) -> dict[str, Any]:
    """Ground truth of an egress-like recording.

    Parameters
    ----------
    duration_s : float
        Length in seconds (at least 10). The event schedule is laid out for
        40 s and scaled to the duration.
    seed : int
        Seed of the noise sources and the small random variations.

    Returns
    -------
    dict
        ``{"schema", "duration_s", "seed", "wind": {...}, "segments": [...],
        "impulses": [...]}``. Each segment has ``start_s``, ``end_s``,
        ``kind`` (``"tonal"``, ``"broadband"``, ``"impulsive"``) and its
        parameters (``f0_hz``/``f1_hz`` and ``harmonics`` for tones, band
        edges for friction, ``period_s`` for clank trains).
    """
    if not duration_s >= 10.0:
        raise ParameterError(f"duration_s must be at least 10 s, got {duration_s}")
    rng = np.random.default_rng(seed)
    k = duration_s / 40.0
    jitter = lambda scale: float(rng.uniform(-scale, scale))  # noqa: E731

    motor_f0 = round(118.0 + jitter(6.0), 2)
    ground_f0 = round(93.0 + jitter(5.0), 2)
    clank_start, clank_end, clank_period = 12.0 * k, 16.0 * k, round(0.45 + jitter(0.05), 3)
    impulses = [
        {"time_s": round(t, 4), "level_dbfs": -14.0}
        for t in np.arange(clank_start + 0.1, clank_end - 0.05, clank_period)
    ]
    segments = [
        {
            "kind": "tonal",
            "label": "drive motors power up",
            "start_s": round(5.0 * k, 3),
            "end_s": round(11.0 * k, 3),
            "f0_hz": motor_f0,
            "f1_hz": round(motor_f0 + 2.0, 2),
            "harmonics": [1, 2, 3, 4],
            "harmonic_levels_db": [0.0, -4.0, -8.0, -12.0],
            "level_dbfs": -26.0,
        },
        {
            "kind": "impulsive",
            "label": "pinion on the ramp rack",
            "start_s": round(impulses[0]["time_s"], 3),
            "end_s": round(impulses[-1]["time_s"] + 0.15, 3),
            "period_s": clank_period,
            "n_impulses": len(impulses),
            "level_dbfs": -14.0,
        },
        {
            "kind": "broadband",
            "label": "wheels on the ramp",
            "start_s": round(18.0 * k, 3),
            "end_s": round(26.0 * k, 3),
            "band_hz": [400.0, 4000.0],
            "level_dbfs": -30.0,
        },
        {
            "kind": "tonal",
            "label": "wheels on the ground (motors)",
            "start_s": round(28.0 * k, 3),
            "end_s": round(36.0 * k, 3),
            "f0_hz": ground_f0,
            "f1_hz": ground_f0,
            "harmonics": [1, 2, 3],
            "harmonic_levels_db": [0.0, -3.0, -9.0],
            "level_dbfs": -28.0,
        },
    ]
    return {
        "schema": SCENE_SCHEMA,
        "duration_s": float(duration_s),
        "seed": int(seed),
        "wind": {
            "level_dbfs": -40.0,
            "cutoff_hz": 250.0,
            "gust_depth_db": 8.0,
            "gust_period_s": 4.0,
        },
        "segments": segments,
        "impulses": impulses,
    }


def tone_in_wind_scene(
    *,
    f0_hz: float = 84.0,
    harmonics: tuple[int, ...] = (1, 2),
    snr_db: float = -10.0,
    duration_s: float = 20.0,
    start_s: float = 4.0,
    end_s: float = 16.0,
    seed: int = 0,
) -> dict[str, Any]:
    """A steady tone with harmonics buried ``-snr_db`` dB under wind (Ingenuity's 84 Hz case).

    ``snr_db`` is the tone's total power relative to the wind's, over the full band.
    """
    wind_db = -30.0
    return {
        "schema": SCENE_SCHEMA,
        "duration_s": float(duration_s),
        "seed": int(seed),
        "wind": {
            "level_dbfs": wind_db,
            "cutoff_hz": 250.0,
            "gust_depth_db": 4.0,
            "gust_period_s": 5.0,
        },
        "segments": [
            {
                "kind": "tonal",
                "label": "rotor blade-passing tone",
                "start_s": float(start_s),
                "end_s": float(end_s),
                "f0_hz": float(f0_hz),
                "f1_hz": float(f0_hz),
                "harmonics": list(harmonics),
                "harmonic_levels_db": [0.0] * len(harmonics),
                "level_dbfs": wind_db + snr_db,
            }
        ],
        "impulses": [],
    }


#: Sample rates :func:`random_scene` draws from
RANDOM_RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000, 100_000)


def random_scene(seed: int) -> dict[str, Any]:
    """A random egress-like recording's ground truth: 2-5 events one after another.

    Wind of -50 to -30 dBFS (low-pass at 150-400 Hz, gusts of 2-10 dB); each event a
    tone (40-600 Hz, 1-5 harmonics falling ~3 dB each, sometimes drifting up to 3 Hz,
    3-18 dB above the wind in the octave around its fundamental), friction (a band of
    noise from 200-2000 Hz up 1-3 octaves, 12 dB under to 8 dB over the wind's level) or
    a clank train (0.15-1 s apart, clanks 5-30 dB over the wind's level); 1.5-5 s of wind
    between them. The scene is :func:`egress_scene`'s format, with ``"samplerate"`` to
    render it at. The events are fair: each lifts the spectrum somewhere clearly; none
    overlap (see :func:`layered_scene` for events that do).
    """
    rng = np.random.default_rng(seed)
    sr = int(rng.choice(RANDOM_RATES))
    wind = _random_wind(rng)
    t = float(rng.uniform(1.5, 4.0))
    segments: list[dict[str, Any]] = []
    impulses: list[dict[str, Any]] = []
    for _ in range(int(rng.integers(2, 6))):
        kind = str(rng.choice(["tonal", "broadband", "impulsive"]))
        if kind == "tonal":
            seconds = float(rng.uniform(1.5, 10))
            f0 = float(np.exp(rng.uniform(np.log(40), np.log(600))))
            under_db = _wind_band_dbfs(wind, f0 / np.sqrt(2), f0 * np.sqrt(2), sr)
            event = _random_tone(rng, t, seconds, f0, under_db, wind["level_dbfs"])
        elif kind == "broadband":
            seconds = float(rng.uniform(1.5, 8))
            lo = float(np.exp(rng.uniform(np.log(200), np.log(2000))))
            event = _random_friction(rng, t, seconds, lo, sr, wind["level_dbfs"])
        else:
            seconds = float(rng.uniform(2, 8))
            event, times = _random_train(rng, t, seconds, wind["level_dbfs"])
            if event is None:
                continue
            impulses += [{"time_s": x, "level_dbfs": event["level_dbfs"]} for x in times]
            seconds = times[-1] + 0.15 - t
        segments.append(event)
        t += seconds
        t += float(rng.uniform(1.5, 5))
    return _scene(rng, seed, sr, wind, segments, impulses, end_s=t)


def layered_scene(seed: int) -> dict[str, Any]:
    """A random egress-like recording whose events overlap: 2-3 pairs, one after another.

    Each pair is a long event (a motor's tone or friction, 6-12 s) and another of a
    different kind sounding with it for 2-5 s, inside it or running on past its end
    (as the rover's motors hum while its wheels grind and its pinion clanks). Over a tone,
    friction lies in a band from 1.5 times the tone's top harmonic up, and clanks ring
    at 1.9-4.7 kHz; over friction, a tone lies under the band or 3-18 dB above it in its
    own octave. Every edge of a pair is at least 1 s from the pair's other edges, so each
    event can be told by its edges. Levels, wind and rates as in :func:`random_scene`;
    the same format.
    """
    rng = np.random.default_rng([seed, 7])
    sr = int(rng.choice(RANDOM_RATES))
    wind = _random_wind(rng)
    wind_db = wind["level_dbfs"]
    t = float(rng.uniform(1.5, 4.0))
    segments: list[dict[str, Any]] = []
    impulses: list[dict[str, Any]] = []
    for _ in range(int(rng.integers(2, 4))):
        host_kind = str(rng.choice(["tonal", "broadband"]))
        host_s = float(rng.uniform(6, 12))
        guest_s = float(rng.uniform(2.0, min(5.0, host_s - 3.0)))
        if rng.random() < 0.7:  # inside the host, 1 s clear of its edges
            guest_t = t + float(rng.uniform(1.0, host_s - 1.0 - guest_s))
        else:  # from inside the host to past its end
            guest_t = t + host_s - guest_s + float(rng.uniform(1.0, guest_s - 1.0))
        if host_kind == "tonal":
            f0 = float(np.exp(rng.uniform(np.log(40), np.log(300))))
            under_db = _wind_band_dbfs(wind, f0 / np.sqrt(2), f0 * np.sqrt(2), sr)
            host = _random_tone(rng, t, host_s, f0, under_db, wind_db)
            guest_kind = str(rng.choice(["broadband", "impulsive"]))
            top_hz = max(host["f0_hz"], host["f1_hz"]) * host["harmonics"][-1]
            lo_min = max(200.0, 1.5 * top_hz)
        else:
            lo = float(np.exp(rng.uniform(np.log(300), np.log(2000))))
            host = _random_friction(rng, t, host_s, lo, sr, wind_db)
            guest_kind = str(rng.choice(["tonal", "impulsive"]))
        if guest_kind == "broadband":
            lo = float(np.exp(rng.uniform(np.log(lo_min), np.log(max(2 * lo_min, 2000)))))
            guest = _random_friction(rng, guest_t, guest_s, lo, sr, wind_db)
        elif guest_kind == "tonal":
            f0 = float(np.exp(rng.uniform(np.log(40), np.log(600))))
            under_db = max(
                _wind_band_dbfs(wind, f0 / np.sqrt(2), f0 * np.sqrt(2), sr),
                _friction_band_dbfs(host, f0 / np.sqrt(2), f0 * np.sqrt(2)),
            )
            guest = _random_tone(rng, guest_t, guest_s, f0, under_db, wind_db)
        else:
            over_db = wind_db if host_kind == "tonal" else max(wind_db, host["level_dbfs"])
            guest, times = _random_train(rng, guest_t, guest_s, over_db)
            if guest is None:
                continue
        pair = sorted([host, guest], key=lambda event: event["start_s"])
        edges = sorted(e[k] for e in pair for k in ("start_s", "end_s"))
        if min(np.diff(edges)) < 1.0:
            continue  # a train cut to its clanks can end near the host's end
        if guest["kind"] == "impulsive":
            impulses += [{"time_s": x, "level_dbfs": guest["level_dbfs"]} for x in times]
        segments += pair
        t = edges[-1] + float(rng.uniform(1.5, 5))
    return _scene(rng, seed, sr, wind, segments, impulses, end_s=t)


def _scene(rng, seed, sr, wind, segments, impulses, *, end_s) -> dict[str, Any]:
    """A random scene's truth: its events, ending 1.5-4 s of wind after ``end_s``."""
    return {
        "schema": SCENE_SCHEMA,
        "duration_s": round(end_s + float(rng.uniform(1.5, 4)), 3),
        "seed": int(seed),
        "samplerate": sr,
        "wind": wind,
        "segments": segments,
        "impulses": impulses,
    }


def _random_wind(rng: np.random.Generator) -> dict[str, float]:
    return {
        "level_dbfs": float(rng.uniform(-50, -30)),
        "cutoff_hz": float(rng.uniform(150, 400)),
        "gust_depth_db": float(rng.uniform(2, 10)),
        "gust_period_s": float(rng.uniform(2, 8)),
    }


def _random_tone(
    rng: np.random.Generator, t: float, seconds: float, f0: float, under_db: float, wind_db: float
) -> dict[str, Any]:
    """A motor's tone at ``f0`` from ``t``, 3-18 dB over ``under_db`` (what else sounds in
    its octave), and no quieter than 25 dB under the wind."""
    f1 = f0 + (float(rng.uniform(-3, 3)) if rng.random() < 0.3 else 0.0)
    count = int(rng.integers(1, 6))
    levels = [0.0] + [float(-3 * i - rng.uniform(0, 3)) for i in range(1, count)]
    level = max(under_db + rng.uniform(3, 18), wind_db - 25 + rng.uniform(0, 10))
    return {
        "kind": "tonal",
        "start_s": round(t, 3),
        "end_s": round(t + seconds, 3),
        "f0_hz": round(f0, 2),
        "f1_hz": round(f1, 2),
        "harmonics": list(range(1, count + 1)),
        "harmonic_levels_db": levels,
        "level_dbfs": float(level),
    }


def _random_friction(
    rng: np.random.Generator, t: float, seconds: float, lo: float, sr: int, wind_db: float
) -> dict[str, Any]:
    """Friction from ``t``: noise from ``lo`` up 1-3 octaves, 12 dB under to 8 dB over
    the wind's level."""
    hi = min(lo * float(rng.uniform(2, 10)), 0.44 * sr)
    return {
        "kind": "broadband",
        "start_s": round(t, 3),
        "end_s": round(t + seconds, 3),
        "band_hz": [lo, hi],
        "level_dbfs": wind_db + float(rng.uniform(-12, 8)),
    }


def _random_train(
    rng: np.random.Generator, t: float, seconds: float, over_db: float
) -> tuple[dict[str, Any] | None, list[float]]:
    """A clank train from ``t`` over about ``seconds``, clanks 5-30 dB over ``over_db``;
    None when fewer than three clanks fit."""
    period = float(rng.uniform(0.15, 1.0))
    level = over_db + float(rng.uniform(5, 30))
    times = [round(float(x), 4) for x in np.arange(t + 0.1, t + seconds - 0.05, period)]
    if len(times) < 3:
        return None, times
    event = {
        "kind": "impulsive",
        "start_s": round(times[0], 3),
        "end_s": round(times[-1] + 0.15, 3),
        "period_s": period,
        "n_impulses": len(times),
        "level_dbfs": level,
    }
    return event, times


def _friction_band_dbfs(friction: dict[str, Any], lo_hz: float, hi_hz: float) -> float:
    """Friction's level in ``lo_hz..hi_hz`` (dBFS): its share of its flat band."""
    lo, hi = friction["band_hz"]
    share = max(0.0, min(hi, hi_hz) - max(lo, lo_hz)) / (hi - lo)
    return float(friction["level_dbfs"] + 10.0 * np.log10(share + 1e-30))


def _wind_band_dbfs(wind: dict[str, Any], lo_hz: float, hi_hz: float, sr: int) -> float:
    """The wind's level in ``lo_hz..hi_hz`` (dBFS): its 2nd-order low-pass's power there."""
    cutoff = min(wind["cutoff_hz"], 0.45 * sr)
    enbw = cutoff * (np.pi / 4) / np.sin(np.pi / 4)
    f = np.linspace(max(lo_hz, 1.0), min(hi_hz, sr / 2), 400)
    gain = 1.0 / (1.0 + (f / cutoff) ** 4)
    power = 10.0 ** (wind["level_dbfs"] / 10.0) / enbw * np.trapezoid(gain, f)
    return float(10.0 * np.log10(power + 1e-30))


def _db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def render(
    scene: dict[str, Any], *, sr: int = 48_000, block_frames: int = 1 << 18
) -> Iterator[np.ndarray]:
    """Render a scene as float32 mono blocks, streaming (memory independent of duration).

    Parameters
    ----------
    scene : dict
        From :func:`egress_scene` or :func:`tone_in_wind_scene`.
    sr : int
        Sample rate in Hz (8 kHz to 192 kHz).
    block_frames : int
        Frames per yielded block.

    Yields
    ------
    numpy.ndarray
        float32, shape ``(n,)``. Concatenated, the blocks are the recording;
        the result does not depend on ``block_frames``.
    """
    if not 8_000 <= sr <= 192_000:
        raise ParameterError(f"sr must be 8000..192000 Hz, got {sr}")
    total = round(scene["duration_s"] * sr)
    seed = scene["seed"]
    wind = scene["wind"]
    nyq = sr / 2

    # Noise sources: one generator and one filter state each, carried across blocks.
    wind_rng = np.random.default_rng([seed, 1])
    wind_cutoff = min(wind["cutoff_hz"], 0.45 * sr)
    wind_sos = signal.butter(2, wind_cutoff / nyq, output="sos")
    wind_zi = np.zeros((wind_sos.shape[0], 2))
    # Unit-variance white noise through the low-pass keeps ENBW/nyq of its power; an
    # order-n Butterworth's noise bandwidth is fc·(π/2n)/sin(π/2n) (1.11·fc for n = 2).
    enbw = wind_cutoff * (np.pi / 4) / np.sin(np.pi / 4)
    # Gust envelope: smooth random walk in dB with control points every gust_period/4.
    ctrl_dt = wind["gust_period_s"] / 4
    n_ctrl = int(np.ceil(scene["duration_s"] / ctrl_dt)) + 2
    ctrl = np.random.default_rng([seed, 2]).normal(0.0, 1.0, n_ctrl)
    ctrl = signal.lfilter([0.3], [1, -0.7], ctrl)
    gust_sigma_db = wind["gust_depth_db"] / 2
    ctrl *= gust_sigma_db / (np.std(ctrl) + 1e-12)
    ctrl -= np.mean(ctrl)
    # Lognormal gusts raise the mean power by exp((σ·ln10/10)²/2): divide it out so
    # that the wind's long-term level is the scene's level_dbfs.
    gust_power_gain = np.exp((gust_sigma_db * np.log(10) / 10) ** 2 / 2)
    wind_gain = _db_to_amp(wind["level_dbfs"]) / np.sqrt(enbw / nyq * gust_power_gain)

    friction = [s for s in scene["segments"] if s["kind"] == "broadband"]
    fr_state = []
    for i, seg in enumerate(friction):
        lo, hi = seg["band_hz"]
        hi = min(hi, 0.45 * sr)
        sos = signal.butter(4, [lo / nyq, hi / nyq], btype="band", output="sos")
        # order-4 band-pass: noise bandwidth ≈ (hi - lo)·(π/8)/sin(π/8)
        gain = _db_to_amp(seg["level_dbfs"]) / np.sqrt(
            (hi - lo) * (np.pi / 8) / np.sin(np.pi / 8) / nyq
        )
        fr_state.append(
            [np.random.default_rng([seed, 10 + i]), sos, np.zeros((sos.shape[0], 2)), gain]
        )

    tones = [s for s in scene["segments"] if s["kind"] == "tonal"]
    impulses = scene["impulses"]
    clank_modes = [(1850.0, 0.030), (3120.0, 0.022), (4700.0, 0.015)]

    start = 0
    while start < total:
        n = min(block_frames, total - start)
        t = (start + np.arange(n)) / sr
        # float64 inside the block for phase accuracy, float32 out
        w, wind_zi = signal.sosfilt(wind_sos, wind_rng.standard_normal(n), zi=wind_zi)
        gust_db = np.interp(t / ctrl_dt, np.arange(n_ctrl), ctrl)
        out = w * wind_gain * 10.0 ** (gust_db / 20.0)
        for state, seg in zip(fr_state, friction, strict=True):
            rng, sos, zi, gain = state
            x, state[2] = signal.sosfilt(sos, rng.standard_normal(n), zi=zi)
            env = _segment_envelope(t, seg["start_s"], seg["end_s"])
            if env is not None:
                out += gain * x * env
        for seg in tones:
            env = _segment_envelope(t, seg["start_s"], seg["end_s"])
            if env is None:
                continue
            out += env * _tone(t, seg, nyq)
        for imp in impulses:
            t0 = imp["time_s"]
            if t0 > t[-1] or t0 + 0.2 < t[0]:
                continue
            tau = t - t0
            mask = (tau >= 0) & (tau < 0.2)
            amp = _db_to_amp(imp["level_dbfs"])
            for f, decay in clank_modes:
                if f < 0.45 * sr:
                    out[mask] += (
                        amp * np.exp(-tau[mask] / decay) * np.sin(2 * np.pi * f * tau[mask])
                    )
        yield out.astype(np.float32)
        start += n


def _segment_envelope(t: np.ndarray, t0: float, t1: float) -> np.ndarray | None:
    if t[-1] < t0 or t[0] > t1:
        return None
    env = np.clip(np.minimum(t - t0, t1 - t) / FADE_S, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * env)


def _tone(t: np.ndarray, seg: dict[str, Any], nyq: float) -> np.ndarray:
    """Harmonic tone with linear frequency drift, phase-continuous by construction."""
    dur = seg["end_s"] - seg["start_s"]
    tau = t - seg["start_s"]
    f0, f1 = seg["f0_hz"], seg["f1_hz"]
    phase = 2 * np.pi * (f0 * tau + 0.5 * (f1 - f0) / dur * tau**2)
    levels = np.array([_db_to_amp(db) for db in seg["harmonic_levels_db"]])
    levels *= (
        _db_to_amp(seg["level_dbfs"]) * np.sqrt(2) / np.sqrt(np.sum(levels**2))
    )  # total RMS = level
    out = np.zeros_like(t)
    for h, a in zip(seg["harmonics"], levels, strict=True):
        if h * max(f0, f1) < nyq:
            out += a * np.sin(h * phase)
    return out


def write(
    path: str | os.PathLike[str],
    scene: dict[str, Any],
    *,
    sr: int = 48_000,
    subtype: str | None = None,
    channels: int = 1,
    truth: bool = True,
) -> Path:
    """Render ``scene`` to an audio file, streaming; write ``<path>.truth.json`` beside it.

    The format follows the suffix: ``.wav``/``.flac``/``.ogg`` through
    soundfile; ``.m4a``/``.mp4``/``.mkv`` as AAC through PyAV (the path
    space-agency releases take). ``channels > 1`` duplicates the signal
    (nearly identical channels, like the published M4A clips).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    blocks = render(scene, sr=sr)
    if suffix in (".m4a", ".mp4", ".mkv", ".mov"):
        _write_aac(path, blocks, sr=sr, channels=channels)
    else:
        with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype=subtype) as fh:
            for block in blocks:
                fh.write(np.repeat(block[:, None], channels, axis=1) if channels > 1 else block)
    if truth:
        write_json(
            truth_path(path), {**scene, "samplerate": sr, "channels": channels}, overwrite=True
        )
    return path


def truth_path(path: str | os.PathLike[str]) -> Path:
    """Where the ground truth of a generated file is written: ``<file>.truth.json``."""
    p = Path(path)
    return p.with_name(p.name + ".truth.json")


def _write_aac(path: Path, blocks: Iterator[np.ndarray], *, sr: int, channels: int) -> None:
    from zhurong_tk.io._ffmpeg import av

    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=sr, layout=layout)
        stream.bit_rate = 128_000
        pts = 0
        for block in blocks:
            data = np.repeat(block[None, :], channels, axis=0) if channels > 1 else block[None, :]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data, dtype=np.float32), format="fltp", layout=layout
            )
            frame.sample_rate = sr
            frame.pts = pts
            pts += data.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
