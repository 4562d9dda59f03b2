"""Every figure zhurong-tk draws, built with :class:`matplotlib.figure.Figure` (no pyplot).

Functions return a Figure; :func:`zhurong_tk.io.outputs.save_figure` writes it.
Nothing here touches global matplotlib state, so figures can be made from
worker threads and processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedFormatter,
    FixedLocator,
    LogFormatter,
    NullFormatter,
    NullLocator,
)
from matplotlib.transforms import blended_transform_factory

SEGMENT_COLOURS = {
    "tonal": "#1f77b4",
    "impulsive": "#d62728",
    "broadband": "#ff7f0e",
    "wind-like": "#7f7f7f",
}


def _log_rows(
    freqs: np.ndarray, power: np.ndarray, n_rows: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """Average power onto ``n_rows`` log-spaced frequency rows (bins above the first)."""
    lo, hi = max(freqs[1], 1e-3), freqs[-1]
    edges = np.geomspace(lo, hi, n_rows + 1)
    idx = np.clip(np.searchsorted(edges, freqs[1:], side="right") - 1, 0, n_rows - 1)
    counts = np.bincount(idx, minlength=n_rows).astype(float)
    filled = counts > 0
    # idx is non-decreasing (bins are sorted): sum each row's run of bins with reduceat
    starts = np.searchsorted(idx, np.flatnonzero(filled))
    rows = np.full((power.shape[0], n_rows), np.nan)
    rows[:, filled] = np.add.reduceat(power[:, 1:], starts, axis=1) / counts[filled]
    # empty rows (below the first bins' spacing) repeat the row above them
    for j in range(n_rows - 2, -1, -1):
        if not filled[j]:
            rows[:, j] = rows[:, j + 1]
    return edges, rows


def line_track(line: Any) -> tuple[np.ndarray, np.ndarray]:
    """Times and frequencies to draw a tonal line with, from its ``start_s`` to its
    ``end_s``: its long windows' centres lie up to half a window inside its span, so
    the first and last frequencies are held out to the span's edges."""
    sel = (line.times_s >= line.start_s) & (line.times_s <= line.end_s)
    t, f = line.times_s[sel], line.freqs_hz[sel]
    if len(t) == 0:
        return np.array([line.start_s, line.end_s]), np.array([line.freq_hz, line.freq_hz])
    return (
        np.concatenate([[line.start_s], t, [line.end_s]]),
        np.concatenate([[f[0]], f, [f[-1]]]),
    )


def spectrogram_figure(
    times_s: np.ndarray,
    freqs: np.ndarray,
    power: np.ndarray,
    *,
    segments: Sequence[dict] = (),
    tonal_lines: Sequence[Any] = (),
    log_freq: bool = True,
    title: str = "",
    db_range: float = 80.0,
    units: str = "dB re FS²/Hz",
) -> Figure:
    """Spectrogram (time × frequency, dB colour scale) with segments and tonal lines marked.

    Parameters
    ----------
    times_s, freqs : numpy.ndarray
        Column times and bin frequencies.
    power : numpy.ndarray
        Power density ``(n_columns, n_bins)``.
    segments : list of dict
        ``{"start_s", "end_s", "kind"}`` drawn as coloured bands along the top.
    tonal_lines : list of TonalLine
        Fundamentals and their harmonics drawn over the image.
    log_freq : bool
        Logarithmic frequency axis (default) or linear.
    """
    # fixed margins, not a layout engine: constrained layout measured every tick label's text
    # extent and cost half a second per figure; the sizes here are fixed, so are the margins
    fig = Figure(figsize=(11, 5.2))
    ax = fig.add_axes((0.065, 0.1, 0.835, 0.83))
    colour_ax = fig.add_axes((0.91, 0.1, 0.012, 0.83))
    power = np.asarray(power, np.float32)
    t_edges = _edges(times_s)
    extent_t = (t_edges[0], t_edges[-1])
    # imshow, not pcolormesh: a 2000-column image draws in a fraction of the time. The log
    # axis is drawn in log10(Hz) with frequency tick labels, so the image stays uniform.
    # Bins are reduced to the image's rows before taking dB: no full-size dB copy.
    if log_freq and len(freqs) > 2:
        f_edges, image_power = _log_rows(freqs, power)
        y0, y1 = np.log10(f_edges[0]), np.log10(f_edges[-1])
        to_y = np.log10
        _log_ticks(ax, f_edges[0], f_edges[-1])
    else:
        step = max(1, -(-len(freqs) // 1024))
        usable = (len(freqs) // step) * step
        image_power = power[:, :usable].reshape(power.shape[0], -1, step).max(axis=2)
        y0, y1 = 0.0, float(freqs[usable - 1])
        to_y = np.asarray
    with np.errstate(divide="ignore", invalid="ignore"):
        image = 10 * np.log10(np.maximum(image_power, 1e-30)).T
    top = np.nanpercentile(image, 99.9) if image.size else 0.0
    vmin = max(np.nanpercentile(image, 2) if image.size else -100, top - db_range)
    # colour-mapped here to 8-bit RGBA: matplotlib's float-image path made several float64
    # copies of the image at the figure's pixel size (~80 MB for an hour's spectrogram)
    norm = Normalize(vmin=vmin, vmax=top)
    cmap = colormaps["magma"]
    ax.imshow(
        cmap(norm(image), bytes=True),
        origin="lower",
        aspect="auto",
        extent=(*extent_t, y0, y1),
        interpolation="nearest",
    )
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=colour_ax, label=units)
    for line in tonal_lines:
        t, f = line_track(line)
        numbers = [h.number for h in line.harmonics] or [1]
        for n in numbers:
            ax.plot(
                t,
                to_y(f * n),
                color="#00e5ff",
                lw=1.2 if n == 1 else 0.7,
                ls="-" if n == 1 else "--",
                alpha=0.9,
            )
        ax.annotate(
            f"{line.freq_hz:.1f} Hz",
            (line.start_s, to_y(line.freq_hz)),
            color="#00e5ff",
            fontsize=8,
            xytext=(2, 3),
            textcoords="offset points",
        )
    # one collection per kind, not an artist per segment: an hour holds hundreds of segments
    band = blended_transform_factory(ax.transData, ax.transAxes)
    for kind in dict.fromkeys(s["kind"] for s in segments):
        colour = SEGMENT_COLOURS.get(kind, "white")
        spans = [(s["start_s"], s["end_s"]) for s in segments if s["kind"] == kind]
        starts, ends = np.array(spans).T
        ax.broken_barh(
            list(zip(starts, ends - starts, strict=True)),
            # a gust has a lane of its own under the events': it may hold one
            WIND_LANE if kind == "wind-like" else EVENT_LANE,
            transform=band,
            color=colour,
            alpha=0.95,
            lw=0,
        )
        ax.vlines(starts, 0, 1, transform=band, color=colour, lw=0.6, alpha=0.7)
        ax.vlines(ends, 0, 1, transform=band, color=colour, lw=0.6, alpha=0.7, linestyles=":")
    handles = [
        ax.fill_between([], [], color=c, label=k)
        for k, c in SEGMENT_COLOURS.items()
        if any(s["kind"] == k for s in segments)
    ]
    if handles:
        ax.legend(
            handles=handles,
            loc="lower right",
            fontsize=8,
            framealpha=0.8,
            title="segments",
            title_fontsize=8,
        )
    ax.set_xlim(*extent_t)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(title, fontsize=10)
    return fig


EVENT_LANE = (0.965, 0.035)  # where the segments' bars lie, in axes height (bottom, height)
WIND_LANE = (0.935, 0.025)


def _frequency_ticks(f_lo: float, f_hi: float) -> tuple[list[float], list[str]]:
    """Ticks in 1-2-5 steps between two frequencies, with labels such as "500" and "2k"."""
    ticks = [
        m * 10.0**e
        for e in range(int(np.floor(np.log10(f_lo))), int(np.ceil(np.log10(f_hi))) + 1)
        for m in (1, 2, 5)
        if f_lo <= m * 10.0**e <= f_hi
    ]
    return ticks, [f"{t / 1000:g}k" if t >= 1000 else f"{t:g}" for t in ticks]


def _log_ticks(ax, f_lo: float, f_hi: float) -> None:
    """Frequency labels (1-2-5 steps) on an axis drawn in log10(Hz)."""
    ticks, labels = _frequency_ticks(f_lo, f_hi)
    ax.set_yticks(np.log10(ticks))
    ax.set_yticklabels(labels)


def _plain_log_labels(ax, f_lo: float, f_hi: float) -> None:
    """Plain-text labels on log-log axes: frequencies in 1-2-5 steps, powers of ten as
    "1e-06", no minor ticks on the power axis. matplotlib's default labels are mathtext,
    whose parser costs ~0.3 s to build, and a dozen decades of minor ticks ~0.15 s (a
    third of the audio command's time after its analysis, together)."""
    ticks, labels = _frequency_ticks(f_lo, f_hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FixedFormatter(labels))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))
    ax.yaxis.set_minor_locator(NullLocator())


def _edges(centres: np.ndarray) -> np.ndarray:
    centres = np.asarray(centres, float)
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [[centres[0] - (mid[0] - centres[0])], mid, [centres[-1] + (centres[-1] - mid[-1])]]
    )


def psd_figure(
    freqs: np.ndarray,
    mean: np.ndarray,
    *,
    median: np.ndarray | None = None,
    noise_floor: np.ndarray | None = None,
    slope: dict | None = None,
    title: str = "",
    units: str = "FS²/Hz",
) -> Figure:
    """Welch PSD (mean and median), the noise floor and the fitted power law, log–log."""
    fig = Figure(figsize=(8, 4.8))
    ax = fig.add_axes((0.1, 0.11, 0.87, 0.82))
    sel = freqs > 0
    ax.loglog(freqs[sel], np.maximum(mean[sel], 1e-30), lw=1.0, label="Welch mean")
    if median is not None:
        ax.loglog(
            freqs[sel], np.maximum(median[sel], 1e-30), lw=0.8, alpha=0.8, label="Welch median"
        )
    if noise_floor is not None:
        ax.loglog(
            freqs[sel],
            np.maximum(noise_floor[sel], 1e-30),
            lw=0.8,
            color="0.4",
            ls="--",
            label="noise floor",
        )
    if slope:
        f = np.geomspace(slope["fmin_hz"], slope["fmax_hz"], 50)
        ref = np.exp(np.interp(np.log(f), np.log(freqs[sel]), np.log(np.maximum(mean[sel], 1e-30))))
        anchor = np.exp(np.mean(np.log(ref) - slope["exponent"] * np.log(f)))
        ax.loglog(
            f,
            anchor * f ** slope["exponent"],
            color="k",
            lw=1.0,
            ls=":",
            label=f"fit f^{slope['exponent']:.2f} ({slope['db_per_octave']:.1f} dB/oct)",
        )
    # the limits hold every curve drawn (from the mean alone, a noise floor or median under
    # it was cut off); zeros (digital silence) are left out, and 120 dB under the top at most
    drawn = np.concatenate([c[sel] for c in (mean, median, noise_floor) if c is not None])
    positive = drawn[np.isfinite(drawn) & (drawn > 0)]
    if positive.size:
        ax.set_ylim(max(positive.min(), positive.max() * 1e-12) / 2, positive.max() * 3)
    if sel.any():
        _plain_log_labels(ax, float(freqs[sel][0]), float(freqs[sel][-1]))
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(f"PSD ({units})")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


EVENT_COLOURS = {
    "abrupt_change": "#d62728",
    "flash": "#ff7f0e",
    "hover": "#2ca02c",
    "dust": "#8c564b",
    "recovery": "#17becf",
    "motion": "#9467bd",
}


def video_signals_figure(
    times_s: np.ndarray,
    columns: dict[str, np.ndarray],
    *,
    events: Sequence[dict] = (),
    kept_s: Sequence[float] = (),
    title: str = "",
) -> Figure:
    """Per-frame video signals over time, with events shaded or marked and kept frames ticked.

    ``columns`` holds ``brightness``, ``contrast``, ``sharpness``, ``change`` and
    ``motion`` (and ``motion_area`` when motion was tracked), one value per frame.
    """
    panels = [
        ("brightness / contrast", ("brightness", "contrast"), False),
        ("sharpness (var. of Laplacian)", ("sharpness",), True),
        ("change / motion (grey levels)", ("change", "motion"), False),
    ]
    if "motion_area" in columns:
        panels.append(("moving area (fraction)", ("motion_area",), False))
    fig = Figure(figsize=(10, 1.9 * len(panels) + 0.8))
    height = 0.86 / len(panels)
    axes = []
    for k, (label, names, log) in enumerate(panels):
        ax = fig.add_axes(
            (0.08, 0.08 + (len(panels) - 1 - k) * height, 0.9, height * 0.92),
            sharex=axes[0] if axes else None,
        )
        for name in names:
            values = columns[name]
            ax.plot(times_s, np.maximum(values, 1e-3) if log else values, lw=0.8, label=name)
        if log:
            ax.set_yscale("log")
        elif len(times_s) > 10:
            # one flash must not flatten the rest of the curve
            top = max(np.nanpercentile(np.concatenate([columns[n] for n in names]), 99.5), 1e-3)
            ax.set_ylim(top=1.3 * top)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
        if len(names) > 1:
            ax.legend(fontsize=7, loc="upper right")
        if k < len(panels) - 1:
            ax.tick_params(labelbottom=False)
        axes.append(ax)
    top = axes[0]
    seen: set[str] = set()
    for event in events:
        colour = EVENT_COLOURS.get(event["kind"], "k")
        label = None if event["kind"] in seen else event["kind"]
        seen.add(event["kind"])
        for ax in axes:
            if event["end_s"] - event["start_s"] > 0.2 and event["kind"] in (
                "hover",
                "dust",
                "motion",
            ):
                ax.axvspan(event["start_s"], event["end_s"], color=colour, alpha=0.15, lw=0)
            else:
                ax.axvline(event["time_s"], color=colour, lw=1.0, alpha=0.8)
        trans = blended_transform_factory(top.transData, top.transAxes)
        if label:
            top.text(event["time_s"], 1.02, label, transform=trans, fontsize=7, color=colour)
    if len(kept_s):
        trans = blended_transform_factory(top.transData, top.transAxes)
        top.plot(kept_s, np.full(len(kept_s), 0.97), "v", ms=3, color="k", transform=trans)
    axes[-1].set_xlabel("time (s)")
    if len(times_s):
        axes[-1].set_xlim(times_s[0], times_s[-1] if times_s[-1] > times_s[0] else times_s[0] + 1)
    fig.suptitle(title, fontsize=10, y=0.995)
    return fig
