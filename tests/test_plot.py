from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from zhurong_tk import plot


def test_log_rows_average_the_bins_of_each_row(rng):
    freqs = np.linspace(0, 24_000, 2049)
    power = rng.random((30, 2049))
    edges, rows = plot._log_rows(freqs, power, 300)
    idx = np.clip(np.searchsorted(edges, freqs[1:], side="right") - 1, 0, 299)
    sums = np.zeros((30, 300))
    np.add.at(sums.T, idx, power[:, 1:].T)
    counts = np.bincount(idx, minlength=300)
    filled = counts > 0
    np.testing.assert_allclose(rows[:, filled], sums[:, filled] / counts[filled])
    assert not np.isnan(rows).any()  # empty low rows repeat the row above


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_spectrogram_marks_segments_and_has_a_colour_bar(rng):
    times = np.arange(100) * 0.1
    freqs = np.linspace(0, 8000, 513)
    power = rng.random((100, 513)) * 1e-6
    segments = [
        {"start_s": 2.0, "end_s": 4.0, "kind": "tonal"},
        {"start_s": 6.0, "end_s": 6.5, "kind": "impulsive"},
    ]
    for log_freq in (True, False):
        fig = plot.spectrogram_figure(
            times, freqs, power, segments=segments, log_freq=log_freq, title="t"
        )
        axes = fig.axes
        assert len(axes) == 2  # the spectrogram and its colour bar
        assert axes[1].get_ylabel() == "dB re FS²/Hz"
        assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["tonal", "impulsive"]
        assert _render(fig)[:4] == b"\x89PNG"


def test_psd_figure_draws_every_curve(rng):
    freqs = np.linspace(0, 8000, 257)
    psd = 1e-3 / np.maximum(freqs, 1.0)
    slope = {"exponent": -1.0, "db_per_octave": -3.0, "fmin_hz": 20.0, "fmax_hz": 7000.0}
    fig = plot.psd_figure(freqs, psd, median=psd * 0.8, noise_floor=psd * 0.1, slope=slope)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["Welch mean", "Welch median", "noise floor", "fit f^-1.00 (-3.0 dB/oct)"]


def test_psd_figure_labels_its_log_axes_in_plain_text(rng):
    # matplotlib's default log labels are mathtext ("$\mathdefault{10^{-6}}$"), whose parser
    # costs ~0.3 s to build: frequencies in 1-2-5 steps and powers as "1e-06" instead
    freqs = np.linspace(0, 8000, 257)
    psd = 1e-3 / np.maximum(freqs, 1.0) ** 2
    fig = plot.psd_figure(freqs, psd)
    fig.savefig(io.BytesIO(), format="png")
    ax = fig.axes[0]
    x_labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    y_labels = [t.get_text().replace("\u2212", "-") for t in ax.get_yticklabels() if t.get_text()]
    assert x_labels == ["50", "100", "200", "500", "1k", "2k", "5k"]
    assert {"1e-06", "1e-08", "1e-10"} <= set(y_labels)
    assert not any("$" in text for text in x_labels + y_labels)


def test_a_tonal_line_is_drawn_over_its_whole_reported_span():
    # a 10 s tone's long windows are centred 1.5-8.5 s: it was drawn over 1.53-8.45 s only
    from types import SimpleNamespace

    from zhurong_tk.plot import line_track

    times = np.arange(1.53, 8.46, 0.5)
    line = SimpleNamespace(
        start_s=0.0, end_s=10.0, freq_hz=1000.0, times_s=times, freqs_hz=1000.0 + 0.1 * times
    )
    t, f = line_track(line)
    assert t[0] == 0.0 and t[-1] == 10.0
    assert np.all(np.diff(t) > 0)
    assert f[0] == pytest.approx(1000.153) and f[-1] == pytest.approx(1000.0 + 0.1 * times[-1])
    # the windows outside a shorter line's span are not drawn
    t, f = line_track(SimpleNamespace(**{**vars(line), "start_s": 3.0, "end_s": 6.0}))
    assert (
        t[0] == 3.0 and t[-1] == 6.0 and len(t) == 2 + np.count_nonzero((times >= 3) & (times <= 6))
    )


def test_psd_figure_s_limits_hold_every_curve():
    # the limits came from the mean alone: a noise floor or median under it was cut off
    freqs = np.linspace(0, 8000, 257)
    mean = 1e-3 / np.maximum(freqs, 1.0)
    median, floor = mean * 0.01, mean * 1e-4
    median[:20] = mean[:20] * 3.0  # above the mean at the low end (a gusty file's median is not)
    fig = plot.psd_figure(freqs, mean, median=median, noise_floor=floor)
    low, high = fig.axes[0].get_ylim()
    for curve in (mean, median, floor):
        assert low <= curve[1:].min() and curve[1:].max() <= high
    # a digital-silence bin (0) does not drag the axis down to 1e-30
    floor[100] = 0.0
    low, _ = plot.psd_figure(freqs, mean, noise_floor=floor).axes[0].get_ylim()
    assert low >= 1e-3 / 8000 * 1e-4 / 2 * 0.99


def test_a_gust_s_bar_does_not_hide_the_event_it_holds(rng):
    # segments overlap since a gust is found whatever else sounds in it: the wind-like bar
    # was drawn over the event's
    times = np.arange(100) * 0.1
    freqs = np.linspace(0, 8000, 513)
    segments = [
        {"start_s": 2.0, "end_s": 8.0, "kind": "tonal"},
        {"start_s": 4.0, "end_s": 10.0, "kind": "wind-like"},
    ]
    fig = plot.spectrogram_figure(times, freqs, rng.random((100, 513)), segments=segments)
    lanes = []
    for bars in fig.axes[0].collections:
        if len(bars.get_paths()) and bars.get_paths()[0].vertices.shape[0] >= 4:
            y = bars.get_paths()[0].vertices[:, 1]
            lanes.append((float(y.min()), float(y.max())))
    (tonal, gust) = sorted(set(lanes), reverse=True)[:2]
    assert gust[1] <= tonal[0]  # one above the other, not over it
