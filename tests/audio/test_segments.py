from __future__ import annotations

import numpy as np
import pytest

from tests.audio.truth import matched_events
from zhurong_tk.audio import analyze, close_analysis
from zhurong_tk.synth import audio as synth_audio

CASES = [
    (seed, sr, dur)
    for seed, (sr, dur) in enumerate(
        [
            (48_000, 40),
            (16_000, 60),
            (44_100, 40),
            (100_000, 50),
            (22_050, 40),
            (8_000, 45),
            (48_000, 50),
            (32_000, 40),
        ]
    )
]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("egress")
    out = []
    for seed, sr, dur in CASES:
        scene = synth_audio.egress_scene(seed=seed, duration_s=float(dur))
        path = synth_audio.write(folder / f"egress_{seed}.flac", scene, sr=sr)
        result = analyze(path)
        out.append((scene, result.channels[0]))
        close_analysis(result)
    return out


def test_segments_match_the_truth_within_a_quarter_second(analysed):
    # Events are matched on both edges (±0.25 s). Wind-like segments are the background's own
    # gusts, not events of the scene, so they are neither matched nor counted as false events.
    hits = truths = found_events = 0
    for scene, channel in analysed:
        found = [s for s in channel.segments if s.kind != "wind-like"]
        found_events += len(found)
        for seg, f in zip(scene["segments"], matched_events(scene["segments"], found), strict=True):
            truths += 1
            if f is not None:
                hits += 1
                assert f.kind == seg["kind"]
    recall, precision = hits / truths, hits / found_events
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)


def test_clank_trains_carry_their_cadence(analysed):
    for scene, channel in analysed:
        train = next(s for s in channel.segments if s.kind == "impulsive")
        truth = next(s for s in scene["segments"] if s["kind"] == "impulsive")
        assert train.evidence["median_interval_s"] == pytest.approx(truth["period_s"], abs=0.03)
        assert train.evidence["regularity_cv"] < 0.1
        assert train.evidence["impulses"] == truth["n_impulses"]


def test_impulse_times_within_two_milliseconds(analysed):
    # placed in the high-passed energy envelope (a third of a millisecond a step), not at
    # frame times (a hop, 21 ms at 48 kHz: within 15 ms before)
    for scene, channel in analysed:
        found = np.array([i.time_s for i in channel.impulses])
        for imp in scene["impulses"]:
            assert np.min(np.abs(found - imp["time_s"])) <= 0.002


def test_tonal_segments_name_their_line_and_refine_its_edges(analysed):
    for _scene, channel in analysed:
        for seg in (s for s in channel.segments if s.kind == "tonal"):
            line = next(
                ln
                for ln in channel.tonal_lines
                if round(ln.freq_hz, 3) == seg.evidence["tonal_line_hz"]
            )
            assert line.edges_from == "segment"
            assert (line.start_s, line.end_s) == (seg.start_s, seg.end_s)


def test_gusty_wind_alone_gives_no_events(tmp_path):
    scene = {**synth_audio.egress_scene(duration_s=60.0, seed=12), "segments": [], "impulses": []}
    scene["wind"] = {**scene["wind"], "gust_depth_db": 12.0}
    path = synth_audio.write(tmp_path / "wind.wav", scene, sr=24_000)
    result = analyze(path)
    kinds = {s.kind for s in result.channels[0].segments}
    close_analysis(result)
    assert kinds <= {"wind-like"}


@pytest.mark.parametrize("depth_db", [8.0, 15.0])
def test_a_gust_over_a_sensor_floor_is_wind_like(depth_db, tmp_path):
    # the floor keeps the top bands still, so a gust lifts the low ones up to ~1 kHz alone:
    # no common rise, but the power it adds is nearly all below wind_max_hz
    import scipy.signal
    import soundfile as sf

    sr, rng = 24_000, np.random.default_rng(3)
    t = np.arange(30 * sr) / sr
    wind = scipy.signal.sosfilt(
        scipy.signal.butter(2, 250 / (sr / 2), output="sos"), rng.standard_normal(len(t))
    )
    wind *= 0.01 / np.std(wind)  # -40 dBFS
    ramp = np.clip(np.minimum(t - 12.0, 15.0 - t), 0.0, 1.0)  # 12-15 s, 1-s ramps
    gust = 10.0 ** (depth_db / 20.0 * (0.5 - 0.5 * np.cos(np.pi * ramp)))
    floor = rng.standard_normal(len(t)) * 1e-3  # -60 dBFS white
    sf.write(tmp_path / "gust.wav", (wind * gust + floor).astype(np.float32), sr)
    result = analyze(tmp_path / "gust.wav")
    segments = result.channels[0].segments
    close_analysis(result)
    (found,) = segments
    assert found.kind == "wind-like"
    assert 11.5 < found.start_s < found.end_s < 15.5
    assert found.evidence["low_power_share"] > 0.75


@pytest.mark.parametrize(("seed", "sr"), [(1, 48_000), (3, 24_000)])
def test_wind_alone_makes_no_onsets(seed, sr, tmp_path):
    # a few third-octave bands of 1-2 bins swing ~6 dB a frame in plain wind: their summed
    # rises made a false clank about once every two minutes
    scene = {**synth_audio.egress_scene(duration_s=60.0, seed=seed), "segments": []}
    result = analyze(synth_audio.write(tmp_path / "wind.wav", {**scene, "impulses": []}, sr=sr))
    impulses = result.channels[0].impulses
    close_analysis(result)
    assert impulses == []


def _clanks_then(tmp_path, times, *, friction_at=None):
    """Wind with clanks at ``times`` and, from ``friction_at`` for 3 s, wheel friction."""
    scene = synth_audio.egress_scene(duration_s=40.0, seed=2)
    friction = next(s for s in scene["segments"] if s["kind"] == "broadband")
    segments = (
        [{**friction, "start_s": friction_at, "end_s": friction_at + 3.0, "level_dbfs": -24.0}]
        if friction_at is not None
        else []
    )
    impulses = [{"time_s": float(t), "level_dbfs": -14.0} for t in times]
    path = synth_audio.write(
        tmp_path / "clanks.wav", {**scene, "segments": segments, "impulses": impulses}, sr=24_000
    )
    result = analyze(path)
    channel = result.channels[0]
    close_analysis(result)
    return channel


@pytest.mark.parametrize(("period", "gap"), [(0.5, 0.8), (0.3, 1.0), (1.0, 1.4)])
def test_the_next_sounds_onset_stays_out_of_a_clank_train(period, gap, tmp_path):
    times = 3.0 + period * np.arange(8)
    channel = _clanks_then(tmp_path, times, friction_at=times[-1] + gap)
    (train,) = channel.trains
    assert train.count == 8
    assert train.end_s == pytest.approx(times[-1], abs=0.02)
    assert train.median_interval_s == pytest.approx(period, abs=0.02)
    assert train.regularity_cv < 0.05
    (clanks,) = [s for s in channel.segments if s.kind == "impulsive"]
    assert clanks.evidence["impulses"] == 8
    assert clanks.end_s == pytest.approx(times[-1] + 0.15, abs=0.25)


@pytest.mark.parametrize("period", [2.0, 3.0])
def test_a_slow_clank_cadence_is_a_train_of_separate_segments(period, tmp_path):
    times = 3.0 + period * np.arange(6)
    channel = _clanks_then(tmp_path, times)
    (train,) = channel.trains
    assert train.count == 6
    assert train.median_interval_s == pytest.approx(period, abs=0.02)
    clanks = [s for s in channel.segments if s.kind == "impulsive"]
    # each clank its own short segment, each naming the cadence it belongs to
    assert len(clanks) == 6
    for seg, t in zip(clanks, times, strict=True):
        assert seg.start_s == pytest.approx(t, abs=0.1)
        assert seg.end_s - seg.start_s < 0.5
        assert seg.evidence["level_held_s"] < 0.25  # a clank's ring fades within a frame or two
        assert seg.evidence["train_impulses"] == 6
        assert seg.evidence["median_interval_s"] == pytest.approx(period, abs=0.02)


@pytest.mark.parametrize(("seconds", "level_dbfs"), [(0.5, -40.0), (1.0, -40.0), (1.0, -30.0)])
def test_a_short_burst_of_friction_with_one_onset_is_broadband(seconds, level_dbfs, tmp_path):
    scene = synth_audio.egress_scene(duration_s=40.0, seed=2)
    friction = next(s for s in scene["segments"] if s["kind"] == "broadband")
    burst = {**friction, "start_s": 5.0, "end_s": 5.0 + seconds, "level_dbfs": level_dbfs}
    path = synth_audio.write(
        tmp_path / "burst.wav", {**scene, "segments": [burst], "impulses": []}, sr=24_000
    )
    result = analyze(path)
    channel = result.channels[0]
    close_analysis(result)
    (found,) = [s for s in channel.segments if s.kind != "wind-like" and s.end_s > 1.0]
    assert found.kind == "broadband"
    assert found.evidence["level_held_s"] > 0.3
    assert found.start_s == pytest.approx(5.0, abs=0.25)
    assert found.end_s == pytest.approx(5.0 + seconds, abs=0.25)


def test_isolated_irregular_clanks_make_no_train(tmp_path):
    channel = _clanks_then(tmp_path, [3.0, 5.0, 9.5, 11.0, 16.0, 19.5])
    assert len(channel.impulses) == 6
    assert channel.trains == []


@pytest.mark.parametrize(
    ("rate_hz", "sr", "friction"),
    [
        (14.0, 16_000, False),
        (20.0, 16_000, False),
        (30.0, 16_000, False),
        (16.0, 48_000, False),
        (25.0, 48_000, False),
        (20.0, 24_000, True),
    ],
)
def test_a_fast_clank_train_keeps_every_clank(rate_hz, sr, friction, tmp_path):
    # a frame holds several clanks of such a train (256 ms at 16 kHz) and its flux counts only
    # what changed: 20 of 40 clanks were found at 14 a second, 6 at 20, 4 at 30, 1 of 40 at
    # 30 a second at 48 kHz; at 16 and 25 a second one tooth of the train's comb (1984 Hz =
    # 124 x 16) was a tone, and the train's segment was called tonal
    scene = synth_audio.egress_scene(duration_s=20.0, seed=2)
    times = 4.0 + np.arange(40) / rate_hz
    segments = []
    if friction:  # wheels on the ramp, 10 dB under the clanks, from 2 s before to 2 s after
        wheels = next(s for s in scene["segments"] if s["kind"] == "broadband")
        segments = [{**wheels, "start_s": 2.0, "end_s": times[-1] + 2.0, "level_dbfs": -24.0}]
    impulses = [{"time_s": float(t), "level_dbfs": -14.0} for t in times]
    path = synth_audio.write(
        tmp_path / "fast.wav", {**scene, "segments": segments, "impulses": impulses}, sr=sr
    )
    result = analyze(path)
    channel = result.channels[0]
    close_analysis(result)
    found = np.array([imp.time_s for imp in channel.impulses])
    assert len(found) == 40 + friction  # (the wheels' own onset)
    assert max(np.min(np.abs(found - t)) for t in times) <= 0.002
    (train,) = channel.trains
    assert train.count == 40
    assert train.rate_hz == pytest.approx(rate_hz, rel=1e-3)
    assert train.regularity_cv < 0.02
    assert channel.tonal_lines == []
    clanks = [s for s in channel.segments if s.kind == "impulsive"]
    assert len(clanks) == 1
    assert clanks[0].start_s == pytest.approx(times[0], abs=0.25)
    assert clanks[0].evidence["impulses"] == 40


@pytest.mark.samples
@pytest.mark.parametrize("rate_hz", [4.0, 14.0, 30.0])
def test_a_clank_train_in_real_mars_wind_is_read_apart_from_the_wind_s_onsets(
    rate_hz, samples_root, tmp_path
):
    # The frames find a weak onset in real wind every half second (8-12 dB rises of the
    # high-passed envelope). A 4-per-second train joined them in one run of 76 onsets with a
    # CV of 0.78; at 14 and 30 a second 9 and 1 of the 40 clanks were found at all.
    import soundfile as sf

    from tests.conftest import sample_path

    wind, sr = sf.read(sample_path(samples_root, "audio/mars_wind.flac"), dtype="float64")
    x = wind[:, 0].copy()
    times = 20.0 + np.arange(40) / rate_hz
    _add_clanks(x, np.arange(len(x)) / sr, times, 0.45)  # 10 dB over the wind's RMS
    result = analyze(_write(tmp_path / "wind_clanks.flac", x, sr))
    channel = result.channels[0]
    close_analysis(result)
    found = np.array([imp.time_s for imp in channel.impulses])
    assert max(np.min(np.abs(found - t)) for t in times) <= 0.002
    (train,) = [t for t in channel.trains if t.start_s <= times[-1] and t.end_s >= times[0]]
    assert (train.start_s, train.end_s) == (
        pytest.approx(times[0], abs=0.002),
        pytest.approx(times[-1], abs=0.002),
    )
    assert train.count == 40
    assert train.regularity_cv < 0.02
    # its segment carries its cadence (the wind's "train" before it took the run both lay in)
    (clanks,) = [s for s in channel.segments if abs(s.evidence.get("rate_hz", 0) - rate_hz) < 0.05]
    assert clanks.start_s == pytest.approx(times[0], abs=0.25)
    assert clanks.end_s == pytest.approx(times[-1] + 0.15, abs=0.25)


def _write(path, x, sr):
    import soundfile as sf

    sf.write(path, x, sr)
    return path


@pytest.mark.parametrize("kind", ["tonal", "broadband"])
def test_an_event_holding_most_of_the_recording_is_found_with_its_edges(kind, tmp_path):
    # 28 s of a 40-s clip: the event, not the background, holds the median level
    scene = synth_audio.egress_scene(duration_s=40.0, seed=3)
    event = next(s for s in scene["segments"] if s["kind"] == kind)
    scene = {**scene, "segments": [{**event, "start_s": 3.0, "end_s": 31.0}], "impulses": []}
    result = analyze(synth_audio.write(tmp_path / f"{kind}.wav", scene, sr=24_000))
    channel = result.channels[0]
    close_analysis(result)
    # (the synthetic wind opens with a 0.5-s gust: not this test's business)
    (found,) = [s for s in channel.segments if s.kind != "wind-like" and s.end_s > 1.0]
    assert found.kind == kind
    assert found.start_s == pytest.approx(3.0, abs=0.25)
    assert found.end_s == pytest.approx(31.0, abs=0.25)
    if kind == "tonal":  # the line takes the segment's edges, read at frame resolution
        (line,) = channel.tonal_lines
        assert line.freq_hz == pytest.approx(event["f0_hz"], abs=2.5)
        assert (line.start_s, line.end_s) == (found.start_s, found.end_s)


@pytest.mark.parametrize("kind", ["tonal", "broadband"])
def test_an_event_filling_the_recording_is_found_against_a_quiet_stretch(kind, tmp_path):
    # 37.5 s of a 40-s clip: no percentile of the whole recording is background any more;
    # the user names a quiet stretch instead
    from zhurong_tk.audio import AnalysisParams
    from zhurong_tk.audio.segments import SegmentConfig

    scene = synth_audio.egress_scene(duration_s=40.0, seed=3)
    event = next(s for s in scene["segments"] if s["kind"] == kind)
    scene = {**scene, "segments": [{**event, "start_s": 2.0, "end_s": 39.5}], "impulses": []}
    path = synth_audio.write(tmp_path / f"{kind}.wav", scene, sr=24_000)
    params = AnalysisParams(segments=SegmentConfig(background_s=(0.6, 1.9)))
    result = analyze(path, params)
    channel = result.channels[0]
    report = result.to_report()
    close_analysis(result)
    found = [s for s in channel.segments if s.kind != "wind-like" and s.end_s > 1.0]
    assert [s.kind for s in found] == [kind]
    assert found[0].start_s == pytest.approx(2.0, abs=0.25)
    assert found[0].end_s == pytest.approx(39.5, abs=0.25)
    assert found[0].evidence["snr_db"] > 10.0  # against the quiet stretch's level
    assert list(report["parameters"]["segments"]["background_s"]) == [0.6, 1.9]


@pytest.mark.parametrize(
    ("stretch", "problem"),
    [((50.0, 60.0), "outside"), ((3.0, 3.05), "frames")],
)
def test_a_quiet_stretch_the_recording_cannot_give_is_a_parameter_error(stretch, problem, tmp_path):
    from zhurong_tk.audio import AnalysisParams
    from zhurong_tk.audio.segments import SegmentConfig
    from zhurong_tk.errors import ParameterError

    scene = {**synth_audio.egress_scene(duration_s=10.0, seed=3), "segments": [], "impulses": []}
    path = synth_audio.write(tmp_path / "wind.wav", scene, sr=24_000)
    params = AnalysisParams(segments=SegmentConfig(background_s=stretch))
    with pytest.raises(ParameterError, match=problem):
        analyze(path, params)


def test_a_quiet_stretch_past_the_end_is_read_to_the_end_and_says_so(tmp_path):
    from zhurong_tk.audio import AnalysisParams
    from zhurong_tk.audio.segments import SegmentConfig

    scene = {**synth_audio.egress_scene(duration_s=10.0, seed=3), "segments": [], "impulses": []}
    path = synth_audio.write(tmp_path / "wind.wav", scene, sr=24_000)
    params = AnalysisParams(segments=SegmentConfig(background_s=(2.0, 100.0)))
    result = analyze(path, params)
    close_analysis(result)
    (warning,) = [w for w in result.channels[0].warnings if "background" in w]
    assert warning == "the background stretch 2-100 s runs past the end (10 s): read from 2-10 s"


@pytest.mark.parametrize("stretch", [(2.0, 1.0), (-1.0, 2.0), (1.0, float("nan"))])
def test_a_quiet_stretch_must_run_forwards_from_zero(stretch):
    from zhurong_tk.audio.segments import SegmentConfig
    from zhurong_tk.errors import ParameterError

    with pytest.raises(ParameterError, match="background"):
        SegmentConfig(background_s=stretch)


def _wind_with_a_tone(path, *, seconds, tone_s, freq_hz, level=0.05, silent_s=0.0, seed=1):
    """Low-passed noise (wind) with a sine over ``tone_s``; the first ``silent_s`` zeros."""
    import scipy.signal
    import soundfile as sf

    sr = 24_000
    n = int(seconds * sr)
    rng = np.random.default_rng(seed)
    sos = scipy.signal.butter(2, 250 / (sr / 2), output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal(n)) * 0.08
    t = np.arange(n) / sr
    x += level * np.sin(2 * np.pi * freq_hz * t) * ((t >= tone_s[0]) & (t < tone_s[1]))
    x[: int(silent_s * sr)] = 0.0
    sf.write(path, x.astype(np.float32), sr)
    return path


@pytest.mark.parametrize(
    ("seconds", "tone_s", "silent_s"),
    [
        (40.0, (5.6, 34.4), 0.0),  # most of the file: its edges blurred by more than 1.5 s
        (20.0, (2.0, 18.0), 0.0),  # 2 s from either end: heard in the edge spectra, weakly
        (20.0, (10.0, 14.0), 5.0),  # a quarter of digital silence first: no background
    ],
)
def test_tone_edges_within_a_tenth_of_a_second(seconds, tone_s, silent_s, tmp_path):
    path = _wind_with_a_tone(
        tmp_path / "tone.wav", seconds=seconds, tone_s=tone_s, freq_hz=150.0, silent_s=silent_s
    )
    result = analyze(path)
    channel = result.channels[0]
    close_analysis(result)
    # (the wind's start after the silence is an onset of its own, at 5 s)
    (found,) = [s for s in channel.segments if s.kind != "wind-like" and s.end_s > 6.0]
    assert found.kind == "tonal"
    assert (found.start_s, found.end_s) == pytest.approx(tone_s, abs=0.1)
    (line,) = channel.tonal_lines
    assert (line.start_s, line.end_s) == (found.start_s, found.end_s)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_short_recordings_keep_the_tonal_segments_their_lines_explain(tmp_path, seed):
    # 10 s egress scenes: a motor tone of ~1.5 s. Its segment, found by the hysteresis,
    # once gave way to one from the tone's ~1-s-blurred line edges (recall 0.5-0.75)
    scene = synth_audio.egress_scene(seed=seed, duration_s=10.0)
    path = synth_audio.write(tmp_path / "egress.flac", scene, sr=24_000)
    result = analyze(path)
    found = [s for s in result.channels[0].segments if s.kind != "wind-like"]
    close_analysis(result)
    for truth in scene["segments"]:
        assert any(
            abs(f.start_s - truth["start_s"]) <= 0.25 and abs(f.end_s - truth["end_s"]) <= 0.25
            for f in found
        ), (truth, [(f.start_s, f.end_s, f.kind) for f in found])
    assert len(found) == len(scene["segments"])


def test_segmenting_an_hour_of_frames_stays_within_a_few_copies_of_its_input():
    """The frames × bands work arrays stay float32 and are freed as they are used: on an
    hour's frames, float64 copies of them were the analysis's peak memory (13.8 times the
    input; 5.1 now)."""
    import tracemalloc

    from zhurong_tk.audio.segments import segment

    n, n_bands = 100_000, 10
    rng = np.random.default_rng(0)
    band_db = (-60 + 3 * rng.standard_normal((n, n_bands))).astype(np.float32)
    band_db[40_000:41_000, 3:6] += 20  # 20 s of friction in three bands
    kwargs = dict(
        times_s=np.arange(n) * 0.02,
        band_db=band_db,
        band_centres_hz=31.5 * 2.0 ** np.arange(n_bands),
        flatness=np.full(n, 0.5),
        tonal_lines=[],
        impulses=[],
        trains=[],
        frame_s=0.085,
    )
    segment(**kwargs)  # numba's first call, outside the measurement
    tracemalloc.start()
    try:
        segments = segment(**kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(round(s.start_s), round(s.end_s), s.kind) for s in segments] == [
        (800, 820, "broadband")
    ]
    assert peak <= 6 * band_db.nbytes


@pytest.mark.parametrize(
    ("rate_hz", "amplitude", "click_s"), [(2.0, 0.5, 0.001), (10.0, 0.2, 0.001)]
)
def test_a_train_of_noise_clicks_is_one_segment_over_all_its_clicks(
    tmp_path, rate_hz, amplitude, click_s
):
    # clicks of white noise, too short to lift a frame's band levels each: the segment held
    # only the few that did (2.99-6.02 s of a 2.0-6.5 s train) yet claimed all ten; and at
    # 10 per second every click 4 frames after the last was dropped (35 of 50)
    import soundfile as sf

    sr = 48_000
    rng = np.random.default_rng(1)
    x = 0.01 * rng.standard_normal(10 * sr)
    clicks = np.arange(2.0, 7.0 - 1e-9, 1 / rate_hz)
    for t in clicks:
        i = int(t * sr)
        x[i : i + int(click_s * sr)] += amplitude * rng.standard_normal(int(click_s * sr))
    path = tmp_path / "clicks.wav"
    sf.write(path, x.astype(np.float32), sr)
    result = analyze(path)
    close_analysis(result)
    (train,) = [sg for sg in result.channels[0].segments if sg.kind == "impulsive"]
    assert train.start_s == pytest.approx(clicks[0], abs=0.25)
    assert train.end_s == pytest.approx(clicks[-1], abs=0.25)
    assert train.evidence["impulses"] == len(clicks)
    assert train.evidence["rate_hz"] == pytest.approx(rate_hz, rel=0.02)


@pytest.mark.parametrize(
    ("sr", "lo", "hi"),
    [(44_100, 14_000, 21_000), (8_000, 3_000, 3_900), (22_050, 7_000, 10_500)],
)
def test_a_burst_above_the_last_whole_octave_band_is_a_segment(sr, lo, hi, tmp_path):
    # segments read the octave bands, and the top one, cut by Nyquist, was left out
    import soundfile as sf
    from scipy import signal

    rng = np.random.default_rng(0)
    n = 10 * sr
    t = np.arange(n) / sr
    sos = signal.butter(12, [lo, hi], "bandpass", fs=sr, output="sos")
    burst = 0.1 * signal.sosfilt(sos, rng.standard_normal(n)) * ((t > 4) & (t < 6))
    x = 0.003 * rng.standard_normal(n) + burst
    path = tmp_path / "high_burst.wav"
    sf.write(path, x.astype(np.float32), sr, subtype="FLOAT")
    result = analyze(path)
    try:
        segs = result.channels[0].segments
        top = result.channels[0].bands["octave"][-1]
    finally:
        close_analysis(result)
    assert top.hi_hz == sr / 2 and top.label.endswith("(clipped)")
    assert top.lo_hz < lo
    assert len(segs) == 1
    assert segs[0].start_s == pytest.approx(4.0, abs=0.25)
    assert segs[0].end_s == pytest.approx(6.0, abs=0.25)


def test_the_top_octave_band_is_clipped_at_nyquist_unless_a_sliver():
    from zhurong_tk.audio.bands import fractional_octave_bands

    def top(sr):
        freqs = np.fft.rfftfreq(4096, 1 / sr)
        bands = fractional_octave_bands(
            fraction=1, fmin=11.0, fmax=sr / 2, freqs=freqs, clip_top=True
        )
        return bands[-1].label, round(bands[-1].lo_hz), bands[-1].hi_hz

    assert top(44_100) == ("16000 Hz (clipped)", 11314, 22_050)
    assert top(8_000) == ("4000 Hz (clipped)", 2828, 4000)
    assert top(48_000) == ("16000 Hz", 11314, 16000 * 2**0.5)  # 22.6-24 kHz: a sliver


@pytest.mark.parametrize(
    ("sr", "gap_s"), [(16_000, 1.0), (16_000, 2.0), (48_000, 2.0), (48_000, 3.0)]
)
def test_a_tone_that_stops_and_starts_again_is_two_lines(sr, gap_s, tmp_path):
    # the pieces' windows were joined across up to 3 s and the line took both segments'
    # edges: one line 2-10 s over a 2 s silence

    rng = np.random.default_rng(0)
    t = np.arange(14 * sr) / sr
    second = 5.0 + gap_s
    on = ((t >= 2.0) & (t < 5.0)) | ((t >= second) & (t < second + 3.0))
    x = 0.01 * rng.standard_normal(len(t)) + on * 0.01 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "gap.wav"
    lines = sorted(_channel_of(path, x, sr).tonal_lines, key=lambda ln: ln.start_s)
    assert [round(ln.freq_hz) for ln in lines] == [440, 440]
    for line, (start, end) in zip(lines, [(2.0, 5.0), (second, second + 3.0)], strict=True):
        assert line.edges_from == "segment"
        assert line.start_s == pytest.approx(start, abs=0.1)
        assert line.end_s == pytest.approx(end, abs=0.1)


def test_a_loud_event_in_a_quiet_band_ends_where_it_ends(tmp_path):
    # the band above the event lies ~110 dB under it: the 3-frame smoothing's running sum
    # kept the event's rounding, the band read 15 dB above its background after the event,
    # and the segment ran to the end of the file (2.98-9.95 s for 3-6 s)
    from scipy import signal

    sr, rng = 16_000, np.random.default_rng(8)
    n = 10 * sr
    t = np.arange(n) / sr
    wind = signal.sosfilt(signal.butter(3, 250, fs=sr, output="sos"), rng.standard_normal(n))
    event = signal.sosfilt(
        signal.butter(4, [3_600, 7_000], "bandpass", fs=sr, output="sos"), rng.standard_normal(n)
    )
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 3.0, 6.0 - t) / 0.05, 0.0, 1.0))
    x = 0.01 * wind / np.std(wind) + 0.1 * event / np.std(event) * fade
    path = tmp_path / "quiet_band.wav"
    segs = [s for s in _channel_of(path, x, sr).segments if s.kind != "wind-like"]
    assert len(segs) == 1
    assert segs[0].start_s == pytest.approx(3.0, abs=0.25)
    assert segs[0].end_s == pytest.approx(6.0, abs=0.25)


def _channel_of(path, x, sr):
    """Write ``x`` to ``path`` as a float WAV at ``sr``, analyse it, and return its only
    channel's results."""
    import soundfile as sf

    sf.write(path, np.asarray(x, np.float32), sr, subtype="FLOAT")
    result = analyze(path)
    channel = result.channels[0]
    close_analysis(result)
    return channel


def _add_clanks(x, t, times_s, amplitude):
    """Add a pinion's clanks at ``times_s`` to ``x`` (sampled at times ``t``): rings at 1850,
    3120 and 4700 Hz decaying in 30, 22 and 15 ms, as :mod:`zhurong_tk.synth.audio` makes
    them, each ``amplitude`` at its onset."""
    for t0 in times_s:
        tau = t - t0
        ring = (tau >= 0) & (tau < 0.2)
        for f, decay in [(1850.0, 0.030), (3120.0, 0.022), (4700.0, 0.015)]:
            x[ring] += amplitude * np.exp(-tau[ring] / decay) * np.sin(2 * np.pi * f * tau[ring])


def _gust_with(tmp_path, *, clank_s=None, tone_hz=None, sr=16_000, seconds=20.0, tone_off_s=None):
    """Wind with a 6-14 s gust (+15 dB, 0.5 s ramps), and a clank or a tone through it
    (from 2 s to 2 s before the end, silent over ``tone_off_s``)."""
    from scipy import signal

    rng = np.random.default_rng(4)
    t = np.arange(round(seconds * sr)) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    ramp = np.clip(np.minimum(t - 6.0, 14.0 - t) / 0.5, 0.0, 1.0)
    x = 0.01 * wind / np.std(wind) * 10.0 ** (15.0 * (0.5 - 0.5 * np.cos(np.pi * ramp)) / 20.0)
    if clank_s is not None:
        _add_clanks(x, t, [clank_s], 0.2)
    if tone_hz is not None:
        on = np.clip(np.minimum(t - 2.0, seconds - 2.0 - t) / 0.05, 0.0, 1.0)  # no click
        if tone_off_s is not None:
            a, b = tone_off_s
            on *= np.clip(np.maximum(a - t, t - b) / 0.05, 0.0, 1.0)
        x += on * 0.1 * np.sin(2 * np.pi * tone_hz * t)
    path = tmp_path / "gust.wav"
    channel = _channel_of(path, x, sr)
    return channel


@pytest.mark.parametrize(("clank_s", "tone_hz"), [(None, None), (10.0, None), (None, 440.0)])
def test_a_gust_is_found_whatever_else_sounds_in_it(clank_s, tone_hz, tmp_path):
    # a whole-spectrum rise was dropped whenever any other segment overlapped it: one clank
    # in a 10-s gust left only the clank
    channel = _gust_with(tmp_path, clank_s=clank_s, tone_hz=tone_hz)
    segments = channel.segments
    gusts = [s for s in segments if s.kind == "wind-like"]
    assert len(gusts) == 1
    assert gusts[0].start_s == pytest.approx(6.0, abs=0.5)  # the ramps: 0.5 s each
    assert gusts[0].end_s == pytest.approx(14.0, abs=0.5)
    others = [(s.kind, s.start_s, s.end_s) for s in segments if s.kind != "wind-like"]
    if clank_s is not None:
        ((kind, start, end),) = others
        assert kind == "impulsive" and start == pytest.approx(clank_s, abs=0.05)
        assert end - start < 0.3
    if tone_hz is not None:
        # the gust lifts the wind in the tone's band as much as the other bands: the band
        # no longer rose above the rest, and the tone's segment stopped for the gust (two
        # segments, 2.03-6.35 s and 13.68-17.97 s); the tone finder heard it throughout
        ((kind, start, end),) = others
        assert kind == "tonal"
        assert (start, end) == pytest.approx((2.0, 18.0), abs=0.25)
        (tone,) = [s for s in segments if s.kind == "tonal"]
        (masked,) = tone.evidence["masked_s"]
        assert masked[0] == pytest.approx(6.0, abs=0.6) and masked[1] == pytest.approx(14, abs=0.6)
        (line,) = channel.tonal_lines
        assert (line.start_s, line.end_s) == pytest.approx((2.0, 18.0), abs=0.25)


@pytest.mark.parametrize("tone_hz", [440.0, 1000.0])
def test_a_tone_that_stops_in_a_gust_is_two_segments(tone_hz, tmp_path):
    channel = _gust_with(tmp_path, tone_hz=tone_hz, tone_off_s=(7.0, 12.0))
    tones = sorted((s.start_s, s.end_s) for s in channel.segments if s.kind == "tonal")
    assert len(tones) == 2, tones
    assert tones[0][0] == pytest.approx(2.0, abs=0.25)
    assert tones[1][1] == pytest.approx(18.0, abs=0.25)
    assert all("masked_s" not in s.evidence for s in channel.segments)


@pytest.mark.parametrize(
    ("sr", "freq_hz", "level"), [(8_000, 30.0, 0.14), (8_000, 75.0, 0.07), (48_000, 23.7, 0.14)]
)
def test_a_low_motor_below_the_segmenting_bands_is_a_tonal_segment(sr, freq_hz, level, tmp_path):
    # the segments read octave bands of four FFT bins or more (none below 88 Hz at 48 kHz,
    # 177 Hz at 8 kHz): a motor 14-20 dB above the wind there had a line and no segment,
    # and the line kept its own edges, ~1 s blurred
    from scipy import signal

    rng = np.random.default_rng(2)
    t = np.arange(20 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 4.0, 16.0 - t) / 0.05, 0.0, 1.0))
    x = 0.01 * wind / np.std(wind) + fade * level * np.sin(2 * np.pi * freq_hz * t)
    path = tmp_path / "motor.wav"
    channel = _channel_of(path, x, sr)
    (found,) = [s for s in channel.segments if s.kind != "wind-like"]
    assert found.kind == "tonal"
    assert (found.start_s, found.end_s) == pytest.approx((4.0, 16.0), abs=0.25)
    assert found.evidence["tonal_line_hz"] == pytest.approx(freq_hz, abs=0.1)
    assert found.evidence["dominant_band_hz"] == pytest.approx(freq_hz, rel=0.5)
    (line,) = channel.tonal_lines
    assert (line.start_s, line.end_s) == (found.start_s, found.end_s)


def test_a_tonal_segment_s_evidence_is_the_tone_s_not_a_clank_train_s_over_it(tmp_path):
    # a motor's segment made from its line took the evidence of its whole span: a clank
    # train inside it gave the motor's segment the train's 4 kHz band and its onsets
    from scipy import signal

    sr, rng = 16_000, np.random.default_rng(5)
    t = np.arange(12 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 1.0, 11.0 - t) / 0.05, 0.0, 1.0))
    motor = sum(np.sin(2 * np.pi * 120.0 * h * t) for h in range(1, 9)) * 0.1 / np.sqrt(8 / 2)
    x = 0.01 * wind / np.std(wind) + fade * motor
    clanks = 3.0 + 0.5 * np.arange(10)
    _add_clanks(x, t, clanks, 0.1)
    path = tmp_path / "motor_and_clanks.wav"
    segments = _channel_of(path, x, sr).segments
    (motor_seg,) = [s for s in segments if s.kind == "tonal"]
    (train,) = [s for s in segments if s.kind == "impulsive"]
    assert (motor_seg.start_s, motor_seg.end_s) == pytest.approx((1.0, 11.0), abs=0.25)
    assert train.evidence["impulses"] == len(clanks)
    harmonics = 120.0 * np.arange(1, 9)
    # the tone's bands: each holds a harmonic (an octave band reaches √2 either side)
    for band in [motor_seg.evidence["dominant_band_hz"], *motor_seg.evidence["excited_bands_hz"]]:
        assert np.any(np.abs(np.log2(harmonics / band)) <= 0.5), band
    assert motor_seg.evidence["impulses"] <= 1  # its own onset at most


@pytest.mark.parametrize(
    ("motor_level", "motor_s", "train_s", "period_s", "clank_level", "seed"),
    [
        (0.05, (1.0, 12.0), (3.0, 10.0), 0.25, 0.3, 5),  # the motor on before and after
        (0.05, (1.0, 12.0), (3.0, 10.0), 0.25, 0.3, 6),
        (0.02, (1.0, 12.0), (3.0, 10.0), 0.25, 0.3, 5),
        (0.02, (4.0, 8.0), (2.0, 11.0), 0.25, 0.3, 5),  # all of it under the train
        (0.05, (1.0, 6.0), (3.0, 10.0), 0.25, 0.3, 5),  # stopping under it
        (0.05, (6.0, 12.0), (3.0, 10.0), 0.25, 0.3, 5),  # starting under it
        (0.05, (1.0, 12.0), (3.0, 10.0), 0.12, 0.5, 5),  # a faster, louder train
        # its comb's teeth out-scored the motor's harmonics, one of them (600 Hz) on a tooth:
        # the motor's line was broken in two around a 600 Hz line
        (0.02, (1.0, 12.0), (3.0, 10.0), 0.12, 0.5, 5),
        (0.02, (1.0, 12.0), (3.0, 10.0), 0.12, 0.5, 6),
    ],
)
def test_a_motor_under_a_louder_clank_train_keeps_its_segment_and_line(
    motor_level, motor_s, train_s, period_s, clank_level, seed, tmp_path
):
    # the train's run took every frame the motor shares with it: the motor's segment
    # stopped where the clanks started (1.02-2.93 s for a motor sounding 1-12 s), or the
    # train's segment held the motor's line and it had none; the train's ran on to 12.2 s
    from scipy import signal

    sr, rng = 16_000, np.random.default_rng(seed)
    t = np.arange(14 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    a, b = motor_s
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - a, b - t) / 0.05, 0.0, 1.0))
    motor = sum(0.8**h * np.sin(2 * np.pi * 120.0 * h * t) for h in range(1, 6))
    x = 0.01 * wind / np.std(wind) + motor_level * fade * motor
    clanks = np.arange(train_s[0], train_s[1], period_s)
    _add_clanks(x, t, clanks, clank_level)
    channel = _channel_of(tmp_path / "motor_under_clanks.wav", x, sr)
    kinds = sorted((s.kind, s.start_s, s.end_s) for s in channel.segments if s.kind != "wind-like")
    assert [k[0] for k in kinds] == ["impulsive", "tonal"], kinds
    (train,) = [s for s in channel.segments if s.kind == "impulsive"]
    (motor_seg,) = [s for s in channel.segments if s.kind == "tonal"]
    assert (motor_seg.start_s, motor_seg.end_s) == pytest.approx(motor_s, abs=0.25)
    assert train.start_s == pytest.approx(clanks[0], abs=0.25)
    assert train.end_s == pytest.approx(clanks[-1] + 0.15, abs=0.25)  # the last one rings
    assert train.evidence["impulses"] == len(clanks)
    (line,) = channel.tonal_lines
    assert line.freq_hz == pytest.approx(120.0, abs=0.5)
    assert (line.start_s, line.end_s) == pytest.approx(motor_s, abs=0.25)


@pytest.mark.parametrize("level_dbfs", [-55.0, -60.0])
def test_weak_friction_in_gusty_wind_adds_no_power_below_300_hz(level_dbfs, tmp_path):
    # the power a segment adds was each frame's excess over the band's 20th percentile: the
    # gusty wind's own swings above it counted, and weak friction at 1-3.6 kHz (nothing
    # below 300 Hz) read three quarters of its power low, and wind-like
    from scipy import signal

    sr = 8_000
    scene = {**synth_audio.egress_scene(duration_s=30.0, seed=3), "segments": [], "impulses": []}
    wind = np.concatenate(list(synth_audio.render(scene, sr=sr))).astype(np.float64)
    t = np.arange(len(wind)) / sr
    friction = signal.sosfilt(
        signal.butter(4, [1000, 3600], "bandpass", fs=sr, output="sos"),
        np.random.default_rng(5).standard_normal(len(t)),
    )
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 10.0, 20.0 - t) / 0.05, 0.0, 1.0))
    x = wind + 10.0 ** (level_dbfs / 20.0) * friction / np.std(friction) * fade
    path = tmp_path / "friction.wav"
    segments = _channel_of(path, x, sr).segments
    (found,) = [s for s in segments if abs(s.start_s - 10.0) < 0.25 and abs(s.end_s - 20.0) < 0.25]
    assert found.kind == "broadband"
    assert found.evidence["low_power_share"] < 0.25


@pytest.mark.parametrize(
    ("event", "kind", "peak_hz"),
    [("tone", "tonal", 3000.0), ("whine", "tonal", 4200.0), ("friction", "broadband", None)],
)
def test_a_steady_tone_above_the_tone_search_is_tonal_by_its_peaky_spectrum(
    event, kind, peak_hz, tmp_path
):
    # the tone search stops at 2 kHz: a 3 kHz tone, or a 4.2 kHz whine with its 8.4 kHz
    # harmonic, had no line and was labelled broadband like friction (median flatness 0.0
    # for both: the wind's steep spectrum rules the whole-spectrum flatness)
    from scipy import signal

    sr, rng = 24_000, np.random.default_rng(6)
    t = np.arange(20 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 6.0, 14.0 - t) / 0.05, 0.0, 1.0))
    if event == "tone":
        sound = np.sin(2 * np.pi * 3000.0 * t)
    elif event == "whine":
        sound = np.sin(2 * np.pi * 4200.0 * t) + 0.5 * np.sin(2 * np.pi * 8400.0 * t)
    else:
        band = signal.butter(4, [1000, 8000], "bandpass", fs=sr, output="sos")
        sound = signal.sosfilt(band, rng.standard_normal(len(t)))
    x = 0.01 * wind / np.std(wind) + 0.0316 * sound / np.std(sound) * fade  # -30 dBFS
    path = tmp_path / f"{event}.wav"
    segments = _channel_of(path, x, sr).segments
    (found,) = [s for s in segments if s.kind != "wind-like"]
    assert (found.start_s, found.end_s) == pytest.approx((6.0, 14.0), abs=0.25)
    assert found.kind == kind
    if peak_hz is None:
        assert "peak_hz" not in found.evidence
    else:
        assert found.evidence["peak_hz"] == pytest.approx(peak_hz, abs=2.0)
        assert found.evidence["peak_share"] > 0.9


@pytest.mark.parametrize(
    ("sr", "centre_hz", "width_hz", "kind"),
    [
        (16_000, 1000.0, 50.0, "broadband"),
        (16_000, 1000.0, 100.0, "broadband"),
        (24_000, 3000.0, 50.0, "broadband"),
        (48_000, 3000.0, 100.0, "broadband"),
        # a tone drifting ±15 Hz (five 16-kHz bins) every 5 s is still one
        (16_000, 3000.0, 0.0, "tonal"),
    ],
)
def test_a_band_of_noise_a_few_bins_wide_is_broadband_and_a_drifting_tone_tonal(
    sr, centre_hz, width_hz, kind, tmp_path
):
    # a band of noise 50 or 100 Hz wide fills a peak's lobe (±3 bins) and leaves its skirts
    # empty, as a tone does: it was labelled tonal (peak_share 0.86 for 100 Hz at 1 kHz)
    from scipy import signal

    rng = np.random.default_rng(6)
    t = np.arange(20 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 6.0, 14.0 - t) / 0.05, 0.0, 1.0))
    if width_hz:
        edges = [centre_hz - width_hz / 2, centre_hz + width_hz / 2]
        band = signal.butter(4, edges, "bandpass", fs=sr, output="sos")
        sound = signal.sosfilt(band, rng.standard_normal(len(t)))
    else:
        sound = np.sin(2 * np.pi * centre_hz * t + 15.0 / 0.2 * np.sin(2 * np.pi * 0.2 * t))
    x = 0.01 * wind / np.std(wind) + 0.0316 * sound / np.std(sound) * fade  # -30 dBFS
    channel = _channel_of(tmp_path / "band.wav", x, sr)
    (found,) = [s for s in channel.segments if s.kind != "wind-like"]
    assert (found.start_s, found.end_s) == pytest.approx((6.0, 14.0), abs=0.25)
    assert found.kind == kind, found.evidence
    if kind == "tonal":
        assert found.evidence["peak_share"] > 0.9
        assert found.evidence["peak_hz"] == pytest.approx(centre_hz, abs=15.0)
    else:
        assert not channel.tonal_lines


@pytest.mark.parametrize(("sr", "period_s"), [(16_000, 0.1), (16_000, 0.2), (48_000, 0.1)])
def test_a_metronome_s_cadence_is_read_to_the_sample_not_the_hop(sr, period_s, tmp_path):
    # onsets were frame times (a 21-ms hop at 48 kHz): a perfect 10/s train read a median
    # interval of 0.1067 s and a CV of 0.0995, a 5/s one 0.192 s and 0.051
    from scipy import signal

    rng = np.random.default_rng(3)
    t = np.arange(8 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    x = 0.01 * wind / np.std(wind)
    clanks = 1.0 + period_s * np.arange(round(6.0 / period_s))
    _add_clanks(x, t, clanks, 0.2)
    path = tmp_path / "metronome.wav"
    channel = _channel_of(path, x, sr)
    found = np.array([imp.time_s for imp in channel.impulses])
    assert len(found) == len(clanks)
    assert np.max(np.abs(found - clanks)) <= 0.002
    (train,) = channel.trains
    assert train.median_interval_s == pytest.approx(period_s, abs=0.002)
    assert train.regularity_cv < 0.02
    assert train.rate_hz == pytest.approx(1.0 / period_s, rel=0.01)


def _two_motors(tmp_path, motors, *, sr=16_000, seconds=22.0, gust=None):
    """Wind with motors ``(f0_hz, on_s, off_s[, amplitude])``, harmonics 1-3 at 0/-6/-12 dB
    (amplitude 0.07 of the fundamental by default: 23 dB over the wind's RMS), and a
    +15 dB gust over ``gust`` ``(start_s, end_s)`` (0.5 s ramps) if given."""
    from scipy import signal

    rng = np.random.default_rng(2)
    t = np.arange(round(seconds * sr)) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    x = 0.01 * wind / np.std(wind)
    if gust is not None:
        ramp = np.clip(np.minimum(t - gust[0], gust[1] - t) / 0.5, 0.0, 1.0)
        x *= 10.0 ** (15.0 * (0.5 - 0.5 * np.cos(np.pi * ramp)) / 20.0)
    for f0, on_s, off_s, *level in motors:
        fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - on_s, off_s - t) / 0.05, 0, 1))
        for number in (1, 2, 3):
            amplitude = (level[0] if level else 0.07) / 2 ** (number - 1)
            x += fade * amplitude * np.sin(2 * np.pi * number * f0 * t)
    path = tmp_path / "motors.wav"
    channel = _channel_of(path, x, sr)
    return channel


@pytest.mark.parametrize(
    ("motors", "sr"),
    [
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], 16_000),  # one starts while the other runs
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], 48_000),
        ([(150.0, 3.0, 12.0, 0.025), (190.0, 8.0, 18.0)], 16_000),  # the first too weak to
        ([(150.0, 3.0, 15.0), (440.0, 8.0, 18.0)], 16_000),  # make a segment of its own
        ([(120.0, 3.0, 18.0), (170.0, 7.0, 12.0)], 16_000),  # one inside the other
        # every band of the first holds a harmonic of the second, which steps more at 18 s
        ([(100.0, 3.0, 15.0), (150.0, 8.0, 18.0)], 16_000),
        ([(130.0, 4.0, 16.0), (175.0, 4.0, 10.0)], 16_000),  # starting together
    ],
)
def test_two_overlapping_motors_each_keep_their_own_edges(motors, sr, tmp_path):
    # one segment covered both motors' sounds and named one line: that line took the whole
    # segment's edges (190 Hz from 3.04 s, truth 8 s) and the other kept its own, blurred
    # by a long window (150 Hz 2.3-12.29 s)
    channel = _two_motors(tmp_path, motors, sr=sr, seconds=max(m[2] for m in motors) + 4.0)
    _assert_each_motor_has_its_segment_and_line(channel, motors)


@pytest.mark.parametrize(
    "motors",
    [
        [(150.0, 2.0, 20.0), (190.0, 4.0, 10.0), (190.0, 11.5, 17.0)],  # pausing 1.5 s
        [(440.0, 2.0, 20.0), (190.0, 4.0, 10.0), (190.0, 11.5, 17.0)],
        [(150.0, 3.0, 14.0), (190.0, 6.0, 10.0), (190.0, 11.0, 18.0)],  # 1 s, in the overlap
        [(150.0, 3.0, 18.0), (150.0, 19.0, 21.0), (190.0, 4.0, 19.5)],
        # every band of each holds a harmonic of the other: the 170 Hz one must not take
        # the 120 Hz one's pause (its band dipped 2 dB for 0.6 s)
        [(120.0, 2.0, 8.0), (120.0, 9.0, 20.0), (170.0, 3.0, 19.0)],
    ],
)
def test_a_motor_pausing_while_another_runs_is_two_segments_and_two_lines(motors, tmp_path):
    # the other motor's activity bridged the pause, and the tone finder's long windows
    # joined the two pieces of the line: one segment and one line, 4.03-16.96 s
    channel = _two_motors(tmp_path, motors, seconds=max(m[2] for m in motors) + 4.0)
    _assert_each_motor_has_its_segment_and_line(channel, motors)


def _assert_each_motor_has_its_segment_and_line(channel, motors):
    segments = [s for s in channel.segments if s.kind != "wind-like"]
    assert all(s.kind == "tonal" for s in segments), [(s.kind, s.start_s) for s in segments]
    assert len(segments) == len(motors), [(s.start_s, s.end_s) for s in segments]
    assert len(channel.tonal_lines) == len(motors)
    for f0, on_s, off_s, *_ in motors:
        truth = (on_s, off_s)
        own = [
            s
            for s in segments
            if s.evidence.get("tonal_line_hz") == pytest.approx(f0, abs=0.5)
            and (s.start_s, s.end_s) == pytest.approx(truth, abs=0.25)
        ]
        assert len(own) == 1, (f0, truth, [(s.start_s, s.end_s) for s in segments])
        lines = [
            line
            for line in channel.tonal_lines
            if line.freq_hz == pytest.approx(f0, abs=0.5)
            and (line.start_s, line.end_s) == pytest.approx(truth, abs=0.25)
        ]
        assert len(lines) == 1, (f0, truth)


@pytest.mark.parametrize(
    "motors",
    [
        # the shorter neither starts nor stops inside the segment it makes with the longer:
        # the longer took its edges (12.03-16.96 s) and the shorter had no segment
        [(120.0, 2.0, 20.0), (190.0, 12.0, 17.0)],
        # one restarting within the other: each segment was reported twice
        [(150.0, 2.0, 20.0), (190.0, 4.0, 9.0), (190.0, 12.0, 17.0)],
        # the pair twice: the first 190 Hz line took 5.02-19.98 s, from the lines' frequencies
        [(150.0, 5.0, 15.0), (190.0, 10.0, 20.0), (150.0, 35.0, 45.0), (190.0, 40.0, 50.0)],
    ],
)
def test_motors_overlapping_in_time_in_many_ways_keep_their_own_edges(motors, tmp_path):
    channel = _two_motors(tmp_path, motors, seconds=max(m[2] for m in motors) + 4.0)
    _assert_each_motor_has_its_segment_and_line(channel, motors)


@pytest.mark.parametrize(
    "motors",
    [
        # the higher motor's harmonics all fall on the lower one's: while both ran it was
        # read as part of the lower one's comb, its line starting when the lower one
        # stopped (200 Hz from 12.29 s for 8 s) and the lower one's taking both segments
        # (100 Hz 3.02-17.98 s for 3-12 s)
        [(100.0, 3.0, 12.0), (200.0, 8.0, 18.0)],
        [(100.0, 3.0, 18.0), (200.0, 7.0, 12.0)],  # no 200 Hz line at all
        [(100.0, 3.0, 12.0), (300.0, 8.0, 18.0)],
        # the higher one running throughout was two lines, broken where the lower one ran
        [(100.0, 7.0, 12.0), (200.0, 3.0, 18.0)],
    ],
)
def test_a_motor_whose_harmonics_fall_on_another_s_keeps_its_own_line(motors, tmp_path):
    channel = _two_motors(tmp_path, motors, seconds=22.0)
    _assert_each_motor_has_its_segment_and_line(channel, motors)
    (low, high) = sorted(channel.tonal_lines, key=lambda line: line.freq_hz)
    assert low.coincides_with_hz is None
    assert high.coincides_with_hz == pytest.approx(low.freq_hz, abs=0.01)


def test_one_motor_with_many_harmonics_in_gusts_is_one_line(tmp_path):
    # its harmonics fade and return unevenly as gusts mask the lower ones: no tone at a
    # multiple of it may be read from that
    from scipy import signal

    sr, rng = 16_000, np.random.default_rng(4)
    t = np.arange(22 * sr) / sr
    wind = signal.sosfilt(signal.butter(2, 250, fs=sr, output="sos"), rng.standard_normal(len(t)))
    gain = np.ones(len(t))
    for start, end in [(5.0, 9.0), (13.0, 16.0)]:
        ramp = np.clip(np.minimum(t - start, end - t) / 0.5, 0.0, 1.0)
        gain *= 10.0 ** (15.0 * (0.5 - 0.5 * np.cos(np.pi * ramp)) / 20.0)
    x = 0.01 * wind / np.std(wind) * gain
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(t - 3.0, 19.0 - t) / 0.05, 0, 1))
    for number in range(1, 7):
        x += fade * 0.05 / number * np.sin(2 * np.pi * number * 110.0 * t)
    channel = _channel_of(tmp_path / "motor.wav", x, sr)
    (line,) = channel.tonal_lines
    assert line.freq_hz == pytest.approx(110.0, abs=0.5)
    assert line.coincides_with_hz is None


def test_two_motors_one_after_the_other_are_two_segments(tmp_path):
    motors = [(100.0, 3.0, 10.0), (170.0, 12.0, 18.0)]
    channel = _two_motors(tmp_path, motors)
    spans = [(s.kind, s.start_s, s.end_s) for s in channel.segments]
    assert len(spans) == 2
    for (kind, start, end), (_, on_s, off_s) in zip(spans, motors, strict=True):
        assert kind == "tonal"
        assert (start, end) == pytest.approx((on_s, off_s), abs=0.25)


@pytest.mark.parametrize(
    "motors",
    [
        # a motor 12-15 dB under the other: where it starts, its band (which holds the
        # other's harmonic) steps by under 1 dB; it kept the band's half-power edges,
        # 5.18-17.92 s for 8-18 s, or 4.92-15.55 s for 3-12 s
        [(150.0, 3.0, 12.0), (190.0, 8.0, 18.0, 0.0125)],
        [(150.0, 3.0, 12.0), (190.0, 8.0, 18.0, 0.0176)],
        [(150.0, 3.0, 12.0, 0.0125), (190.0, 8.0, 18.0)],
        # two motors holding most of the recording make no segment of activity: each line's
        # edges were read in its strongest harmonic's band, which the other's harmonics
        # share (both lines 4.03-16.97 s, or 2.78-19.94 s)
        [(150.0, 2.0, 20.0), (190.0, 4.0, 17.0)],
        [(120.0, 2.0, 20.0), (170.0, 3.0, 19.0)],
    ],
)
def test_a_motor_beside_a_louder_one_or_both_filling_the_recording_keeps_its_edges(
    motors, tmp_path
):
    channel = _two_motors(tmp_path, motors, seconds=22.0)
    _assert_each_motor_has_its_segment_and_line(channel, motors)


@pytest.mark.parametrize(
    ("motors", "gust"),
    [
        # the gust lifts the motor's band with the rest: its segment started when the gust
        # was over (6.5 s for 4 s), or stopped when it began (12.37 s for 15 s)
        ([(150.0, 4.0, 15.0)], (2.0, 7.0)),
        ([(150.0, 4.0, 15.0)], (12.0, 18.0)),
        # each motor's segment stopped or started with the gust: 150 Hz 3.02-7.31 s, 190 Hz
        # 12.62-17.98 s; then, split beside the other motor, each edge took the gust's step
        # where it was larger than the motor's: 150 Hz 3.03-12.67 s, 3.03-14.65 s (gust
        # 9-15 s) or 2.32-11.97 s (2-9.5 s), 190 Hz 8.03-18.65 s (10.5-19 s)
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], (7.0, 13.0)),
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], (9.0, 15.0)),
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], (2.0, 9.5)),
        ([(150.0, 3.0, 12.0), (190.0, 8.0, 18.0)], (10.5, 19.0)),
    ],
)
def test_a_motor_starting_or_stopping_in_a_gust_keeps_its_edges(motors, gust, tmp_path):
    channel = _two_motors(tmp_path, motors, seconds=22.0, gust=gust)
    (wind,) = [(s.start_s, s.end_s) for s in channel.segments if s.kind == "wind-like"]
    assert wind == pytest.approx(gust, abs=0.5)
    _assert_each_motor_has_its_segment_and_line(channel, motors)
    tones = [s for s in channel.segments if s.kind == "tonal"]
    # each tone's stretch within the gust, up to its edge there, is kept as masked
    for tone in tones:
        inside = [
            (max(tone.start_s, wind[0]), min(tone.end_s, wind[1]))
            for edge in (tone.start_s, tone.end_s)
            if wind[0] < edge < wind[1]
        ]
        masked = tone.evidence.get("masked_s") or []
        assert len(masked) == len(inside[:1]), (tone.start_s, tone.end_s, tone.evidence)
        for span, truth in zip(masked, inside, strict=False):
            assert span == pytest.approx(truth, abs=0.3), (tone.start_s, tone.end_s, masked)
