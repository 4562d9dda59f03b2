"""Activity above the background, segmented with hysteresis and labelled by its evidence.

Each octave band's level is compared with that band's own background (a low
percentile of its level over the recording) in units of the band's own
variability, so gusty low bands need a larger rise than quiet high bands.
A frame is active when any band rises far enough; runs of active frames
become segments (hysteresis: a high threshold to start, a low one to end;
short gaps bridged, short blips dropped). Each segment is then labelled by
what the evidence says: tonal (a tonal line holds it), impulsive (onsets
that stand out, grouped into trains), broadband (flat spectrum above a few
hundred hertz: friction), or wind-like (rise confined to the low bands, or three
quarters of the power it adds below ``wind_max_hz``).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Callable

import numpy as np

from zhurong_tk.audio import _kernels
from zhurong_tk.audio.impulses import Impulse, ImpulseTrain
from zhurong_tk.audio.tonal import TonalLine
from zhurong_tk.errors import ParameterError

#: Band levels at or below this are digital silence (no power at all), not a quiet band.
SILENCE_DB = -290.0

#: A band more than this far under its frame's loudest band counts as that far under it: it
#: holds only the window's leakage and the float32 rounding, which swing by several dB with
#: a steady tone's phase, or drop to exactly nothing (bands of a noise-free tone swinging
#: 8 dB at -140 dB kept one click's segment alive over the whole file)
RANGE_DB = 100.0


@dataclasses.dataclass(frozen=True)
class SegmentConfig:
    """Hysteresis and duration limits of activity segmentation.

    Attributes
    ----------
    on_z, off_z : float
        Band rise, in units of the band's background spread, that starts and ends activity.
    on_db, off_db : float
        Minimum rise in dB that starts and ends activity.
    background_percentile : float
        Percentile of each band's level taken as its background.
    min_duration_s, merge_gap_s : float
        Shorter segments are dropped (impulsive ones excepted); closer ones are merged.
    wind_max_hz : float
        A rise confined to bands below this, or adding three quarters of its power below
        it, is wind-like.
    background_s : (float, float) or None
        A stretch of the recording known to hold no event, start and end in seconds:
        each band's background is read there instead of from the whole recording. A
        background read from the whole recording misses an event that fills more than
        about four fifths of it (the percentile then lies on the event).
    """

    on_z: float = 4.0
    off_z: float = 2.0
    on_db: float = 6.0
    off_db: float = 3.0
    background_percentile: float = 20.0
    min_duration_s: float = 0.25
    merge_gap_s: float = 0.3
    wind_max_hz: float = 300.0
    background_s: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.background_s is not None:
            start, end = (float(v) for v in self.background_s)
            if not 0.0 <= start < end < math.inf:
                raise ParameterError(
                    f"the background stretch must run forwards from 0 s, got {start:g}-{end:g} s"
                )


MIN_BACKGROUND_FRAMES = 8  # a quiet stretch shorter than this gives no percentile to trust


def background_rows(times_s: np.ndarray, config: SegmentConfig) -> np.ndarray | slice:
    """The frames each band's background is read from: the quiet stretch
    (:attr:`SegmentConfig.background_s`) when one is given, else all of them."""
    if config.background_s is None:
        return slice(None)
    start, end = config.background_s
    rows = np.flatnonzero((times_s >= start) & (times_s <= end))
    if len(rows) == 0:
        last = float(times_s[-1]) if len(times_s) else 0.0
        raise ParameterError(
            f"the background stretch {start:g}-{end:g} s lies outside the recording's frames "
            f"(0-{last:.3g} s)"
        )
    if len(rows) < MIN_BACKGROUND_FRAMES:
        raise ParameterError(
            f"the background stretch {start:g}-{end:g} s holds {len(rows)} frames; "
            f"at least {MIN_BACKGROUND_FRAMES} are needed"
        )
    return rows


@dataclasses.dataclass
class Segment:
    start_s: float
    end_s: float
    kind: str  # "tonal", "impulsive", "broadband", "wind-like"
    evidence: dict

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "kind": self.kind,
            "duration_s": round(self.end_s - self.start_s, 3),
            **self.evidence,
        }


def band_background(band_db: np.ndarray, percentile: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-band background level (the ``percentile``) and spread (at least 1 dB).

    The spread is the background's scatter: the median minus the background
    level, or, when that is more than twice the scatter below the background
    level (its ``percentile / 4`` up to it), twice that. The median belongs to
    an event that holds more than half of the recording; the lower tail stays
    the background's while it holds a fifth. (For Gaussian scatter the two
    distances are 0.84 and 0.80 sigma; log-power scatter has the longer lower
    tail, so the median is used wherever the background holds the median.)
    """
    values = np.asarray(band_db)
    if values.ndim == 1:
        values = values[:, None]
    floor = np.full(values.shape[1], -300.0)
    spread = np.ones(values.shape[1])
    for band in range(values.shape[1]):
        # digital silence (no power: -300 dB here, or NaN) is no background: left out, so a
        # file that opens with zeros still has its wind for a floor (one column at a time:
        # an hour's frames of every band in float64 would be the analysis's peak memory)
        column = values[:, band]
        column = column[np.isfinite(column) & (column > SILENCE_DB)].astype(np.float64)
        if len(column):
            low, floor[band], mid = np.percentile(column, [percentile / 4, percentile, 50.0])
            spread[band] = max(min(mid - floor[band], 2.0 * (floor[band] - low)), 1.0)
    if np.ndim(band_db) == 1:
        return floor[0], spread[0]
    return floor, spread


def shape_and_common_rise(band_db: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each band's rise above its background ``floor`` (:func:`band_background`)
    into a common part and the rest.

    A gust scales the whole wind spectrum: every band rises by about the same
    number of dB. Motors, friction and clanks change the spectrum's *shape*,
    and they only ever raise bands. So the common rise is a low quantile of
    the bands' rises (the 25th percentile: unaffected by an event that lifts
    up to three quarters of the bands, as broadband friction does); the shape
    rise is what each band rises beyond it.
    """
    rise = np.where(np.isfinite(band_db) & (band_db > SILENCE_DB), band_db - floor, -60.0)
    common = np.percentile(rise, 25.0, axis=1)
    return rise - np.maximum(common, 0.0)[:, None], common


def banded_hysteresis_runs(start: np.ndarray, keep: np.ndarray) -> list[tuple[int, int]]:
    """Hysteresis per band: a run continues only while the bands that started it
    (or that met the start condition during it) stay above the low threshold.

    ``start`` and ``keep`` are ``(n_frames, n_bands)`` flags. Without this, the
    background's own scatter in some unrelated band keeps an ended event alive.
    """
    start = np.ascontiguousarray(start, bool)
    keep = np.ascontiguousarray(keep, bool)
    runs = np.empty((start.shape[0], 2), np.int64)
    count = _kernels.hysteresis_runs(start, keep, runs)
    return [(int(a), int(b)) for a, b in runs[:count]]


def _runs_to_spans(runs, times_s, frame_s, merge_gap_s) -> list[list]:
    edge = frame_s / 4  # a frame turns active as soon as the event enters its window
    spans: list[list] = []
    for a, b in runs:
        s, e = times_s[a] + edge, max(times_s[b - 1] - edge, times_s[a] + edge + frame_s / 2)
        if spans and s - spans[-1][1] <= merge_gap_s:
            spans[-1][1], spans[-1][3] = max(spans[-1][1], e), b
        else:
            spans.append([s, e, a, b])
    return spans


def segment(
    *,
    times_s: np.ndarray,
    band_db: np.ndarray,
    band_centres_hz: np.ndarray,
    flatness: np.ndarray,
    tonal_lines: list[TonalLine],
    impulses: list[Impulse],
    trains: list[ImpulseTrain],
    frame_s: float,
    config: SegmentConfig | None = None,
    tone_band_db: np.ndarray | None = None,
    tone_band_centres_hz: np.ndarray | None = None,
    spectrogram: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[Segment]:
    """Find and label the activity segments of one channel.

    Parameters
    ----------
    times_s : numpy.ndarray
        Frame centre times.
    band_db : numpy.ndarray
        Octave band levels per frame, ``(n_frames, n_bands)``.
    band_centres_hz : numpy.ndarray
        Centre frequency of each band.
    flatness : numpy.ndarray
        Spectral flatness per frame.
    tonal_lines, impulses, trains
        Evidence from :mod:`~zhurong_tk.audio.tonal` and :mod:`~zhurong_tk.audio.impulses`.
    frame_s : float
        Frame length in seconds.
    config : SegmentConfig, optional
    tone_band_db, tone_band_centres_hz : numpy.ndarray, optional
        Octave band levels per frame and centres of every band, the narrow ones too (too
        few FFT bins to segment on: their level scatters by several dB in noise). A tonal
        line's edges are read in the band holding its strongest harmonic, and a low motor's
        lies below ``band_db``'s (below 88 Hz at 48 kHz). By default ``band_db``'s bands.
    spectrogram : (times_s, freqs_hz, psd), optional
        The pooled spectrogram (:class:`~.spectral.SpectrogramPool`): column times, bin
        frequencies and power ``(n_columns, n_bins)``. A segment no tonal line explains is
        tonal when the power it adds lies in narrow peaks (see :data:`PEAK_SHARE`): the
        tone search stops at 2 kHz, and a steady whine above it was labelled broadband.

    Notes
    -----
    Events are detected on the spectral-shape rise (see
    :func:`shape_and_common_rise`), so wind gusts do not register as events;
    stretches where the whole spectrum rises are reported as ``wind-like``.
    """
    config = config or SegmentConfig()
    if len(times_s) == 0 or band_db.shape[1] == 0:
        return []
    quiet = background_rows(times_s, config)
    impulses = sorted(impulses, key=lambda imp: imp.time_s)
    # frames × bands arrays in float32: an hour at a 1024 hop is 170 000 frames, and a few
    # float64 copies of them were the analysis's peak memory
    band_db = np.asarray(band_db, np.float32)
    # smooth each band's power over three frames: a band of few FFT bins scatters by several dB
    # (scipy.ndimage.uniform_filter1d's running mean, without its ~0.2 s import)
    linear = 10.0 ** (np.where(np.isfinite(band_db), band_db, np.float32(-300.0)) / 10.0)
    power = np.empty_like(linear)
    _kernels.running_mean_columns(linear, 3, power)
    del linear
    band_db = 10.0 * np.log10(np.maximum(power, np.float32(1e-30)))
    loudest = band_db.max(axis=1, keepdims=True)
    np.maximum(band_db, np.where(loudest > SILENCE_DB, loudest - RANGE_DB, -300.0), out=band_db)
    np.power(np.float32(10.0), np.multiply(band_db, np.float32(0.1), out=power), out=power)
    level_floor = band_background(band_db[quiet], config.background_percentile)[0].astype(
        np.float32
    )
    shape, common = shape_and_common_rise(band_db, level_floor)
    silent = ~(band_db > SILENCE_DB).any(axis=1)  # digital silence: no band has power
    # what a gust lifts every band by, per frame: no tone's step (see _step_edges)
    common_db = np.where(silent, 0.0, np.maximum(common, 0.0))
    shape[silent] = np.nan
    common[silent] = np.nan
    floor, spread = band_background(shape[quiet], config.background_percentile)
    excess = shape - floor.astype(np.float32)
    del shape
    z = excess / spread.astype(np.float32)
    start = (z >= config.on_z) & (excess >= config.on_db)
    keep = (z >= config.off_z) & (excess >= config.off_db)
    segments = []
    runs = banded_hysteresis_runs(start, keep)
    del start, keep
    # each band's mean power without the events: what an event's power is added to
    free = _event_free_rows(runs, silent, quiet)
    bg_power = _background_power(power, free, level_floor)
    spectra = None if spectrogram is None else _Spectra(spectrogram, times_s, free)
    del free

    def label(s: float, e: float, a: int, b: int, excess=excess, power=power) -> Segment:
        """The segment ``s``..``e`` (seconds) labelled from frames ``a``..``b``."""
        return _label(
            s, e, excess[a:b], band_centres_hz, flatness[a:b], tonal_lines, impulses, config,
            frame_s, power[a:b], bg_power, spectra,
        )  # fmt: skip

    # label every run on its own first, so a background blip next to an event is not
    # absorbed into it; then bridge short gaps between runs of the same kind
    labelled = []
    for s, e, a, b in _runs_to_spans(runs, times_s, frame_s, merge_gap_s=-1.0):
        seg = label(s, e, a, b)
        if seg.kind == "impulsive" or e - s >= config.min_duration_s:
            labelled.append([seg, a, b])
    # the groups first, each labelled once at the end (relabelling a growing group at every
    # merge was quadratic: a windy hour merges hundreds of runs)
    groups: list[list] = []  # [first segment, first frame, end_s, end frame, runs]
    for seg, a, b in labelled:
        if (
            groups
            and groups[-1][0].kind == seg.kind
            and seg.start_s - groups[-1][2] <= config.merge_gap_s
        ):
            groups[-1][2:] = [seg.end_s, b, groups[-1][4] + 1]
        else:
            groups.append([seg, a, seg.end_s, b, 1])
    segments = []
    for first, a, end_s, b, runs in groups:
        if runs > 1:
            joined = label(first.start_s, end_s, a, b)
            joined.kind = first.kind
            first = joined
        segments.append(first)

    def relabel(s: float, e: float, label=label) -> Segment:
        # read in the frames clear of the train's: a frame holding a clank took the label
        # (a motor's frames before a train labelled by the 8 kHz band of the first clank)
        a, b = np.searchsorted(times_s, [s + frame_s / 2, e - frame_s / 2])
        if b <= a:
            a, b = np.searchsorted(times_s, [s, e])
        return label(s, e, int(a), int(b))

    segments = _join_trains(segments, trains, impulses, relabel, config.min_duration_s)
    # what sounds beside the tones and under the clanks, read with them left out
    clanks = [
        imp
        for imp in impulses
        if any(train.start_s - 0.05 <= imp.time_s <= train.end_s + 0.05 for train in trains)
    ]
    hidden = _known_sounds(tonal_lines, clanks, times_s, frame_s, band_centres_hz)
    segments, friction = _layer_residuals(
        segments, excess, z, hidden, power, bg_power, band_centres_hz, flatness, times_s,
        frame_s, tonal_lines, config,
    )  # fmt: skip
    segments = _layer_trains(segments, trains, impulses, relabel)
    segments = _without_explained(segments, tonal_lines, friction)
    del power, label, relabel, z, hidden
    tone_bands = None if tone_band_db is None else (tone_band_db, tone_band_centres_hz)
    segments = _split_among_lines(
        segments, tonal_lines, times_s, band_db, band_centres_hz, flatness, impulses, config,
        quiet, tone_bands, common_db,
    )  # fmt: skip
    segments += _line_segments(
        tonal_lines,
        segments,
        times_s,
        band_db,
        band_centres_hz,
        flatness,
        impulses,
        config,
        quiet,
        tone_bands=tone_bands,
        common_db=common_db,
    )

    # wind-like: the whole spectrum rises together (gusts, a passing dust devil's roar)
    c_floor, c_spread = band_background(common[quiet], config.background_percentile)
    unknown = _common_rise_without_events(
        common, segments, excess, band_db, level_floor, times_s, frame_s, config
    )
    del excess
    c_rise = common - c_floor
    w_start = (c_rise >= config.on_db) & (c_rise / c_spread >= config.on_z / 2)
    # where the events leave too few bands to tell, a gust going on goes on
    w_keep = (c_rise >= config.off_db) | unknown
    for s, e, a, b in _runs_to_spans(
        banded_hysteresis_runs(w_start[:, None], w_keep[:, None]),
        times_s,
        frame_s,
        config.merge_gap_s,
    ):
        if e - s < 1.0:
            continue
        segments.append(
            Segment(
                float(s),
                float(e),
                "wind-like",
                {
                    "peak_rise_db": round(float(np.max(c_rise[a:b])), 2),
                    "dominant_band_hz": None,
                    "median_flatness": round(float(np.median(flatness[a:b])), 4),
                    "impulses": 0,
                    "excited_bands_hz": [],
                    "whole_spectrum": True,
                },
            )
        )
    segments = _bridge_masked_tones(segments, tonal_lines)
    all_db, all_centres = tone_bands if tone_bands is not None else (band_db, band_centres_hz)
    _unmask_edges(segments, tonal_lines, times_s, all_db, all_centres, band_db.max(axis=1))
    segments.sort(key=lambda sg: sg.start_s)
    return segments


#: A residual run (see :func:`_layer_residuals`) is a sound of its own from this long.
RESIDUAL_MIN_S = 0.5
#: ... and is read so only where a tone sounds or a train clanks this long in it.
KNOWN_MIN_S = 0.3
#: Residual runs this close where a tone sounds between them are one (its bands, left out,
#: may have held the friction's power there).
TONE_GAP_S = 1.0
#: A clank's frames: from a window before its onset to the end of its ring.
CLANK_RING_S = 0.25
#: A tone's bands are left out this far beyond its line's ends (its edges' blur).
LINE_MARGIN_S = 0.5


def _known_sounds(
    lines: list[TonalLine],
    impulses: list[Impulse],
    times_s: np.ndarray,
    frame_s: float,
    centres: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the tones and the clanks explain: ``(bands, clank_frames, known)`` flags,
    frames × bands where a tonal line's harmonics lie (every multiple of its fundamental up
    to two past its highest harmonic heard, over the line's span and
    :data:`LINE_MARGIN_S` beyond), the frames holding one of the ``impulses`` (a train's
    clanks), and the frames where a line sounds or a clank rings."""
    bands = np.zeros((len(times_s), len(centres)), bool)
    known = np.zeros(len(times_s), bool)
    lo_edges, hi_edges = centres / np.sqrt(2), centres * np.sqrt(2)
    for line in lines:
        if not line.harmonics:
            continue
        a, b = np.searchsorted(times_s, [line.start_s, line.end_s])
        known[a:b] = True
        a, b = np.searchsorted(times_s, [line.start_s - LINE_MARGIN_S, line.end_s + LINE_MARGIN_S])
        f_lo = min(line.freq_start_hz, line.freq_end_hz, line.freq_hz)
        f_hi = max(line.freq_start_hz, line.freq_end_hz, line.freq_hz)
        for n in range(1, max(h.number for h in line.harmonics) + 3):
            bands[a:b] |= (lo_edges <= n * f_hi) & (hi_edges >= n * f_lo)
    frames = np.zeros(len(times_s), bool)
    for imp in impulses:
        a, b = np.searchsorted(
            times_s, [imp.time_s - frame_s, imp.time_s + CLANK_RING_S + frame_s / 2]
        )
        frames[a:b] = True
    return bands, frames, known | frames


def _layer_residuals(
    segments, excess, z, hidden, power, bg_power, centres, flatness, times_s, frame_s, lines,
    config,
) -> tuple[list[Segment], list[tuple[float, float]]]:  # fmt: skip
    """Friction sounding with a tone or a clank train, as a segment of its own; and the
    spans of all the friction heard so (the runs that pass the tests below).

    An activity run is one span of frames, labelled by one kind: friction inside a
    motor's run was part of the tonal segment, a clank train split the friction it lay
    in into three pieces, and a motor inside friction took the friction's run for its
    label. Here the activity is read again with the known sounds left out (``hidden``,
    :func:`_known_sounds`): the bands of the tones' harmonics, and the clanks' frames,
    which may keep a run going but not start one. Residual runs of one kind are joined
    across :data:`TONE_GAP_S` where a tone sounds. A residual run that is broadband
    friction of at least :data:`RESIDUAL_MIN_S`, adds power of its own and sounds with a
    tone or a train for :data:`KNOWN_MIN_S` becomes its segment. It replaces the
    broadband pieces it holds mostly; a tonal segment with its edges whose tone sounds
    only in a part of it, or one that took one edge from it (:func:`_edge_from`) (that
    tone gets its own segment later, see :func:`_line_segments`); and a wind-like run it
    and the tones cover. A run a broadband segment already has, or a tone's own run, is
    left alone.
    """
    # known: frames where a tone sounds or a train clanks; elsewhere the first reading stands
    bands, clank_frames, known = hidden
    active = (z >= config.off_z) & (excess >= config.off_db)
    start = (z >= config.on_z) & (excess >= config.on_db) & ~bands
    start[clank_frames] = False
    hop_s = float(np.median(np.diff(times_s))) if len(times_s) > 1 else frame_s

    def masked_label(s: float, e: float, a: int, b: int) -> Segment:
        part = bands[a:b]
        return _label(
            s, e, np.where(part, 0.0, excess[a:b]), centres, flatness[a:b], [], [], config,
            frame_s, np.where(part, bg_power[None, :], power[a:b]), bg_power, None,
        )  # fmt: skip

    # each residual run labelled, then those of one kind grouped across short gaps, as the
    # first reading's are
    groups: list[list] = []
    for s, e, a, b in _runs_to_spans(
        banded_hysteresis_runs(start, keep := active & ~bands), times_s, frame_s, -1.0
    ):
        if e - s < config.min_duration_s:
            continue
        found = masked_label(s, e, a, b)
        kind = found.kind
        dominant = int(np.argmin(np.abs(centres - (found.evidence["dominant_band_hz"] or 0.0))))
        # a gap where a tone sounds may be where its bands held the friction's power
        if (
            groups
            and groups[-1][4] == kind
            and (
                s - groups[-1][1] <= config.merge_gap_s
                or (s - groups[-1][1] <= TONE_GAP_S and known[groups[-1][3] : a].all())
                or (
                    kind == "broadband"
                    and _hidden_between(
                        groups[-1][3], groups[-1][5], a, dominant, hidden, active, hop_s
                    )
                )
            )
        ):
            groups[-1][1], groups[-1][3] = e, b
        else:
            groups.append([s, e, a, b, kind, dominant])
    del keep
    slack = EDGE_SLACK_S
    heard: list[tuple[float, float]] = []
    for s, e, a, b, kind, _ in groups:
        if kind != "broadband" or e - s < RESIDUAL_MIN_S:
            continue
        if np.count_nonzero(known[a:b]) * hop_s < KNOWN_MIN_S:
            continue
        found = masked_label(s, e, a, b)
        if "low_power_share" not in found.evidence:
            continue  # no band's mean power rises clearly: the wind's scatter
        heard.append((s, e))
        found.kind = "broadband"
        found.evidence["beside_other_sounds"] = True
        if any(
            abs(sg.start_s - s) <= slack
            and abs(sg.end_s - e) <= slack
            and (
                sg.kind == "broadband"
                # a tone's own run: what it leaves in the bands of harmonics not heard
                or (sg.kind == "tonal" and not _tone_inside(sg, lines, s, e))
            )
            for sg in segments
        ):
            continue
        others = [(s, e)] + [(ln.start_s, ln.end_s) for ln in lines if ln.harmonics]
        kept = []
        for sg in segments:
            shared = min(sg.end_s, e) - max(sg.start_s, s)
            same_span = abs(sg.start_s - s) <= slack and abs(sg.end_s - e) <= slack
            if sg.kind == "broadband" and shared >= 0.5 * (sg.end_s - sg.start_s):
                continue  # a piece of this friction, or it with another sound
            if sg.kind == "tonal" and same_span and _tone_inside(sg, lines, s, e):
                continue  # the friction's run, labelled by a tone sounding in a part of it
            if sg.kind == "tonal" and shared > 0 and _edge_from(sg, lines, s, e):
                continue  # the tone's run, with the friction's end (or start): read again
            if (
                sg.kind == "wind-like"
                and not sg.evidence.get("whole_spectrum")
                and shared > 0
                and _covered(sg.start_s, sg.end_s, others)
            ):
                continue  # its run, labelled by the power a tone adds low
            kept.append(sg)
        segments = [*kept, found]
    segments.sort(key=lambda sg: sg.start_s)
    return segments, heard


def _hidden_between(
    b: int,
    before: int,
    a: int,
    after: int,
    hidden: tuple,
    active: np.ndarray,
    hop_s: float,
) -> bool:
    """Whether friction read before a tone and after it (runs ending at frame ``b`` and
    starting at frame ``a``, their strongest bands ``before`` and ``after``) went on under
    it: a tone sounds from within :data:`TONE_GAP_S` + :data:`LINE_MARGIN_S` of the one to
    as near the other (a loud tone's onset lowered the friction's band against the whole
    spectrum's rise), its bands hide both runs' strongest bands, and some band stays
    active all through.

    A motor's harmonics inside friction's band (a 341-Hz motor in 330-1120 Hz friction)
    left the friction's two ends, each alone, too short and too far from the tone to
    count: the friction had no segment, and the tone's took only its own span.
    """
    bands, _, known = hidden
    sounding = np.flatnonzero(known[b:a])
    if len(sounding) == 0:
        return False
    first, last = b + int(sounding[0]), b + int(sounding[-1])
    reach = (TONE_GAP_S + LINE_MARGIN_S) / hop_s
    under = slice(first, last + 1)
    return bool(
        first - b <= reach
        and a - 1 - last <= reach
        and known[under].all()
        and bands[under, before].all()
        and bands[under, after].all()
        and active[b:a].any(axis=1).all()
    )


#: A clank train lying over another sound is a segment of its own when this regular (std
#: over mean of its intervals): wind's weak onsets come irregularly
LAYER_TRAIN_CV = 0.25
#: A train's segment ends this long after its last onset (a clank rings for ~0.2 s).
TRAIN_END_S = 0.2


def _layer_trains(
    segments: list[Segment],
    trains: list[ImpulseTrain],
    impulses: list[Impulse],
    relabel: Callable[[float, float], Segment],
) -> list[Segment]:
    """A clank train over a motor or friction, as a segment of its own.

    :func:`_join_trains` gives a train the run it lies in; a train clanking over a
    motor's hum or wheels' grinding lies in that sound's run, which is labelled by that
    sound (or split into pieces around the clanks), and the train had no segment, or
    one of its first clanks only. A regular train (see :data:`LAYER_TRAIN_CV`) over a
    tonal or broadband segment spans its clanks, from the first onset to
    :data:`TRAIN_END_S` past the last, and replaces the impulsive segments within it.
    """
    slack = EDGE_SLACK_S
    for train in trains:
        if (
            train.count < 3
            or train.median_interval_s > JOIN_INTERVAL_S
            or train.regularity_cv > LAYER_TRAIN_CV
        ):
            continue
        s, e = train.start_s, train.end_s + TRAIN_END_S
        if not any(
            sg.kind in ("tonal", "broadband") and min(sg.end_s, e) - max(sg.start_s, s) > 0.5
            for sg in segments
        ):
            continue  # alone, its run gave it its segment
        mine = [
            sg
            for sg in segments
            if sg.kind == "impulsive" and sg.start_s < e + slack and sg.end_s > s - slack
        ]
        if any(abs(sg.start_s - s) <= slack and abs(sg.end_s - e) <= slack for sg in mine):
            continue
        if any(sg.start_s < s - slack or sg.end_s > e + slack for sg in mine):
            continue  # a longer train's segment holds it
        found = relabel(s, e)
        found.kind = "impulsive"
        found.evidence.update(
            impulses=sum(s - 0.05 <= imp.time_s <= e for imp in impulses),
            rate_hz=round(train.rate_hz, 3),
            median_interval_s=round(train.median_interval_s, 4),
            regularity_cv=round(train.regularity_cv, 4),
            beside_other_sounds=True,
        )
        segments = [sg for sg in segments if not any(sg is m for m in mine)] + [found]
    segments.sort(key=lambda sg: sg.start_s)
    return segments


def _without_explained(
    segments: list[Segment], lines: list[TonalLine], friction: list[tuple[float, float]]
) -> list[Segment]:
    """Drop the first reading's broadband segments (and tonal ones without a line) that the
    sounds read apart in them explain.

    A motor's run with a clank train or friction in part of it was labelled broadband by
    the clanks' or the friction's power, and kept that label once they had segments of
    their own (:func:`_layer_trains`, :func:`_layer_residuals`): a broadband segment over
    the motor's whole span, beside its tonal one; or, from a clank onwards, tonal by the
    clanks' ringing mode (a narrow peak no tonal line holds). Such a segment goes when
    the sounds found apart in it (segments ``beside_other_sounds``) and the tonal lines
    cover it, and the second reading heard no ``friction`` of its own there (a run other
    than those segments' overlapping it by :data:`RESIDUAL_MIN_S`): wheels grinding all
    through the motor's run stay.
    """
    slack = EDGE_SLACK_S
    apart = [sg for sg in segments if sg.evidence.get("beside_other_sounds")]
    tones = [(ln.start_s, ln.end_s) for ln in lines if ln.harmonics]
    kept = []
    for sg in segments:
        inner = [
            o for o in apart if o is not sg and min(o.end_s, sg.end_s) > max(o.start_s, sg.start_s)
        ]
        explained = (
            # a tonal one without a line: labelled by a narrow peak, a clank's ring
            (sg.kind == "broadband" or (sg.kind == "tonal" and "tonal_line_hz" not in sg.evidence))
            and not sg.evidence.get("beside_other_sounds")
            and inner
            and _covered(sg.start_s, sg.end_s, tones + [(o.start_s, o.end_s) for o in inner])
            and not any(
                min(e, sg.end_s) - max(s, sg.start_s) >= RESIDUAL_MIN_S
                and not any(
                    abs(o.start_s - s) <= slack and abs(o.end_s - e) <= slack for o in inner
                )
                for s, e in friction
            )
        )
        if not explained:
            kept.append(sg)
    return kept


#: Edges this close are one edge (the issue's ±0.25 s).
EDGE_SLACK_S = 0.25


def _covered(s: float, e: float, spans: list[tuple[float, float]]) -> bool:
    """Whether the union of ``spans`` covers ``s``..``e`` within :data:`EDGE_SLACK_S`."""
    reach = s + EDGE_SLACK_S
    for a, b in sorted(spans):
        if a > reach:
            break
        reach = max(reach, b + EDGE_SLACK_S)
    return reach >= e


def _lines_at(hz: float | None, lines: list[TonalLine]) -> list[TonalLine]:
    """The lines within 2 % (at least 1 Hz) of ``hz``; none for None."""
    if hz is None:
        return []
    return [ln for ln in lines if abs(ln.freq_hz - hz) <= max(1.0, 0.02 * hz)]


def _edge_from(sg: Segment, lines: list[TonalLine], s: float, e: float) -> bool:
    """Whether ``sg``, a tone's segment, took one of its edges from the friction ``s``..``e``
    its run went on with: that edge is the friction's (within :data:`EDGE_SLACK_S`), the
    other lies over a second outside the friction, and the tone's line stops (or starts)
    more than a second short of the shared edge. Its line gets its own segment."""
    near = _lines_at(sg.evidence.get("tonal_line_hz"), lines)
    if not near:
        return False
    slack = EDGE_SLACK_S
    if abs(sg.end_s - e) <= slack and sg.start_s < s - 1.0:
        return all(ln.end_s < sg.end_s - 1.0 for ln in near)
    if abs(sg.start_s - s) <= slack and sg.end_s > e + 1.0:
        return all(ln.start_s > sg.start_s + 1.0 for ln in near)
    return False


def _tone_inside(sg: Segment, lines: list[TonalLine], s: float, e: float) -> bool:
    """Whether the tone that labelled ``sg`` (its line, or its spectral peak) sounds in a
    part of ``s``..``e`` only: a line of that frequency ends more than a second inside."""
    near = _lines_at(sg.evidence.get("tonal_line_hz", sg.evidence.get("peak_hz")), lines)
    return bool(near) and all(ln.start_s > s + 1.0 or ln.end_s < e - 1.0 for ln in near)


def _bridge_masked_tones(segments: list[Segment], lines: list[TonalLine]) -> list[Segment]:
    """Join a tone's segments across a gap where other sounds mask it and its line's track
    goes on.

    A gust lifts the tone's band with all the others: the band no longer stands out of
    the spectrum's common rise, and the tone's segment stopped for the gust's length
    (a 440 Hz tone through a +15 dB gust was two segments, 2.03-6.35 s and 13.68-17.97 s).
    The tone finder heard it throughout. Two segments of one line are joined when other
    segments (:func:`masking_spans`) cover the gap between them and the line's track has
    no gap there longer than twice its usual step; the masked stretches are kept as
    evidence (``masked_s``).
    """
    by_hz = {round(line.freq_hz, 3): line for line in lines}
    tonal: dict[float, list[Segment]] = {}
    for sg in segments:
        hz = sg.evidence.get("tonal_line_hz")
        if sg.kind == "tonal" and hz in by_hz:
            tonal.setdefault(hz, []).append(sg)
    dropped: set[int] = set()
    joined: list[Segment] = []
    for hz, own in tonal.items():
        if len(own) < 2:
            continue
        own.sort(key=lambda sg: sg.start_s)
        track = np.asarray(by_hz[hz].times_s, np.float64)
        step = float(np.median(np.diff(track))) if len(track) > 1 else np.inf
        others = masking_spans([sg for sg in segments if all(sg is not o for o in own)], hz)
        run = [own[0]]
        for sg in [*own[1:], None]:
            gap = None if sg is None else (run[-1].end_s, sg.start_s)
            if gap is not None and _masked(gap, others) and _heard_across(gap, track, step):
                run.append(sg)
                continue
            if len(run) > 1:
                dropped.update(id(r) for r in run)
                joined.append(_joined(run))
            run = [sg]
    if not joined:
        return segments
    return [sg for sg in segments if id(sg) not in dropped] + joined


#: ``edges_from`` of a tone's segment whose edges were read in its own band beside the other
#: tones sounding with it (:func:`_split_among_lines`)
BESIDE_ANOTHER = "tone band level, beside another tone"

#: Frames averaged on either side of a step by :func:`_unmask_edges` (seconds)
UNMASK_SIDE_S = 0.25

#: How far inside a gust's edges :func:`_unmask_edges` looks for a tone's (seconds): a gust's
#: ramp steps every band for about this long
UNMASK_RAMP_S = 1.0


def _unmask_edges(segments, lines, times_s, all_db, all_centres, loudest) -> None:
    """Move a tone's segment edge that a gust masked to where the tone starts or stops.

    A gust lifts the tone's band with all the others: a motor starting in a gust got a
    segment from the gust's end (6.5 s for 4 s), one stopping in a gust a segment ending
    at its start. Where a tonal segment's edge lies in a wind-like segment and its line
    reaches on beyond it, the edge is read again in the tone's own band (beside the tones
    sounding with it, see :func:`_own_band`) as the largest clear step inside the gust,
    a second clear of its edges (its ramps step every band), over sides of
    :data:`UNMASK_SIDE_S`; the stretch the gust masked is kept as evidence
    (``masked_s``). A tone's segment read beside other tones (:data:`BESIDE_ANOTHER`)
    already has its own edges, read past the gust's steps: the stretch of it a gust holds,
    up to an edge inside the gust, is kept as masked the same way. Edits ``segments`` in
    place.
    """
    gusts = [(sg.start_s, sg.end_s) for sg in segments if sg.kind == "wind-like"]
    if not gusts:
        return
    slack = 0.5
    for sg in segments:
        hz = sg.evidence.get("tonal_line_hz")
        own = [
            line
            for line in lines
            if round(line.freq_hz, 3) == hz
            and line.harmonics
            and min(line.end_s, sg.end_s) > max(line.start_s, sg.start_s)
        ]
        if sg.kind != "tonal" or len(own) != 1:
            continue
        if sg.evidence.get("edges_from") == BESIDE_ANOTHER:
            _mark_gust_edges(sg, gusts)
            continue
        line = own[0]
        gust_at_start = _span_at(sg.start_s, gusts, slack)
        gust_at_end = _span_at(sg.end_s, gusts, slack)
        masked_start = line.start_s < sg.start_s - slack and gust_at_start is not None
        masked_end = line.end_s > sg.end_s + slack and gust_at_end is not None
        if not (masked_start or masked_end):
            continue
        k = _own_band(line, _sounding_with(line, lines), all_centres)
        if k is None:
            continue
        power = _smoothed_power(all_db[:, k], loudest)
        # inside the gust, clear of its ramps (the steps of every band): the edge the gust
        # masked lies there
        start_in = (gust_at_start[0] + UNMASK_RAMP_S, sg.start_s) if masked_start else None
        end_in = (sg.end_s, gust_at_end[1] - UNMASK_RAMP_S) if masked_end else None
        found = _step_edges(
            power, times_s, line.start_s, line.end_s, per_side=True, side_s=UNMASK_SIDE_S,
            within=(start_in, end_in),
        )  # fmt: skip
        if found is None:
            continue
        (on_s, off_s), (rise, fall), (rise_by, fall_by) = found[:2], found[2], found[3]
        masked = list(sg.evidence.get("masked_s", []))
        if masked_start and _clear(rise, rise_by) and on_s < sg.start_s - 0.25:
            masked.insert(0, [round(on_s, 3), round(sg.start_s, 3)])
            sg.start_s = float(on_s)
        if masked_end and _clear(fall, fall_by) and off_s > sg.end_s + 0.25:
            masked.append([round(sg.end_s, 3), round(off_s, 3)])
            sg.end_s = float(off_s)
        if masked:
            sg.evidence["masked_s"] = masked


def _mark_gust_edges(sg: Segment, gusts: list[tuple[float, float]]) -> None:
    """Keep as ``masked_s`` the stretch of ``sg`` within a gust up to its edge there."""
    masked = []
    for g0, g1 in gusts:
        if g0 < sg.start_s < g1:
            masked.append([round(sg.start_s, 3), round(min(g1, sg.end_s), 3)])
        if g0 < sg.end_s < g1 and not g0 < sg.start_s:
            masked.append([round(max(g0, sg.start_s), 3), round(sg.end_s, 3)])
    if masked:
        sg.evidence["masked_s"] = sorted(masked)


def _span_at(
    t: float, spans: list[tuple[float, float]], slack: float
) -> tuple[float, float] | None:
    """The first of ``spans`` holding ``t`` (within ``slack``), or None."""
    return next((span for span in spans if span[0] - slack <= t <= span[1] + slack), None)


def masking_spans(segments: list[Segment], line_hz: float) -> list[tuple[float, float]]:
    """The sorted spans of the ``segments`` that may hide the tone of the line at
    ``line_hz`` (rounded as segments name it): all but the tonal segments of other lines,
    whose tones were read apart from it in their own bands (a motor pausing while another
    runs is not masked by it)."""
    return sorted(
        (sg.start_s, sg.end_s)
        for sg in segments
        if not (sg.kind == "tonal" and sg.evidence.get("tonal_line_hz") not in (None, line_hz))
    )


def _masked(gap: tuple[float, float], spans: list[tuple[float, float]]) -> bool:
    """Whether the sorted ``spans`` cover the whole ``gap`` (a negative gap: trivially)."""
    reach, end = gap
    if end <= reach:
        return True
    for s, e in spans:
        if s > reach:
            break
        reach = max(reach, e)
    return reach >= end


def _heard_across(gap: tuple[float, float], track: np.ndarray, step: float) -> bool:
    """Whether the line's ``track`` (point times) runs through ``gap`` without a break
    longer than two of its usual ``step``."""
    if gap[1] <= gap[0]:
        return True  # the two overlap
    if len(track) < 2 or not track[0] <= gap[0] or not track[-1] >= gap[1]:
        return False
    i, j = np.searchsorted(track, [gap[0], gap[1]])
    around = track[max(i - 1, 0) : j + 1]
    return bool(np.max(np.diff(around)) <= 2.0 * step)


def _joined(run: list[Segment]) -> Segment:
    """One tonal segment from a line's segments ``run`` (in time order) and the gaps
    between them."""
    evidence = dict(run[0].evidence)
    evidence["peak_rise_db"] = max(sg.evidence.get("peak_rise_db", 0.0) for sg in run)
    evidence["impulses"] = sum(sg.evidence.get("impulses", 0) for sg in run)
    evidence["level_held_s"] = round(sum(sg.evidence.get("level_held_s", 0.0) for sg in run), 3)
    bands = {b for sg in run for b in sg.evidence.get("excited_bands_hz", [])}
    evidence["excited_bands_hz"] = sorted(bands)
    lines_hz = {f for sg in run for f in sg.evidence.get("tonal_lines_hz", [])}
    evidence["tonal_lines_hz"] = sorted(lines_hz)
    evidence["masked_s"] = [
        [round(a.end_s, 3), round(b.start_s, 3)]
        for a, b in itertools.pairwise(run)
        if b.start_s > a.end_s
    ]
    return Segment(run[0].start_s, max(sg.end_s for sg in run), "tonal", evidence)


def _common_rise_without_events(
    common, segments, excess, band_db, level_floor, times_s, frame_s, config
) -> np.ndarray:
    """Read the common rise again over each segment's frames without the bands it excites;
    ``common`` is changed in place. Returns where too few bands remain to read it (NaN).

    The common rise is a low quantile of the bands' rises: an event that lifts most of the
    bands lifts it too, and a wind-like span over the event would repeat it. Without the
    event's bands, what remains is the wind's: a gust with a clank, or a motor, in it is
    still a gust (it was dropped whole when any segment overlapped it).
    """
    unknown = np.zeros(len(common), bool)
    n = len(times_s)
    for sg in segments:
        # the frames that saw the segment (an edge lies a quarter frame inside its first and
        # last), one more each side for the 3-frame smoothing
        a = max(int(np.searchsorted(times_s, sg.start_s - frame_s / 2)) - 1, 0)
        b = min(int(np.searchsorted(times_s, sg.end_s + frame_s / 2, side="right")) + 1, n)
        if b <= a:
            continue
        excited = np.max(excess[a:b], axis=0) >= config.on_db
        if not excited.any():
            continue
        rest = ~excited
        if np.count_nonzero(rest) < 2:
            unknown[a:b] = True
            common[a:b] = np.nan
            continue
        levels = band_db[a:b][:, rest]
        rise = np.where(levels > SILENCE_DB, levels - level_floor[rest], -60.0)
        # at most the common rise of all bands: a band left out cannot make the rise larger
        np.minimum(common[a:b], np.percentile(rise, 25.0, axis=1), out=common[a:b])
    return unknown


HOLD_DB = 6.0  # a level within this of its peak is held


def _sounds_in(line: TonalLine, centre: float, reach: float = np.sqrt(2)) -> bool:
    """Whether the line or one of its harmonics lies within ``reach`` of ``centre`` (Hz)."""
    return any(
        centre / reach <= f <= centre * reach
        for f in [line.freq_hz, *(h.freq_hz for h in line.harmonics)]
    )


def _harmonic_at(line: TonalLine, hz: float) -> bool:
    """Whether the line or one of its harmonics lies at ``hz``, a peak of the pooled
    spectrogram (within 3 %, or 6 Hz: half its bin at 48 kHz)."""
    return any(
        abs(f - hz) <= max(0.03 * hz, 6.0)
        for f in [line.freq_hz, *(h.freq_hz for h in line.harmonics)]
    )


WIND_SHARE = 0.75  # of the power an event adds, below wind_max_hz: wind-like


def set_snr(
    segments: list[Segment],
    *,
    times_s: np.ndarray,
    band_db: np.ndarray,
    band_centres_hz: np.ndarray,
    segmented: np.ndarray,
    frame_s: float,
    config: SegmentConfig | None = None,
) -> None:
    """Give each segment its ``snr_db``: its band's mean power over the segment against the
    band's mean power where no segment is (or over the quiet stretch,
    :attr:`SegmentConfig.background_s`), in dB.

    Parameters
    ----------
    segments : list of Segment
        Changed in place.
    times_s : numpy.ndarray
        Frame centre times.
    band_db : numpy.ndarray
        Octave band levels per frame (dB), ``(n_frames, n_bands)``, every band.
    band_centres_hz : numpy.ndarray
        Their centres.
    segmented : numpy.ndarray
        Which bands the segments were found in (bool): the others are too narrow.
    frame_s : float
        Frame length in seconds: a frame within half of it of a segment heard it.
    config : SegmentConfig, optional

    Notes
    -----
    The band is the segment's dominant band; a whole-spectrum rise (no dominant band) takes
    the lower quartile over the segmented bands, as its common rise does. Mean against
    mean: a low percentile of the background's level lies under its mean by an amount that
    grows as the band narrows (a 1-2-bin band's by ~5 dB), and the largest of all bands'
    ratios was a narrow band's (steps of 6, 10 and 15 dB read 9.6, 13.4 and 18.3 dB).
    With fewer than :data:`MIN_BACKGROUND_FRAMES` frames outside the segments, the
    background is the band's ``background_percentile`` level.
    """
    config = config or SegmentConfig()
    n = len(times_s)
    if n == 0 or not segments:
        return
    band_db = np.asarray(band_db, np.float32)
    power = np.power(np.float32(10.0), band_db * np.float32(0.1))
    audible = band_db.max(axis=1) > SILENCE_DB
    quiet = background_rows(times_s, config)
    rows = np.zeros(n, bool)
    rows[quiet] = True
    rows &= audible
    spans = [
        (
            int(np.searchsorted(times_s, sg.start_s - frame_s / 2, side="right")),
            int(np.searchsorted(times_s, sg.end_s + frame_s / 2, side="left")),
        )
        for sg in segments
    ]
    if isinstance(quiet, slice):
        for a, b in spans:
            rows[a:b] = False
    count = int(np.count_nonzero(rows))
    if count >= MIN_BACKGROUND_FRAMES:
        background = np.dot(rows.astype(np.float32), power).astype(np.float64) / count
    else:
        floor = band_background(band_db[quiet], config.background_percentile)[0]
        background = 10.0 ** (np.asarray(floor, np.float64) / 10.0)
    for sg in segments:
        a = int(np.searchsorted(times_s, sg.start_s, side="left"))
        b = int(np.searchsorted(times_s, sg.end_s, side="right"))
        if b <= a:
            continue
        mean = power[a:b].mean(axis=0, dtype=np.float64)
        with np.errstate(divide="ignore"):
            ratio = 10.0 * np.log10(np.maximum(mean, 1e-300) / np.maximum(background, 1e-300))
        dominant = sg.evidence.get("dominant_band_hz")
        if dominant:
            snr = ratio[int(np.argmin(np.abs(np.log2(band_centres_hz / dominant))))]
        else:
            # the common rise's quantile: a clank in a gust lifts a few bands further
            snr = np.percentile(ratio[segmented] if np.any(segmented) else ratio, 25.0)
        sg.evidence["snr_db"] = round(float(snr), 2)


def _event_free_rows(
    runs: list[tuple[int, int]], silent: np.ndarray, quiet: np.ndarray | slice
) -> np.ndarray:
    """The frames where no event sounds: the quiet stretch when one is given, else the
    frames outside every run of activity; digital silence left out."""
    rows = np.zeros(len(silent), bool)
    rows[quiet] = True
    rows &= ~silent
    if isinstance(quiet, slice):
        for a, b in runs:
            rows[a:b] = False
    return rows


def _background_power(power: np.ndarray, rows: np.ndarray, level_floor: np.ndarray) -> np.ndarray:
    """Each band's mean power over the event-free ``rows`` (:func:`_event_free_rows`); the
    background level's power where fewer than :data:`MIN_BACKGROUND_FRAMES` remain.

    The mean, not a low percentile: a band's power over an event is a mean too, and the
    wind's own swings above its 20th percentile once counted as power the event added.
    """
    count = int(np.count_nonzero(rows))
    if count < MIN_BACKGROUND_FRAMES:
        return 10.0 ** (level_floor.astype(np.float64) / 10.0)
    # a matrix-vector product: no copy of the rows (float32 sums of up to ~1e6 frames
    # hold their 1e-4)
    return np.dot(rows.astype(np.float32), power).astype(np.float64) / count


#: A band's mean power over a segment counts as added to where it is at least this many dB
#: above its background mean: a gusty low band swings by a dB or two over seconds, and all
#: of those swings once counted as power the event added
ADDED_DB = 3.0


class _Spectra:
    """A segment's own spectrum: the pooled spectrogram's columns over it, less the mean of
    the columns where no event sounds (``free`` frames only; the median column where fewer
    than three are free)."""

    def __init__(self, spectrogram, times_s: np.ndarray, free: np.ndarray) -> None:
        col_times, freqs, psd = spectrogram
        self.times = np.asarray(col_times, np.float64)
        self.freqs = np.asarray(freqs, np.float64)
        self.psd = psd
        # a column pools the frames within half a column step of its centre
        half = float(np.median(np.diff(self.times))) / 2 if len(self.times) > 1 else 0.0
        lo = np.searchsorted(times_s, self.times - half - 1e-9, side="left")
        hi = np.searchsorted(times_s, self.times + half + 1e-9, side="right")
        free_count = np.concatenate([[0], np.cumsum(free)])
        clean = (hi > lo) & (free_count[hi] - free_count[lo] == hi - lo)
        if np.count_nonzero(clean) >= 3:
            # a matrix-vector product: no copy of the columns
            self.background = np.dot(clean.astype(np.float32), psd).astype(np.float64)
            self.background /= np.count_nonzero(clean)
        elif len(psd):
            self.background = np.median(psd, axis=0).astype(np.float64)
        else:
            self.background = np.zeros(len(self.freqs))

    def peaks(self, s: float, e: float, bands_hz: np.ndarray) -> tuple[float | None, float] | None:
        """``(peak_hz, share)``: the strongest narrow peak of the power the segment
        ``s``-``e`` adds within the octave bands ``bands_hz`` (centres; None where no peak
        is narrow), and the share of that power its narrow peaks hold; None where it adds
        none."""
        if len(self.times) == 0 or len(bands_hz) == 0:
            return None
        a, b = np.searchsorted(self.times, [s, e])
        if b <= a:  # shorter than a column: the one about its middle
            a = int(np.argmin(np.abs(self.times - (s + e) / 2)))
            b = a + 1
        added = np.maximum(self.psd[a:b].mean(axis=0, dtype=np.float64) - self.background, 0.0)
        inside = np.zeros(len(added), bool)
        for centre in bands_hz:
            inside |= (self.freqs >= centre / np.sqrt(2)) & (self.freqs < centre * np.sqrt(2))
        total = float(added[inside].sum())
        if not total > 0:
            return None
        w, skirt = PEAK_HALF_WIDTH, PEAK_SKIRT_BINS
        search = np.where(inside, added, 0.0)
        found, best = 0.0, None
        for _ in range(MAX_PEAKS):
            i = int(np.argmax(search))
            if search[i] <= 0:
                break
            lobe = slice(max(i - w, 0), i + w + 1)
            around = np.concatenate(
                [added[max(i - w - skirt, 0) : lobe.start], added[lobe.stop : lobe.stop + skirt]]
            )
            search[max(i - w - skirt, 0) : lobe.stop + skirt] = 0.0
            # a tone leaves its skirts empty (Hann's sidelobes lie 31 dB down and falling);
            # noise fills them as it fills the peak
            floor = float(np.mean(around)) * (lobe.stop - lobe.start) if len(around) else 0.0
            if added[lobe].sum() >= 10.0 ** (PEAK_SKIRT_DB / 10.0) * floor and self._narrow(
                a, b, i
            ):
                found += float(added[lobe][inside[lobe]].sum())
                best = i if best is None else best
        peak_hz = None if best is None else self._interpolated_hz(added, best)
        return peak_hz, min(found / total, 1.0)

    def _narrow(self, a: int, b: int, i: int) -> bool:
        """Whether the peak near bin ``i`` of columns ``a:b`` is as narrow as a tone's: its
        half-power width (the median over stretches of :data:`PEAK_BLOCK_S`, so that a
        drifting tone is read where it stands) at most :data:`PEAK_MAX_WIDTH_BINS`. A band
        of noise a few bins wide fills a peak's lobe and leaves its skirts empty too (50
        and 100 Hz wide at 1 kHz, 16-kHz bins of 15.6 Hz, were labelled tonal)."""
        step = float(np.median(np.diff(self.times))) if len(self.times) > 1 else PEAK_BLOCK_S
        per = max(1, round(PEAK_BLOCK_S / max(step, 1e-9)))
        w = PEAK_HALF_WIDTH
        lo, hi = max(i - 2 * w, 0), min(i + 2 * w + 1, len(self.freqs))
        widths = []
        for start in range(a, max(b - per, a) + 1, per):
            cols = self.psd[start : min(start + per, b), lo:hi]
            added = np.maximum(cols.mean(axis=0, dtype=np.float64) - self.background[lo:hi], 0.0)
            near = slice(max(i - w - lo, 0), i + w + 1 - lo)
            m = near.start + int(np.argmax(added[near]))
            widths.append(_half_power_width(added, m))
        return bool(widths) and float(np.median(widths)) <= PEAK_MAX_WIDTH_BINS

    def _interpolated_hz(self, added: np.ndarray, i: int) -> float:
        # the vertex of a parabola through the log power of the peak bin and its neighbours
        if 0 < i < len(added) - 1 and np.all(added[i - 1 : i + 2] > 0):
            below, peak, above = np.log(added[i - 1 : i + 2])
            den = below - 2.0 * peak + above
            if den < 0:
                offset = 0.5 * (below - above) / den
                return float(self.freqs[i] + offset * (self.freqs[1] - self.freqs[0]))
        return float(self.freqs[i])


#: A segment no tonal line explains is tonal when at least this share of the power it adds
#: in its excited bands lies in narrow peaks: friction spreads it over hundreds of bins
PEAK_SHARE = 0.5
#: Bins either side of a peak that hold it: Hann's main lobe (±2) and a bin of drift
PEAK_HALF_WIDTH = 3
#: Bins beyond a peak, either side, that a tone leaves empty and noise fills
PEAK_SKIRT_BINS = 12
#: How far a narrow peak stands above its skirts' power over the same width
PEAK_SKIRT_DB = 10.0
MAX_PEAKS = 8  # a whine's fundamental and harmonics
#: Seconds of columns averaged to read a peak's width: enough frames that noise's fine
#: structure averages out, short enough that a drifting tone stays in place
PEAK_BLOCK_S = 0.5
#: The widest peak (half-power width, bins) a tone makes: Hann's main lobe is 1.44 bins
#: wide at half power, and a tone drifting half a bin in a stretch widens it to ~1.9. A
#: band of noise up to about 1.7 bins wide cannot be told from a tone at this resolution.
PEAK_MAX_WIDTH_BINS = 2.2


def _half_power_width(power: np.ndarray, m: int) -> float:
    """The width in bins (linearly interpolated) of the peak at bin ``m`` of ``power`` at
    half its height; to the array's end where it does not fall that far."""
    half = power[m] / 2.0
    edges = []
    for direction in (-1, 1):
        k = m
        while 0 <= k + direction < len(power) and power[k + direction] > half:
            k += direction
        nxt = k + direction
        if not 0 <= nxt < len(power):
            edges.append(float(k))
            continue
        frac = (power[k] - half) / max(power[k] - power[nxt], 1e-300)
        edges.append(k + direction * frac)
    return edges[1] - edges[0]


def _label(
    s, e, excess, centres, flatness, lines, impulses, config, frame_s=0.0, power=None,
    bg_power=None, spectra=None,
) -> Segment:  # fmt: skip
    peak = np.max(excess, axis=0)
    dominant = int(np.argmax(peak))
    excited = centres[peak >= config.on_db]
    duration = e - s
    # how long the dominant band stays near its peak: a clank's ring fades within a frame or
    # two, a burst of friction holds its level (a burst with one onset is no clank)
    held_s = float(np.mean(excess[:, dominant] >= peak[dominant] - HOLD_DB) * duration)
    overlap = [
        (line, min(e, line.end_s) - max(s, line.start_s))
        for line in lines
        if min(e, line.end_s) - max(s, line.start_s) > 0
    ]
    # impulses come in time order: the ones inside are one slice
    lo = bisect.bisect_left(impulses, s - 0.05, key=lambda imp: imp.time_s)
    hi = bisect.bisect_right(impulses, e, lo=lo, key=lambda imp: imp.time_s)
    inside = impulses[lo:hi]
    evidence = {
        "peak_rise_db": round(float(peak[dominant]), 2),
        "dominant_band_hz": round(float(centres[dominant]), 1),
        "median_flatness": round(float(np.median(flatness)), 4),
        "impulses": len(inside),
        "excited_bands_hz": [round(float(c), 1) for c in excited],
        "level_held_s": round(held_s, 3),
    }
    # a gust over a sensor's white floor lifts the bands up to ~1 kHz where the wind's
    # spectrum still tops the floor, but nearly all the power it adds is low
    low_share = None
    if power is not None and len(power):
        mean = power.mean(axis=0, dtype=np.float64)
        added = np.where(mean >= bg_power * 10.0 ** (ADDED_DB / 10.0), mean - bg_power, 0.0)
        total = float(added.sum())
        if total > 0:
            low_share = float(added[centres < config.wind_max_hz].sum()) / total
    if low_share is not None:
        evidence["low_power_share"] = round(low_share, 3)

    # a line present in the segment is evidence; it explains the segment only when one of its
    # harmonics sits in the dominant band (a clank's splatter may reach a motor's harmonic)
    present = [(line, ov) for line, ov in overlap if any(_sounds_in(line, c) for c in excited)]
    if present:
        evidence["tonal_lines_hz"] = [round(line.freq_hz, 3) for line, _ in present]
    # dominant band or its neighbours: a tone's window leakage can make the band below dominant
    explains = [
        (line, ov) for line, ov in present if _sounds_in(line, centres[dominant], 2 * np.sqrt(2))
    ]
    best_line, best_overlap = max(explains, key=lambda item: item[1], default=(None, 0.0))
    narrow = None  # the spectrum's narrow peaks: read only where no line explains it
    if best_line is not None and best_overlap >= 0.5 * min(
        duration, best_line.end_s - best_line.start_s
    ):
        evidence["tonal_line_hz"] = round(best_line.freq_hz, 3)
        kind = "tonal"
    elif (
        inside
        and len(inside) / max(duration, 0.3) >= 1.0  # at least one onset a second
        and (len(inside) > 1 or held_s <= max(0.25, 1.5 * frame_s))
    ):
        kind = "impulsive"
    elif (narrow := _peaky(spectra, s, e, excited)) is not None and narrow[1] >= PEAK_SHARE:
        evidence["peak_hz"] = round(narrow[0], 1)
        kind = "tonal"
        # the peak is a harmonic of a line sounding here (friction or clanks held the dominant
        # band): the segment is that tone's, and its edges are read again in its own bins
        held = [(line, ov) for line, ov in overlap if _harmonic_at(line, narrow[0])]
        if held:
            evidence["tonal_line_hz"] = round(max(held, key=lambda item: item[1])[0].freq_hz, 3)
    elif (
        (len(excited) and excited.max() < config.wind_max_hz)
        or (low_share is not None and low_share >= WIND_SHARE)
        # no band's mean power rises clearly: bands lifted against the spectrum's shape by
        # a gust's swing, no sound of their own (a gust's 125 Hz and 8 kHz read as friction)
        or (low_share is None and power is not None and len(power))
    ):
        kind = "wind-like"
    else:
        kind = "broadband"
    if narrow is not None:
        evidence["peak_share"] = round(narrow[1], 3)
    return Segment(float(s), float(e), kind, evidence)


def _peaky(spectra, s, e, excited) -> tuple[float | None, float] | None:
    return None if spectra is None else spectra.peaks(s, e, excited)


JOIN_INTERVAL_S = 1.5  # a train clanking at most this far apart is one segment
#: A train's segment reaches at most this far past its last impulse (a clank rings for
#: ~0.2 s), and :data:`TRAIN_LEAD_S` before its first (a frame holding the onset): the rest
#: of its run is another sound (a motor under it).
TRAIN_REACH_S = 0.3
TRAIN_LEAD_S = 0.1


def _join_trains(
    segments: list[Segment],
    trains: list[ImpulseTrain],
    impulses: list[Impulse],
    relabel: Callable[[float, float], Segment] | None = None,
    min_duration_s: float = 0.0,
) -> list[Segment]:
    """Replace the impulsive segments of one impulse train by a single train segment.

    The segment spans the train's impulses too: clicks too short to lift a frame's band
    levels make no segment of their own (a 43-ms segment claimed a train's 10 impulses),
    except an impulse at the start of another kind of segment: that sound's onset. A slow
    train's clanks (seconds apart) stay segments of their own, each with the train's
    cadence: one segment would hold seconds of quiet, and other sounds in them.

    The segment ends :data:`TRAIN_REACH_S` after the last impulse at most, and starts
    :data:`TRAIN_LEAD_S` before the first: where its run goes on, another sound does (a
    motor running on after the clanks lifted the run to 12.2 s past a train that stopped at
    10 s). That rest, at least ``min_duration_s`` long, is labelled again by
    ``relabel(start_s, end_s)``.
    """
    others = [sg for sg in segments if sg.kind != "impulsive"]
    out: list[Segment] = []
    # the most regular first, and a rest relabelled goes back to the pool: real wind's weak,
    # irregular onsets made a "train" just before a clank train, took the run both lay in,
    # and left the clanks' own train none
    for train in sorted(trains, key=lambda t: t.regularity_cv):
        members = [
            sg
            for sg in segments
            if sg.kind == "impulsive"
            and sg.start_s <= train.end_s + 0.1
            and sg.end_s >= train.start_s - 0.1
        ]
        if not members:
            continue
        cadence = {
            "rate_hz": round(train.rate_hz, 3),
            "median_interval_s": round(train.median_interval_s, 4),
            "regularity_cv": round(train.regularity_cv, 4),
        }
        if train.median_interval_s > JOIN_INTERVAL_S:
            for sg in members:
                sg.evidence.update(train_impulses=train.count, **cadence)
            continue
        own = [
            imp.time_s
            for imp in impulses
            if train.start_s <= imp.time_s <= train.end_s
            and not any(sg.start_s - 0.1 <= imp.time_s <= sg.end_s for sg in others)
        ]
        run_start = min(sg.start_s for sg in members)
        run_end = max(sg.end_s for sg in members)
        start = min([*own, max(run_start, train.start_s - TRAIN_LEAD_S)])
        end = max([*own, min(run_end, train.end_s + TRAIN_REACH_S)])
        evidence = {
            "peak_rise_db": max(sg.evidence["peak_rise_db"] for sg in members),
            "dominant_band_hz": members[0].evidence["dominant_band_hz"],
            "median_flatness": float(np.median([sg.evidence["median_flatness"] for sg in members])),
            "impulses": sum(start <= imp.time_s <= end for imp in impulses),
            "excited_bands_hz": sorted(
                {c for sg in members for c in sg.evidence["excited_bands_hz"]}
            ),
            **cadence,
        }
        for sg in members:
            segments.remove(sg)
        out.append(Segment(start, end, "impulsive", evidence))
        if relabel is not None:
            for s, e in [(run_start, start), (end, run_end)]:
                if e - s >= max(min_duration_s, 1e-9):
                    segments.append(relabel(s, e))
    out.extend(segments)
    out.sort(key=lambda sg: sg.start_s)
    return out


def _line_segments(
    lines,
    segments,
    times_s,
    band_db,
    centres,
    flatness,
    impulses,
    config,
    quiet=slice(None),
    tone_bands=None,
    common_db=None,
) -> list[Segment]:
    """Tonal segments of the lines no segment holds, their edges read in the band level.

    A tone that holds most of the recording sets its band's background itself,
    and a tone in a gusty low band may not rise the z-score a segment needs;
    the tone finder has found it all the same. Its band (the octave holding
    its strongest harmonic) is at half power where the tone starts and ends:
    a window centred on the edge holds half of it. That crossing, near the
    line's own ~1.5 s-blurred edges, gives the segment's edges. A tone that
    does not lift its band by ``off_db`` gets no segment. ``tone_bands``
    (levels, centres) adds the bands too narrow to segment on: a low motor's.
    """
    out: list[Segment] = []
    all_db, all_centres = tone_bands if tone_bands is not None else (band_db, centres)
    background = None  # each band's, read once a line needs it
    loudest = None
    trains = [sg for sg in segments if sg.kind == "impulsive"]
    for line in lines:
        held = any(
            (
                # only a tonal segment holds a tone: a motor under clanks or friction is a
                # sound of its own
                sg.kind == "tonal"
                and min(sg.end_s, line.end_s) - max(sg.start_s, line.start_s)
                > 0.5 * (line.end_s - line.start_s)
            )
            # labelled by this very line: its edges are the level's, not the line's blurred
            # ones (a 1.5-s tone's segment covers less than half its ~1-s-blurred line)...
            or (
                sg.evidence.get("tonal_line_hz") == round(line.freq_hz, 3)
                # ...unless a louder train cut it short, the tone going on under it
                and not _cut_by_train(sg, line, trains)
            )
            for sg in segments
        )
        if held or not line.harmonics:
            continue
        if loudest is None:
            loudest = band_db.max(axis=1)
        found = _beside_others(
            line, lines, times_s, all_db, all_centres, loudest, config, common_db
        )
        if found is None:
            found = _alone(line, times_s, band_db, centres, tone_bands, loudest, config)
        if found is None:
            continue
        s, e, step_db, tone_hz, power, edges_from = found
        if background is None:
            background = band_background(all_db[quiet], config.background_percentile)[0]
        # a segment that held only a part of this tone gives way to it
        segments[:] = [
            sg
            for sg in segments
            if not (
                sg.kind == "tonal"
                and sg.evidence.get("tonal_line_hz") == round(line.freq_hz, 3)
                and min(sg.end_s, e) - max(sg.start_s, s) > 0
            )
        ]
        out += _tone_segments(
            line, s, e, step_db, tone_hz, power, times_s, all_db, background, all_centres,
            flatness, impulses, segments, config, edges_from,
        )  # fmt: skip
    return out


#: A tone's segment that ends (or starts) this close to where a clank train's starts (or
#: ends), its line going on over the train for longer, was cut short by the train.
TRAIN_CUT_S = 0.5


def _cut_by_train(sg: Segment, line: TonalLine, trains: list[Segment]) -> bool:
    """Whether ``line``'s segment ``sg`` stops where a train's segment starts, or starts
    where one ends, while the line sounds on over the train: the train's run took the
    frames the tone shares with it (a motor 1-12 s under clanks 3-10 s was a tonal segment
    1.0-2.9 s)."""
    for train in trains:
        if abs(sg.end_s - train.start_s) <= TRAIN_CUT_S and line.end_s > sg.end_s + 1.0:
            return True
        if abs(sg.start_s - train.end_s) <= TRAIN_CUT_S and line.start_s < sg.start_s - 1.0:
            return True
    return False


def _beside_others(
    line, lines, times_s, all_db, all_centres, loudest, config, common_db=None
) -> tuple | None:
    """A tone's edges (and step, band centre, band power) read beside the other tones that
    sound while it does, as :func:`_split_among_lines` reads them; None when no other
    does, or its band shows no step. The band of its strongest harmonic may hold theirs:
    two motors holding most of a recording both took the edges of the one that starts
    last and stops first."""
    others = [
        o for o in _sounding_with(line, lines) if round(o.freq_hz, 3) != round(line.freq_hz, 3)
    ]
    if not others:
        return None
    # in the lines' own order, whichever of them is asked for: the first line read takes
    # the largest step of a band they share, and the others pass over it
    group = [o for o in lines if o is line or any(o is other for other in others)]
    pieces = _pieces_of_lines(group, times_s, all_db, all_centres, loudest, config, common_db)
    if pieces is None:
        return None
    s, e, step_db, _, k, power = next(p for p in pieces if p[3] is line)
    return s, e, step_db, float(all_centres[k]), power, BESIDE_ANOTHER


def _sounding_with(line: TonalLine, lines: list[TonalLine]) -> list[TonalLine]:
    """The other lines (with harmonics) that overlap ``line`` in time."""
    return [
        o
        for o in lines
        if o is not line and o.harmonics and min(o.end_s, line.end_s) > max(o.start_s, line.start_s)
    ]


def _alone(line, times_s, band_db, centres, tone_bands, loudest, config) -> tuple | None:
    """A tone's edges (and step, band centre, band power) where its band rises to half
    power, in the band of its strongest harmonic (see :func:`_line_segments`); None where
    it does not lift that band by ``off_db``."""
    strongest = max(line.harmonics, key=lambda h: h.level_db).freq_hz
    band = int(np.argmin(np.abs(np.log2(centres / strongest))))
    tone_hz = float(centres[band])
    if abs(np.log2(centres[band] / strongest)) > 0.5:
        # below (or above) the bands segmented on: the tone's own band, narrow as it
        # is (a steady tone does not scatter), smoothed and floored as those are
        if tone_bands is None:
            return None
        all_db, all_centres = tone_bands
        narrow = int(np.argmin(np.abs(np.log2(all_centres / strongest))))
        if abs(np.log2(all_centres[narrow] / strongest)) > 0.5:
            return None
        power = _smoothed_power(all_db[:, narrow], loudest)
        tone_hz = float(all_centres[narrow])
    else:
        power = 10.0 ** (band_db[:, band] / 10.0)
    edges = _half_power_edges(power, times_s, line.start_s, line.end_s)
    if edges is None:
        return None
    s, e, step_db = edges
    if step_db < config.off_db or e - s < config.min_duration_s:
        return None
    return s, e, step_db, tone_hz, power, None


def _own_band(line: TonalLine, others: list[TonalLine], centres: np.ndarray) -> int | None:
    """The octave band (index into ``centres``) where ``line`` is heard best beside the
    ``others``: the band of its strongest harmonic among those holding no other line's
    harmonic, else the band where its harmonics stand furthest above the others' (levels
    above the local background, as the tone finder reads them); None where it has none."""
    best, best_key = None, None
    for k, centre in enumerate(centres):
        lo, hi = centre / np.sqrt(2), centre * np.sqrt(2)
        own = [h.level_db for h in line.harmonics if lo <= h.freq_hz < hi]
        if not own:
            continue
        theirs = [h.level_db for o in others for h in o.harmonics if lo <= h.freq_hz < hi]
        key = (not theirs, max(own) - (max(theirs) if theirs else 0.0))
        if best_key is None or key > best_key:
            best, best_key = k, key
    return best


#: A tone beside another is heard in its band by a step this large at least (dB): two
#: equal tones in one band step it by 3 dB
STEP_MIN_DB = 1.5

#: A step away from another tone's edges is taken when this many times the band's spread of
#: steps (and :data:`STEP_MIN_DB`): else the largest step, at another tone's edge or not
STEP_CLEAR = 6.0

#: Frames averaged on either side of a candidate edge by :func:`_step_edges` (seconds)
STEP_SIDE_S = 0.5

#: A step under :data:`STEP_MIN_DB` still places a tone's edge when it is at least this
#: large (dB) and this many times the spread of the band's steps around it: a motor 15 dB
#: under another whose harmonic fills its band steps it by under 1 dB, in a band the
#: other holds steady to a tenth of a dB
STEP_FAINT_DB = 0.5
STEP_LOCAL_CLEAR = 4.0


def _step_edges(
    power: np.ndarray,
    times_s: np.ndarray,
    start_s: float,
    end_s: float,
    blur_s: float = 2.5,
    avoid_s=(),
    per_side: bool = False,
    side_s: float = STEP_SIDE_S,
    within: tuple = (None, None),
    common_db: np.ndarray | None = None,
) -> tuple | None:
    """A tone's edges as the largest rise and fall of its band's ``power`` within
    ``blur_s`` of its line's blurred edges, each placed where the power crosses half-way
    between the levels on either side; with the smaller of the two steps in dB, and the
    smaller of the two steps' ratios to the robust spread of the steps within ``blur_s``
    of them (how clearly each stands out of the band's scatter there); ``per_side``: both
    steps and both ratios, as pairs (start, end). Steps
    within ``side_s`` of the times ``avoid_s`` (another tone's edges) are passed
    over when a clear step (:data:`STEP_CLEAR`) lies elsewhere near the edge. The levels
    either side of a step are means over ``side_s``; ``within``: the spans (start, end
    seconds, or None) to look for the rise and the fall in instead. ``common_db``: the
    spectrum's common rise per frame (:func:`shape_and_common_rise`): a rise counts only
    beyond what it rises at the same place, and a fall beyond what it falls. A gust lifts
    every band: its fall stepped a motor's band more than the motor stopping a second
    before it (150 Hz beside a 190 Hz motor read 3.03-12.67 s for 3-12 s, in a gust over
    7-13 s), and a tone well above the gust's wind is not stepped by it at all.

    Unlike :func:`_half_power_edges` the levels are local: another tone sounding in the
    band before or after this one's edge (a motor's harmonic, steady across it) does not
    hold the band up to half power and carry the edge out to its own.
    """
    n = len(power)
    if n < 4:
        return None
    hop = float(times_s[1] - times_s[0])
    m = max(2, round(side_s / hop))
    level = 10.0 * np.log10(np.maximum(power, 1e-30))
    i = np.arange(1, n)

    def side_steps(values: np.ndarray) -> np.ndarray:
        # the mean over m frames after each frame boundary minus the mean over m before
        cum = np.concatenate([[0.0], np.cumsum(values)])
        left = (cum[i] - cum[np.maximum(i - m, 0)]) / np.minimum(i, m)
        right = (cum[np.minimum(i + m, n)] - cum[i]) / np.minimum(n - i, m)
        return right - left

    rise = side_steps(level)  # the step between frames i - 1 and i, for i in 1..n-1
    up = down = rise  # the steps that count as rises and as falls
    if common_db is not None:
        common_rise = side_steps(common_db)
        # the common level's own scatter is no gust: a faint motor's step is under 1 dB
        common_rise[np.abs(common_rise) < STEP_MIN_DB] = 0.0
        up, down = rise - np.maximum(common_rise, 0.0), rise - np.minimum(common_rise, 0.0)
    away = np.ones(n - 1, bool)
    for t in avoid_s:  # another tone's edges
        lo, hi = np.searchsorted(times_s[1:], [t - side_s, t + side_s])
        away[lo:hi] = False
    # a step clear of the band's own scatter (its robust spread over the recording): away
    # from another tone's edges one must be, or the tones start or stop together
    spread = 1.4826 * float(np.median(np.abs(rise - np.median(rise))))
    clear = max(STEP_MIN_DB, STEP_CLEAR * spread)

    # a step needs half its frames on either side: the first few frames of a recording
    # (a filter settling, a fade-in) would otherwise step more than any tone
    first, last = m // 2 - 1, n - 1 - m // 2

    def best(centre_s: float, sign: float) -> int | None:
        span = within[0 if sign > 0 else 1] or (centre_s - blur_s, centre_s + blur_s)
        lo, hi = np.searchsorted(times_s[1:], span)
        lo, hi = max(lo, first), min(hi, last)
        if hi <= lo:
            return None
        steps = up[lo:hi] if sign > 0 else -down[lo:hi]
        apart = np.where(away[lo:hi], steps, -np.inf)
        j = int(np.argmax(apart))
        if not apart[j] >= clear:
            j = int(np.argmax(steps))
        return lo + j + 1

    def crossing(j: int, sign: float) -> float:
        below = power[max(j - m, 0) : j] if sign > 0 else power[j : j + m]
        above = power[j : j + m] if sign > 0 else power[max(j - m, 0) : j]
        half = (float(np.median(below)) + float(np.median(above))) / 2
        # from the step, the first frame on the quiet side under half power, within the
        # step's sides (in a gust the level without the tone scatters about half power)
        k, lo, hi = j, max(j - m, 1), min(j + m, n - 1)
        if sign > 0:
            while k > lo and power[k - 1] >= half:
                k -= 1
            while k < hi and power[k] < half:
                k += 1
            a, b = k - 1, k  # power[a] < half <= power[b]
        else:
            while k < hi and power[k] >= half:
                k += 1
            while k > lo and power[k - 1] < half:
                k -= 1
            a, b = k, k - 1  # power[a] < half <= power[b]
        if not power[a] < half <= power[b]:
            return float(times_s[j])
        frac = (half - power[a]) / (power[b] - power[a])
        return float(times_s[a] + frac * (times_s[b] - times_s[a]))

    def clarity(j: int, sign: float) -> float:
        lo, hi = np.searchsorted(times_s[1:], [times_s[j] - blur_s, times_s[j] + blur_s])
        near = rise[lo:hi]
        local = 1.4826 * float(np.median(np.abs(near - np.median(near))))
        return (float(up[j - 1]) if sign > 0 else -float(down[j - 1])) / max(local, 1e-6)

    on, off = best(start_s, 1.0), best(end_s, -1.0)
    if on is None or off is None or off <= on:
        return None
    steps = (float(up[on - 1]), -float(down[off - 1]))
    clear_by = (clarity(on, 1.0), clarity(off, -1.0))
    if per_side:
        return crossing(on, 1.0), crossing(off, -1.0), steps, clear_by
    return crossing(on, 1.0), crossing(off, -1.0), min(steps), min(clear_by)


def _tone_segments(
    line, s, e, step_db, tone_hz, power, times_s, band_db, background, centres, flatness,
    impulses, others, config, edges_from,
) -> list[Segment]:  # fmt: skip
    """A tone's tonal segments over its span ``[s, e]`` read in its band (``power``): one
    per run where it sounds (:func:`_sounding_runs`), each with the tone's own evidence
    (:func:`_line_evidence`, from every band's level ``band_db`` over its ``background``)."""
    out = []
    for rs, re_ in _sounding_runs(power, times_s, s, e, config.min_duration_s):
        a, b = np.searchsorted(times_s, [rs, re_])
        b = max(b, a + 1)
        evidence = _line_evidence(
            line, rs, re_, step_db, tone_hz, power[a:b], band_db[a:b] - background, centres,
            flatness[a:b], impulses, others, config,
        )  # fmt: skip
        if edges_from:
            evidence["edges_from"] = edges_from
        out.append(Segment(float(rs), float(re_), "tonal", evidence))
    return out


#: A tone's band back below half-way to its level without the tone for this long (s),
#: between the tone's edges, is the tone pausing: a motor stopping and starting again
#: while another runs (whose activity bridges the pause)
PAUSE_MIN_S = 0.5
#: Pauses are looked for only where the tone lifts its band this much (dB), and a pause
#: lowers the band's median this much at least: a fainter tone's half-way level lies
#: within the band's scatter, and another tone pausing in a band both share dips it less
PAUSE_MIN_STEP_DB = 3.0
#: Seconds either side of the tone's edges whose median level is the band's without it
PAUSE_OUTSIDE_S = 1.0


def _sounding_runs(
    power: np.ndarray,
    times_s: np.ndarray,
    start_s: float,
    end_s: float,
    min_duration_s: float,
) -> list[tuple[float, float]]:
    """The runs of a tone's span ``[start_s, end_s]`` (its edges, read in its band) where
    it sounds: the span split at each pause, where its band's ``power`` stays under
    half-way between its level with the tone (the median over the span) and without it
    (the median over :data:`PAUSE_OUTSIDE_S` beyond the edges, the lower side's) for
    :data:`PAUSE_MIN_S` or more. Each pause's ends are placed between two frames; runs
    shorter than ``min_duration_s`` are dropped. A pause must halve the band's power at
    least (:data:`PAUSE_MIN_STEP_DB`).
    """
    a, b = (int(i) for i in np.searchsorted(times_s, [start_s, end_s]))
    if b - a < 3:
        return [(start_s, end_s)]
    before = power[int(np.searchsorted(times_s, start_s - PAUSE_OUTSIDE_S)) : a]
    after = power[b : int(np.searchsorted(times_s, end_s + PAUSE_OUTSIDE_S))]
    levels = [float(np.median(side)) for side in (before, after) if len(side) >= 3]
    p_in = float(np.median(power[a:b]))
    min_step = 10.0 ** (PAUSE_MIN_STEP_DB / 10.0)
    if not levels or not p_in >= min(levels) * min_step:
        return [(start_s, end_s)]
    half = (p_in + min(levels)) / 2
    below = np.concatenate([[0], (power[a:b] < half).astype(np.int8), [0]])
    ends = np.flatnonzero(np.diff(below)) + a  # [first, past last) frame of each run below

    def crossing(i: int) -> float:  # between frames i and i + 1, one each side of half
        frac = (power[i] - half) / (power[i] - power[i + 1])
        return float(times_s[i] + frac * (times_s[i + 1] - times_s[i]))

    runs, start = [], start_s
    for first, past in zip(ends[::2], ends[1::2], strict=True):
        if first == a or past == b:
            continue  # the edge's own ramp
        lo, hi = crossing(first - 1), crossing(past - 1)
        # halved at least: a tone whose band another tone shares, that other pausing,
        # dips its band by less (170 Hz beside a 120 Hz one: by 2 dB, for 0.6 s)
        dip = p_in / max(float(np.median(power[first:past])), 1e-30)
        if hi - lo >= PAUSE_MIN_S and dip >= min_step:
            runs.append((start, lo))
            start = hi
    runs.append((start, end_s))
    return [(s, e) for s, e in runs if e - s >= min_duration_s]


def _clear_step(found: tuple | None) -> bool:
    """Whether :func:`_step_edges` found steps that place a tone's edges: large, or
    faint but clear of the band's scatter around them."""
    return found is not None and _clear(found[2], found[3])


def _clear(step_db: float, clear_by: float) -> bool:
    return step_db >= STEP_MIN_DB or (step_db >= STEP_FAINT_DB and clear_by >= STEP_LOCAL_CLEAR)


def _pieces_of_lines(
    lines, times_s, all_db, all_centres, loudest, config, common_db=None
) -> list | None:
    """Each of the overlapping ``lines``' edges, read by :func:`_step_edges` in its own band
    (:func:`_own_band`): ``(start_s, end_s, step_db, line, band, band power)`` each, or
    None when any of them shows no step.

    A band another line sounds in steps at that line's edges too, and may step more there:
    the lines with a band of their own are read first, and a shared band's steps at
    another line's edges found so far give way to a clear step elsewhere (twice, so that
    two lines sharing all their bands pass over each other's). ``common_db``: the
    spectrum's common rise per frame, whose steps are a gust's (see :func:`_step_edges`).
    """
    bands = {}
    for line in lines:
        k = _own_band(line, [o for o in lines if o is not line], all_centres)
        if k is None:
            return None
        lo, hi = all_centres[k] / np.sqrt(2), all_centres[k] * np.sqrt(2)
        shared = any(lo <= h.freq_hz < hi for o in lines if o is not line for h in o.harmonics)
        bands[id(line)] = (k, shared, _smoothed_power(all_db[:, k], loudest))
    order = sorted(lines, key=lambda line: bands[id(line)][1])  # own bands first
    edges: dict[int, tuple[float, float, float]] = {}
    for sweep in range(2):
        for line in order:
            k, shared, power = bands[id(line)]
            if sweep and not shared:
                continue
            avoid = [t for o in order if o is not line for t in edges.get(id(o), ())[:2]]
            found = _step_edges(
                power,
                times_s,
                line.start_s,
                line.end_s,
                avoid_s=avoid if shared else (),
                common_db=common_db,
            )
            if not _clear_step(found):
                return None
            if found[1] - found[0] < config.min_duration_s:
                return None
            edges[id(line)] = found[:3]
    return [(*edges[id(line)], line, *bands[id(line)][::2]) for line in lines]


def _split_among_lines(
    segments,
    lines,
    times_s,
    band_db,
    centres,
    flatness,
    impulses,
    config,
    quiet,
    tone_bands,
    common_db=None,
) -> list[Segment]:
    """Split a tonal segment that two or more overlapping tones make into one per tone.

    Two motors whose sounds overlap in time make one run of activity, labelled by one of
    them: that line took the whole run's edges, and the other kept its own, blurred by a
    long window. Each tone's edges are read in a band it holds over the others (see
    :func:`_own_band`); the segment gives
    way to the tones' segments when together they cover it (within the ±0.25 s the
    edges are good to) and any of them starts or stops inside it. Each tone's edges are
    the largest steps of its band near its line's blurred edges (:func:`_step_edges`):
    the other tone may sound in that band too, steady across the edge. The tones'
    segments may overlap.
    """
    all_db, all_centres = tone_bands if tone_bands is not None else (band_db, centres)
    out: list[Segment] = []
    background = loudest = None
    slack = 0.25
    pieces_of: dict[float, list[tuple[float, float]]] = {}  # each split tone's pieces
    for sg in segments:
        named = sg.evidence.get("tonal_lines_hz", [])
        # the lines named that sound in it (one tone stopping and starting again is two
        # lines of one frequency: only those overlapping count)
        present = [
            line
            for line in lines
            if round(line.freq_hz, 3) in named
            and line.harmonics
            and min(line.end_s, sg.end_s) > max(line.start_s, sg.start_s)
        ]
        # two lines of one frequency are one tone twice: apart in time, or no telling them
        distinct = not any(
            round(a.freq_hz, 3) == round(b.freq_hz, 3)
            and min(a.end_s, b.end_s) > max(a.start_s, b.start_s)
            for a, b in itertools.combinations(present, 2)
        )
        if sg.kind != "tonal" or len(present) < 2 or not distinct:
            out.append(sg)
            continue
        if loudest is None:
            loudest = band_db.max(axis=1)
            background = band_background(all_db[quiet], config.background_percentile)[0]
        pieces = _pieces_of_lines(present, times_s, all_db, all_centres, loudest, config, common_db)
        if pieces is not None:
            spans = sorted((s, e) for s, e, *_ in pieces)
            reach, covered = sg.start_s, True
            for s, e in spans:
                covered &= s <= reach + slack
                reach = max(reach, e)
            covered &= reach >= sg.end_s - slack
            # a tone that starts or stops away from the segment's edges (inside it, or
            # before or after it: a long motor heard alone around a shorter one's segment)
            differs = any(
                abs(s - sg.start_s) > slack or abs(e - sg.end_s) > slack for s, e in spans
            )
            if covered and differs:
                others = [o for o in segments if o is not sg]
                for s, e, step_db, line, k, power in pieces:
                    hz = round(line.freq_hz, 3)
                    if any(min(e, pe) > max(s, ps) for ps, pe in pieces_of.get(hz, ())):
                        continue  # this tone's piece, found from another of its segments
                    pieces_of.setdefault(hz, []).append((s, e))
                    out += _tone_segments(
                        line, s, e, step_db, float(all_centres[k]), power, times_s, all_db,
                        background, all_centres, flatness, impulses, others, config,
                        BESIDE_ANOTHER,
                    )  # fmt: skip
                continue
        out.append(sg)
    if not pieces_of:
        return out

    # a segment of a tone (naming it, or it alone among the lines) that lies within its
    # piece is that piece's fragment
    def fragment(sg: Segment) -> bool:
        named = sg.evidence.get("tonal_line_hz")
        tones = [named] if named is not None else sg.evidence.get("tonal_lines_hz", [])
        return (
            sg.kind == "tonal"
            and sg.evidence.get("edges_from") != BESIDE_ANOTHER
            and len(tones) == 1
            and any(
                ps - slack <= sg.start_s and sg.end_s <= pe + slack
                for ps, pe in pieces_of.get(tones[0], ())
            )
        )

    return [sg for sg in out if not fragment(sg)]


def _line_evidence(
    line, s, e, step_db, tone_hz, power, rise, centres, flatness, impulses, segments, config
) -> dict:
    """The evidence of a tonal segment made from a line: the tone's own, not that of other
    sounds in its span (a clank train's bands and onsets described a motor's segment).

    ``power`` is the tone band's power over the segment's frames, ``rise`` every band's
    level above its background there (dB), ``segments`` the other sounds' segments.
    """
    # the bands the tone lifts: its median over the segment, which a train of clanks in
    # other frames does not reach
    median_rise = np.median(rise, axis=0) if len(rise) else np.zeros(len(centres))
    excited = {round(tone_hz, 1)} | {
        round(float(c), 1)
        for c, r in zip(centres, median_rise, strict=True)
        if r >= config.on_db and _sounds_in(line, float(c))
    }
    lo = bisect.bisect_left(impulses, s - 0.05, key=lambda imp: imp.time_s)
    hi = bisect.bisect_right(impulses, e, lo=lo, key=lambda imp: imp.time_s)
    # onsets that another segment holds are that sound's
    own = [
        imp
        for imp in impulses[lo:hi]
        if not any(sg.start_s - 0.05 <= imp.time_s <= sg.end_s for sg in segments)
    ]
    peak = float(np.max(power)) if len(power) else 0.0
    held = float(np.mean(power >= peak * 10.0 ** (-HOLD_DB / 10.0))) if len(power) else 0.0
    return {
        "peak_rise_db": round(float(step_db), 2),
        "dominant_band_hz": round(tone_hz, 1),
        "median_flatness": round(float(np.median(flatness)), 4) if len(flatness) else 0.0,
        "impulses": len(own),
        "excited_bands_hz": sorted(excited),
        "level_held_s": round(held * (e - s), 3),
        "tonal_lines_hz": [round(line.freq_hz, 3)],
        "tonal_line_hz": round(line.freq_hz, 3),
        "edges_from": "tone band level",
    }


def _smoothed_power(level_db: np.ndarray, loudest_db: np.ndarray) -> np.ndarray:
    """One band's power from its levels ``level_db`` (dB), smoothed over three frames as the
    segmented bands are, and at most :data:`RANGE_DB` under the frame's loudest band."""
    finite = np.where(np.isfinite(level_db), level_db, -300.0).astype(np.float32)
    linear = (10.0 ** (finite / 10.0))[:, None]
    power = np.empty_like(linear)
    _kernels.running_mean_columns(linear, 3, power)
    level = 10.0 * np.log10(np.maximum(power[:, 0], np.float32(1e-30)))
    floor = np.where(loudest_db > SILENCE_DB, loudest_db - RANGE_DB, -300.0)
    return 10.0 ** (np.maximum(level, floor) / 10.0)


def _half_power_edges(
    power: np.ndarray, times_s: np.ndarray, start_s: float, end_s: float, blur_s: float = 2.5
) -> tuple[float, float, float] | None:
    """Where ``power`` crosses half-way between the tone's level and the band's level
    without it; with the step between the two in dB. None where no frame lies clearly
    without the tone, or none clearly with it.

    The line's own edges are blurred by up to ``blur_s``: frames further inside are the
    tone's level (their median), the quietest fifth of the frames outside that core the
    level without it. Each edge is then walked out from the core while the band holds
    half power, within ``blur_s`` of the line's edge, and placed between two frames.
    """
    n = len(power)
    core = (times_s >= start_s + blur_s) & (times_s <= end_s - blur_s)
    if np.count_nonzero(core) < 3:
        core = (times_s >= start_s) & (times_s <= end_s)
    rest = ~core
    if np.count_nonzero(core) < 3 or np.count_nonzero(rest) < 3:
        return None
    p_in = float(np.median(power[core]))
    p_out = float(np.percentile(power[rest], 20.0))
    if not p_in > p_out > 0:
        return None
    half = (p_in + p_out) / 2
    inside = np.flatnonzero(core & (power >= half))
    if len(inside) == 0:
        return None
    lo = int(np.searchsorted(times_s, start_s - blur_s))
    hi = min(int(np.searchsorted(times_s, end_s + blur_s, side="right")) - 1, n - 1)

    def crossing(i: int, step: int, stop: int) -> float:
        while i != stop and power[i + step] >= half:
            i += step
        if i == stop:  # still at half power where the search ends
            return float(times_s[i])
        frac = (power[i] - half) / (power[i] - power[i + step])  # in [0, 1]: power[i] >= half
        return float(times_s[i] + frac * (times_s[i + step] - times_s[i]))

    s = crossing(int(inside[0]), -1, min(lo, int(inside[0])))
    e = crossing(int(inside[-1]), 1, max(hi, int(inside[-1])))
    return s, e, 10.0 * math.log10(p_in / p_out)
