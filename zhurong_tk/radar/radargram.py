"""Radargrams (B-scans) of Zhurong's RoPeR products: traces, processing, picture."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from zhurong_tk.errors import ParameterError, UnsupportedFormatError
from zhurong_tk.io.outputs import OutputDir, report
from zhurong_tk.io.pds4 import ProductInfo, describe_contents, open_product, read_table
from zhurong_tk.radar import process
from zhurong_tk.telemetry.decode import telemetry_from_product
from zhurong_tk.telemetry.traverse import path_steps

SCHEMA_VERSION = 1
#: The LF channel's effective data lengths (bytes) and their time windows (label text).
LF_WINDOWS_US = {12000: 15.0, 8000: 10.0, 4000: 5.0, 2000: 2.5}
#: Each of them is 10 ns per complex sample (12000 bytes = 1500 samples in 15 µs).
LF_SAMPLE_INTERVAL_NS = 10.0
OUTPUTS = ("report.json", "radargram.png", "traces.npz")


@dataclasses.dataclass
class RadarTraces:
    """A channel's traces and what is known about their axes.

    Attributes
    ----------
    traces : numpy.ndarray
        ``(traces, samples)``, complex64: LF time-domain echoes; HF spectra
        turned into time by an inverse FFT.
    sample_interval_ns : float or None
        None where the product does not say (the HF channel).
    channel : str
        ``"LF"`` or ``"HF"``.
    distance_m : numpy.ndarray
        Each trace's distance along the traverse from the first.
    """

    traces: np.ndarray
    sample_interval_ns: float | None
    channel: str
    distance_m: np.ndarray
    notes: list[str] = dataclasses.field(default_factory=list)
    time: np.ndarray | None = None  # UTC of each trace
    north_m: np.ndarray | None = None  # position in the landing site's frame
    east_m: np.ndarray | None = None
    products: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Processing:
    """The steps of the chain and their parameters; None (or False) skips a step."""

    dewow_samples: int | None = 25
    time_zero: bool = True
    background_traces: int | None = 0  # 0: the mean of all traces
    bandpass_mhz: tuple[float, float] | None = None
    gain: str = "agc"  # "agc", "exp" or "none"
    agc_samples: int = 50
    exp_a_per_ns: float = 0.002
    exp_b: float = 1.0
    permittivity: float = 4.0


def read_traces(product: ProductInfo, *, hf_sample_interval_ns: float | None = None) -> RadarTraces:
    """The radar traces of a RoPeR product (LF: ``ECHO_DATA``; HF: ``Scientific_Data_R/I``).

    Raises
    ------
    UnsupportedFormatError
        No radar traces in the product.
    """
    if not any(s.kind.startswith("Table") for s in product.structures):
        raise UnsupportedFormatError(
            product.label,
            f"not a RoPeR radar product: it holds {describe_contents(product)}, and radargrams"
            " are made from the table of traces a RoPeR LF or HF product holds",
        )
    columns = read_table(product)
    tel = telemetry_from_product(product, columns)
    step = path_steps(tel.columns["x_north_m"], tel.columns["y_east_m"])
    distance = np.concatenate([[0.0], np.cumsum(step)])
    name = product.facts.get("logical_identifier") or os.path.basename(product.label)
    where = (tel.time, tel.columns["x_north_m"], tel.columns["y_east_m"], [name])
    notes = []
    echo = columns.get("Scientific_Data, ECHO_DATA")
    if echo is not None:
        lengths = (
            np.unique(columns["Effective_Data_Length"])
            if "Effective_Data_Length" in (columns)
            else np.array([echo.shape[1] * 4])
        )
        if len(lengths) != 1:
            raise UnsupportedFormatError(product.label, f"traces of mixed lengths {lengths}")
        n = int(lengths[0]) // 8  # bytes of float32 real parts then imaginary parts
        if 2 * n > echo.shape[1] or n < 2:
            raise UnsupportedFormatError(
                product.label, f"Effective_Data_Length {int(lengths[0])} does not fit the traces"
            )
        traces = (echo[:, :n] + 1j * echo[:, n : 2 * n]).astype(np.complex64)
        if int(lengths[0]) not in LF_WINDOWS_US:
            notes.append(
                f"data length {int(lengths[0])} bytes is not one the label documents; "
                f"{LF_SAMPLE_INTERVAL_NS:g} ns per sample assumed"
            )
        return RadarTraces(traces, LF_SAMPLE_INTERVAL_NS, "LF", distance, notes, *where)
    real = columns.get("Scientific_Data, Scientific_Data_R")
    imag = columns.get("Scientific_Data, Scientific_Data_I")
    if real is not None and imag is not None:
        spectrum = real.astype(np.complex64) + 1j * imag.astype(np.complex64)
        # the HF arrays are spectra (bin 0's imaginary part is zero in every record)
        traces = np.fft.ifft(spectrum, axis=1).astype(np.complex64)
        if hf_sample_interval_ns is None:
            notes.append(
                "HF sample interval not in the product: axis in samples (give it to get time"
                " and depth)"
            )
        return RadarTraces(traces, hf_sample_interval_ns, "HF", distance, notes, *where)
    raise UnsupportedFormatError(product.label, "no radar traces (ECHO_DATA or Scientific_Data)")


def run_chain(data: RadarTraces, steps: Processing) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Apply the chain; returns the processed traces and the steps as applied."""
    traces = data.traces.astype(np.complex128)
    applied: list[dict[str, Any]] = []
    dt = data.sample_interval_ns
    if steps.dewow_samples:
        traces = process.dewow(traces, steps.dewow_samples)
        applied.append({"step": "dewow", "window_samples": steps.dewow_samples})
    if steps.time_zero:
        traces, zero = process.align_time_zero(traces, search=traces.shape[1] // 4)
        applied.append(
            {
                "step": "time_zero",
                "method": "strongest sample of the mean trace, refined per trace",
                "zero_samples": zero,
            }
        )
    # where the echoes sink into the noise, measured before any gain lifts the noise
    applied.append({"step": "signal_extent", "samples": process.signal_extent(traces)})
    if steps.background_traces is not None and len(traces) < 2:
        # one trace is its own mean: removing it would leave nothing
        applied.append({"step": "background_removal", "skipped": "a single trace"})
    elif steps.background_traces is not None:
        window = steps.background_traces or None
        traces = process.remove_background(traces, window)
        applied.append({"step": "background_removal", "window_traces": window or "all"})
    if steps.bandpass_mhz is not None:
        if dt is None:
            raise ParameterError("band-pass needs the sample interval, which this channel lacks")
        low, high = steps.bandpass_mhz
        traces = process.bandpass(traces, low * 1e6, high * 1e6, dt * 1e-9)
        applied.append({"step": "bandpass", "low_mhz": low, "high_mhz": high})
    if steps.gain == "agc":
        traces = process.gain_agc(traces, steps.agc_samples)
        applied.append({"step": "gain", "kind": "agc", "window_samples": steps.agc_samples})
    elif steps.gain == "exp":
        times = np.arange(traces.shape[1]) * (dt or 1.0)
        traces = process.gain_exponential(traces, times, steps.exp_a_per_ns, steps.exp_b)
        # without a sample interval the axis is samples: a is applied per sample
        unit = "a_per_ns" if dt else "a_per_sample"
        applied.append({"step": "gain", "kind": "exp", unit: steps.exp_a_per_ns, "b": steps.exp_b})
    elif steps.gain != "none":
        raise ParameterError(f"gain must be agc, exp or none, not {steps.gain!r}")
    return traces, applied


def radargram_figure(
    amplitude: np.ndarray,
    distance_m: np.ndarray,
    sample_interval_ns: float | None,
    permittivity: float,
    *,
    title: str = "",
):
    """The B-scan: distance along the traverse × time (and depth), amplitude in dB."""
    from matplotlib.figure import Figure

    n_traces, n_samples = amplitude.shape
    db = 20 * np.log10(np.maximum(amplitude, amplitude.max() * 1e-6 + 1e-30) / amplitude.max())
    y = np.arange(n_samples + 1) * (sample_interval_ns or 1.0)
    x = _edges(distance_m) if np.ptp(distance_m) > 0 else np.arange(n_traces + 1)
    fig = Figure(figsize=(10, 5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(x, y, db.T, cmap="gray", vmin=-60, vmax=0, shading="flat")
    ax.invert_yaxis()
    ax.set_xlabel("distance along the traverse [m]" if np.ptp(distance_m) > 0 else "trace")
    ax.set_ylabel("two-way time [ns]" if sample_interval_ns else "sample")
    if sample_interval_ns:
        scale = process.depth_axis(1.0, permittivity)
        depth = ax.secondary_yaxis("right", functions=(lambda t: t * scale, lambda d: d / scale))
        depth.set_ylabel(f"depth [m] at ε_r = {permittivity:g}")
    fig.colorbar(mesh, ax=ax, label="amplitude [dB]", pad=0.08)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around increasing positions (duplicates spread a little)."""
    c = np.maximum.accumulate(np.asarray(centres, dtype=np.float64))
    c = c + np.arange(len(c)) * 1e-6  # a rover standing still: distinct cells
    mid = (c[1:] + c[:-1]) / 2 if len(c) > 1 else np.array([])
    first = c[0] - (mid[0] - c[0] if len(mid) else 0.5)
    last = c[-1] + (c[-1] - mid[-1] if len(mid) else 0.5)
    return np.concatenate([[first], mid, [last]])


def radargram_to_folder(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    steps: Processing | None = None,
    hf_sample_interval_ns: float | None = None,
    show_all: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Read a product's traces, process them, write radargram.png, traces.npz, report.json.

    The picture shows the traces down to half again the depth where the echoes
    sink into the noise (``show_all``: the whole window); ``traces.npz`` holds
    them all.
    """
    steps = steps or Processing()
    out = OutputDir(out_dir, overwrite=overwrite)
    out.check_free(*OUTPUTS)
    product = open_product(path)
    data = read_traces(product, hf_sample_interval_ns=hf_sample_interval_ns)
    doc = report(
        "radar.radargram",
        SCHEMA_VERSION,
        product=product.label,
        logical_identifier=data.products[0],
        **_write_channel(out, data, steps, show_all, ""),
    )
    out.json("report.json", doc)
    out.finish("radar radargram")
    return doc


def merge_traces(parts: list[RadarTraces]) -> RadarTraces:
    """Traces of one channel from several products as one section along the traverse:
    products in time order, cut to the shortest trace, distance measured along the
    joined path."""
    if not parts or len({(p.channel, p.sample_interval_ns) for p in parts}) != 1:
        raise ParameterError("traces to merge must be of one channel and one sample interval")
    parts = sorted(parts, key=lambda p: p.time[0] if p.time is not None else 0)
    samples = min(p.traces.shape[1] for p in parts)
    north = np.concatenate([p.north_m for p in parts])
    east = np.concatenate([p.east_m for p in parts])
    step = np.nan_to_num(np.hypot(np.diff(north), np.diff(east)))
    return RadarTraces(
        traces=np.concatenate([p.traces[:, :samples] for p in parts]),
        sample_interval_ns=parts[0].sample_interval_ns,
        channel=parts[0].channel,
        distance_m=np.concatenate([[0.0], np.cumsum(step)]),
        notes=[n for p in parts for n in p.notes],
        time=np.concatenate([p.time for p in parts]),
        north_m=north,
        east_m=east,
        products=[name for p in parts for name in p.products],
    )


def radargrams_along_traverse(
    paths: list[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    steps: Processing | None = None,
    hf_sample_interval_ns: float | None = None,
    show_all: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """One radargram per channel over all products (in time order along the traverse):
    ``radargram_LF.png``, ``traces_LF.npz`` (and HF), and one ``report.json``.

    A product that cannot be read is listed in the report's ``failed``; the
    others are used.

    Raises
    ------
    MediaReadError
        No product could be read.
    """
    from zhurong_tk.errors import MediaReadError, ZhurongError
    from zhurong_tk.io.pds4 import collect_labels

    steps = steps or Processing()
    out = OutputDir(out_dir, overwrite=overwrite)
    by_channel: dict[str, list[RadarTraces]] = {}
    labels, failed = collect_labels(paths)
    for label in labels:
        try:
            data = read_traces(open_product(label), hf_sample_interval_ns=hf_sample_interval_ns)
        except ZhurongError as exc:
            failed.append({"path": str(label), "error": str(exc)})
            continue
        by_channel.setdefault(data.channel, []).append(data)
    if not by_channel:
        reasons = "; ".join(f["error"] for f in failed) or "no PDS4 labels found"
        raise MediaReadError(", ".join(map(str, paths)), f"no radar traces read ({reasons})")
    names = [
        f"{kind}_{c}.{ext}"
        for c in by_channel
        for kind, ext in (("radargram", "png"), ("traces", "npz"))
    ]
    out.check_free("report.json", *names)
    channels = {}
    first_error: ZhurongError | None = None
    for channel, parts in sorted(by_channel.items()):
        merged = merge_traces(parts)
        try:  # the processing is checked before the channel's files are written
            written = _write_channel(out, merged, steps, show_all, f"_{channel}")
        except ZhurongError as exc:  # e.g. a band-pass above this channel's Nyquist
            failed.append({"path": f"{channel} channel", "error": f"{channel} channel: {exc}"})
            first_error = first_error or exc
            continue
        channels[channel] = {"products": merged.products, **written}
    if not channels and first_error is not None:
        raise first_error
    doc = report("radar.radargram", SCHEMA_VERSION, channels=channels, failed=failed)
    out.json("report.json", doc)
    out.finish("radar radargram")
    return doc


def _write_channel(
    out: OutputDir, data: RadarTraces, steps: Processing, show_all: bool, suffix: str
) -> dict[str, Any]:
    """Process one channel's traces and write its picture and arrays; the report's part."""
    traces, applied = run_chain(data, steps)
    amplitude = np.abs(traces).astype(np.float32)
    dt = data.sample_interval_ns
    extent = next(s["samples"] for s in applied if s["step"] == "signal_extent")
    shown = amplitude.shape[1] if show_all else min(amplitude.shape[1], round(extent * 1.5) + 10)
    times = np.arange(amplitude.shape[1]) * dt if dt else None
    depth = process.depth_axis(times, steps.permittivity) if times is not None else None
    what = data.products[0] if len(data.products) == 1 else f"{len(data.products)} products"
    title = f"{what}\n{data.channel} channel · " + ", ".join(s["step"] for s in applied)
    picture, arrays = f"radargram{suffix}.png", f"traces{suffix}.npz"
    out.figure(
        picture,
        radargram_figure(
            amplitude[:, :shown], data.distance_m, dt, steps.permittivity, title=title
        ),
    )
    with out.atomic(arrays) as tmp, open(tmp, "wb") as fh:
        # time only where the interval is known: sample numbers under "time_ns" read as ns
        axes = {"sample": np.arange(amplitude.shape[1])}
        if times is not None:
            axes["time_ns"] = times
        np.savez_compressed(fh, amplitude=amplitude, distance_m=data.distance_m, **axes)
    return {
        "channel": data.channel,
        "traces": int(amplitude.shape[0]),
        "samples": int(amplitude.shape[1]),
        "sample_interval_ns": dt,
        "permittivity": steps.permittivity,
        "max_depth_m": float(depth[-1]) if depth is not None else None,
        "distance_m": float(data.distance_m[-1]),
        "processing": applied,
        "strongest_reflection_samples": _strongest_below_surface(amplitude),
        "signal_extent_samples": extent,
        "shown_samples": shown,
        "notes": data.notes,
        "outputs": ["report.json", picture, arrays],
    }


def _strongest_below_surface(amplitude: np.ndarray, skip: int = 5) -> list[int]:
    """Per trace, the sample of the strongest amplitude past the first few (the surface)."""
    return (amplitude[:, skip:].argmax(axis=1) + skip).tolist()
