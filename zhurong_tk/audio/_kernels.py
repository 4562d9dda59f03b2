"""numba kernels of the audio analysis (private; each has a numpy twin in the tests).

Compiled with ``cache=True`` so that the command line pays the compilation
once per machine, not once per run. The kernels are serial and release the
GIL: on blocks of a few hundred frames numba's thread pools cost more than
they save (measured: 10 min at 48 kHz analysed in 2.6 s with one thread,
2.8 s with two on the workqueue layer, 3.4 s on OpenMP), so the analysis
uses its second core for the long-window tone search instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _shape(mag, freqs, s_sum, s_f, s_f2, roll_percent):  # pragma: no cover - jitted
    """Centroid, bandwidth (p = 2) and roll-off of one magnitude spectrum, as librosa;
    zeros for a silent frame. ``s_sum``, ``s_f``, ``s_f2``: the magnitudes' sum, and their
    sums weighted by frequency and by its square (float64)."""
    if s_sum <= 0.0:
        return 0.0, 0.0, 0.0
    n_bins = mag.shape[0]
    centroid = s_f / s_sum
    # Σ m·(f - c)² = Σ m·f² - c·Σ m·f: no second pass over the bins. The difference loses
    # (c / bandwidth)² of float64's precision: 1e-11 relative for a 20 Hz wide line at 10 kHz
    var = max(s_f2 - centroid * s_f, 0.0)
    threshold = roll_percent * s_sum
    run = 0.0
    rolloff = freqs[n_bins - 1]
    for k in range(n_bins):
        run += mag[k]
        if run >= threshold:
            rolloff = freqs[k]
            break
    return centroid, np.sqrt(var / s_sum), rolloff


@njit(cache=True, nogil=True, inline="always")
def _store_features(
    row, mag, freqs, s_sum, s_f, s_f2, roll_percent, log2_sum, p_sum, flux
):  # pragma: no cover
    """Write centroid, bandwidth, roll-off, flatness and flux of one frame into ``row``."""
    centroid, bandwidth, rolloff = _shape(mag, freqs, s_sum, s_f, s_f2, roll_percent)
    n_bins = mag.shape[0]
    row[0] = centroid
    row[1] = bandwidth
    row[2] = rolloff
    row[3] = np.exp2(log2_sum / n_bins) / (p_sum / n_bins)
    row[4] = np.sqrt(flux)


@njit(cache=True, nogil=True, fastmath=False)
def frame_features(power, freqs, prev_power, roll_percent, amin, scratch, out):  # pragma: no cover
    """Fused per-frame spectral features from a power spectrogram.

    power : (n_frames, n_bins) float32, |X|²
    freqs : (n_bins,) float64, bin centre frequencies
    prev_power : (n_bins,) float32, power of the frame before the first (for flux)
    scratch : (n_frames, n_bins) float32, work space for the magnitudes
    out : (n_frames, 5) float32 — centroid, bandwidth, rolloff, flatness, flux

    Definitions follow librosa on the magnitude |X| (centroid, bandwidth with
    p = 2, rolloff) and on the power |X|² (flatness with ``amin``); flux is the
    L2 norm of the positive magnitude differences between consecutive frames.
    The flatness's geometric mean uses :func:`_log2` (relative error < 3e-5).
    """
    n_frames, n_bins = power.shape
    bits = power.view(np.int32)
    for t in range(n_frames):
        mag = scratch[t]
        s_sum = 0.0
        s_f = 0.0
        s_f2 = 0.0
        log2_sum = 0.0
        p_sum = 0.0
        flux = 0.0
        amin_log2 = np.log2(amin)
        for k in range(n_bins):
            p = power[t, k]
            m = np.sqrt(p)
            mag[k] = m
            s_sum += m
            s_f += m * freqs[k]
            s_f2 += m * freqs[k] * freqs[k]
            if p > amin:
                log2_sum += _log2(bits[t, k])
                p_sum += p
            else:
                log2_sum += amin_log2
                p_sum += amin
            before = power[t - 1, k] if t > 0 else prev_power[k]
            d = m - np.sqrt(before)
            if d > 0.0:
                flux += d * d
        _store_features(out[t], mag, freqs, s_sum, s_f, s_f2, roll_percent, log2_sum, p_sum, flux)


@njit(cache=True, nogil=True, inline="always")
def _band_total(power, lo, hi, weights):  # pragma: no cover - jitted
    if hi - lo == 1:  # a band inside one bin: its share of it
        return weights[0] * power[lo]
    inner = power[lo + 1 : hi - 1]  # a slice: see fir_decimate
    acc = 0.0
    for k in range(inner.shape[0]):
        acc += inner[k]
    return weights[0] * power[lo] + acc + weights[1] * power[hi - 1]


@njit(cache=True, nogil=True)
def band_sums(power, lo, hi, weights, out):  # pragma: no cover - jitted
    """Σ power over bins ``lo[b] <= k < hi[b]`` for every frame and band, the first and
    last bin weighted by ``weights[b]`` (see :class:`~zhurong_tk.audio.bands.Band`)."""
    n_frames = power.shape[0]
    n_bands = lo.shape[0]
    for t in range(n_frames):
        for b in range(n_bands):
            out[t, b] = _band_total(power[t], lo[b], hi[b], weights[b])


# log2(1 + t) on [0, 1): least-squares (Chebyshev-node) fit, max error 3.2e-5
_LOG2_C0 = 3.19081312e-05
_LOG2_C1 = 1.44126742e00
_LOG2_C2 = -7.05704158e-01
_LOG2_C3 = 4.08721744e-01
_LOG2_C4 = -1.87722635e-01
_LOG2_C5 = 4.34289078e-02


@njit(cache=True, nogil=True, inline="always")
def _log2(b):  # pragma: no cover - jitted
    """log2 of a positive normal float32 from its int32 bit pattern (error < 3.2e-5)."""
    m = (b & 0x7FFFFF) * (1.0 / 8388608.0)
    poly = _LOG2_C4 + m * _LOG2_C5
    poly = _LOG2_C0 + m * (_LOG2_C1 + m * (_LOG2_C2 + m * (_LOG2_C3 + m * poly)))
    return (((b >> 23) & 0xFF) - 127) + poly


@njit(cache=True, nogil=True)
def count_pending(pending, pending_count, hist):  # pragma: no cover - jitted
    """Add the first ``pending_count[0]`` rows of histogram cells (one row per frame, one
    cell per bin) into ``hist`` (n_bins, n_levels), bin by bin, and empty the buffer."""
    n_rows = pending_count[0]
    for k in range(pending.shape[1]):
        counts = hist[k]
        for r in range(n_rows):
            counts[pending[r, k]] += 1
    pending_count[0] = 0


@njit(cache=True, nogil=True)
def level_histogram_update(bits, log2_scale, db_min, db_step, frame_step, hist):  # pragma: no cover
    """Count ``10·log10(power·scale)`` of every ``frame_step``-th frame into per-bin dB histograms.

    bits : (n_frames, n_bins) int32 — the float32 power spectrogram viewed as int32
    log2_scale : (n_bins,) float64 — log2 of the per-bin density scale
    hist : (n_bins, n_levels) int32; out-of-range levels land in the end cells

    log2 is taken from the float's exponent field and a degree-5 polynomial of
    its mantissa (error < 1e-4 dB, far below the histogram step): a libm
    log10 per bin and frame was the analysis's most expensive step.
    Parallel over bins, so no two threads touch one histogram row.
    """
    n_frames, n_bins = bits.shape
    n_levels = hist.shape[1]
    db_per_log2 = 3.010299956639812  # 10·log10(2)
    chunk = 64  # bins per task: rows are read contiguously, each histogram row has one writer
    for c in range((n_bins + chunk - 1) // chunk):
        k0 = c * chunk
        k1 = min(k0 + chunk, n_bins)
        for t in range(0, n_frames, frame_step):
            for k in range(k0, k1):
                b = bits[t, k]
                if (b >> 23) & 0xFF == 0:  # zero or denormal: below any level of interest
                    idx = 0
                else:
                    idx = int((db_per_log2 * (_log2(b) + log2_scale[k]) - db_min) / db_step)
                    if idx < 0:
                        idx = 0
                    elif idx >= n_levels:
                        idx = n_levels - 1
                hist[k, idx] += 1


@njit(cache=True, nogil=True)
def harmonic_levels(  # pragma: no cover - jitted
    white, log_power, f0_bins, n_harmonics, levels, positions, peak_beside
):
    """Level above background and sub-bin position of each harmonic of each candidate.

    white : (n_bins,) float32 — dB above the local background
    log_power : (n_bins,) float64 — natural log of the power (for parabolic interpolation)
    levels, positions : (n_candidates, n_harmonics) float64 outputs; NaN past the band's top;
    a position NaN where the bin read is no peak of the power (on another tone's skirt)
    peak_beside : bool — where the bin highest above the background (of the three nearest
    the harmonic) is no peak of the power, read the power's peak among the three instead
    when it stands within 1.5 dB as high above the background
    """
    n_bins = white.shape[0]
    for c in range(f0_bins.shape[0]):
        for h in range(1, n_harmonics + 1):
            k = int(f0_bins[c] * h + 0.5)
            if k + 2 >= n_bins or k < 1:
                levels[c, h - 1] = np.nan
                positions[c, h - 1] = np.nan
                continue
            best = k - 1
            if white[k] > white[best]:
                best = k
            if white[k + 1] > white[best]:
                best = k + 1
            a = log_power[best - 1]
            b = log_power[best]
            d = log_power[best + 1]
            if peak_beside and (b < a or b < d):
                # the bin highest above the background is on a slope of the power: a tone
                # between two bins, over a background falling faster than its peak (a
                # motor's harmonic on wind's steep low-frequency edge), peaks next door
                top = k - 1
                if log_power[k] > log_power[top]:
                    top = k
                if log_power[k + 1] > log_power[top]:
                    top = k + 1
                if top != best and white[top] >= white[best] - 1.5:
                    best = top
                    a = log_power[best - 1]
                    b = log_power[best]
                    d = log_power[best + 1]
            levels[c, h - 1] = white[best]
            if b < a or b < d:
                positions[c, h - 1] = np.nan
                continue
            den = a - 2.0 * b + d
            offset = 0.0
            if den < 0.0:  # a local maximum: the vertex lies within half a bin
                offset = 0.5 * (a - d) / den
            positions[c, h - 1] = best + offset


@njit(cache=True, nogil=True, inline="always")
def _running_mean(x, width, out):  # pragma: no cover - jitted
    # scipy.ndimage.uniform_filter1d(x, width, mode="nearest") of a 1-D series, odd width,
    # with its arithmetic: a float64 running sum (the entering value added, the leaving one
    # subtracted), divided by the width at each output
    n = x.shape[0]
    half = width // 2
    acc = 0.0
    for j in range(-half, half + 1):
        acc += x[min(max(j, 0), n - 1)]
    out[0] = acc / width
    for i in range(1, n):
        acc += x[min(i + half, n - 1)] - x[max(i - half - 1, 0)]
        out[i] = acc / width


@njit(cache=True, nogil=True)
def running_mean_columns(x, width, out):  # pragma: no cover - jitted
    """scipy.ndimage.uniform_filter1d(x, width, axis=0, mode="nearest") of a 2-D array, odd
    width, each window summed afresh in float64 (``width`` loads an output: for the short
    windows it serves).

    Not a running sum: on band powers spanning 100 dB, the rounding of a loud stretch's
    entering and leaving values stays in the sum, and the quiet after it read that residue
    (a -119.6 dB band read -104.4 dB for the rest of the file after a -26 dB event).
    """
    n = x.shape[0]
    half = width // 2
    for i in range(n):  # row by row: the frames × bands arrays are C-ordered
        for c in range(x.shape[1]):
            acc = 0.0
            for j in range(i - half, i + half + 1):
                acc += np.float64(x[min(max(j, 0), n - 1), c])
            out[i, c] = acc / width


@njit(cache=True, nogil=True)
def running_max(x, width, out):  # pragma: no cover - jitted
    """scipy.ndimage.maximum_filter1d(x, width, mode="nearest") for odd width (a short one:
    each output scans its window)."""
    n = x.shape[0]
    half = width // 2
    for i in range(n):
        best = x[max(i - half, 0)]
        for j in range(max(i - half, 0) + 1, min(i + half, n - 1) + 1):
            best = max(best, x[j])
        out[i] = best


@njit(cache=True, nogil=True)
def running_median(x, width, out):  # pragma: no cover - jitted
    """scipy.ndimage.median_filter(x, width, mode="nearest") of a 1-D array, odd width.

    The window is kept sorted: each step removes the leaving value and inserts the
    entering one (binary search, then a shift), O(n·width) moves in all, no allocation.
    """
    n = x.shape[0]
    half = width // 2
    window = np.empty(width, x.dtype)
    for j in range(width):
        window[j] = x[min(max(j - half, 0), n - 1)]
    window.sort()
    out[0] = window[half]
    for i in range(1, n):
        leaving = x[max(i - half - 1, 0)]
        entering = x[min(i + half, n - 1)]
        k = np.searchsorted(window, leaving)  # its first copy; any copy will do
        # close the gap towards the side the entering value belongs on, then drop it in
        if entering >= leaving:
            while k + 1 < width and window[k + 1] < entering:
                window[k] = window[k + 1]
                k += 1
        else:
            while k > 0 and window[k - 1] > entering:
                window[k] = window[k - 1]
                k -= 1
        window[k] = entering
        out[i] = window[half]


@njit(cache=True, nogil=True)
def whiten(db, width, scratch, white):  # pragma: no cover - jitted
    """Level above the local background of a spectrum in dB.

    The background is a running mean of the spectrum over ``width`` bins (odd), taken
    twice: the second time over the spectrum clipped to 3 dB above the first, so that a
    peak does not lift its own background. (The dB values come from numpy: its vectorised
    log10 is 6x faster than a scalar one here.)
    db : (n,) float64; scratch : (2, n) float64; white : (n,) float32 output
    """
    n = db.shape[0]
    clipped, background = scratch[0], scratch[1]
    _running_mean(db, width, background)
    for i in range(n):
        clipped[i] = min(db[i], background[i] + 3.0)
    _running_mean(clipped, width, background)
    for i in range(n):
        white[i] = db[i] - background[i]


@njit(cache=True, nogil=True)
def _teeth_about(white, centre, d, least, needed, tooth_db):  # pragma: no cover - jitted
    """Whether ``needed`` of the four points ±d, ±2d about the peak at bin ``centre`` (the
    first four inside the band, from ±3d, ±4d where it ends) hold a peak at least ``least``
    up (within a bin), and the centre stands less than ``tooth_db`` above the loudest."""
    n = white.shape[0]
    least = np.float32(least)  # as numpy compares a float32 array with a Python float
    inside = 0
    heard = 0
    loudest = np.float32(-np.inf)
    for step in range(1, 5):
        for sign in (-1.0, 1.0):
            k = int(np.floor(centre + sign * step * d + 0.5))
            if k < 2 or k > n - 3:
                continue
            inside += 1
            if inside > 4:
                continue
            at = k - 1  # the first of the largest of the three about k
            if white[k] > white[at]:
                at = k
            if white[k + 1] > white[at]:
                at = k + 1
            level = white[at]
            if level >= least and level >= white[at - 1] and level >= white[at + 1]:
                heard += 1
                loudest = max(loudest, level)
    return heard >= needed and white[centre] < np.float32(loudest + np.float32(tooth_db))


@njit(cache=True, nogil=True)
def comb_teeth(
    white, floor, comb_teeth_db, tooth_db, comb_spacings, peaks, spacing, on_comb
):  # pragma: no cover - jitted
    """The heard peaks of a whitened spectrum and which of them are a comb's teeth (the
    reading of ``tonal._Teeth``, whose docstring has the rules).

    Writes the peaks' bins (local maxima at or above ``floor``, ascending) to ``peaks``;
    to ``spacing`` the distance to the nearest peaks beyond the main lobe where the four
    about it at that distance are heard, else inf; to ``on_comb`` whether it is a tooth of
    the spectrum's comb. Returns ``(peaks found, the comb's spacing in bins or -1.0)``: a
    comb is a spacing of at least 2.5 bins shared (within a bin) by ``comb_spacings`` or
    more pairs of neighbouring peaks 2 or more bins apart. The outputs hold ``len(white)``.
    """
    n = white.shape[0]
    m = 0
    floor32 = np.float32(floor)
    for i in range(1, n - 1):
        v = white[i]
        if v >= floor32 and v >= white[i - 1] and v > white[i + 1]:
            peaks[m] = i
            m += 1
    # the comb's spacing: the gap value most gaps lie within a bin of (the smallest of ties)
    gaps = np.empty(max(m - 1, 0), np.int64)
    g = 0
    for i in range(1, m):
        gap = peaks[i] - peaks[i - 1]
        if gap >= 2:
            gaps[g] = gap
            g += 1
    comb = -1.0
    if g >= comb_spacings:
        gaps = np.sort(gaps[:g])
        best_value, best_support = gaps[0], -1
        for i in range(g):
            if i > 0 and gaps[i] == gaps[i - 1]:
                continue
            support = 0
            for j in range(g):
                if abs(gaps[j] - gaps[i]) <= 1:
                    support += 1
            if support > best_support:
                best_value, best_support = gaps[i], support
        if best_support >= comb_spacings:
            near = np.empty(best_support, np.int64)
            c = 0
            for j in range(g):
                if abs(gaps[j] - best_value) <= 1:
                    near[c] = gaps[j]
                    c += 1
            median = np.median(near)
            if median >= 2.5:
                comb = median
    for i in range(m):
        # the nearest heard peak on each side beyond the main lobe (2 bins off is within it)
        left = np.inf if i < 1 else np.float64(peaks[i] - peaks[i - 1])
        if left < 2.5:
            left = np.inf if i < 2 else np.float64(peaks[i] - peaks[i - 2])
        right = np.inf if i + 1 >= m else np.float64(peaks[i + 1] - peaks[i])
        if right < 2.5:
            right = np.inf if i + 2 >= m else np.float64(peaks[i + 2] - peaks[i])
        d = min(left, right)
        local = d < np.inf and _teeth_about(white, peaks[i], d, floor, 4, tooth_db)
        spacing[i] = d if local else np.inf
        on_comb[i] = comb > 0.0 and _teeth_about(white, peaks[i], comb, comb_teeth_db, 3, tooth_db)
    return m, comb


@njit(cache=True, nogil=True)
def salience_peaks(salience, min_level, order):  # pragma: no cover - jitted
    """The strongest local maxima of a salience curve, strongest first.

    A peak is at least its left neighbour and above its right one (the last sample of a flat
    top: neighbouring candidates can read the same harmonic bins; the curve is taken as 0
    beyond its ends) and at least ``min_level``. Fills ``order`` (int64, its length is how
    many are wanted) with their indices and returns how many were found (at most
    ``len(order)``).
    """
    n = salience.shape[0]
    wanted = order.shape[0]
    count = 0
    for i in range(n):
        v = salience[i]
        # the level test first: once the list is full, nearly every value fails it, a branch
        # the processor predicts (the local-maximum test alone mispredicts every other time)
        if v < min_level or (count == wanted and v <= salience[order[wanted - 1]]):
            continue
        if (i > 0 and v < salience[i - 1]) or (i + 1 < n and v <= salience[i + 1]):
            continue
        if v <= 0.0:  # the curve is 0 beyond its ends: a peak must stand above that
            continue
        # insertion into the short sorted list of the best so far
        if count < wanted:
            count += 1
        j = count - 1
        while j > 0 and salience[order[j - 1]] < v:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    return count


def harmonic_bins(f0_bins, n_harmonics, n_bins):
    """Nearest bin of each harmonic of each candidate, ``(n_candidates, n_harmonics)`` int32;
    -1 from the first harmonic whose ±1 neighbourhood leaves the spectrum. Computed once
    per tracker (numpy), so :func:`harmonic_salience` only gathers."""
    numbers = np.arange(1, n_harmonics + 1)
    bins = (np.asarray(f0_bins, np.float64)[:, None] * numbers + 0.5).astype(np.int64)
    past = np.cumsum((bins + 1 >= n_bins) | (bins < 1), axis=1) > 0
    return np.where(past, -1, bins).astype(np.int32)


@njit(cache=True, nogil=True)
def harmonic_salience(white_db, bins, weights, out):  # pragma: no cover - jitted
    """Harmonic summation: for each candidate fundamental, sum the weighted positive
    whitened level at its harmonics (max over ±1 bin).

    white_db : (n_bins,) float32, spectrum in dB above its local background
    bins : (n_candidates, n_harmonics) int32 — :func:`harmonic_bins`
    out : (n_candidates,) float32
    """
    n_bins = white_db.shape[0]
    # each bin's neighbourhood maximum, floored at 0, once per spectrum: then a candidate
    # costs one gather per harmonic (3x faster than three compares per harmonic)
    best = np.zeros(n_bins, np.float32)
    for k in range(1, n_bins - 1):
        best[k] = max(white_db[k - 1], white_db[k], white_db[k + 1], np.float32(0.0))
    for c in range(bins.shape[0]):
        acc = 0.0
        for h in range(bins.shape[1]):
            k = bins[c, h]
            if k < 0:
                break
            acc += weights[h] * best[k]
        out[c] = acc


# Reassociation lets LLVM vectorise the sums (and contraction fuse multiply-adds); no flag
# that assumes away NaN/Inf or approximates sqrt/exp: inputs are finite, results stay exact
# to float rounding (the tests compare with numpy and librosa at 1e-4).
_REASSOC = {"reassoc", "contract", "nsz"}


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def reduce_frames(  # pragma: no cover - jitted
    spec,
    freqs,
    prev_mag,
    roll_percent,
    amin,
    band_lo,
    band_hi,
    band_weights,
    band_out,
    welch_sum,
    hist,
    log2_scale,
    db_min,
    db_step,
    hist_take,
    pending,
    pending_count,
    pool_sum,
    pool_col,
    scratch_p,
    scratch_bits,
    scratch_mag,
    features,
):
    """Everything the analysis needs from each complex spectrum, while the frame is in cache.

    spec : (n_frames, n_bins) complex64 — STFT frames
    prev_mag : (n_bins,) float32 — |X| of the frame before the first; left holding the last frame's
    band_lo, band_hi : (n_bands,) int64 — the bins each band overlaps
    band_weights : (n_bands, 2) float64 — the band's share of its first and last bin
    (:class:`~zhurong_tk.audio.bands.Band`)
    band_out : (n_frames, n_bands) float64 — weighted sums of |X|² over each band
    welch_sum : (n_bins,) float64 — running sum of |X|² (Welch mean)
    hist, log2_scale, db_min, db_step : level histogram (see :func:`level_histogram_update`)
    hist_take : (n_frames,) bool — frames counted in the histogram
    pending : (n_batch, n_bins) int16, pending_count : (1,) int64 — cells of counted frames
    not yet in ``hist``; counted into it (:func:`count_pending`) whenever the buffer fills
    pool_sum : (n_columns, n_bins) float32; pool_col : (n_frames,) int64 — spectrogram pooling
    scratch_p (float32), scratch_bits (the same memory as int32), scratch_mag (float32):
    work space of n_bins, allocated once by the caller
    features : (n_frames, 5) float32 — centroid, bandwidth, rolloff, flatness, flux

    Same definitions as :func:`frame_features`, :func:`band_sums` and
    :func:`level_histogram_update`. Each frame is a few branch-free loops over its bins that
    LLVM turns into SIMD code (one loop with everything in it did not vectorise: 4× slower);
    the histogram's scattered increments run only on the frames it counts.
    """
    n_frames, n_bins = spec.shape
    n_bands = band_lo.shape[0]
    n_levels = hist.shape[1]
    db_per_log2 = 3.010299956639812
    amin32 = np.float32(amin)
    amin_log2 = np.log2(amin)
    zero = np.float32(0.0)
    for t in range(n_frames):
        col = pool_col[t]
        s_sum = 0.0
        s_f = 0.0
        s_f2 = 0.0
        flux = 0.0
        for k in range(n_bins):
            z = spec[t, k]
            p = z.real * z.real + z.imag * z.imag
            m = np.sqrt(p)
            scratch_p[k] = p
            scratch_mag[k] = m
            s_sum += m
            s_f += m * freqs[k]
            s_f2 += m * freqs[k] * freqs[k]
            d = max(m - prev_mag[k], zero)
            flux += d * d
            prev_mag[k] = m
            welch_sum[k] += p
            pool_sum[col, k] += p
        # flatness's geometric mean from the float bits (see _log2): no libm log per bin
        log2_sum = 0.0
        p_sum = 0.0
        for k in range(n_bins):
            p = scratch_p[k]
            above = p > amin32
            log2_sum += _log2(scratch_bits[k]) if above else amin_log2
            p_sum += p if above else amin32
        if hist_take[t]:
            # the frame's cells wait in a small buffer, counted a batch at a time bin by bin:
            # one increment per bin straight into the 20 MB histogram missed the cache every
            # time (~45 us a counted frame; ~5 us batched)
            row = pending[pending_count[0]]
            for k in range(n_bins):
                b = scratch_bits[k]
                if (b >> 23) & 0xFF == 0:  # zero or denormal: below any level of interest
                    idx = 0
                else:
                    idx = int((db_per_log2 * (_log2(b) + log2_scale[k]) - db_min) / db_step)
                    idx = min(max(idx, 0), n_levels - 1)
                row[k] = idx
            pending_count[0] += 1
            if pending_count[0] == pending.shape[0]:
                count_pending(pending, pending_count, hist)
        for j in range(n_bands):
            band_out[t, j] = _band_total(scratch_p, band_lo[j], band_hi[j], band_weights[j])
        _store_features(
            features[t], scratch_mag, freqs, s_sum, s_f, s_f2, roll_percent, log2_sum, p_sum, flux
        )


@njit(cache=True, nogil=True, inline="always")
def _level_cell(power, db_min, db_step, n_cells):  # pragma: no cover - jitted
    """Histogram cell of a power value: 10·log10 in ``db_step`` cells from ``db_min``;
    zero (or NaN) power is cell 0, levels beyond the range land in the end cells."""
    if not power > 0.0:
        return 0
    cell = np.floor((10.0 * np.log10(power) - db_min) / db_step)
    return int(min(max(cell, 0.0), n_cells - 1.0))


@njit(cache=True, nogil=True)
def frame_levels(
    rows, band_col, band_factor, energy, n_fft, third_lo, third_hi, prev_third, level_hist,
    db_min, db_step, onset_range_db, onset,
):  # fmt: skip  # pragma: no cover - jitted
    """The per-frame band work after :func:`reduce_frames`, in place on the frame table.

    rows : (n_frames, n_columns) float32 — the frame table's rows; column 1 receives the
    unwindowed RMS, the columns from ``band_col`` hold band sums of |X|² and are scaled by
    ``band_factor`` to mean-square band power
    energy : (n_frames,) float64 — Σ x² of each frame (:func:`frame_energy`)
    third_lo, third_hi : the third-octave bands among the band columns (``band_col + j``)
    prev_third : (third_hi - third_lo,) float64 — third-octave levels (dB) of the frame
    before; NaN before the first frame. Left holding the last frame's.
    level_hist : (n_bands + 1, n_cells) int64 — each band's level and, in the last row, the
    frame's mean-square level, counted in cells (see :func:`_level_cell`)
    onset_range_db : levels more than this far under the frame's loudest third-octave band
    count as that far under it (see :func:`zhurong_tk.audio.impulses.onset_strength`)
    onset : (n_frames,) float32 — onset strength: the third-octave levels' rises since the
    frame before, summed (dB), as :func:`zhurong_tk.audio.impulses.onset_strength`; silence
    counts as -300 dB
    """
    n_frames = rows.shape[0]
    n_bands = level_hist.shape[0] - 1
    n_cells = level_hist.shape[1]
    for t in range(n_frames):
        mean_square = energy[t] / n_fft
        rows[t, 1] = np.sqrt(mean_square)
        level_hist[n_bands, _level_cell(mean_square, db_min, db_step, n_cells)] += 1
        for j in range(n_bands):
            power = rows[t, band_col + j] * band_factor
            rows[t, band_col + j] = power
            level_hist[j, _level_cell(power, db_min, db_step, n_cells)] += 1
        loudest = 1e-30
        for j in range(third_lo, third_hi):
            loudest = max(loudest, np.float64(rows[t, band_col + j]))
        lowest = 10.0 * np.log10(loudest) - onset_range_db
        rise = 0.0
        for j in range(third_lo, third_hi):
            level = max(10.0 * np.log10(max(np.float64(rows[t, band_col + j]), 1e-30)), lowest)
            before = prev_third[j - third_lo]
            if level > before:  # False while ``before`` is NaN: the first frame has no rise
                rise += level - before
            prev_third[j - third_lo] = level
        onset[t] = rise


@njit(cache=True, nogil=True, inline="always")
def _shares_band(flags, t, bands):  # pragma: no cover - jitted
    for j in range(bands.shape[0]):  # noqa: SIM110 - numba has no generator any()
        if flags[t, j] and bands[j]:
            return True
    return False


@njit(cache=True, nogil=True)
def hysteresis_runs(start, keep, runs):  # pragma: no cover - jitted
    """Banded hysteresis (see :func:`zhurong_tk.audio.segments.banded_hysteresis_runs`).

    start, keep : (n_frames, n_bands) bool
    runs : (n_frames, 2) int64 output, ``[first, end)`` frame of each run
    Returns the number of runs written.
    """
    n, n_bands = start.shape
    bands = np.zeros(n_bands, np.bool_)
    count = 0
    i = 0
    while i < n:
        started = False
        for j in range(n_bands):
            bands[j] = start[i, j]
            started = started or bands[j]
        if not started:
            i += 1
            continue
        a = i
        while a > 0 and _shares_band(keep, a - 1, bands):
            a -= 1
        b = i
        while b < n and _shares_band(keep, b, bands):
            for j in range(n_bands):
                bands[j] = bands[j] or start[b, j]
            b += 1
        runs[count, 0] = a
        runs[count, 1] = max(b, i + 1)
        count += 1
        i = max(b, i + 1)
    return count


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def fir_decimate(x, taps_reversed, first, step, out):  # pragma: no cover - jitted
    """Every ``step``-th sample of an FIR filter's output, computing only the kept ones.

    x : (n,) float32 — input; out[j] is the filter's output at sample ``first + j·step``
    taps_reversed : (n_taps,) float32 — the impulse response, last tap first, so that each
    output is a forward dot product over ``x[end - n_taps + 1 .. end]`` (it vectorises)
    out : (n_out,) float32; needs ``first >= n_taps - 1`` and ``first + (n_out-1)·step < n``
    """
    n_taps = taps_reversed.shape[0]
    for j in range(out.shape[0]):
        start = first + j * step - n_taps + 1
        # a slice, indexed from 0: with ``x[start + m]`` numba's negative-index wraparound
        # check stays in the loop and blocks vector loads (measured 8× slower)
        window = x[start : start + n_taps]
        acc = np.float32(0.0)
        for m in range(n_taps):
            acc += taps_reversed[m] * window[m]
        out[j] = acc


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def run_mean_squares(x, run, out):  # pragma: no cover - jitted
    """Mean square of ``x`` over consecutive runs of ``run`` samples (the last run may be
    shorter), accumulated in float64.

    x : (n,) float32; out : (ceil(n / run),) float32
    """
    n = x.shape[0]
    for j in range(out.shape[0]):
        part = x[j * run : min(n, (j + 1) * run)]
        acc = 0.0
        for m in range(part.shape[0]):
            acc += np.float64(part[m]) * np.float64(part[m])
        out[j] = acc / part.shape[0]


@njit(cache=True, nogil=True)
def envelope_rises(env, after, parts, min_ratio, start, at_out, ratio_out, mean_out, final):
    """Sharp rises of the onset envelope, one per run, at the run's largest.

    The rise at step ``j`` is the mean of ``env[j : j + after]`` over the mean of the
    ``parts · after`` steps before ``j``; a run is consecutive steps rising at least
    ``min_ratio`` (a silent stretch before counts as the smallest normal float32). Steps
    ``j`` from ``max(start, parts · after)`` to ``len(env) - after`` are scanned, and each
    run's ``j``, rise and after-mean are written until the outputs are full. ``final``:
    ``env`` runs to the end of the envelope; else it is a piece, and a run still rising at
    its end is left to the next piece. Returns ``(runs written, step to resume from)``: the
    first step of the run that did not fit or was left, else ``len(env)`` when the scan is
    through (``final``) or the step after the last scanned.

    Every window sum is a sum of ``after``-step sums, each added up afresh (no running
    subtraction: after a loud clank a running sum's rounding residue would outweigh the
    silence that follows it), a chunk of steps at a time so that the loops vectorise.
    """
    n = env.shape[0]
    span = parts * after
    j = max(start, span)
    last = n - after  # the last step with a whole window after it
    count = 0
    run_start = -1
    best_j = 0
    best_ratio = 0.0
    best_mean = 0.0
    tiny = np.float32(1.1754944e-38)
    chunk = 4096
    # float32 (twice the lanes): sums of positive terms lose no more than their rounding
    sums = np.empty(chunk + span, np.float32)  # [i]: env over the after-window from j0 - span + i
    ratio = np.empty(chunk, np.float32)
    inv_after, inv_span = np.float32(1.0 / after), np.float32(1.0 / span)
    while j <= last:
        j0 = j
        m = min(chunk, last + 1 - j0)
        for i in range(m + span):
            sums[i] = np.float32(0.0)
        for k in range(after):
            base = j0 - span + k
            for i in range(m + span):
                sums[i] += env[base + i]
        for i in range(m):
            ratio[i] = np.float32(0.0)
        for p in range(1, parts + 1):
            for i in range(m):
                ratio[i] += sums[span + i - p * after]
        for i in range(m):
            ratio[i] = (sums[span + i] * inv_after) / max(ratio[i] * inv_span, tiny)
        for i in range(m):
            if ratio[i] >= min_ratio:
                if run_start < 0:
                    run_start = j0 + i
                    best_ratio = 0.0
                if ratio[i] > best_ratio:
                    best_j, best_ratio, best_mean = j0 + i, ratio[i], sums[span + i] * inv_after
            elif run_start >= 0:
                if count == at_out.shape[0]:
                    return count, run_start
                at_out[count], ratio_out[count], mean_out[count] = best_j, best_ratio, best_mean
                count += 1
                run_start = -1
        j = j0 + m
    if run_start >= 0:
        if count == at_out.shape[0] or not final:
            return count, run_start
        at_out[count], ratio_out[count], mean_out[count] = best_j, best_ratio, best_mean
        count += 1
    return count, (n if final else j)


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def sample_stats(x, clip_level, limit):  # pragma: no cover - jitted
    """One pass over a block: (non-finite count, count beyond ±``limit``, peak |x|,
    samples at or beyond ``clip_level``, sum and sum of squares in float64); samples
    that are non-finite or beyond ``limit`` (corrupt data) counted as zero.

    The careful path for blocks holding NaN, Inf or absurd values (it does not
    vectorise: ~1.5 ns a sample); others take :func:`sums` and numpy's max/min."""
    non_finite = 0
    beyond = 0
    peak = np.float32(0.0)
    clipped = 0
    total = 0.0
    sum_sq = 0.0
    zero = np.float32(0.0)
    for i in range(x.shape[0]):
        finite = np.isfinite(x[i])
        inside = finite and abs(x[i]) <= limit
        v = x[i] if inside else zero
        a = abs(v)
        non_finite += not finite
        beyond += finite and not inside
        peak = max(peak, a)
        clipped += a >= clip_level
        total += v
        sum_sq += v * v
    return non_finite, beyond, peak, clipped, total, sum_sq


@njit(cache=True, nogil=True, inline="always", fastmath=_REASSOC)
def _sum_squares(x):  # pragma: no cover - jitted
    # float32 lanes over runs of 512 samples (LLVM vectorises them; a float64 accumulator
    # or a max() in the loop does not: 15-25x slower), each run's sum added in float64:
    # relative error ~1e-6 however long the input
    total = 0.0
    for start in range(0, x.shape[0], 512):
        run = x[start : start + 512]
        acc = np.float32(0.0)
        for i in range(run.shape[0]):
            acc += run[i] * run[i]
        total += acc
    return total


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def sum_squares(x):  # pragma: no cover - jitted
    """Σ x² of a float32 block in float64 (Inf or NaN if the block holds any)."""
    return _sum_squares(x)


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def sums(x):  # pragma: no cover - jitted
    """(Σ x, Σ x²) of a float32 block in float64, in one vectorised pass as
    :func:`_sum_squares` (Inf or NaN if the block holds any)."""
    total = 0.0
    total_sq = 0.0
    for start in range(0, x.shape[0], 512):
        run = x[start : start + 512]
        acc = np.float32(0.0)
        acc_sq = np.float32(0.0)
        for i in range(run.shape[0]):
            acc += run[i]
            acc_sq += run[i] * run[i]
        total += acc
        total_sq += acc_sq
    return total, total_sq


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def frame_energy(x, n_fft, hop, out):  # pragma: no cover - jitted
    """Σ x² over each frame ``x[t·hop : t·hop + n_fft]`` for ``t < len(out)`` (unwindowed)."""
    for t in range(out.shape[0]):
        out[t] = _sum_squares(x[t * hop : t * hop + n_fft])


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def onset_envelope(x, step, state, scratch, out):  # pragma: no cover - jitted
    """Σ (x[i] - x[i-1])² over consecutive runs of ``step`` samples, carried across blocks.

    The first difference weighs a clank's kilohertz ring ~30 dB above the wind's low
    rumble. ``state`` is ``[sum so far, samples in it, last sample, started]`` (float64,
    zeros before the first block; the first sample has no predecessor and counts 0);
    ``scratch`` is float32 of ``len(x)``; ``out`` takes ``len(x) // step + 1`` values at
    most. Returns how many were completed. The squares, then each step's sum, are two
    loops that vectorise (0.26 ms a 262144-sample block: 0.17 s an hour at 48 kHz).
    """
    n = x.shape[0]
    if n == 0:
        return 0
    prev = np.float32(state[2]) if state[3] else x[0]
    scratch[0] = (x[0] - prev) * (x[0] - prev)
    for i in range(1, n):
        d = x[i] - x[i - 1]
        scratch[i] = d * d
    acc = state[0]
    count = int(state[1])
    done = 0
    i = 0
    while count and i < n:  # the step the last block left open
        acc += scratch[i]
        count += 1
        i += 1
        if count == step:
            out[done] = acc
            done += 1
            acc = 0.0
            count = 0
    while i + step <= n:
        total = np.float32(0.0)
        for k in range(i, i + step):
            total += scratch[k]
        out[done] = total
        done += 1
        i += step
    while i < n:  # the rest opens the next step
        acc += scratch[i]
        count += 1
        i += 1
    state[0] = acc
    state[1] = count
    state[2] = x[n - 1]
    state[3] = 1.0
    return done


# --- frames.csv as text: C's %.Nf and %.6g, correctly rounded, without the GIL ----------
# Python's %-formatting of an hour's frame table (~4 M numbers) costs ~1.5 s and holds the
# GIL the other stages need. These write the same characters: a value is scaled by a power
# of ten exactly (Dekker's product: the rounding error as a second double), so rounding to
# the printed digits is the correctly rounded, ties-to-even result Python's dtoa gives.

_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles up to 1e22
_POW10_INT = np.array([10**k for k in range(19)], np.int64)
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter
_MAX_SCALED = 2.0**52  # scaled values below this are integers or have a fraction bit


@njit(cache=True, nogil=True, inline="always")
def _two_prod(a, b):  # pragma: no cover - jitted
    """a·b = p + e exactly (Dekker; no fused multiply-add needed)."""
    p = a * b
    c = _SPLIT * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLIT * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


@njit(cache=True, nogil=True, inline="always")
def _round_scaled(v, k):  # pragma: no cover - jitted
    """The integer nearest v·10^k (ties to even), exactly; v ≥ 0, |k| ≤ 22, v·10^k < 2^52.

    k ≥ 0: v·10^k = hi + lo exactly; the fraction of hi is exact, so comparing it and lo
    with one half decides the rounding. k < 0: 10^-k is exact and v is compared with
    (n + ½)·10^-k, that product again split exactly."""
    if k >= 0:
        hi, lo = _two_prod(v, _POW10[k])
        n = np.floor(hi)
        half = (hi - n) - 0.5  # exact, or far from zero
        if half > 0.0 or (half == 0.0 and lo > 0.0):
            return n + 1.0
        if half == 0.0 and lo == 0.0 and n % 2.0 == 1.0:
            return n + 1.0
        return n
    p = _POW10[-k]
    n = np.floor(v / p)
    low_hi, low_lo = _two_prod(n, p)
    if v - low_hi < low_lo:  # the quotient was rounded up past an integer
        n -= 1.0
    mid_hi, mid_lo = _two_prod(n + 0.5, p)
    above = v - mid_hi  # exact where it matters (Sterbenz), else far from mid_lo
    if above > mid_lo or (above == mid_lo and n % 2.0 == 1.0):
        return n + 1.0
    return n


@njit(cache=True, nogil=True, inline="always")
def _put_digits(out, pos, n, width):  # pragma: no cover - jitted
    """Write the integer ``n`` as exactly ``width`` digits (zero-padded) at ``out[pos:]``."""
    for i in range(width - 1, -1, -1):
        q = n // 10
        out[pos + i] = 48 + (n - 10 * q)
        n = q
    return pos + width


@njit(cache=True, nogil=True, inline="always")
def _n_digits(n):  # pragma: no cover - jitted
    width = 1
    while width < 19 and n >= _POW10_INT[width]:
        width += 1
    return width


@njit(cache=True, nogil=True, inline="always")
def _put_word(out, pos, word):  # pragma: no cover - jitted
    for i in range(word.shape[0]):
        out[pos + i] = word[i]
    return pos + word.shape[0]


@njit(cache=True, nogil=True, inline="always")
def _put_scaled(out, pos, n, decimals):  # pragma: no cover - jitted
    """Write n / 10^decimals: the whole part, then "." and ``decimals`` digits if any."""
    unit = _POW10_INT[decimals]
    whole = n // unit
    pos = _put_digits(out, pos, whole, _n_digits(whole))
    if decimals > 0:
        out[pos] = 46  # "."
        pos = _put_digits(out, pos + 1, n - whole * unit, decimals)
    return pos


@njit(cache=True, nogil=True)
def _put_fixed(out, pos, a, decimals):  # pragma: no cover - jitted
    """%.<decimals>f of a ≥ 0 (sign written by the caller); -1 if out of the exact range."""
    if a * _POW10[decimals] >= _MAX_SCALED:
        return -1
    return _put_scaled(out, pos, np.int64(_round_scaled(a, decimals)), decimals)


@njit(cache=True, nogil=True)
def _put_general(out, pos, a):  # pragma: no cover - jitted
    """%.6g of a > 0 (sign written by the caller); -1 if out of the exact range."""
    exp10 = int(np.floor(np.log10(a)))  # estimate; corrected from the rounded digits
    scaled = 0.0
    for _ in range(4):
        k = 5 - exp10
        if k < -22 or k > 22:
            return -1
        scaled = _round_scaled(a, k)
        if scaled >= 1e6:
            exp10 += 1
        elif scaled < 1e5:
            exp10 -= 1
        else:
            break
    n = np.int64(scaled)
    decimals = 5 - exp10 if -4 <= exp10 < 6 else 5  # %f style, else %e style
    while decimals > 0 and n % 10 == 0:  # %g drops trailing zeros
        n //= 10
        decimals -= 1
    pos = _put_scaled(out, pos, n, decimals)
    if not -4 <= exp10 < 6:
        out[pos] = 101  # "e"
        out[pos + 1] = 45 if exp10 < 0 else 43
        e = np.int64(abs(exp10))
        pos = _put_digits(out, pos + 2, e, max(2, _n_digits(e)))
    return pos


_NAN = np.frombuffer(b"nan", np.uint8)
_INF = np.frombuffer(b"inf", np.uint8)


@njit(cache=True, nogil=True)
def format_rows(values, decimals, prefix, out):  # pragma: no cover - jitted
    """CSV text of a table, as ``(prefix + ",".join(fmt % v) + "\\n")`` per row.

    values : (n, m) float64
    decimals : (m,) int64 — ``d ≥ 0`` formats a column as ``%.<d>f``, ``-1`` as ``%.6g``;
    -inf is written as an empty cell, NaN as ``nan``, +inf as ``inf``
    prefix : (p,) uint8 — text before each row (e.g. ``b"1,"``; may be empty)
    out : uint8, at least ``n · (p + 25·m)`` long
    Returns the bytes written, or ``-1 - row`` for the first row holding a value outside
    the exact range (|x| ≥ 2^52 / 10^d for %f; below ~1e-17 or above ~1e27 for %g).
    """
    n_rows, n_cols = values.shape
    pos = 0
    for r in range(n_rows):
        pos = _put_word(out, pos, prefix)
        for c in range(n_cols):
            if c:
                out[pos] = 44  # ","
                pos += 1
            v = values[r, c]
            if np.isnan(v):
                pos = _put_word(out, pos, _NAN)
                continue
            if v == -np.inf:
                continue
            if np.signbit(v):
                out[pos] = 45  # "-"
                pos += 1
            a = abs(v)
            if a == np.inf:
                pos = _put_word(out, pos, _INF)
                continue
            if decimals[c] >= 0:
                pos = _put_fixed(out, pos, a, decimals[c])
            elif a == 0.0:
                out[pos] = 48
                pos += 1
            else:
                pos = _put_general(out, pos, a)
            if pos < 0:
                return -1 - r
        out[pos] = 10  # "\n"
        pos += 1
    return pos
