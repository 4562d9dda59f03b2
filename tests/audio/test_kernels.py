"""Each numba kernel against a plain numpy twin on small random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.audio import _kernels
from zhurong_tk.audio.impulses import onset_strength
from zhurong_tk.audio.levels import LEVEL_CELLS, LEVEL_MIN_DB, LEVEL_STEP_DB, level_cells


@np.errstate(
    divide="ignore", invalid="ignore"
)  # the silent frame; the kernel's answer is checked apart
def features_reference(power, freqs, prev, roll_percent, amin):
    mag = np.sqrt(power.astype(np.float64))
    total = mag.sum(axis=1)
    centroid = (mag * freqs).sum(axis=1) / total
    bandwidth = np.sqrt(
        (mag / total[:, None] * (freqs[None, :] - centroid[:, None]) ** 2).sum(axis=1)
    )
    cumulative = np.cumsum(mag, axis=1)
    rolloff = freqs[np.argmax(cumulative >= roll_percent * total[:, None], axis=1)]
    p = np.maximum(power.astype(np.float64), amin)
    flatness = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
    before = np.sqrt(np.vstack([prev[None, :], power[:-1]]).astype(np.float64))
    flux = np.sqrt((np.maximum(mag - before, 0) ** 2).sum(axis=1))
    return np.column_stack([centroid, bandwidth, rolloff, flatness, flux])


def test_frame_features_match_numpy(rng):
    power = (rng.random((37, 129)) ** 3).astype(np.float32)
    power[5] = 0.0  # a silent frame
    power[5, 0] = 0.0
    freqs = np.linspace(0, 8000, 129)
    prev = rng.random(129).astype(np.float32)
    out = np.empty((37, 5), np.float32)
    _kernels.frame_features(power, freqs, prev, 0.85, 1e-10, np.empty_like(power), out)
    ref = features_reference(power, freqs, prev, 0.85, 1e-10)
    live = np.arange(37) != 5
    np.testing.assert_allclose(out[live], ref[live], rtol=2e-5, atol=1e-6)
    assert out[5, 0] == 0.0 and out[5, 1] == 0.0 and out[5, 2] == 0.0  # no NaN for silence
    assert out[5, 3] == pytest.approx(1.0)  # all bins at amin: perfectly flat


def test_band_sums_match_numpy(rng):
    power = rng.random((11, 64)).astype(np.float32)
    lo = np.array([0, 3, 10, 10, 63])
    hi = np.array([3, 10, 40, 11, 64])
    weights = rng.random((5, 2))
    out = np.empty((11, 5))
    _kernels.band_sums(power, lo, hi, weights, out)
    # numpy: a weight per bin, the first and last bin's from ``weights`` (one bin: the first)
    ref = np.empty((11, 5))
    for j, (a, b) in enumerate(zip(lo, hi, strict=True)):
        w = np.ones(b - a)
        w[-1], w[0] = weights[j, 1], weights[j, 0]
        ref[:, j] = power[:, a:b].astype(np.float64) @ w
    np.testing.assert_allclose(out, ref, rtol=1e-6)


@pytest.mark.parametrize("frame_step", [1, 2, 3])
def test_level_histogram_matches_numpy(rng, frame_step):
    power = (rng.random((50, 16)) * 10.0 ** rng.uniform(-8, 2, (50, 16))).astype(np.float32)
    power[0, 0] = 0.0
    scale = rng.uniform(0.5, 2.0, 16)
    hist = np.zeros((16, 400), np.int32)
    _kernels.level_histogram_update(
        power.view(np.int32), np.log2(scale), -100.0, 0.5, frame_step, hist
    )
    used = power[::frame_step]
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(used.astype(np.float64) * scale)
    idx = np.clip(np.floor((db - -100.0) / 0.5), 0, 399).astype(int)
    ref = np.zeros_like(hist)
    for k in range(16):
        np.add.at(ref[k], idx[:, k], 1)
    assert hist.sum() == ref.sum() == used.size
    # the kernel's log2 is a polynomial (error < 1e-4 dB): a value on a cell edge may land next door
    assert np.abs(hist - ref).sum() <= 2


@pytest.mark.parametrize("peak_beside", [False, True])
def test_harmonic_levels_match_numpy(rng, peak_beside):
    log_power = rng.normal(0, 1, 300)
    # dB above a background that falls 0.5 dB a bin (and noise): the bin highest above it
    # is often not the power's peak
    white = (4.343 * log_power + 0.5 * np.arange(300) + rng.normal(0, 1, 300)).astype(np.float32)
    f0_bins = np.array([7.3, 11.1, 13.7, 20.0, 45.6])
    levels = np.empty((5, 8))
    positions = np.empty((5, 8))
    _kernels.harmonic_levels(white, log_power, f0_bins, 8, levels, positions, peak_beside)
    peaks_seen = [0, 0, 0]  # slopes, peaks, peaks beside the bin highest above background
    for c, f0 in enumerate(f0_bins):
        for h in range(1, 9):
            k = int(f0 * h + 0.5)
            if k + 2 >= 300:
                assert np.isnan(levels[c, h - 1])
                continue
            best = k - 1 + int(np.argmax(white[k - 1 : k + 2]))
            a, b, d = log_power[best - 1 : best + 2]
            if b < a or b < d:  # on a slope of the power: its peak among the three instead
                top = k - 1 + int(np.argmax(log_power[k - 1 : k + 2]))
                if peak_beside and top != best and white[top] >= white[best] - 1.5:
                    best = top
                    a, b, d = log_power[best - 1 : best + 2]
                    peaks_seen[2] += not (b < a or b < d)
            assert levels[c, h - 1] == white[best]
            if b < a or b < d:  # no peak: on a slope
                assert np.isnan(positions[c, h - 1])
                peaks_seen[0] += 1
                continue
            den = a - 2 * b + d
            offset = 0.5 * (a - d) / den if den < 0 else 0.0
            assert abs(offset) <= 0.5
            assert positions[c, h - 1] == pytest.approx(best + offset)
            peaks_seen[1] += 1
    assert min(peaks_seen[:2]) > 0 and (peaks_seen[2] > 0) == peak_beside  # all kinds met


def test_harmonic_salience_matches_numpy(rng):
    white = rng.normal(0, 3, 500).astype(np.float32)
    f0_bins = np.arange(10.0, 120.0, 0.5)
    weights = 1 / np.sqrt(np.arange(1, 7))
    out = np.empty(len(f0_bins), np.float32)
    _kernels.harmonic_salience(white, _kernels.harmonic_bins(f0_bins, 6, len(white)), weights, out)
    ref = []
    for f0 in f0_bins:
        acc = 0.0
        for h in range(1, 7):
            k = int(f0 * h + 0.5)
            if k + 1 >= len(white):
                break
            acc += weights[h - 1] * max(0.0, white[k - 1 : k + 2].max())
        ref.append(acc)
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_reduce_frames_matches_numpy(rng):
    n_frames, n_fft = 23, 256
    n_bins = n_fft // 2 + 1
    x = rng.normal(0, 1, (n_frames, n_fft)) * rng.uniform(1e-4, 1, (n_frames, 1))
    spec = np.fft.rfft(x * np.hanning(n_fft), axis=1).astype(np.complex64)
    spec[4] = 0  # a silent frame
    freqs = np.fft.rfftfreq(n_fft, 1 / 8000)
    prev = rng.random(n_bins).astype(np.float32)
    prev_power = prev.astype(np.float64) ** 2
    lo = np.array([0, 3, 10, 10, 100], np.int64)
    hi = np.array([3, 10, 40, 11, n_bins], np.int64)
    weights = rng.random((len(lo), 2))  # each band's share of its first and last bin
    # as the analysis calls it: features and band sums written into views of the frame table
    rows = np.full((n_frames, 7 + len(lo)), np.nan, np.float32)
    bands, feats = rows[:, 7:], rows[:, 2:7]
    welch = np.full(n_bins, 2.0)
    hist = np.zeros((n_bins, 600), np.int32)
    scale = rng.uniform(0.5, 2.0, n_bins)
    take = np.arange(n_frames) % 3 == 1
    pool = np.zeros((4, n_bins), np.float32)
    cols = np.arange(n_frames) // 6
    scratch = np.empty(n_bins, np.float32)
    # 8 counted frames through a 3-frame buffer: two batches counted, two frames left over
    pending, pending_count = np.zeros((3, n_bins), np.int16), np.zeros(1, np.int64)
    _kernels.reduce_frames(
        spec, freqs, prev, 0.85, 1e-10, lo, hi, weights, bands, welch, hist, np.log2(scale),
        -150.0, 0.25,
        take, pending, pending_count, pool, cols, scratch, scratch.view(np.int32),
        np.empty(n_bins, np.float32), feats,
    )  # fmt: skip
    assert pending_count[0] == 2 and hist.sum() == 6 * n_bins
    _kernels.count_pending(pending, pending_count, hist)
    assert pending_count[0] == 0
    power = np.abs(spec.astype(np.complex128)) ** 2
    ref = features_reference(power, freqs, prev_power, 0.85, 1e-10)
    live = np.arange(n_frames) != 4
    np.testing.assert_allclose(feats[live], ref[live], rtol=1e-4, atol=1e-6)
    assert feats[4, 0] == feats[4, 1] == feats[4, 2] == 0.0 and feats[4, 3] == pytest.approx(1.0)
    bin_weights = []
    for (a, b), (w_first, w_last) in zip(zip(lo, hi, strict=True), weights, strict=True):
        w = np.ones(b - a)
        w[-1], w[0] = w_last, w_first  # one bin: the first's weight
        bin_weights.append(w)
    np.testing.assert_allclose(
        bands,
        [[row[a:b] @ w for a, b, w in zip(lo, hi, bin_weights, strict=True)] for row in power],
        rtol=1e-5,
    )
    np.testing.assert_allclose(welch, 2.0 + power.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(pool, [power[cols == c].sum(axis=0) for c in range(4)], rtol=1e-5)
    np.testing.assert_allclose(prev, np.sqrt(power[-1]), rtol=1e-5)  # left holding the last frame
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(power[take] * scale)
    idx = np.clip(np.floor((db + 150.0) / 0.25), 0, 599).astype(int)
    ref_hist = np.zeros_like(hist)
    for k in range(n_bins):
        np.add.at(ref_hist[k], idx[:, k], 1)
    assert hist.sum() == take.sum() * n_bins
    assert np.abs(hist - ref_hist).sum() <= 2  # polynomial log2: a cell edge may go next door


def test_frame_levels_match_numpy(rng):
    n_frames, n_bands, band_col, third = 40, 6, 7, (2, 5)
    rows = rng.uniform(0, 1, (n_frames, band_col + n_bands)).astype(np.float32)
    rows[:, band_col:] *= np.float32(10.0) ** rng.integers(-12, 0, (n_frames, n_bands))
    rows[3, band_col:] = 0.0  # silence
    bands_in = rows[:, band_col:].astype(np.float64)
    energy = rng.uniform(0, 100, n_frames)
    energy[5] = 0.0
    prev = np.full(third[1] - third[0], np.nan)
    hist = np.zeros((n_bands + 1, LEVEL_CELLS), np.int64)
    onset = np.empty(n_frames, np.float32)
    first = n_frames // 2  # in two calls: the state carries across blocks
    for part in (slice(0, first), slice(first, n_frames)):
        _kernels.frame_levels(
            rows[part], band_col, 0.25, energy[part], 256, *third, prev, hist,
            LEVEL_MIN_DB, LEVEL_STEP_DB, 90.0, onset[part],
        )  # fmt: skip
    power = (bands_in * 0.25).astype(np.float32)
    np.testing.assert_allclose(rows[:, 1], np.sqrt(energy / 256), rtol=1e-6)
    np.testing.assert_array_equal(rows[:, band_col:], power)
    levels = np.column_stack([power.astype(np.float64), energy / 256])
    cells = level_cells(levels)
    ref = np.zeros_like(hist)
    for j in range(n_bands + 1):
        np.add.at(ref[j], cells[:, j], 1)
    assert np.abs(hist - ref).sum() <= 2  # float32 vs float64 rounding at a cell edge
    assert hist[:, 0].tolist() == [1] * n_bands + [1]  # the silent frame and the empty one
    third_db = 10 * np.log10(np.maximum(power[:, third[0] : third[1]].astype(np.float64), 1e-30))
    np.testing.assert_allclose(onset, onset_strength(third_db, 90.0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(prev, third_db[-1])


@pytest.mark.parametrize("n", [0, 1, 511, 512, 513, 5000])
def test_sum_squares_and_frame_energy_match_numpy(rng, n):
    x = rng.normal(0, 0.3, n).astype(np.float32)
    assert _kernels.sum_squares(x) == pytest.approx(np.sum(x.astype(np.float64) ** 2), rel=1e-6)
    total, total_sq = _kernels.sums(x + np.float32(0.1))  # an offset, as a DC would be
    assert total == pytest.approx(np.sum(x.astype(np.float64) + 0.1), rel=1e-5, abs=1e-9)
    assert total_sq == pytest.approx(np.sum((x.astype(np.float64) + 0.1) ** 2), rel=1e-6)
    n_fft, hop = 700, 300
    count = max(0, (n - n_fft) // hop + 1)
    out = np.empty(count)
    _kernels.frame_energy(x, n_fft, hop, out)
    ref = [np.sum(x[t * hop : t * hop + n_fft].astype(np.float64) ** 2) for t in range(count)]
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    if n:
        x[n // 2] = np.nan
        assert np.isnan(_kernels.sum_squares(x))


def hysteresis_reference(start, keep):
    runs, i, n = [], 0, len(start)
    while i < n:
        if not start[i].any():
            i += 1
            continue
        bands = start[i].copy()
        a = i
        while a > 0 and (keep[a - 1] & bands).any():
            a -= 1
        b = i
        while b < n and (keep[b] & bands).any():
            bands |= start[b]
            b += 1
        runs.append((a, max(b, i + 1)))
        i = max(b, i + 1)
    return runs


@pytest.mark.parametrize("seed", range(5))
def test_hysteresis_runs_match_python(seed):
    rng = np.random.default_rng(seed)
    keep = rng.random((400, 4)) < 0.6
    start = keep & (rng.random((400, 4)) < 0.1)
    runs = np.empty((400, 2), np.int64)
    count = _kernels.hysteresis_runs(start, keep, runs)
    expected = hysteresis_reference(start, keep)
    assert len(expected) > 5
    assert [tuple(r) for r in runs[:count]] == expected


@pytest.mark.parametrize(("first", "step"), [(6, 1), (6, 3), (9, 4)])
def test_fir_decimate_matches_numpy(rng, first, step):
    x = rng.normal(0, 1, 200).astype(np.float32)
    taps = rng.normal(0, 1, 7).astype(np.float32)
    n_out = (len(x) - 1 - first) // step + 1
    out = np.empty(n_out, np.float32)
    _kernels.fir_decimate(x, np.ascontiguousarray(taps[::-1]), first, step, out)
    full = np.convolve(x.astype(np.float64), taps)  # full[i] = Σ taps[m]·x[i - m]
    np.testing.assert_allclose(out, full[first::step][:n_out], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 255, 256, 1000])
def test_run_mean_squares_match_numpy(rng, n):
    x = rng.normal(0, 3, n).astype(np.float32)
    out = np.empty(-(-n // 256), np.float32)
    _kernels.run_mean_squares(x, 256, out)
    squares = x.astype(np.float64) ** 2
    expected = [squares[i : i + 256].mean() for i in range(0, n, 256)]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_sample_stats_match_numpy(rng):
    x = rng.normal(0, 0.5, 10_001).astype(np.float32)
    x[[3, 50, 900]] = [np.nan, np.inf, -np.inf]
    x[7] = -2.5  # beyond any of the normal samples (sd 0.5)
    x[11] = np.float32(3e38)  # corrupt: beyond the limit, counted apart and as zero
    non_finite, beyond, peak, clipped, total, sum_sq = _kernels.sample_stats(
        x, np.float32(0.999), np.float32(1e6)
    )
    finite = x[np.isfinite(x) & (np.abs(x) <= 1e6)].astype(np.float64)
    assert non_finite == 3 and beyond == 1
    assert peak == np.float32(np.abs(finite).max()) == np.float32(2.5)
    assert clipped == np.count_nonzero(np.abs(finite) >= 0.999)
    assert sum_sq == pytest.approx(np.sum(finite**2), rel=1e-9)
    assert total == pytest.approx(np.sum(finite), rel=1e-9)


def python_csv(values, decimals, prefix=""):
    """The twin of format_rows: Python's %-formatting, -inf as an empty cell."""
    row = prefix + ",".join("%.6g" if d < 0 else f"%.{d}f" for d in decimals) + "\n"
    return ((row * len(values)) % tuple(values.ravel().tolist())).replace("-inf", "")


def kernel_csv(values, decimals, prefix=""):
    head = np.frombuffer(prefix.encode(), np.uint8)
    out = np.empty(len(values) * (len(head) + 25 * values.shape[1] + 1), np.uint8)
    written = _kernels.format_rows(values, np.asarray(decimals, np.int64), head, out)
    return written if written < 0 else out[:written].tobytes().decode()


def test_format_rows_writes_what_python_writes(rng):
    # float32 values (as the frame table holds) over 25 decades, both signs, some zeros
    decimals = [6, -1, -1, 3, 0, 1]
    exponents = rng.uniform(-16, 9, (30_000, len(decimals)))
    signs = rng.choice([-1.0, 1.0], exponents.shape)
    values = (signs * 10.0**exponents).astype(np.float32).astype(np.float64)
    values[rng.random(values.shape) < 0.02] = 0.0
    values[::97, 1] = -0.0
    assert kernel_csv(values, decimals, "2,") == python_csv(values, decimals, "2,")


@pytest.mark.parametrize("decimals", [-1, 0, 1, 3, 6])
def test_format_rows_rounds_ties_and_near_ties_as_python(decimals):
    # exact binary ties (0.5, 0.125, 1/128) go to the even digit; values one ulp either side
    # of a decimal half, and %g's switch between fixed and exponent styles at 1e-4 and 1e6
    ties = [0.5, 1.5, 2.5, 0.125, 0.375, 0.0078125, 123456.5, 999999.5, 2.5e-7]
    near = [np.nextafter(t, s) for t in [0.0005, 0.15, 9.9999995, 0.00012345650] for s in (0, 1)]
    edges = [1e-4, 9.99999e-5, 9.999995e-5, 1e6, 999999.4, 1234567.0, 1e-17, 3e20]
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, -1e-9, -0.75]
    values = np.array(ties + near + edges + special, np.float64)[:, None]
    if decimals >= 0:  # %f's exact range ends at 2^52 / 10^decimals
        values = values[np.abs(values[:, 0]) < 2.0**52 / 10.0**decimals]
    assert kernel_csv(values, [decimals]) == python_csv(values, [decimals])


def test_format_rows_reports_the_first_row_it_cannot_write_exactly():
    values = np.array([[1.0, 2.0], [3.0, 1e30], [5e15, 1e-30]])
    assert kernel_csv(values, [3, -1]) == -2  # %.6g of 1e30: beyond 1e27
    assert kernel_csv(values[[0, 2]], [3, -1]) == -2  # %.3f of 5e15: beyond 2^52 / 1e3
    assert kernel_csv(values[[0, 2]], [0, -1]) == -2  # %.6g of 1e-30: below 1e-17


@pytest.mark.parametrize("width", [9, 19, 5001])  # 5001: wider than the spectrum
def test_whiten_matches_scipy_uniform_filter(rng, width):
    from scipy import ndimage

    power = rng.exponential(1.0, 3072) * np.exp(rng.normal(0, 3, 3072))
    power[[100, 101]] = 0.0  # silent bins: floored at 1e-30
    power[2000] = 1e6  # a strong line: the clipped background keeps it out
    db = 10.0 * np.log10(np.maximum(power, 1e-30))
    background = ndimage.uniform_filter1d(db, width, mode="nearest")
    clipped = np.minimum(db, background + 3.0)
    ref = (db - ndimage.uniform_filter1d(clipped, width, mode="nearest")).astype(np.float32)
    white = np.empty(len(power), np.float32)
    _kernels.whiten(db, width, np.empty((2, len(power))), white)
    np.testing.assert_array_equal(white, ref)  # scipy's running sum, step for step


def test_salience_peaks_are_the_strongest_local_maxima_in_order(rng):
    salience = rng.gamma(2.0, 3.0, 2000).astype(np.float32)
    salience[0] = 50.0  # a maximum at the edge counts (0 beyond the ends)
    salience[700:702] = 60.0  # a flat top: its last sample is the peak
    order = np.empty(12, np.int64)
    count = _kernels.salience_peaks(salience, 8.0, order)
    padded = np.concatenate(([0.0], salience, [0.0]))
    peaks = np.flatnonzero((salience >= padded[:-2]) & (salience > padded[2:]))
    peaks = peaks[salience[peaks] >= 8.0]
    expected = peaks[np.argsort(salience[peaks], kind="stable")[::-1]][:12]
    assert count == 12
    np.testing.assert_array_equal(order, expected)
    few = np.empty(12, np.int64)
    assert _kernels.salience_peaks(np.array([0, 9, 0, 7, 0], np.float32), 8.0, few) == 1
    assert few[0] == 1
    # a flat top (coarse bins: two candidates read the same harmonic bins) is one peak
    assert _kernels.salience_peaks(np.array([0, 9, 9, 0, 7, 7], np.float32), 8.0, few) == 1
    assert few[0] == 2


@pytest.mark.parametrize("width", [1, 3, 95, 401])  # 401: wider than the input
def test_running_median_and_max_match_scipy_ndimage(rng, width):
    from scipy import ndimage

    x = rng.gamma(2.0, 3.0, 300)
    x[100:140] = 5.0  # runs of equal values
    median = np.empty_like(x)
    _kernels.running_median(x, width, median)
    np.testing.assert_array_equal(median, ndimage.median_filter(x, size=width, mode="nearest"))
    maximum = np.empty_like(x)
    _kernels.running_max(x, width, maximum)
    np.testing.assert_array_equal(maximum, ndimage.maximum_filter1d(x, width, mode="nearest"))


def running_mean_reference(x, width):
    """Each output the float64 mean of its window, the edges repeated (ndimage's "nearest")."""
    half = width // 2
    padded = np.pad(x.astype(np.float64), ((half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=0)
    return windows.mean(axis=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 3, 2001])
def test_running_mean_columns_match_numpy(rng, dtype, width):
    x = (rng.normal(size=(500, 7)) * 4 - 30).astype(dtype)
    out = np.empty_like(x)
    _kernels.running_mean_columns(x, width, out)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, running_mean_reference(x, width), rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_mean_keeps_a_quiet_band_after_a_loud_event(rng, dtype):
    # band powers over 100 dB: a band at -120 dB with events at -20 dB that fade out. A
    # running sum carried the rounding of entering-minus-leaving (done in float32) into
    # the quiet after each event: -119.6 dB read -104.4 dB for the rest of the file
    x = np.full((3000, 3), 1e-12) * (1 + 0.1 * rng.random((3000, 3)))
    for start in range(100, 3000, 300):
        x[start : start + 40] = 1e-2 * (1 + 0.1 * rng.standard_normal((40, 3)))
        x[start + 40 : start + 44] = np.array([1e-4, 3e-6, 1e-8, 1e-10])[:, None]
    x = x.astype(dtype)
    out = np.empty_like(x)
    _kernels.running_mean_columns(x, 3, out)
    np.testing.assert_allclose(out, running_mean_reference(x, 3), rtol=1e-6)


@pytest.mark.parametrize("f0", [100.0, 10_000.0, 23_000.0])
def test_bandwidth_of_a_narrow_line_keeps_its_precision(f0):
    # the bandwidth comes from Σm·f² - c·Σm·f: for a line a few bins wide far above 0 Hz the
    # difference cancels most digits, which float64 sums must survive
    sr, n_fft = 48_000, 4096
    t = np.arange(n_fft * 2) / sr
    x = np.sin(2 * np.pi * f0 * t) + 1e-6 * np.random.default_rng(0).normal(size=len(t))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::1024][:4]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    out = np.empty((4, 5), np.float32)
    _kernels.frame_features(power, freqs, power[0], 0.85, 1e-10, np.empty_like(power), out)
    ref = features_reference(power, freqs, power[0].astype(np.float64), 0.85, 1e-10)
    np.testing.assert_allclose(out[:, 1], ref[:, 1], rtol=1e-6)
    assert np.all(out[:, 1] < 100.0)  # a line: tens of hertz wide, not hundreds


def test_onset_envelope_matches_numpy_across_blocks(rng):
    # energy of the first difference in runs of `step` samples, the blocks split anywhere
    x = rng.normal(size=1000).astype(np.float32)
    step = 7
    d = np.diff(x.astype(np.float64), prepend=np.float64(x[0]))
    n = len(x) // step
    ref = (d[: n * step] ** 2).reshape(n, step).sum(axis=1)
    state = np.zeros(4)
    parts = []
    for a, b in [(0, 3), (3, 3), (3, 250), (250, 251), (251, 1000)]:
        out = np.empty((b - a) // step + 1)
        scratch = np.empty(b - a, np.float32)
        parts.append(out[: _kernels.onset_envelope(x[a:b], step, state, scratch, out)])
    np.testing.assert_allclose(np.concatenate(parts), ref, rtol=1e-6)  # float32 squares


def rises_reference(env, after, parts, min_ratio):
    """The twin of envelope_rises: every step's rise from prefix sums, then each run's
    largest."""
    span = parts * after
    c = np.concatenate([[0.0], np.cumsum(env, dtype=np.float64)])
    j = np.arange(span, len(env) - after + 1)
    ahead = (c[j + after] - c[j]) / after
    behind = np.maximum((c[j] - c[j - span]) / span, np.finfo(np.float32).tiny)
    ratio = ahead / behind
    out = []
    rising = ratio >= min_ratio
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rising.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        k = a + int(np.argmax(ratio[a:b]))
        out.append((j[k], ratio[k], ahead[k]))
    return out


@pytest.mark.parametrize("capacity", [1, 2, 1000])
def test_envelope_rises_match_numpy(rng, capacity):
    # noise with sharp attacks (one after digital silence) found run by run, across resumes
    env = rng.exponential(1e-6, 3000)
    env[1000:1200] = 0.0
    for at in (400, 1200, 1210, 2500):
        env[at : at + 40] += 1e-3 * np.exp(-np.arange(40) / 10.0)
    ref = rises_reference(env, 6, 5, 10.0**0.8)
    at, ratio, mean = np.empty(capacity, np.int64), np.empty(capacity), np.empty(capacity)
    found, start = [], 0
    while start < len(env):
        count, start = _kernels.envelope_rises(env, 6, 5, 10.0**0.8, start, at, ratio, mean, True)
        found += list(zip(at[:count], ratio[:count], mean[:count], strict=True))
    assert [f[0] for f in found] == [r[0] for r in ref]
    # three attacks, the one 10 steps into another's ring no rise over it
    assert [int(f[0]) for f in found] == [400, 1200, 2500]
    np.testing.assert_allclose([f[1:] for f in found], [r[1:] for r in ref], rtol=1e-5)


@pytest.mark.parametrize("piece", [45, 205, 1210])
def test_envelope_rises_in_pieces_match_one_scan(rng, piece):
    """Pieces (each with the 30 steps before its first scanned one) find the same rises: a
    run still rising at a piece's end (the attack at 1200 ends the 1210-step piece) is left
    to the next piece, not cut."""
    env = rng.exponential(1e-6, 3000)
    for at in (400, 1200, 1210, 2500):
        env[at : at + 40] += 1e-3 * np.exp(-np.arange(40) / 10.0)
    ref = rises_reference(env, 6, 5, 10.0**0.8)
    at, ratio, mean = np.empty(100, np.int64), np.empty(100), np.empty(100)
    found, start = [], 0
    while True:
        lo = max(0, start - 30)
        hi = min(len(env), lo + piece)
        count, resume = _kernels.envelope_rises(
            env[lo:hi], 6, 5, 10.0**0.8, start - lo, at, ratio, mean, hi == len(env)
        )
        found += [(lo + a, r) for a, r in zip(at[:count], ratio[:count], strict=True)]
        if hi == len(env) and resume >= hi - lo:
            break
        assert lo + resume > start or count
        start = lo + resume
    assert [f[0] for f in found] == [r[0] for r in ref] == [400, 1200, 2500]
    np.testing.assert_allclose([f[1] for f in found], [r[1] for r in ref], rtol=1e-5)


def teeth_reference(white, floor, comb_db=3.0, tooth_db=10.0, spacings=8):
    """The twin of comb_teeth in numpy: peaks, comb spacing (None), per peak the spacing
    where it is a local tooth (else inf) and whether it is on the comb."""
    inner = white[1:-1]
    peaks = np.flatnonzero((inner >= floor) & (inner >= white[:-2]) & (inner > white[2:])) + 1

    def about(centres, d, least, needed):
        if len(centres) == 0:
            return np.zeros(0, bool)
        n = len(white)
        offsets = np.array([-1, 1, -2, 2, -3, 3, -4, 4], np.float64)
        k = np.floor(centres[:, None] + offsets * d[:, None] + 0.5).astype(np.int64)
        inside = (k >= 2) & (k <= n - 3)
        look = inside & (np.cumsum(inside, axis=1) <= 4)
        k = np.clip(k, 2, n - 3)
        at = k - 1 + np.argmax(np.stack([white[k - 1], white[k], white[k + 1]], axis=-1), -1)
        level = white[at]
        heard = look & (level >= least) & (level >= white[at - 1]) & (level >= white[at + 1])
        loudest = np.where(heard, level, -np.inf).max(axis=1)
        return (heard.sum(axis=1) >= needed) & (white[centres] < loudest + tooth_db)

    comb = None
    gaps = np.diff(peaks)
    gaps = gaps[gaps >= 2]
    if len(gaps) >= spacings:
        values = np.unique(gaps)
        support = [int(np.count_nonzero(np.abs(gaps - v) <= 1)) for v in values]
        best = int(np.argmax(support))
        if support[best] >= spacings:
            spacing = float(np.median(gaps[np.abs(gaps - values[best]) <= 1]))
            comb = spacing if spacing >= 2.5 else None
    p = peaks.astype(np.float64)
    inf = np.full(2, np.inf)
    left = np.concatenate([inf[:1], np.diff(p)])
    right = np.concatenate([np.diff(p), inf[:1]])
    left_far = np.concatenate([inf, p[2:] - p[:-2]])[: len(p)]
    right_far = np.concatenate([p[2:] - p[:-2], inf])[-len(p) :] if len(p) else left
    local_d = np.minimum(
        np.where(left < 2.5, left_far, left), np.where(right < 2.5, right_far, right)
    )
    finite = np.isfinite(local_d)
    local = np.zeros(len(p), bool)
    local[finite] = about(peaks[finite], local_d[finite], floor, 4)
    on_comb = about(peaks, np.full(len(p), comb), comb_db, 3) if comb is not None else local & False
    return peaks, comb, np.where(local, local_d, np.inf), on_comb


@pytest.mark.parametrize("seed", range(6))
def test_comb_teeth_match_numpy(seed):
    """Noise (peaks up to ~12 dB), a clank train's comb (every 7.3 bins, some teeth weak or
    missing, into the band's top), a tone's harmonics and lone peaks by the band's edges."""
    rng = np.random.default_rng(seed)
    white = rng.normal(0.0, 3.0, 1500).astype(np.float32)
    if seed % 3:
        teeth = np.arange(40.0 + seed, 1500, 7.3)
        white[np.round(teeth).astype(int)] += rng.uniform(0.0, 25.0, len(teeth)).astype(np.float32)
    white[[3, 1496]] = 30.0
    if seed % 2:
        white[[200, 400, 600, 800]] += np.float32(35.0)
    peaks, comb, spacing, on_comb = teeth_reference(white, 8.0)
    out_peaks = np.empty(len(white), np.int64)
    out_spacing, out_comb = np.empty(len(white)), np.empty(len(white), np.bool_)
    count, got_comb = _kernels.comb_teeth(
        white, 8.0, 3.0, 10.0, 8, out_peaks, out_spacing, out_comb
    )
    np.testing.assert_array_equal(out_peaks[:count], peaks)
    assert (None if got_comb < 0 else got_comb) == comb
    np.testing.assert_array_equal(out_spacing[:count], spacing)
    np.testing.assert_array_equal(out_comb[:count], on_comb)
    if seed % 3:  # the comb is read, and most of its teeth are on it, or local teeth
        assert comb == pytest.approx(7.3, abs=0.5) and on_comb.sum() > 50
        assert np.isfinite(spacing).sum() >= 10
    else:
        assert comb is None and not on_comb.any()
