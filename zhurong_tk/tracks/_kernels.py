"""numba kernels of the wheel-track detector (private; each has a numpy twin in the tests).

Compiled with ``cache=True`` (``zhurong-tk warmup`` compiles them ahead). The
parallel kernels split their rows (or a path's steps) into ``n_tiles`` bands: the
caller passes the count (numba's thread count is a process setting, not read in
here), and each band writes only its own slice of the output and uses its own
scratch row, so there is no race.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def valley_response(smooth, sigma, n_tiles, resp, across, along):  # pragma: no cover - jitted
    """Dark-line (valley) strength from a Gaussian-smoothed image, keeping the strongest scale.

    For each pixel the Hessian (central differences) has eigenvalues
    ``l1 >= l2``. A dark line has strong positive curvature across it
    (``l1``) and little along it (``l2``); a dark blob (a rock's shadow) curves
    both ways. The response ``sigma² · (l1 - |l2|)``, where positive and
    larger than what is already in ``resp``, is written into ``resp``, and the
    Hessian's ``2 hxy`` into ``across`` and ``hxx - hyy`` into ``along``: calling it
    on several scales keeps the strongest, and :func:`valley_direction` then turns
    the winner's components into a direction once per pixel (an ``atan2`` at every
    scale's improvement cost three times the rest of the kernel).

    smooth : (h, w) float32; resp : (h, w) float32; across, along : (h, w) float64;
    all updated in place.
    """
    h, w = smooth.shape
    s2 = sigma * sigma
    rows_per = (h - 2 + n_tiles - 1) // n_tiles
    for tile in prange(n_tiles):
        y0 = 1 + tile * rows_per
        y1 = min(h - 1, y0 + rows_per)
        for y in range(y0, y1):
            up = smooth[y - 1]
            row = smooth[y]
            down = smooth[y + 1]
            resp_row = resp[y]
            across_row = across[y]
            along_row = along[y]
            for x in range(1, w - 1):
                c = row[x]
                hxx = row[x - 1] - 2.0 * c + row[x + 1]
                hyy = up[x] - 2.0 * c + down[x]
                hxy = 0.25 * (down[x + 1] - down[x - 1] - up[x + 1] + up[x - 1])
                half_tr = 0.5 * (hxx + hyy)
                diff = hxx - hyy
                disc = math.sqrt(0.25 * diff * diff + hxy * hxy)
                r = s2 * ((half_tr + disc) - abs(half_tr - disc))
                if r > resp_row[x]:
                    resp_row[x] = r
                    across_row[x] = 2.0 * hxy
                    along_row[x] = diff


@njit(cache=True, nogil=True)
def keep_stronger(resp, across, along, other_resp, other_across, other_along):  # pragma: no cover
    """Merge another :func:`valley_response` result into ``resp, across, along`` (in place):
    where ``other_resp`` is larger, take it and its components. All (h, w)."""
    h, w = resp.shape
    for y in range(h):
        for x in range(w):
            if other_resp[y, x] > resp[y, x]:
                resp[y, x] = other_resp[y, x]
                across[y, x] = other_across[y, x]
                along[y, x] = other_along[y, x]


@njit(cache=True, nogil=True, parallel=True)
def valley_direction(resp, across, along, threshold, n_tiles, theta):  # pragma: no cover
    """Line direction where ``resp > threshold``, from :func:`valley_response`'s components.

    The line runs along the Hessian's eigenvector of the smaller eigenvalue, normal to
    that of the larger: ``0.5 atan2(2 hxy, hxx - hyy) + pi/2``, in ``[0, pi)`` (image x
    right, y down). theta : (h, w) float32, written where ``resp > threshold`` only (the
    detector needs directions only where pixels vote: a tenth of them).
    """
    h, w = resp.shape
    rows_per = (h + n_tiles - 1) // n_tiles
    for tile in prange(n_tiles):
        for y in range(tile * rows_per, min(h, (tile + 1) * rows_per)):
            for x in range(w):
                if resp[y, x] > threshold:
                    t = 0.5 * math.atan2(across[y, x], along[y, x]) + 0.5 * math.pi
                    if t >= math.pi:
                        t -= math.pi
                    theta[y, x] = t


@njit(cache=True, nogil=True, parallel=True)
def vote_lines(resp, theta, threshold, n_theta, rho_step, spread, n_tiles, acc):  # pragma: no cover
    """Hough voting limited by each pixel's own line direction.

    A pixel whose response exceeds ``threshold`` votes, with its response as
    weight, for the lines through it whose direction is within ``spread``
    bins of its own. Lines are ``x cos(phi) + y sin(phi) = rho`` with the
    normal angle ``phi`` in ``n_theta`` bins over ``[0, pi)`` and ``rho`` in
    bins of ``rho_step`` centred on 0: bin ``j`` holds ``rho = (j - c) rho_step``
    with ``c = (n_rho - 1) // 2``, so ``rho`` and ``-rho`` mirror about ``c``.

    acc : (n_tiles, n_theta, n_rho) float32, zeroed by the caller; band ``t``
    votes into ``acc[t]`` (sum over the first axis afterwards).
    """
    h, w = resp.shape
    n_rho = acc.shape[2]
    centre_rho = (n_rho - 1) // 2
    rows_per = (h + n_tiles - 1) // n_tiles
    bin_width = math.pi / n_theta
    cos_t = np.empty(n_theta)
    sin_t = np.empty(n_theta)
    for k in range(n_theta):
        cos_t[k] = math.cos(k * bin_width)
        sin_t[k] = math.sin(k * bin_width)
    for tile in prange(n_tiles):
        y0 = tile * rows_per
        y1 = min(h, y0 + rows_per)
        plane = acc[tile]
        for y in range(y0, y1):
            for x in range(w):
                r = resp[y, x]
                if r <= threshold:
                    continue
                normal = theta[y, x] + 0.5 * math.pi
                centre = int(normal / bin_width + 0.5)
                for k in range(centre - spread, centre + spread + 1):
                    kk = k % n_theta  # the angle of bin kk gives the right rho directly
                    rho = x * cos_t[kk] + y * sin_t[kk]
                    j = int(np.floor(rho / rho_step + 0.5)) + centre_rho
                    if 0 <= j < n_rho:
                        plane[kk, j] += r


@njit(cache=True, nogil=True)
def accumulator_peaks(acc, min_value, half_theta, half_rho, max_peaks):  # pragma: no cover
    """Local maxima of a ``(n_theta, n_rho)`` accumulator, strongest first.

    A cell is a peak when it is at least ``min_value`` and no cell within
    ``half_theta`` angle bins (wrapping, with rho mirrored) and ``half_rho``
    rho bins is larger. Returns ``(k, 3)`` float64 rows ``(theta_bin, rho_bin, value)``.
    """
    n_theta, n_rho = acc.shape
    centre_rho = (n_rho - 1) // 2  # rho and -rho mirror about it (see vote_lines)
    found = np.empty((max_peaks * 4 + 16, 3))
    count = 0
    for a in range(n_theta):
        for b in range(n_rho):
            v = acc[a, b]
            if v < min_value:
                continue
            is_peak = True
            for da in range(-half_theta, half_theta + 1):
                aa = a + da
                bb_centre = b
                if aa < 0:
                    aa += n_theta
                    bb_centre = 2 * centre_rho - b
                elif aa >= n_theta:
                    aa -= n_theta
                    bb_centre = 2 * centre_rho - b
                for db in range(-half_rho, half_rho + 1):
                    bb = bb_centre + db
                    if bb < 0 or bb >= n_rho or (da == 0 and db == 0):
                        continue
                    other = acc[aa, bb]
                    # ties: the first cell in scan order wins
                    if other > v or (other == v and (aa < a or (aa == a and bb < b))):
                        is_peak = False
                        break
                if not is_peak:
                    break
            if is_peak:
                if count == found.shape[0]:
                    bigger = np.empty((found.shape[0] * 2, 3))
                    bigger[:count] = found[:count]
                    found = bigger
                found[count, 0] = a
                found[count, 1] = b
                found[count, 2] = v
                count += 1
    out = found[:count]
    order = np.argsort(-out[:, 2])
    return out[order[:max_peaks]]


@njit(cache=True, nogil=True, inline="always")
def _bilinear(image, px, py):  # pragma: no cover - jitted
    h, w = image.shape
    if px < 0.0:
        px = 0.0
    elif px > w - 1:
        px = w - 1.0
    if py < 0.0:
        py = 0.0
    elif py > h - 1:
        py = h - 1.0
    ix = min(int(px), w - 2)
    iy = min(int(py), h - 2)
    return _interpolate(image, ix, iy, px - ix, py - iy)


@njit(cache=True, nogil=True, inline="always")
def _interpolate(image, ix, iy, fx, fy):  # pragma: no cover - jitted
    """Bilinear value in the cell at column ``ix``, row ``iy``, fractions ``fx, fy``."""
    top = image[iy, ix] * (1.0 - fx) + image[iy, ix + 1] * fx
    bottom = image[iy + 1, ix] * (1.0 - fx) + image[iy + 1, ix + 1] * fx
    return top * (1.0 - fy) + bottom * fy


@njit(cache=True, nogil=True, inline="always")
def _profile(image, cx, cy, nx, ny, half, prof):  # pragma: no cover - jitted
    """``prof[j]`` = :func:`_bilinear` at ``(cx + t nx, cy + t ny)``, ``t = j - half``.

    When both ends lie inside the image every point between does (rounding is monotonic),
    and the clamping is skipped: the same values, 1.5x faster on wide profiles.
    """
    h, w = image.shape
    xa = cx - half * nx
    ya = cy - half * ny
    xb = cx + half * nx
    yb = cy + half * ny
    if 0.0 <= xa < w - 1 and 0.0 <= xb < w - 1 and 0.0 <= ya < h - 1 and 0.0 <= yb < h - 1:
        for j in range(2 * half + 1):
            t = j - half
            px = cx + t * nx
            py = cy + t * ny
            ix = int(px)
            iy = int(py)
            prof[j] = _interpolate(image, ix, iy, px - ix, py - iy)
    else:
        for j in range(2 * half + 1):
            t = j - half
            prof[j] = _bilinear(image, cx + t * nx, cy + t * ny)


@njit(cache=True, nogil=True, parallel=True)
def sample_across(  # pragma: no cover - jitted
    image, resp, xs, ys, nxs, nys, half_widths, n_tiles, out
):
    """Profiles across a path, one per point (a first look at a line).

    At point ``i`` (``xs[i], ys[i]``, unit normal ``nxs[i], nys[i]``) the grey
    level is sampled (bilinear) at ``2 half_widths[i] + 1`` points along the
    normal, unit spacing. For each point ``out`` receives: 0 the valley
    response there, 1 the offset along the normal of the middle of the trough
    around the darkest point (between its half-depth crossings), 2 the darkest
    grey level (3-tap mean), 3 the mean of the profile's two outer quarters
    (the soil beside the rut), 4 the trough's width at half depth, 5 1 if
    inside the image and the trough closes within the profile. The points are
    split into ``n_tiles`` runs, one per thread: the paths of many lines go in
    one call, one parallel region.

    xs, ys, nxs, nys : (n,) float64; half_widths : (n,) int64; out : (n, 6) float64.
    """
    n_steps = xs.shape[0]
    profs = np.empty((n_tiles, 2 * half_widths.max() + 1))  # a scratch row per run
    per = (n_steps + n_tiles - 1) // n_tiles
    for tile in prange(n_tiles):
        for i in range(tile * per, min(n_steps, (tile + 1) * per)):
            _first_look(
                image, resp, xs[i], ys[i], nxs[i], nys[i], half_widths[i], profs[tile], out[i]
            )


@njit(cache=True, nogil=True, inline="always")
def _first_look(image, resp, cx, cy, nx, ny, half_width, prof, out):  # pragma: no cover
    """One point of :func:`sample_across`: the profile across ``(cx, cy)`` into ``out``."""
    h, w = image.shape
    n_prof = 2 * half_width + 1
    for k in range(6):
        out[k] = 0.0
    if not (0.0 <= cx <= w - 1 and 0.0 <= cy <= h - 1):
        return
    out[0] = resp[min(int(cy + 0.5), h - 1), min(int(cx + 0.5), w - 1)]
    _profile(image, cx, cy, nx, ny, half_width, prof)
    best = 1e30
    best_j = half_width
    for j in range(1, n_prof - 1):
        v = (prof[j - 1] + prof[j] + prof[j + 1]) / 3.0
        if v < best:
            best = v
            best_j = j
    quarter = max(1, n_prof // 4)
    side = 0.0
    for j in range(quarter):
        side += prof[j] + prof[n_prof - 1 - j]
    side /= 2.0 * quarter
    level = 0.5 * (side + best)
    left = best_j
    while left > 0 and prof[left] < level:
        left -= 1
    right = best_j
    while right < n_prof - 1 and prof[right] < level:
        right += 1
    out[1] = 0.5 * (left + right) - half_width
    out[2] = best
    out[3] = side
    out[4] = right - left - 1  # samples below the level between the two crossings
    out[5] = 0.0 if (left == 0 or right == n_prof - 1) else 1.0


@njit(cache=True, nogil=True, parallel=True)
def match_trough(  # pragma: no cover - jitted
    image, resp, xs, ys, nxs, nys, widths, factors, box_samples, n_tiles, out
):
    """Where a trough lies across a path and how wide it is, one answer per step.

    At step ``i`` (the point ``xs[i], ys[i]``, unit normal ``nxs[i], nys[i]``;
    a line or a curve, one pixel apart) box troughs of widths ``widths[i]`` ×
    ``factors`` (e.g. 0.5 .. 2), flanked by soil bands half as wide, are slid
    along the normal within ``±0.75`` of their width. The flanks-minus-inside
    contrast is largest when the box fits the trough's floor exactly, in
    position and in width (a matched filter: symmetric, so uneven soil or
    tread marks do not pull it aside the way a darkest point does). ``out``
    receives: 0 the valley response at the point, 1 the centre's offset along
    the normal (parabola-refined), 2 the inside mean, 3 the flanks' mean, 4 the
    width that fits, 5 1 if inside the image.

    The profile across is sampled one pixel apart, or, where the widest box would span
    more than ``box_samples`` pixels, at ``widest / box_samples`` (a wide trough is
    located as well from fewer samples; the cost grows with the width otherwise). 0:
    always one pixel apart. The steps are split into ``n_tiles`` runs, one per thread.

    xs, ys, nxs, nys, widths : (n,) float64, widths the expected ones;
    factors : (k,) float64; box_samples : float; out : (n, 6) float64.
    """
    n_steps = xs.shape[0]
    top = factors.max()  # the widest box sets the profile's length
    max_half = 0
    for i in range(n_steps):
        half = int(top * 1.75 * max(2.0, widths[i])) + 4
        if box_samples > 0.0:
            half = min(half, int(1.75 * box_samples) + 5)
        if half > max_half:
            max_half = half
    # a scratch row per run of steps
    profs = np.empty((n_tiles, 2 * max_half + 1))
    csums = np.empty((n_tiles, 2 * max_half + 2))
    scores = np.empty((n_tiles, 2 * max_half + 1))
    per = (n_steps + n_tiles - 1) // n_tiles
    for tile in prange(n_tiles):
        for i in range(tile * per, min(n_steps, (tile + 1) * per)):
            _match_step(
                image, resp, xs[i], ys[i], nxs[i], nys[i], widths[i], factors, top, box_samples,
                profs[tile], csums[tile], scores[tile], out[i],
            )  # fmt: skip


@njit(cache=True, nogil=True, inline="always")
def _match_step(  # pragma: no cover - jitted
    image, resp, cx, cy, nx, ny, width_i, factors, top, box_samples, prof, csum, scores, out
):
    """One step of :func:`match_trough`: the best box trough across ``(cx, cy)`` into ``out``."""
    h, w = image.shape
    for k in range(6):
        out[k] = 0.0
    if not (0.0 <= cx <= w - 1 and 0.0 <= cy <= h - 1):
        return
    spacing = 1.0
    if box_samples > 0.0:
        spacing = max(1.0, top * max(2.0, width_i) / box_samples)
    expected = max(2.0, width_i) / spacing  # in samples
    widest = top * expected
    half = int(1.75 * widest) + 3
    n_prof = 2 * half + 1
    _profile(image, cx, cy, nx * spacing, ny * spacing, half, prof)
    csum[0] = 0.0
    for j in range(n_prof):
        csum[j + 1] = csum[j] + prof[j]
    best = -1e30
    best_pos = 0.0
    best_in = 0.0
    best_w = 0.0
    for f in range(factors.shape[0]):
        width = expected * factors[f]
        half_in = max(1, int(0.5 * width + 0.5))
        flank = max(1, int(0.5 * width + 0.5))
        reach = max(1, int(0.75 * width + 0.5))
        # box sums from views that start at the first position, indexed from 0: no
        # negative-index wraparound check in the loop (as in fir_decimate)
        base = half - reach
        in_hi = csum[base + half_in + 1 :]
        in_lo = csum[base - half_in :]
        out_lo = csum[base - half_in - flank :]
        out_hi = csum[base + half_in + 1 + flank :]
        n_in = 2 * half_in + 1
        n_out = 2 * flank
        for k in range(2 * reach + 1):
            inside = (in_hi[k] - in_lo[k]) / n_in
            outside = (in_lo[k] - out_lo[k] + out_hi[k] - in_hi[k]) / n_out
            scores[k] = outside - inside
        k_best = 0
        for k in range(1, 2 * reach + 1):
            if scores[k] > scores[k_best]:
                k_best = k
        if scores[k_best] > best:
            shift = 0.0
            if 0 < k_best < 2 * reach:
                a = scores[k_best - 1]
                b = scores[k_best]
                c2 = scores[k_best + 1]
                denom = a - 2.0 * b + c2
                if denom < 0.0:
                    shift = 0.5 * (a - c2) / denom
            best = scores[k_best]
            best_pos = k_best + shift - reach
            c = half - reach + k_best
            best_in = (csum[c + half_in + 1] - csum[c - half_in]) / (2 * half_in + 1)
            best_w = 2 * half_in + 1
    out[0] = resp[min(int(cy + 0.5), h - 1), min(int(cx + 0.5), w - 1)]
    out[1] = best_pos * spacing
    out[2] = best_in
    out[3] = best_in + best
    out[4] = best_w * spacing
    out[5] = 1.0


@njit(cache=True, nogil=True)
def longest_run(good, max_gap):  # pragma: no cover - jitted
    """``(a, b)``: ``[a, b)`` spans the longest run of True allowing gaps of ``max_gap``
    False (the earliest of equal runs); ``(0, 0)`` when nothing is True."""
    best_a = 0
    best_b = 0
    best_len = -1
    start = -1
    last = -1
    for i in range(good.shape[0]):
        if not good[i]:
            continue
        if start < 0:
            start = i
        elif i - last > max_gap + 1:
            if last - start > best_len:
                best_len = last - start
                best_a = start
                best_b = last + 1
            start = i
        last = i
    if start >= 0 and last - start > best_len:
        best_a = start
        best_b = last + 1
    return best_a, best_b


@njit(cache=True, nogil=True)
def bridged_run(good, a, b, max_gap, max_bridge):  # pragma: no cover - jitted
    """``[a, b)`` extended across gaps of up to ``max_bridge`` False at either end, where
    the run beyond (gaps up to ``max_gap``) holds at least as many True as the gap is
    long: a rock lying across a rut hides its floor for a stretch, and the rut goes on."""
    n = good.shape[0]
    while True:  # towards higher indices
        j = b
        while j < n and not good[j]:
            j += 1
        if j >= n or j - b > max_bridge:
            break
        count = 0
        last = j
        for i in range(j, n):
            if good[i]:
                if i - last > max_gap + 1:
                    break
                last = i
                count += 1
        if count < j - b:
            break
        b = last + 1
    while True:  # towards lower indices
        j = a - 1
        while j >= 0 and not good[j]:
            j -= 1
        if j < 0 or a - 1 - j > max_bridge:
            break
        count = 0
        first = j
        for i in range(j, -1, -1):
            if good[i]:
                if first - i > max_gap + 1:
                    break
                first = i
                count += 1
        if count < a - 1 - j:
            break
        a = first
    return a, b


@njit(cache=True, nogil=True, inline="always")
def _fit_line(xs, ys):  # pragma: no cover - jitted
    """Total-least-squares line ``(x, y, dx, dy)`` through the points, pointing down."""
    n = xs.shape[0]
    cx = 0.0
    cy = 0.0
    for i in range(n):
        cx += xs[i]
        cy += ys[i]
    cx /= n
    cy /= n
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(n):
        u = xs[i] - cx
        v = ys[i] - cy
        sxx += u * u
        syy += v * v
        sxy += u * v
    angle = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    dx = math.cos(angle)
    dy = math.sin(angle)
    if dy < 0:
        dx = -dx
        dy = -dy
    return cx, cy, dx, dy


@njit(cache=True, nogil=True, inline="always")
def _distances(xs, ys, line, out):  # pragma: no cover - jitted
    px, py, dx, dy = line
    for i in range(xs.shape[0]):
        out[i] = abs((xs[i] - px) * dy - (ys[i] - py) * dx)


@njit(cache=True, nogil=True, inline="always")
def _true_in(mask, a, b):  # pragma: no cover - jitted
    """The indices in ``[a, b)`` where ``mask`` is True, increasing."""
    count = 0
    for i in range(a, b):
        count += mask[i]
    found = np.empty(count, np.int64)
    k = 0
    for i in range(a, b):
        if mask[i]:
            found[k] = i
            k += 1
    return found


@njit(cache=True, nogil=True, inline="always")
def _centres(prof, steps, x0, y0, dx, dy):  # pragma: no cover - jitted
    """Trough centres at ``steps`` along the line: each step's offset along the normal."""
    xs = x0 + steps * dx - prof[steps, 1] * dy
    ys = y0 + steps * dy + prof[steps, 1] * dx
    return xs, ys


@njit(cache=True, nogil=True)
def refit_line(xs, ys, spread):  # pragma: no cover - jitted
    """Total-least-squares line through the points, refitted twice without those
    farther from it than ``spread`` median distances + 1 pixel (at least 2).

    Returns ``(ok, (x, y, dx, dy), kept)``: ``kept`` the indices of the points the last
    fit used; ``ok`` False when fewer than 10 would remain.
    """
    kept = np.arange(xs.shape[0])
    fit = _fit_line(xs, ys)
    dist = np.empty(xs.shape[0])
    for _ in range(2):
        n = xs.shape[0]
        _distances(xs, ys, fit, dist[:n])
        keep = dist[:n] < max(2.0, spread * np.median(dist[:n]) + 1.0)
        if keep.sum() < 10:
            return False, fit, kept[:0]
        xs, ys, kept = xs[keep], ys[keep], kept[keep]
        fit = _fit_line(xs, ys)
    return True, fit, kept


@njit(cache=True, nogil=True)
def trough_extent(  # pragma: no cover - jitted
    prof, x0, y0, dx, dy, min_depth, min_response, min_len, min_support, max_gap, max_bridge
):
    """The rut a :func:`match_trough` pass along a line found: its steps and refitted line.

    A step is good where the trough is ``min_depth`` deep (soil minus floor), centred
    within ``max(2, 0.75 width)`` of the line, on a valley response of
    ``min_response`` or twice as deep, and inside the image. The rut is the longest
    run of good steps (gaps up to ``max_gap``), at least ``min_len`` steps with a
    ``min_support`` fraction good; the line is refitted through the trough centres
    twice, dropping those farther than ``3 median + 1`` (at least 2) pixels (centres
    that locked onto a rock or another rut), and the extent is then the longest run
    of centres on that line, when that run is long and full enough, bridged
    (:func:`bridged_run`) across gaps up to ``max_bridge`` where as much of the rut
    lies on the line beyond them (a rock across it).

    prof : (n, 6) as from match_trough. Returns ``(ok, line (4,), support, steps)``,
    ``steps`` the kept step indices in increasing order.
    """
    n = prof.shape[0]
    good = np.zeros(n, np.bool_)
    for i in range(n):
        depth = prof[i, 3] - prof[i, 2]
        good[i] = (
            depth > min_depth
            and abs(prof[i, 1]) <= max(2.0, 0.75 * prof[i, 4])
            and (prof[i, 0] > min_response or depth > 2.0 * min_depth)
            and prof[i, 5] > 0
        )
    line = np.zeros(4)
    none = np.empty(0, np.int64)
    a, b = longest_run(good, max_gap)
    if b - a < min_len:
        return False, line, 0.0, none
    steps = _true_in(good, a, b)
    support = steps.shape[0] / (b - a)
    if support < min_support:
        return False, line, 0.0, none
    xs, ys = _centres(prof, steps, x0, y0, dx, dy)
    # drop centres that locked onto a neighbour (a rock, another rut)
    ok, fit, kept = refit_line(xs, ys, 3.0)
    if not ok:
        return False, line, 0.0, none
    xs, ys, steps = xs[kept], ys[kept], steps[kept]
    # the extent is where the centres lie on that line: a rock across the rut or
    # texture beyond its end must not stretch it
    dist = np.empty(xs.shape[0])
    _distances(xs, ys, fit, dist)
    tol = max(2.0, 3.0 * np.median(dist) + 1.0)
    on_line = np.zeros(n, np.bool_)
    for i in range(n):
        if good[i]:
            off = prof[i, 1]
            px = x0 + i * dx - off * dy
            py = y0 + i * dy + off * dx
            on_line[i] = abs((px - fit[0]) * fit[3] - (py - fit[1]) * fit[2]) < tol
    a2, b2 = longest_run(on_line, max_gap)
    on_steps = _true_in(on_line, a2, b2)
    support2 = on_steps.shape[0] / (b2 - a2) if b2 > a2 else 0.0
    if b2 - a2 >= min_len and support2 >= min_support:
        a2, b2 = bridged_run(on_line, a2, b2, max_gap, max_bridge)
        on_steps = _true_in(on_line, a2, b2)
        support = on_steps.shape[0] / (b2 - a2)
        steps = on_steps
        xs, ys = _centres(prof, steps, x0, y0, dx, dy)
        fit = _fit_line(xs, ys)
    line[0] = fit[0]
    line[1] = fit[1]
    line[2] = fit[2]
    line[3] = fit[3]
    return True, line, support, steps
