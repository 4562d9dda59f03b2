"""Each track-detector numba kernel against a plain numpy/Python twin, plus analytic cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zhurong_tk.tracks import _kernels

FACTORS = np.array([0.5, 0.7, 1.0, 1.4, 2.0])  # the widths the detector tries first


def angle_gap(a, b):
    """Distance between line directions (mod pi)."""
    d = np.mod(np.asarray(a, np.float64) - b, np.pi)
    return np.minimum(d, np.pi - d)


# ---------------------------------------------------------------- valley_response


def valley_reference(smooth, sigma, resp, across, along):
    """Hessian by central differences, the same float32/float64 steps as the kernel."""
    resp, across, along = resp.copy(), across.copy(), along.copy()
    s = smooth.astype(np.float64)
    c = s[1:-1, 1:-1]
    hxx = s[1:-1, :-2] - 2.0 * c + s[1:-1, 2:]
    hyy = s[:-2, 1:-1] - 2.0 * c + s[2:, 1:-1]
    up, down = smooth[:-2], smooth[2:]  # float32: the kernel sums these in float32
    hxy = 0.25 * (down[:, 2:] - down[:, :-2] - up[:, 2:] + up[:, :-2]).astype(np.float64)
    half_tr = 0.5 * (hxx + hyy)
    disc = np.sqrt(0.25 * (hxx - hyy) * (hxx - hyy) + hxy * hxy)
    l1, l2 = half_tr + disc, half_tr - disc
    r = sigma * sigma * (l1 - np.abs(l2))
    better = r > resp[1:-1, 1:-1].astype(np.float64)
    resp[1:-1, 1:-1][better] = r[better]
    across[1:-1, 1:-1][better] = 2.0 * hxy[better]
    along[1:-1, 1:-1][better] = (hxx - hyy)[better]
    return resp, across, along, better


def direction_reference(across, along):
    t = 0.5 * np.arctan2(across, along) + 0.5 * np.pi
    return np.where(t >= np.pi, t - np.pi, t)


def valley(smooth, sigma, n_tiles, resp, theta, components=None):
    """Both kernels, as valley_maps runs them: the response (updating ``resp`` and the
    winning components), then the direction where the response is positive."""
    if components is None:
        components = np.zeros(smooth.shape), np.zeros(smooth.shape)
    _kernels.valley_response(smooth, sigma, n_tiles, resp, *components)
    _kernels.valley_direction(resp, *components, 0.0, n_tiles, theta)
    return components


@pytest.mark.parametrize("n_tiles", [1, 3, 7])
def test_valley_response_matches_numpy(rng, n_tiles):
    smooth = rng.random((20, 30)).astype(np.float32)
    resp0 = (rng.random((20, 30)) * 3.0).astype(np.float32)  # some pixels beat it, some not
    across0 = np.full((20, 30), -7.0)
    along0 = np.full((20, 30), -9.0)
    resp, across, along = resp0.copy(), across0.copy(), along0.copy()
    _kernels.valley_response(smooth, 1.5, n_tiles, resp, across, along)
    ref_resp, ref_across, ref_along, better = valley_reference(smooth, 1.5, resp0, across0, along0)
    assert 50 < better.sum() < better.size - 50  # both branches exercised
    np.testing.assert_allclose(resp, ref_resp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(across, ref_across, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(along, ref_along, rtol=1e-6, atol=1e-7)
    assert np.array_equal(across != -7.0, along != -9.0)  # the same pixels were written
    assert np.count_nonzero(across != -7.0) == better.sum()
    # the border is never touched
    border = np.ones((20, 30), bool)
    border[1:-1, 1:-1] = False
    assert np.array_equal(resp[border], resp0[border]) and np.all(across[border] == -7.0)


@pytest.mark.parametrize("n_tiles", [1, 4])
@pytest.mark.parametrize("threshold", [0.0, 0.4])
def test_valley_direction_matches_numpy(rng, n_tiles, threshold):
    resp = (rng.random((23, 17)) - 0.3).astype(np.float32)  # positive and not
    across, along = rng.normal(size=(2, 23, 17))
    along[0, :5] = 0.0  # atan2 on an axis
    across[0, :3] = 0.0
    resp[0, :5] = 1.0
    theta = np.full((23, 17), -1.0, np.float32)
    _kernels.valley_direction(resp, across, along, threshold, n_tiles, theta)
    above = resp > threshold
    assert 50 < above.sum() < above.size - 50
    assert np.all(theta[~above] == -1.0)  # only where the response exceeds the threshold
    ref = direction_reference(across, along)[above]
    assert np.all(angle_gap(theta[above], ref) < 1e-6)
    assert np.all((theta[above] >= 0) & (theta[above] < np.pi))


def test_keep_stronger_matches_numpy(rng):
    resp, other = rng.random((2, 9, 11)).astype(np.float32)
    across, along, other_across, other_along = rng.normal(size=(4, 9, 11))
    wins = other > resp
    expected = [np.where(wins, b, a) for a, b in ((resp, other), (across, other_across))]
    expected.append(np.where(wins, other_along, along))
    _kernels.keep_stronger(resp, across, along, other, other_across, other_along)
    for got, want in zip((resp, across, along), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert 20 < wins.sum() < wins.size - 20


def dark_line(shape, centre, direction, depth, width):
    """A Gaussian dark line of std ``width`` through ``centre`` along angle ``direction``."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    dist = -(x - centre[0]) * math.sin(direction) + (y - centre[1]) * math.cos(direction)
    return (1.0 - depth * np.exp(-(dist**2) / (2 * width**2))).astype(np.float32), dist


@pytest.mark.parametrize("direction", [0.0, 0.4, np.pi / 4, np.pi / 2, 2.2, 3.0])
def test_valley_response_direction_of_a_dark_line(direction):
    image, dist = dark_line((41, 41), (20, 20), direction, 0.5, 2.0)
    resp = np.zeros_like(image)
    theta = np.zeros_like(image)
    valley(image, 2.0, 1, resp, theta)
    y, x = np.mgrid[:41, :41]
    on_line = (np.abs(dist) < 0.5) & (np.abs(x - 20) <= 12) & (np.abs(y - 20) <= 12)
    assert on_line.sum() >= 20
    assert np.all(resp[on_line] > 0)
    assert np.all(angle_gap(theta[on_line], direction) < 0.02)


def test_valley_response_horizontal_and_vertical_lines():
    sigma, s, d = 2.0, 2.0, 0.5
    horizontal, _ = dark_line((31, 40), (20, 12), 0.0, d, s)
    resp = np.zeros_like(horizontal)
    theta = np.full_like(horizontal, -1.0)
    valley(horizontal, sigma, 2, resp, theta)
    # the response peaks on the centre row, at sigma² × the discrete second difference
    assert np.all(np.argmax(resp[:, 1:-1], axis=0) == 12)
    expected = sigma**2 * 2 * d * (1 - math.exp(-1 / (2 * s**2)))
    np.testing.assert_allclose(resp[12, 1:-1], expected, rtol=1e-4)
    assert np.all(theta[12, 1:-1] == 0.0)  # along x: exactly 0 (pi wraps to 0)
    vertical, _ = dark_line((31, 40), (17, 12), np.pi / 2, d, s)
    resp_v = np.zeros_like(vertical)
    theta_v = np.zeros_like(vertical)
    valley(vertical, sigma, 2, resp_v, theta_v)
    assert np.all(np.argmax(resp_v[1:-1, :], axis=1) == 17)
    np.testing.assert_allclose(theta_v[1:-1, 17], np.pi / 2, atol=1e-6)
    np.testing.assert_allclose(resp_v[1:-1, 17], expected, rtol=1e-4)


def test_valley_response_blob_is_weaker_than_a_line():
    s, d = 2.0, 0.5
    line, _ = dark_line((41, 41), (20, 20), 0.0, d, s)
    y, x = np.mgrid[:41, :41]
    blob = (1.0 - d * np.exp(-((x - 20) ** 2 + (y - 20) ** 2) / (2 * s**2))).astype(np.float32)
    resp_line = np.zeros_like(line)
    resp_blob = np.zeros_like(blob)
    valley(line, 2.0, 1, resp_line, np.zeros_like(line))
    valley(blob, 2.0, 1, resp_blob, np.zeros_like(blob))
    # equal curvature both ways at the blob's centre: nothing there; near it (r²/s² = u) the
    # response is u·exp(-u/2) of the line's, and its rim (r = s) is a curved "line" at most
    # exp(-1/2) ≈ 0.61 as strong as a straight one of the same profile
    assert resp_blob[20, 20] == 0.0
    assert resp_blob[19:22, 19:22].max() < 0.4 * resp_line.max()
    assert resp_blob.max() < 0.65 * resp_line.max()
    # in total (what the Hough votes add up) the blob is a small fraction of a 31 px line
    assert resp_blob.sum() < 0.15 * resp_line[:, 5:36].sum()


def test_valley_response_keeps_the_strongest_scale():
    strong, _ = dark_line((31, 40), (20, 15), 0.0, 0.5, 2.0)
    weak_same, _ = dark_line((31, 40), (20, 15), 0.0, 0.25, 2.0)
    weak_cross, _ = dark_line((31, 40), (20, 15), np.pi / 2, 0.25, 2.0)
    resp = np.zeros_like(strong)
    theta = np.zeros_like(strong)
    components = valley(strong, 2.0, 2, resp, theta)
    first_resp, first_theta = resp.copy(), theta.copy()
    valley(weak_same, 2.0, 2, resp, theta, components)  # weaker everywhere: no change
    assert np.array_equal(resp, first_resp) and np.array_equal(theta, first_theta)
    # a weaker crossing line wins only where the first had less
    alone_resp = np.zeros_like(strong)
    alone_theta = np.zeros_like(strong)
    valley(weak_cross, 2.0, 2, alone_resp, alone_theta)
    valley(weak_cross, 2.0, 2, resp, theta, components)
    wins = alone_resp > first_resp
    np.testing.assert_array_equal(resp, np.maximum(first_resp, alone_resp))
    np.testing.assert_array_equal(theta, np.where(wins, alone_theta, first_theta))
    assert np.all(theta[15, 1:17] == 0.0) and np.all(theta[15, 24:-1] == 0.0)
    np.testing.assert_allclose(theta[1:10, 20], np.pi / 2, atol=1e-6)
    np.testing.assert_allclose(theta[21:-1, 20], np.pi / 2, atol=1e-6)


# ---------------------------------------------------------------- vote_lines


def vote_reference(resp, theta, threshold, n_theta, rho_step, spread, n_rho, rows=None):
    bin_width = math.pi / n_theta
    cos_t = [math.cos(k * bin_width) for k in range(n_theta)]
    sin_t = [math.sin(k * bin_width) for k in range(n_theta)]
    centre_rho = (n_rho - 1) // 2
    acc = np.zeros((n_theta, n_rho))
    h, w = resp.shape
    for y in rows if rows is not None else range(h):
        for x in range(w):
            r = float(resp[y, x])
            if r <= threshold:
                continue
            centre = math.floor((float(theta[y, x]) + 0.5 * math.pi) / bin_width + 0.5)
            for k in range(centre - spread, centre + spread + 1):
                kk = k % n_theta
                j = math.floor((x * cos_t[kk] + y * sin_t[kk]) / rho_step + 0.5) + centre_rho
                if 0 <= j < n_rho:
                    acc[kk, j] += r
    return acc


@pytest.mark.parametrize("n_tiles", [1, 2, 3])
@pytest.mark.parametrize("n_rho", [None, 21])  # None: every line fits; 21: some fall off
def test_vote_lines_match_python(rng, n_tiles, n_rho):
    h, w = 20, 30
    resp = rng.random((h, w)).astype(np.float32)
    theta = (rng.random((h, w)) * np.pi).astype(np.float32)
    n_theta, rho_step, spread, threshold = 36, 1.5, 2, 0.5
    if n_rho is None:
        n_rho = 2 * math.ceil(math.hypot(h, w) / rho_step) + 1
    acc = np.zeros((n_tiles, n_theta, n_rho), np.float32)
    _kernels.vote_lines(resp, theta, threshold, n_theta, rho_step, spread, n_tiles, acc)
    rows_per = -(-h // n_tiles)
    for t in range(n_tiles):  # each band votes into its own plane only
        rows = range(t * rows_per, min(h, (t + 1) * rows_per))
        ref = vote_reference(resp, theta, threshold, n_theta, rho_step, spread, n_rho, rows)
        np.testing.assert_allclose(acc[t], ref, rtol=1e-5, atol=1e-5)
    total = vote_reference(resp, theta, threshold, n_theta, rho_step, spread, n_rho)
    np.testing.assert_allclose(acc.sum(axis=0), total, rtol=1e-5, atol=1e-5)
    assert total.sum() > 100


@pytest.mark.parametrize(("phi_bin", "rho"), [(30, 12), (70, -5), (0, 20), (45, 30), (89, -30)])
def test_vote_lines_single_line_peaks_at_its_bin(phi_bin, rho):
    h, w, n_theta = 40, 50, 90
    phi = phi_bin * math.pi / n_theta
    y, x = np.mgrid[:h, :w]
    on_line = np.abs(x * math.cos(phi) + y * math.sin(phi) - rho) < 0.5
    n_on = int(on_line.sum())
    assert n_on >= 20
    resp = on_line.astype(np.float32)
    theta = np.full((h, w), (phi + 0.5 * math.pi) % math.pi, np.float32)  # the line's direction
    n_rho = 2 * math.ceil(math.hypot(h, w)) + 1
    centre_rho = (n_rho - 1) // 2
    votes = []
    for n_tiles in (1, 2, 3):
        acc = np.zeros((n_tiles, n_theta, n_rho), np.float32)
        _kernels.vote_lines(resp, theta, 0.5, n_theta, 1.0, 2, n_tiles, acc)
        votes.append(acc.sum(axis=0))
    assert np.array_equal(votes[0], votes[1]) and np.array_equal(votes[0], votes[2])
    v = votes[0]
    assert v.sum() == 5 * n_on  # every pixel casts 2 spread + 1 votes, all within the rho range
    assert np.unravel_index(np.argmax(v), v.shape) == (phi_bin, round(rho) + centre_rho)
    assert v[phi_bin, round(rho) + centre_rho] == n_on
    assert np.count_nonzero(v == n_on) == 1
    # only the spread bins around phi received votes
    voted = np.nonzero(v.sum(axis=1))[0]
    assert set(voted) == {(phi_bin + k) % n_theta for k in range(-2, 3)}


# ---------------------------------------------------------------- accumulator_peaks


def peaks_reference(acc, min_value, half_theta, half_rho, max_peaks):
    n_theta, n_rho = acc.shape
    centre = (n_rho - 1) // 2
    found = []
    for a in range(n_theta):
        for b in range(n_rho):
            v = acc[a, b]
            if v < min_value:
                continue
            neighbours = []
            for da in range(-half_theta, half_theta + 1):
                aa, bb_centre = a + da, b
                if not 0 <= aa < n_theta:  # past pi: the same lines with rho -> -rho
                    aa, bb_centre = aa % n_theta, 2 * centre - b
                for db in range(-half_rho, half_rho + 1):
                    bb = bb_centre + db
                    if 0 <= bb < n_rho and (da, db) != (0, 0):
                        neighbours.append(acc[aa, bb])
            if all(o <= v for o in neighbours):
                found.append((a, b, float(v)))
    found.sort(key=lambda p: -p[2])
    return found[:max_peaks]


@pytest.mark.parametrize(("half_theta", "half_rho"), [(1, 1), (2, 3), (4, 0)])
@pytest.mark.parametrize("max_peaks", [5, 1000])
def test_accumulator_peaks_match_python(rng, half_theta, half_rho, max_peaks):
    acc = rng.random((24, 31)).astype(np.float32)  # odd n_rho, as the detector uses
    peaks = _kernels.accumulator_peaks(acc, 0.3, half_theta, half_rho, max_peaks)
    ref = peaks_reference(acc, 0.3, half_theta, half_rho, max_peaks)
    assert len(ref) >= 5
    assert peaks.shape == (len(ref), 3) and peaks.dtype == np.float64
    assert [tuple(p) for p in peaks] == ref


def test_accumulator_peaks_planted():
    acc = np.zeros((30, 41), np.float32)
    acc[8, 12] = 10.0
    acc[9, 14] = 6.0  # within (2, 3) bins of the first: suppressed
    acc[20, 30] = 7.0
    acc[8, 18] = 3.0  # 4 rho bins beyond the suppressed one: a peak of its own
    acc[14, 5] = 0.5  # below min_value
    peaks = _kernels.accumulator_peaks(acc, 1.0, 2, 3, 10)
    assert peaks.tolist() == [[8, 12, 10.0], [20, 30, 7.0], [8, 18, 3.0]]
    assert _kernels.accumulator_peaks(acc, 1.0, 2, 3, 2).tolist() == [[8, 12, 10.0], [20, 30, 7.0]]
    assert _kernels.accumulator_peaks(acc, 20.0, 2, 3, 10).shape == (0, 3)
    # ties: the first cell in scan order is the peak
    tied = np.zeros((30, 41), np.float32)
    tied[10, 10] = tied[11, 12] = 5.0
    assert _kernels.accumulator_peaks(tied, 1.0, 2, 3, 10).tolist() == [[10, 10, 5.0]]


def test_accumulator_peaks_wrap_mirrors_rho():
    # bin 0 (phi = 0) and bin 29 (phi = pi - bin) are neighbours, with rho -> -rho:
    # rho bin b pairs with 2 c - b (41 bins, centre c = 20: rho +5 is bin 25, -5 is 15)
    def peaks(cells):
        acc = np.zeros((30, 41), np.float32)
        for (a, b), v in cells.items():
            acc[a, b] = v
        return _kernels.accumulator_peaks(acc, 1.0, 2, 3, 10).tolist()

    assert peaks({(0, 25): 5.0, (29, 15): 8.0}) == [[29, 15, 8.0]]  # bin 0 looks back past 0
    assert peaks({(0, 25): 8.0, (29, 15): 5.0}) == [[0, 25, 8.0]]  # bin 29 looks on past pi
    assert peaks({(1, 24): 5.0, (29, 17): 8.0}) == [[29, 17, 8.0]]  # 1 -> 0 -> 29, 24 -> 16 + 1
    assert len(peaks({(1, 24): 5.0, (28, 16): 8.0})) == 2  # 3 angle bins apart: out of reach
    assert peaks({(0, 25): 5.0, (29, 25): 8.0}) == [[29, 25, 8.0], [0, 25, 5.0]]  # not mirrored
    assert peaks({(0, 25): 5.0, (29, 15): 5.0}) == [[0, 25, 5.0]]  # tie: first in scan order
    assert peaks({(0, 20): 5.0, (29, 20): 8.0}) == [[29, 20, 8.0]]  # rho 0 is its own mirror


# ---------------------------------------------------------------- _bilinear


def bilinear_reference(image, px, py):
    h, w = image.shape
    px = min(max(px, 0.0), w - 1.0)
    py = min(max(py, 0.0), h - 1.0)
    ix, iy = min(int(px), w - 2), min(int(py), h - 2)
    fx, fy = px - ix, py - iy
    img = image.astype(np.float64)
    top = img[iy, ix] * (1.0 - fx) + img[iy, ix + 1] * fx
    bottom = img[iy + 1, ix] * (1.0 - fx) + img[iy + 1, ix + 1] * fx
    return top * (1.0 - fy) + bottom * fy


def test_bilinear_matches_python(rng):
    image = rng.random((20, 30)).astype(np.float32)
    points = np.column_stack([rng.uniform(-3, 33, 200), rng.uniform(-3, 23, 200)])
    points = np.vstack([points, [[0, 0], [29, 19], [29, 0], [0, 19], [29.0, 7.5], [12.5, 19.0]]])
    for px, py in points:
        got = _kernels._bilinear(image, px, py)
        assert got == pytest.approx(bilinear_reference(image, px, py), rel=1e-12, abs=1e-12)
    for yy, xx in [(0, 0), (19, 29), (7, 29), (19, 3), (5, 11)]:  # the grid: the pixel itself
        assert _kernels._bilinear(image, float(xx), float(yy)) == pytest.approx(image[yy, xx])
    # a plane is reproduced exactly inside and held at the edge value outside
    y, x = np.mgrid[:20, :30]
    plane = (0.25 * x - 0.5 * y + 1.0).astype(np.float32)
    assert _kernels._bilinear(plane, 3.25, 7.5) == pytest.approx(0.25 * 3.25 - 0.5 * 7.5 + 1.0)
    assert _kernels._bilinear(plane, -4.0, 25.0) == pytest.approx(plane[19, 0])


# ---------------------------------------------------------------- sample_across


def sample_reference(image, resp, xs, ys, nxs, nys, half_widths):
    h, w = image.shape
    out = np.zeros((len(xs), 6))
    for i, (cx, cy, nx, ny) in enumerate(zip(xs, ys, nxs, nys, strict=True)):
        half = int(half_widths[i])
        n_prof = 2 * half + 1
        if not (0.0 <= cx <= w - 1 and 0.0 <= cy <= h - 1):
            continue
        prof = [bilinear_reference(image, cx + t * nx, cy + t * ny) for t in range(-half, half + 1)]
        means = [(prof[j - 1] + prof[j] + prof[j + 1]) / 3.0 for j in range(1, n_prof - 1)]
        best_j = 1 + int(np.argmin(means))  # the first of equal minima, as the kernel
        best = means[best_j - 1]
        quarter = max(1, n_prof // 4)
        side = (sum(prof[:quarter]) + sum(prof[n_prof - quarter :])) / (2.0 * quarter)
        level = 0.5 * (side + best)
        left = best_j
        while left > 0 and prof[left] < level:
            left -= 1
        right = best_j
        while right < n_prof - 1 and prof[right] < level:
            right += 1
        closed = left > 0 and right < n_prof - 1
        r = resp[min(int(cy + 0.5), h - 1), min(int(cx + 0.5), w - 1)]
        out[i] = [r, 0.5 * (left + right) - half, best, side, right - left - 1, float(closed)]
    return out


def line_path(x0, y0, dx, dy, n):
    """Points one pixel apart along a line and its normal ``(-dy, dx)`` (a path, as
    sample_across and match_trough take)."""
    steps = np.arange(n)
    return x0 + steps * dx, y0 + steps * dy, np.full(n, -dy), np.full(n, dx)


@pytest.mark.parametrize("n_tiles", [1, 3, 7])
def test_sample_across_matches_python(rng, n_tiles):
    image = rng.random((20, 30)).astype(np.float32)
    resp = rng.random((20, 30)).astype(np.float32)
    n = 30
    # two paths in one call: a straight line out of the image and a curve
    line = line_path(3.3, 2.7, math.cos(0.6), math.sin(0.6), n)
    angle = np.linspace(0.2, 1.4, n)
    curve = (15.0 + 8.0 * np.cos(angle), 2.0 + 12.0 * np.sin(angle), np.cos(angle), np.sin(angle))
    path = [np.concatenate(parts) for parts in zip(line, curve, strict=True)]
    half_widths = rng.integers(2, 7, 2 * n).astype(np.int64)
    out = np.full((2 * n, 6), np.nan)
    _kernels.sample_across(image, resp, *path, half_widths, n_tiles, out)
    ref = sample_reference(image, resp, *path, half_widths)
    inside = ref[:, 0] != 0
    assert 10 < inside[:n].sum() < n  # the line walks out of the image: those steps are zeros
    assert inside[n:].all()
    assert np.all(out[~inside] == 0.0)
    np.testing.assert_allclose(out[:, [0, 2, 3]], ref[:, [0, 2, 3]], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out[:, [1, 4, 5]], ref[:, [1, 4, 5]])
    assert 0 < out[inside, 5].sum() < inside.sum()  # closed and open troughs both seen


@pytest.mark.parametrize(
    ("width", "centre", "offset"), [(5, 25, -5.0), (6, 25, -5.5), (3, 17, 3.0)]
)
def test_sample_across_vertical_box_trough(width, centre, offset):
    soil, floor = np.float32(0.8), np.float32(0.2)
    image = np.full((30, 40), soil, np.float32)
    first = centre - (width - 1) // 2  # columns first .. first + width - 1
    image[:, first : first + width] = floor
    resp = np.zeros_like(image)
    n = 20
    out = np.empty((n, 6))
    # down the image at x = 20: the normal (-dy, dx) = (-1, 0) points to -x
    path = line_path(20.0, 2.0, 0.0, 1.0, n)
    _kernels.sample_across(image, resp, *path, np.full(n, 16, np.int64), 2, out)
    true_offset = 20 - (first + 0.5 * (width - 1))
    assert true_offset == offset
    np.testing.assert_array_equal(out[:, 1], offset)
    np.testing.assert_array_equal(out[:, 2], floor)  # 3-tap mean on the floor
    np.testing.assert_array_equal(out[:, 3], float(soil))  # the outer quarters are all soil
    # width: the samples below half depth between the crossings, the box's width
    np.testing.assert_array_equal(out[:, 4], width)
    np.testing.assert_array_equal(out[:, 5], 1.0)


def test_sample_across_horizontal_trough_and_open_profile():
    image = np.full((40, 30), 0.8, np.float32)
    image[23:28, :] = 0.2  # rows 23..27, centre 25
    out = np.empty((10, 6))
    # along x at y = 20: the normal (-dy, dx) = (0, 1) points down, to +y
    path = line_path(5.0, 20.0, 1.0, 0.0, 10)
    _kernels.sample_across(image, image, *path, np.full(10, 16, np.int64), 1, out)
    np.testing.assert_array_equal(out[:, 1], 5.0)
    np.testing.assert_array_equal(out[:, 4], 5.0)
    np.testing.assert_array_equal(out[:, 0], np.float32(0.8))  # the response image at the line
    # a dark half-plane: the trough does not close inside the profile
    half_dark = np.full((30, 40), 0.8, np.float32)
    half_dark[:, 25:] = 0.2
    path = line_path(20.0, 2.0, 0.0, 1.0, 10)
    _kernels.sample_across(half_dark, half_dark, *path, np.full(10, 16), 2, out)
    np.testing.assert_array_equal(out[:, 5], 0.0)


# ---------------------------------------------------------------- match_trough


def match_reference(image, resp, xs, ys, nxs, nys, widths, box_samples=0.0):
    """The kernel in plain Python: profile samples ``spacing`` apart, where the widest box
    (2x the expected width) would span more than ``box_samples`` pixels, else 1."""
    h, w = image.shape
    n_steps = len(xs)
    out = np.zeros((n_steps, 6))
    for i in range(n_steps):
        cx, cy, nx, ny = xs[i], ys[i], nxs[i], nys[i]
        if not (0.0 <= cx <= w - 1 and 0.0 <= cy <= h - 1):
            continue
        spacing = max(1.0, 2.0 * max(2.0, float(widths[i])) / box_samples) if box_samples else 1.0
        expected = max(2.0, float(widths[i])) / spacing
        half = int(1.75 * 2.0 * expected) + 3
        sx, sy = nx * spacing, ny * spacing
        prof = [bilinear_reference(image, cx + t * sx, cy + t * sy) for t in range(-half, half + 1)]
        csum = [0.0]
        for p in prof:
            csum.append(csum[-1] + p)

        def box_mean(a, b, csum=csum):  # mean of prof[a:b]
            return (csum[b] - csum[a]) / (b - a)

        best = None
        for factor in (0.5, 0.7, 1.0, 1.4, 2.0):
            width = expected * factor
            half_in = max(1, int(0.5 * width + 0.5))
            flank = half_in  # soil bands half as wide as the box
            reach = max(1, int(0.75 * width + 0.5))
            scores = []
            for k in range(2 * reach + 1):
                c = half - reach + k
                inside = box_mean(c - half_in, c + half_in + 1)
                lo, hi = c - half_in - flank, c + half_in + 1
                outside = (csum[c - half_in] - csum[lo] + csum[hi + flank] - csum[hi]) / (2 * flank)
                scores.append(outside - inside)
            k_best = int(np.argmax(scores))
            if best is None or scores[k_best] > best[0]:
                shift = 0.0
                if 0 < k_best < 2 * reach:
                    a, b, c2 = scores[k_best - 1 : k_best + 2]
                    denom = a - 2.0 * b + c2
                    if denom < 0.0:
                        shift = 0.5 * (a - c2) / denom
                c = half - reach + k_best
                inside = box_mean(c - half_in, c + half_in + 1)
                best = (scores[k_best], k_best + shift - reach, inside, 2 * half_in + 1)
        score, pos, inside, box = best
        r = resp[min(int(cy + 0.5), h - 1), min(int(cx + 0.5), w - 1)]
        out[i] = [r, pos * spacing, inside, inside + score, box * spacing, 1.0]
    return out


@pytest.mark.parametrize("box_samples", [0.0, 5.0])
@pytest.mark.parametrize("n_tiles", [1, 3, 7])
def test_match_trough_matches_python(rng, box_samples, n_tiles):
    image = rng.random((20, 30)).astype(np.float32)
    resp = rng.random((20, 30)).astype(np.float32)
    n = 30
    dx, dy = math.cos(2.3), math.sin(2.3)
    widths = rng.uniform(1.0, 6.0, n)  # some below the 2 px floor
    out = np.full((n, 6), np.nan)
    path = line_path(27.5, 1.5, dx, dy, n)
    _kernels.match_trough(image, resp, *path, widths, FACTORS, box_samples, n_tiles, out)
    ref = match_reference(image, resp, *path, widths, box_samples)
    inside = ref[:, 5] == 1.0
    assert 10 < inside.sum() < n
    assert np.all(out[~inside] == 0.0)
    np.testing.assert_allclose(out[:, :4], ref[:, :4], rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(out[:, 4:], ref[:, 4:])
    assert len(np.unique(out[inside, 4])) > 2  # several box widths chosen


@pytest.mark.parametrize("width", [7, 9])
@pytest.mark.parametrize("factor", [0.7, 1.4])
@pytest.mark.parametrize("along_x", [False, True])
def test_match_trough_box_trough_off_the_line(width, factor, along_x):
    soil, floor = np.float32(0.8), np.float32(0.2)
    image = np.full((50, 50), soil, np.float32)
    band = slice(25 - width // 2, 25 + width // 2 + 1)  # centred on 25, 5 px from the line at 20
    n = 20
    out = np.empty((n, 6))
    widths = np.full(n, factor * width)
    if along_x:  # along x at y = 20: the normal (-dy, dx) = (0, 1) points to +y
        image[band, :] = floor
        _kernels.match_trough(
            image, image, *line_path(10.0, 20.0, 1.0, 0.0, n), widths, FACTORS, 0.0, 2, out
        )
        expected_offset = 5.0
    else:  # down the image at x = 20: the normal (-1, 0) points to -x
        image[:, band] = floor
        _kernels.match_trough(
            image, image, *line_path(20.0, 10.0, 0.0, 1.0, n), widths, FACTORS, 0.0, 1, out
        )
        expected_offset = -5.0
    np.testing.assert_allclose(out[:, 1], expected_offset, atol=1e-9)
    np.testing.assert_array_equal(out[:, 4], width)
    np.testing.assert_allclose(out[:, 2], floor, rtol=1e-7)  # the box fits the floor
    np.testing.assert_allclose(out[:, 3], soil, rtol=1e-7)  # the flanks are all soil
    np.testing.assert_array_equal(out[:, 0], soil)  # the response image at the line
    np.testing.assert_array_equal(out[:, 5], 1.0)


@pytest.mark.parametrize("offset", [-9.0, 0.0, 14.0])
def test_match_trough_wide_trough_from_spaced_samples(offset):
    """A 41 px trough expected at 40 px: with 16 samples across the widest box the profile
    is sampled 5 px apart; the trough is still located within half a sample (the box's flat
    floor gives the parabola nothing to refine on: the worst case), its width to a sample."""
    soil, floor = np.float32(0.8), np.float32(0.2)
    image = np.full((120, 300), soil, np.float32)
    centre = 150 + offset
    image[:, int(centre) - 20 : int(centre) + 21] = floor
    n = 30
    widths = np.full(n, 40.0)
    out = np.empty((n, 6))
    path = line_path(150.0, 40.0, 0.0, 1.0, n)  # down the image; the normal (-1, 0) is -x
    _kernels.match_trough(image, image, *path, widths, FACTORS, 16.0, 2, out)
    np.testing.assert_allclose(out, match_reference(image, image, *path, widths, 16.0), rtol=1e-7)
    np.testing.assert_allclose(-out[:, 1], offset, atol=2.5)
    np.testing.assert_allclose(out[:, 4], 41.0, atol=5.0)
    # a box a sample off may take in one sample of soil (of ~8) or of floor
    depth = soil - floor
    assert np.all(np.abs(out[:, 2] - floor) <= 0.15 * depth)
    assert np.all(np.abs(out[:, 3] - soil) <= 0.15 * depth)


def test_match_trough_along_a_curve_matches_python_and_finds_a_ring(rng):
    """A dark ring of radius 20 and width 5, followed along a circle of radius 17: the
    trough lies 3 px out along the outward normal at every step."""
    yy, xx = np.mgrid[0:60, 0:60]
    r = np.hypot(xx - 30.0, yy - 30.0)
    image = np.where(np.abs(r - 20.0) <= 2.5, 0.2, 0.8).astype(np.float32)
    angles = np.arange(0, 2 * math.pi, 1 / 17)  # one pixel apart on radius 17
    nxs, nys = np.cos(angles), np.sin(angles)  # outward normals
    xs, ys = 30 + 17 * nxs, 30 + 17 * nys
    widths = np.full(len(xs), 5.0)
    out = np.empty((len(xs), 6))
    _kernels.match_trough(image, image, xs, ys, nxs, nys, widths, FACTORS, 0.0, 2, out)
    ref = match_reference(image, image, xs, ys, nxs, nys, widths)
    np.testing.assert_allclose(out, ref, rtol=1e-7, atol=1e-9)
    assert np.median(np.abs(out[:, 1] - 3.0)) < 0.5
    assert np.median(out[:, 4]) == 5.0
    # noise does not break the twin
    noisy = (image + 0.05 * rng.standard_normal(image.shape)).astype(np.float32)
    _kernels.match_trough(noisy, noisy, xs, ys, nxs, nys, widths, FACTORS, 0.0, 3, out)
    np.testing.assert_allclose(
        out, match_reference(noisy, noisy, xs, ys, nxs, nys, widths), rtol=1e-7, atol=1e-9
    )


# ---------------------------------------------------------------- longest_run, trough_extent


def longest_run_reference(good, max_gap):
    """``[a, b)`` of the longest run of True with gaps of up to ``max_gap`` False."""
    idx = np.flatnonzero(good)
    if len(idx) == 0:
        return 0, 0
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    k = int(np.argmax(idx[ends] - idx[starts]))
    return int(idx[starts[k]]), int(idx[ends[k]]) + 1


@pytest.mark.parametrize("max_gap", [0, 1, 3, 8])
def test_longest_run_matches_numpy(rng, max_gap):
    for density in (0.0, 0.05, 0.5, 0.9, 1.0):
        for n in (1, 2, 17, 300):
            good = rng.random(n) < density
            assert _kernels.longest_run(good, max_gap) == longest_run_reference(good, max_gap)
    good = np.zeros(20, bool)
    good[[2, 3, 4, 10, 12, 14]] = True  # 2..4 spans 2, 10..14 spans 4 with gaps of one
    assert _kernels.longest_run(good, 1) == (10, 15)
    assert _kernels.longest_run(good, 0) == (2, 5)


def bridged_run_reference(good, a, b, max_gap, max_bridge):
    """[a, b) grown across gaps of up to ``max_bridge`` where as many True lie beyond."""
    idx = np.flatnonzero(good)
    while True:
        beyond = idx[idx >= b]
        if len(beyond) == 0 or beyond[0] - b > max_bridge:
            break
        run = beyond[: np.argmax(np.append(np.diff(beyond) > max_gap + 1, True)) + 1]
        if len(run) < beyond[0] - b:
            break
        b = int(run[-1]) + 1
    while True:
        before = idx[idx < a][::-1]
        if len(before) == 0 or a - 1 - before[0] > max_bridge:
            break
        run = before[: np.argmax(np.append(-np.diff(before) > max_gap + 1, True)) + 1]
        if len(run) < a - 1 - before[0]:
            break
        a = int(run[-1])
    return a, b


def test_bridged_run_matches_numpy(rng):
    for _trial in range(300):
        n = int(rng.integers(1, 200))
        good = rng.random(n) < rng.uniform(0.1, 0.95)
        max_gap = int(rng.integers(0, 5))
        a, b = longest_run_reference(good, max_gap)
        bridge = int(rng.integers(0, 40))
        expected = bridged_run_reference(good, a, b, max_gap, bridge)
        assert _kernels.bridged_run(good, a, b, max_gap, bridge) == expected
    # a rut from 10 to 100 with a rock hiding 50..69: bridged, as the 30 steps beyond
    # outnumber the 20 hidden; a 20-step gap before a 10-step scrap at 120..129 is not
    good = np.zeros(140, bool)
    good[10:50] = good[70:100] = good[120:130] = True
    assert _kernels.longest_run(good, 3) == (10, 50)
    assert _kernels.bridged_run(good, 10, 50, 3, 25) == (10, 100)
    assert _kernels.bridged_run(good, 10, 50, 3, 19) == (10, 50)  # too long a gap
    assert _kernels.bridged_run(good, 70, 100, 3, 25) == (10, 100)


def fit_line_reference(pts):
    centre = pts.mean(axis=0)
    u, v = (pts - centre).T
    angle = 0.5 * math.atan2(2.0 * (u @ v), u @ u - v @ v)
    dx, dy = math.cos(angle), math.sin(angle)
    if dy < 0:
        dx, dy = -dx, -dy
    return np.array([centre[0], centre[1], dx, dy])


def refit_line_reference(pts, spread):
    """The line of :func:`_kernels.refit_line` and the indices it kept, or None."""
    kept = np.arange(len(pts))
    line = fit_line_reference(pts)
    for _ in range(2):
        d = np.abs((pts[:, 0] - line[0]) * line[3] - (pts[:, 1] - line[1]) * line[2])
        keep = d < max(2.0, spread * float(np.median(d)) + 1.0)
        if keep.sum() < 10:
            return None
        pts, kept = pts[keep], kept[keep]
        line = fit_line_reference(pts)
    return line, kept


@pytest.mark.parametrize("spread", [2.5, 3.0])
def test_refit_line_matches_numpy_and_drops_the_points_aside(rng, spread):
    for n in (5, 60, 300):  # fewer than 10 points cannot be refitted
        t = rng.uniform(0, 200, n)
        xs, ys = 30 + 0.5 * t + rng.normal(0, 0.4, n), 10 + t
        aside = rng.random(n) < 0.15
        xs[aside] += rng.choice([-1, 1], aside.sum()) * rng.uniform(6, 20, aside.sum())
        ok, line, kept = _kernels.refit_line(xs, ys, spread)
        expected = refit_line_reference(np.column_stack([xs, ys]), spread)
        assert ok == (expected is not None) == (n >= 60)
        if expected is None:
            continue
        np.testing.assert_allclose(line, expected[0], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(kept, expected[1])
        assert not aside[kept].any()
        assert line[2] / line[3] == pytest.approx(0.5, abs=0.02)  # dx/dy of the true line


def trough_extent_reference(
    prof, x0, y0, dx, dy, min_depth, min_response, min_len, min_sup, gap, bridge
):
    """The steps of :func:`_kernels.trough_extent` in numpy (as detect._measure had it)."""
    offset, width = prof[:, 1], prof[:, 4]
    depth = prof[:, 3] - prof[:, 2]
    good = (
        (depth > min_depth)
        & (np.abs(offset) <= np.maximum(2.0, 0.75 * width))
        & ((prof[:, 0] > min_response) | (depth > 2 * min_depth))
        & (prof[:, 5] > 0)
    )

    def points(steps):
        return np.column_stack(
            [x0 + steps * dx - offset[steps] * dy, y0 + steps * dy + offset[steps] * dx]
        )

    def dist(pts, line):
        return np.abs((pts[:, 0] - line[0]) * line[3] - (pts[:, 1] - line[1]) * line[2])

    a, b = longest_run_reference(good, gap)
    if b - a < min_len or good[a:b].mean() < min_sup:
        return None
    support = float(good[a:b].mean())
    steps = np.arange(a, b)[good[a:b]]
    refit = refit_line_reference(points(steps), 3.0)
    if refit is None:
        return None
    line, kept = refit
    pts, steps = points(steps)[kept], steps[kept]
    all_steps = np.flatnonzero(good)
    on_line = np.zeros(len(prof), bool)
    tol = max(2.0, 3.0 * float(np.median(dist(pts, line))) + 1.0)
    on_line[all_steps] = dist(points(all_steps), line) < tol
    a2, b2 = longest_run_reference(on_line, gap)
    support2 = float(on_line[a2:b2].mean()) if b2 > a2 else 0.0
    if b2 - a2 >= min_len and support2 >= min_sup:
        a2, b2 = bridged_run_reference(on_line, a2, b2, gap, bridge)
        support = float(on_line[a2:b2].mean())
        steps = np.arange(a2, b2)[on_line[a2:b2]]
        line = fit_line_reference(points(steps))
    return line, support, steps


def _rut_profile(rng, n, outliers):
    """match_trough's output along a line over a rut from step 40 to n - 30 whose centre
    drifts off the line by 0.02 px a step, with ``outliers`` steps locked far aside."""
    prof = np.zeros((n, 6))
    prof[:, 0] = rng.uniform(0.0, 1.0, n)
    prof[:, 2] = rng.uniform(0.2, 0.3, n)
    prof[:, 3] = prof[:, 2] + rng.uniform(0.0, 0.02, n)
    prof[:, 4] = rng.uniform(4.0, 8.0, n)
    prof[:, 5] = 1.0
    rut = slice(40, n - 30)
    prof[rut, 3] = prof[rut, 2] + rng.uniform(0.05, 0.1, n - 70)
    prof[rut, 1] = 0.02 * np.arange(n - 70) + rng.normal(0, 0.3, n - 70)
    far = rng.choice(np.arange(40, n - 30), outliers, replace=False)
    prof[far, 1] = rng.choice([-1, 1], outliers) * rng.uniform(2.5, 3.0, outliers)
    prof[rng.choice(n, 5), 5] = 0.0  # off the image
    return prof, (40, n - 30)


@pytest.mark.parametrize("outliers", [0, 10, 40])
def test_trough_extent_matches_numpy(rng, outliers):
    found = 0
    for _trial in range(12):
        n = int(rng.integers(150, 400))
        prof, (start, end) = _rut_profile(rng, n, outliers)
        angle = rng.uniform(0.3, 2.8)
        args = (rng.uniform(0, 300), rng.uniform(0, 300), math.cos(angle), math.sin(angle))
        limits = (0.03, 0.5, 0.3 * n, 0.6, max(3, n // 25), max(3, n // 6))
        ok, line, support, steps = _kernels.trough_extent(prof, *args, *limits)
        expected = trough_extent_reference(prof, *args, *limits)
        assert ok == (expected is not None)
        if expected is None:
            continue
        found += 1
        np.testing.assert_allclose(line, expected[0], rtol=0, atol=1e-9)
        assert support == pytest.approx(expected[1], abs=1e-12)
        np.testing.assert_array_equal(steps, expected[2])
        # the rut's extent, without the centres locked aside
        assert steps[0] >= start - 1 and steps[-1] <= end
        assert steps[-1] - steps[0] >= 0.8 * (end - start)
    assert found >= 10


def test_trough_extent_refuses_a_short_or_patchy_trough(rng):
    prof, _ = _rut_profile(rng, 200, 0)
    ok, *_ = _kernels.trough_extent(prof, 0.0, 0.0, 0.0, 1.0, 0.03, 0.5, 150.0, 0.6, 8, 30)
    assert not ok  # the rut spans 130 steps
    patchy = prof.copy()
    patchy[40:170:2, 3] = patchy[40:170:2, 2]  # every other step without depth
    ok, *_ = _kernels.trough_extent(patchy, 0.0, 0.0, 0.0, 1.0, 0.03, 0.5, 60.0, 0.6, 8, 30)
    assert not ok  # half the steps good, below the 0.6 support
    ok, *_ = _kernels.trough_extent(patchy, 0.0, 0.0, 0.0, 1.0, 0.03, 0.5, 60.0, 0.4, 8, 30)
    assert ok


def test_trough_extent_runs_on_across_a_rock_lying_on_the_rut(rng):
    # the rut spans steps 40..269; a rock hides its floor at 120..149 (the filter's
    # centres lock onto the rock's shadow, 5 px aside): the extent is the whole rut
    prof, (start, end) = _rut_profile(rng, 300, 0)
    prof[120:150, 1] = 5.0
    args = (0.0, 0.0, 0.0, 1.0, 0.03, 0.5, 60.0, 0.6, 12)
    ok, line, support, steps = _kernels.trough_extent(prof, *args, 50)
    assert ok and steps[0] <= start + 2 and steps[-1] >= end - 3
    assert 0.5 < support <= (end - start - 30) / (end - start)  # the hidden floor counts
    assert line[2] == pytest.approx(-0.02, abs=0.004)  # the rut's drift, not the rock's pull
    ok, line, support, steps = _kernels.trough_extent(prof, *args, 12)  # no bridging
    assert ok and 150 <= steps[0] <= 152 and steps[-1] >= end - 3
