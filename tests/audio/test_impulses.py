from __future__ import annotations

import numpy as np
import pytest

from zhurong_tk.audio import impulses
from zhurong_tk.audio.framestore import FrameStore
from zhurong_tk.audio.impulses import Impulse, envelope_rises, fill_in_onsets, impulse_trains

STEP_S = 1.0 / 3000.0


def _envelope(seconds, attacks, rng, floor=1e-8):
    """Noise at ``floor`` with decaying attacks ``[(time_s, peak)]`` (15 ms rings)."""
    env = rng.exponential(floor, round(seconds / STEP_S))
    ring = np.exp(-np.arange(300) * STEP_S / 0.015)
    for t, peak in attacks:
        at = round(t / STEP_S)
        env[at : at + 300] += peak * ring[: len(env) - at]
    return env


def _fill(env, seeds_s):
    frames = np.arange(0.0, len(env) * STEP_S, 0.02)
    seeds = [Impulse(time_s=t, strength=30.0, level_dbfs=-20.0) for t in seeds_s]
    return fill_in_onsets(
        seeds,
        env,
        STEP_S,
        np.full(len(frames), 5.0),
        frames,
        np.full(len(frames), -30.0),
        hop_s=0.02,
        onset_offset_s=0.0,
    )


def test_rises_are_placed_within_a_step(rng):
    attacks = [(0.5, 1e-3), (0.55, 1e-3), (1.234, 1e-4)]
    times, rise_db, level_db = envelope_rises(_envelope(2.0, attacks, rng), STEP_S)
    np.testing.assert_allclose(times, [t for t, _ in attacks], atol=STEP_S)
    # the second over the first's ring: a 2-ms mean of a fresh 15-ms ring (plus the old one's
    # tail) over the old ring's mean 40-50 ms after its attack: 9.7e-4 / 5.07e-5, 12.8 dB
    assert rise_db[1] == pytest.approx(12.8, abs=0.2)
    assert rise_db[0] > 40.0 and rise_db[2] > 30.0  # over the noise floor, 1e-8
    assert level_db[2] == pytest.approx(level_db[0] - 10.0, abs=1.0)


def test_rises_read_in_pieces_from_a_stored_envelope_are_those_of_the_whole(
    rng, tmp_path, monkeypatch
):
    """The analysis keeps its envelope on disk and reads it a piece at a time (no map of the
    whole file in memory); the pieces' borders fall inside attacks and rings here."""
    attacks = [(t, 1e-3) for t in 0.1 + 0.0371 * np.arange(50)]
    env = _envelope(2.0, attacks, rng).astype(np.float32)
    whole = envelope_rises(env, STEP_S)
    assert len(whole[0]) == 50
    with FrameStore(1, folder=tmp_path) as store:
        store.append(env[:, None])
        stored = store.column(0)
        assert len(stored) == len(env)
        np.testing.assert_array_equal(stored[100:250], env[100:250])
        for piece in (97, 1000, 1 << 20):
            monkeypatch.setattr(impulses, "PIECE_STEPS", piece)
            for got, want in zip(envelope_rises(stored, STEP_S), whole, strict=True):
                np.testing.assert_array_equal(got, want)


def test_a_clank_vouches_for_its_train_and_the_train_for_its_far_end(rng):
    # one seed at the start; the chain carries it 2 s on in steps of 50 ms
    truth = 0.5 + 0.05 * np.arange(41)
    env = _envelope(3.0, [(t, 1e-3) for t in truth], rng)
    found = [imp.time_s for imp in _fill(env, [truth[0]])]
    np.testing.assert_allclose(found, truth, atol=STEP_S)


def test_no_clank_heard_no_onset_added(rng):
    env = _envelope(3.0, [(t, 1e-3) for t in 0.5 + 0.05 * np.arange(10)], rng)
    assert _fill(env, []) == []


def test_rises_far_under_the_clank_or_beyond_reach_are_not_added(rng):
    # 12 dB under the seed's level, and one at full level 1.6 s after the last one taken
    attacks = [(0.5, 1e-3), (0.6, 6e-5), (0.7, 6e-5), (2.3, 1e-3)]
    env = _envelope(3.0, attacks, rng)
    assert [imp.time_s for imp in _fill(env, [0.5])] == [0.5]


def test_irregular_additions_are_not_kept(rng):
    # loud rises at random gaps (a clipped soundtrack's bursts): chained, but no cadence
    times = np.sort(rng.uniform(0.5, 2.5, 40))
    times = times[np.concatenate([[True], np.diff(times) > 0.02])]
    env = _envelope(3.0, [(t, 1e-3) for t in times], rng)
    assert [imp.time_s for imp in _fill(env, [times[0]])] == [times[0]]


def _impulses(times):
    return [Impulse(time_s=float(t), strength=30.0, level_dbfs=-20.0) for t in times]


def test_a_loud_regular_train_is_read_apart_from_weak_irregular_onsets(rng):
    # wind's weak onsets every ~0.4 s, irregular, around and inside a 5-per-second train
    # 30 dB louder in the high-passed envelope: one run with a CV near 1 unless the levels
    # part them
    wind = np.sort(rng.uniform(0.0, 12.0, 30))
    clanks = 4.0 + 0.2 * np.arange(20)
    times = np.concatenate([wind, clanks])
    order = np.argsort(times)
    loudness = np.concatenate([rng.uniform(-45, -35, 30), rng.uniform(-6, -4, 20)])[order]
    impulses = _impulses(times[order])
    (plain,) = [t for t in impulse_trains(impulses) if t.count > 20]
    assert plain.regularity_cv > 0.5
    trains = impulse_trains(impulses, loudness=loudness)
    # (the weak ones are grouped apart, split where the train took its own)
    (train,) = [t for t in trains if t.count >= 10 and t.regularity_cv < 0.3]
    assert (train.start_s, train.end_s, train.count) == (4.0, pytest.approx(7.8), 20)
    assert train.median_interval_s == pytest.approx(0.2)


def test_a_train_s_levels_without_a_gap_are_not_parted(rng):
    # levels spread evenly over 30 dB: no gap of 6 dB, the irregular run stays one
    times = np.sort(rng.uniform(0.0, 6.0, 30))
    loudness = np.linspace(-40.0, -10.0, 30)[rng.permutation(30)]
    trains = impulse_trains(_impulses(times), loudness=loudness)
    assert impulse_trains(_impulses(times)) == trains
