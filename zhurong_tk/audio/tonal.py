"""Sustained tones — motors, gears, pumps, a rotor's blade-passing tone — found by
harmonic summation on long-window spectra and tracked over time.

The signal is low-passed and decimated (streaming, filter state carried across
blocks) so that long windows (~1.5 s, ~0.65 Hz bins) are cheap. Each long
spectrum is whitened against its local background, every candidate
fundamental is scored by the weighted sum of its harmonics' levels above
that background (weights decay with harmonic number, so a fundamental
outscores its sub-harmonics), and the accepted fundamentals are linked
frame to frame into lines. Windows a quarter as long follow a motor sweeping too
fast for the long ones, whose spectra smear it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from zhurong_tk.audio import _kernels
from zhurong_tk.audio.framestore import FrameStore
from zhurong_tk.audio.spectral import lowpass_taps, window_array
from zhurong_tk.errors import ParameterError


@dataclasses.dataclass(frozen=True)
class TonalConfig:
    """Parameters of tone finding.

    Attributes
    ----------
    f0_min_hz, f0_max_hz : float
        Range of fundamentals reported. A candidate whose harmonics heard are all multiples
        of one number g is the tone g·f0 (its subharmonic was read), so a tone between
        ``f0_max_hz`` and ``search_max_hz`` is reported at its own frequency. Candidates
        are read down to ``f0_min_hz / 2``: a tone up to an octave below the range is not
        reported, and neither are its harmonics, each as a tone of its own (15 Hz with
        harmonics at 30 and 45 Hz was two lines when the range began at 20 Hz).
    search_max_hz : float
        Highest harmonic frequency considered (the decimated band's top).
    window_s : float
        Approximate long-window length in seconds (rounded up to a power of two); the
        sweep search's windows are a quarter of it.
    max_harmonics : int
        Harmonics summed per candidate.
    min_duration_s : float
        Shortest line reported.
    min_level_db : float
        Level above the local background for a harmonic to count as present
        (noise maxima of the averaged spectrum reach ~8 dB).
    strong_level_db : float
        At least one harmonic of a line must stand this far above the background
        (in a spectrum averaged over four long windows, noise maxima reach ~8 dB).
    """

    f0_min_hz: float = 10.0
    f0_max_hz: float = 1000.0
    search_max_hz: float = 2000.0
    window_s: float = 1.0
    max_harmonics: int = 8
    min_duration_s: float = 1.0
    min_level_db: float = 8.0
    strong_level_db: float = 10.0


@dataclasses.dataclass
class Harmonic:
    number: int
    freq_hz: float
    level_db: float  # above the local background


@dataclasses.dataclass
class TonalLine:
    """A sustained tone with its harmonics.

    Attributes
    ----------
    freq_hz : float
        Median fundamental over the line.
    start_s, end_s : float
        Extent, from the first to the last long window that holds the tone.
    drift_hz_per_s : float
        Slope of the fundamental over time.
    harmonics : list of Harmonic
        Harmonics present (median level above background ≥ ``min_level_db``).
    snr_db : float
        Median level of the strongest harmonic above the background.
    salience : float
        Median harmonic-summation score.
    times_s, freqs_hz : numpy.ndarray
        The fundamental's track, one point per averaged spectrum searched (the long
        windows', or the sweep search's: see :class:`TonalTracker`).
    freq_start_hz, freq_end_hz : float
        Read-only: the fundamental at ``start_s`` and ``end_s`` (:meth:`freq_at`), so a line
        given new edges (``dataclasses.replace``) reads its frequencies there.
    """

    freq_hz: float
    start_s: float
    end_s: float
    drift_hz_per_s: float
    harmonics: list[Harmonic]
    snr_db: float
    salience: float
    times_s: np.ndarray
    freqs_hz: np.ndarray
    edges_from: str = "long_windows"  # or "segment": refined by the activity segment it explains
    #: the lower line whose harmonics this one's fall on, read apart from it where this tone
    #: starts or stops while that one sounds (see :func:`_coinciding_pieces`); else None
    coincides_with_hz: float | None = None

    @property
    def freq_start_hz(self) -> float:
        return self.freq_at(self.start_s)

    @property
    def freq_end_hz(self) -> float:
        return self.freq_at(self.end_s)

    #: :meth:`freq_at` fits the track's points this close to the time it is asked about.
    LOCAL_S = 2.5

    def freq_at(self, time_s: float) -> float:
        """The fundamental at ``time_s`` in Hz: the straight line fitted to the track's
        points within the line's extent and :data:`LOCAL_S` of ``time_s`` (the three
        nearest within the extent when fewer), evaluated there. A sweeping motor's line
        refined to a segment's edges once kept the frequencies of its track's ends:
        107.4 Hz at a start 2 s before its first point; and one that sweeps up and back
        down has no single slope."""
        t, f = np.asarray(self.times_s, np.float64), np.asarray(self.freqs_hz, np.float64)
        if len(t) == 0:
            return float(self.freq_hz)
        within = (t >= self.start_s) & (t <= self.end_s)
        if not within.any():
            within[:] = True
        near = within & (np.abs(t - time_s) <= self.LOCAL_S)
        if np.count_nonzero(near) < 3:
            distance = np.where(within, np.abs(t - time_s), np.inf)
            near = np.zeros(len(t), bool)
            near[np.argsort(distance, kind="stable")[: min(3, np.count_nonzero(within))]] = True
        if np.count_nonzero(near) < 2 or np.ptp(t[near]) == 0:
            return float(np.mean(f[near]))
        slope, intercept = np.polyfit(t[near], f[near], 1)
        return float(slope * time_s + intercept)

    def to_dict(self) -> dict:
        return {
            "freq_hz": round(self.freq_hz, 3),
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "freq_start_hz": round(self.freq_start_hz, 3),
            "freq_end_hz": round(self.freq_end_hz, 3),
            "drift_hz_per_s": round(self.drift_hz_per_s, 4),
            "harmonics": [dataclasses.asdict(h) for h in self.harmonics],
            "snr_db": round(self.snr_db, 2),
            "salience": round(self.salience, 2),
            "edges_from": self.edges_from,
            "coincides_with_hz": (
                None if self.coincides_with_hz is None else round(self.coincides_with_hz, 3)
            ),
        }


class TonalTracker:
    """Streaming tone finder: feed mono float32 blocks, then call :meth:`lines`.

    The decimated signal is searched at two window lengths. The long windows resolve
    steady tones finely and hear them deep in wind; a motor sweeping more than half a long
    bin per hop (0.4 Hz/s at 48 kHz) smears over their spectra (100 to 140 Hz in 12 s was
    four pieces; 200 to 150 Hz, nothing), and windows a quarter as long
    (:attr:`SWEEP_FACTOR`) follow it.
    A line from them replaces the long windows' lines along its path when it sweeps and
    they do not hold it as one line (see :func:`_with_sweeps`).

    Parameters
    ----------
    sr : float
        Sample rate of the blocks in Hz.
    config : TonalConfig
    duration_s : float, optional
        The recording's length, when known. A recording too short for three averaged
        spectra of the configured window gets shorter windows (down to 256 samples of
        the decimated signal; coarser bins, so low fundamentals are resolved less well),
        and no sweep search.
    keep : FrameStore, optional
        A one-column table the decimated signal is appended to (rate :attr:`fs`; sample
        ``k`` holds the sound of ``k / fs - delay_s`` seconds): on disk, for a second
        look at the tones' edges (:mod:`~zhurong_tk.audio.tone_edges`).
    """

    SWEEP_FACTOR = 4  # the sweep search's windows are this many times shorter

    def __init__(
        self,
        sr: float,
        config: TonalConfig | None = None,
        *,
        duration_s: float | None = None,
        keep: FrameStore | None = None,
    ) -> None:
        self.config = config = config or TonalConfig()
        self.keep = keep
        if not 0 < config.f0_min_hz < config.f0_max_hz:
            raise ParameterError(
                f"need 0 < f0_min_hz < f0_max_hz, got {config.f0_min_hz}, {config.f0_max_hz}"
            )
        self.sr = float(sr)
        top = min(config.search_max_hz, 0.45 * sr)
        self.q = max(1, int(self.sr // (2.5 * top)))
        self.fs = self.sr / self.q
        self.top = min(top, 0.4 * self.fs)
        # Anti-alias FIR (Kaiser-windowed sinc, ≥ 80 dB stop band) evaluated only at the kept
        # samples: nothing may alias into 0..top, so the stop band starts at fs - top.
        self.taps = (
            lowpass_taps(self.sr, pass_hz=self.top, stop_hz=self.fs - self.top, atten_db=80.0)
            if self.q > 1
            else np.ones(1, np.float32)
        )
        # reversed for a forward dot product, zero-padded (oldest end) to a multiple of 64 so
        # the vectorised loop has no scalar tail: 58 leftover taps made it 5× slower
        padded = -(-len(self.taps) // 64) * 64
        self._taps_reversed = np.zeros(padded, np.float32)
        self._taps_reversed[padded - len(self.taps) :] = self.taps[::-1]
        self._history = np.zeros(padded - 1, np.float32)
        self.delay_s = (len(self.taps) - 1) / 2 / self.sr  # the filter's group delay
        n = 1 << max(8, math.ceil(math.log2(config.window_s * self.fs)))
        shortened = False  # windows shortened to fit a short recording
        if duration_s is not None:
            # a line needs three averaged spectra: AVERAGE + 2 windows at half-window hops
            fits = duration_s * self.fs * 2 / (_Scale.AVERAGE + 3)
            fitting = 1 << max(8, int(math.log2(max(fits, 1.0))))
            shortened = fitting < n
            n = min(n, fitting)
        scale = dict(fs=self.fs, top=self.top, delay_s=self.delay_s)
        self.long = _Scale(config, n=n, shortened=shortened, **scale)
        sweep_n = n // self.SWEEP_FACTOR
        # Four times as many spectra as the long search's, searched as thoroughly, cost
        # twice as much as it: half the candidates (a sweeping tone is among the strongest
        # peaks of its spectra), every other spectrum (they overlap by two thirds), and the
        # sweep search costs about what the long one does.
        self.sweeps = (
            None
            if shortened or sweep_n < 256
            else _Scale(config, n=sweep_n, candidates=6, stride=2, follows_sweeps=True, **scale)
        )
        if self.sweeps is not None:
            self.sweeps.steady = self.long
        self._scales = [self.long] + ([self.sweeps] if self.sweeps else [])
        self._buffer = np.empty(0, np.float32)
        self._buffer_start = 0  # decimated samples dropped from the buffer's front
        # mean square of the input (the whole band, before decimation) beside each decimated
        # sample, in runs of ALIAS_RUN: what the anti-alias filter's leakage is measured against
        self._full_power = np.empty(0, np.float32)
        self._samples_in = 0

    def update(self, block: np.ndarray) -> None:
        """Feed the next mono samples (any length)."""
        x = np.ascontiguousarray(block, np.float32)
        if self.q > 1:
            full = x
            x = self._decimate(x)
            self._full_power = np.concatenate([self._full_power, self._run_power(full, len(x))])
        self._samples_in += len(block)
        if self.keep is not None:
            self.keep.append(x[:, None])
        self._buffer = np.concatenate([self._buffer, x])
        end = self._buffer_start + len(self._buffer)
        for scale in self._scales:
            count = (end - scale.next_start - scale.n) // scale.hop + 1
            if count <= 0:
                continue
            i = scale.next_start - self._buffer_start
            full_power = None
            if self.q > 1:
                # each window's mean square of the full band: its two half-window sums
                halves = np.add.reduceat(
                    self._full_power[i : i + (count + 1) * scale.hop],
                    np.arange(0, (count + 1) * scale.hop, scale.hop),
                    dtype=np.float64,
                )
                full_power = (halves[:-1] + halves[1:]) / scale.n
            # every window that fits, at once: one FFT call and one log10 for them all
            scale.analyse(self._buffer[i : i + (count - 1) * scale.hop + scale.n], full_power)
        done = min(scale.next_start for scale in self._scales) - self._buffer_start
        if done > 0:
            self._buffer = self._buffer[done:]
            if self.q > 1:
                self._full_power = self._full_power[done:]
            self._buffer_start += done

    def lines(self) -> list[TonalLine]:
        """The tones heard, each one line (see :meth:`_Scale.lines`), from the start."""
        recorded_s = self._samples_in / self.sr
        lines = self.long.lines(recorded_s)
        if self.sweeps is not None:
            lines = _with_sweeps(lines, self.sweeps.lines(recorded_s), self.long, self.sweeps)
            lines.sort(key=lambda line: (line.start_s, line.freq_hz))
        return lines

    ALIAS_RUN = 256  # decimated samples per mean square of the full band

    def _run_power(self, full: np.ndarray, n_kept: int) -> np.ndarray:
        """``n_kept`` values: the input's mean square over runs of ``ALIAS_RUN`` decimated
        samples (``ALIAS_RUN q`` input samples), each repeated over its run."""
        run = self.ALIAS_RUN * self.q
        # (numpy's float64 squares and mean cost a tenth of the tone search)
        means = np.empty(-(-len(full) // run), np.float32)
        _kernels.run_mean_squares(full, run, means)
        return np.repeat(means, self.ALIAS_RUN)[:n_kept]

    def _decimate(self, x: np.ndarray) -> np.ndarray:
        """The filtered block at the stream positions that are multiples of ``q``."""
        history, taps, q = self._history, self._taps_reversed, self.q
        held = len(history)  # the filter's length - 1: what an output reaches back
        # positions below count from the start of history + block
        first = held + (-self._samples_in) % q
        kept = np.empty(max(0, (held + len(x) - 1 - first) // q + 1), np.float32)
        # Outputs whose filter reaches back into the history come from a short joined head;
        # the rest straight from the block, which is not copied (that copy cost 7 % of the
        # tone search).
        head = np.concatenate([history, x[:held]])
        from_head = min(len(kept), max(0, (len(head) - 1 - first) // q + 1))
        if from_head:
            _kernels.fir_decimate(head, taps, first, q, kept[:from_head])
        if len(kept) > from_head:
            _kernels.fir_decimate(x, taps, first + from_head * q - held, q, kept[from_head:])
        self._history = x[len(x) - held :].copy() if len(x) >= held else head[len(head) - held :]
        return kept


class _Scale:
    """The tone search at one window length: averaged periodograms of the decimated signal,
    each searched for fundamentals (:meth:`analyse`), linked into lines (:meth:`lines`).

    Parameters
    ----------
    config : TonalConfig
    fs : float
        Sample rate of the decimated signal in Hz.
    top : float
        Top of the band searched in Hz.
    n : int
        Window length in samples (a power of two); the hop is half of it.
    delay_s : float
        The decimating filter's group delay, taken off the times.
    shortened : bool
        The windows were shortened to fit a short recording.
    candidates : int
        Salience peaks examined per averaged spectrum, strongest first.
    stride : int
        Every ``stride``-th averaged spectrum is searched.
    follows_sweeps : bool
        Pieces of a line are joined where they continue each other (see
        :func:`_merge_tracks`), not only at one frequency.
    """

    # Consecutive long periodograms averaged. At a half-window hop three of them hold about two
    # independent estimates (four at a quarter-window hop hold ~1.75, for twice the work).
    AVERAGE = 3
    MAX_PER_FRAME = 4

    def __init__(
        self,
        config: TonalConfig,
        *,
        fs: float,
        top: float,
        n: int,
        delay_s: float,
        shortened: bool = False,
        candidates: int = 12,
        stride: int = 1,
        follows_sweeps: bool = False,
    ) -> None:
        self.config = config
        self.candidates, self.stride, self.follows_sweeps = candidates, stride, follows_sweeps
        self.fs, self.top, self.n, self.delay_s = fs, top, n, delay_s
        self.shortened = shortened
        self.hop = self.n // 2
        self.next_start = 0  # decimated sample where the next window starts
        self.window = window_array("hann", self.n)
        self._window_sum = float(np.sum(self.window, dtype=np.float64))
        self.bin_hz = self.fs / self.n
        self.n_bins = int(self.top / self.bin_hz)
        self._white_width = max(9, round(12.0 / self.bin_hz) | 1)
        # spectra run half a whitening window past the band's top, so that the top bins'
        # background is a whole window (a cut one made the edge look like a peak: a clank
        # train's skirt read as an 11 dB tone at 1998 Hz)
        self._n_spectrum = min(self.n_bins + self._white_width // 2 + 1, self.n // 2 + 1)
        f0_hi = min(config.f0_max_hz, self.top)
        step = 0.5  # bins
        # down to an octave below the range reported: see TonalConfig
        self.f0_bins = np.arange(config.f0_min_hz / 2 / self.bin_hz, f0_hi / self.bin_hz, step)
        self.weights = 1.0 / np.sqrt(np.arange(1, config.max_harmonics + 1))
        self._harmonic_bins = _kernels.harmonic_bins(
            self.f0_bins, config.max_harmonics, self.n_bins
        )
        # the last AVERAGE - 1 periodograms (and mean squares) of the previous call
        self._held = np.empty((0, self._n_spectrum))
        self._held_full: list[float] = []
        # those averaged for the spectrum being searched
        self._recent_full: list[float] = []
        self._recent = np.empty((0, self._n_spectrum))
        self._whiten_scratch: np.ndarray | None = None
        self._near_max: np.ndarray | None = None
        # the strong peaks (Hz) of the last spectrum searched; a sweep search is given the
        # long search (steady) and skips spectra whose strong peaks all lie on its peaks
        self.strong_hz: np.ndarray | None = None
        self.steady: _Scale | None = None
        self._recent_trios: np.ndarray | None = None
        self._frame = 0  # windows computed
        self.frames: list[tuple[float, list[tuple[float, float, list[float]]]]] = []

    def analyse(self, samples: np.ndarray, full_power: np.ndarray | None) -> None:
        """Take the next windows (``n`` decimated samples each, a hop apart, the first one
        hop after the last taken; ``samples`` holds them all) and search the mean periodogram
        of every ``AVERAGE`` consecutive ones. ``full_power``: the input's mean square over
        each window, before decimation (None when it was not decimated)."""
        count = (len(samples) - self.n) // self.hop + 1
        frames = sliding_window_view(samples, self.n)[:: self.hop][:count]
        spec = scipy.fft.rfft(frames * self.window, axis=-1)[:, : self._n_spectrum]
        powers = (spec.real**2 + spec.imag**2).astype(np.float64)
        self.next_start += count * self.hop
        # the periodograms (and full-band mean squares) of this call after the last ones
        # of the previous call, AVERAGE - 1 of them
        held = len(self._held)
        stack = np.concatenate([self._held, powers]) if held else powers
        fulls = self._held_full + ([] if full_power is None else full_power.tolist())
        first = self._frame
        self._frame += count
        self._held = stack[-(self.AVERAGE - 1) :].copy()
        self._held_full = fulls[-(self.AVERAGE - 1) :]
        # windows numbered from 1: the k-th completes an average once k >= AVERAGE, and is
        # searched every stride-th time
        numbers = np.arange(first + 1, first + count + 1)
        searched = numbers[
            (numbers >= self.AVERAGE) & ((numbers - self.AVERAGE) % self.stride == 0)
        ]
        if len(searched) == 0:
            return
        rows = searched - first - 1 + held  # the last window of each average in the stack
        # summed in order (as a running sum over the list was): bit for bit the same mean
        last = rows[0]
        picked = slice(last - (self.AVERAGE - 1), rows[-1] + 1 - (self.AVERAGE - 1), self.stride)
        averaged = stack[picked].copy()
        for back in range(self.AVERAGE - 2, -1, -1):
            averaged += stack[last - back : rows[-1] + 1 - back : self.stride]
        averaged /= self.AVERAGE
        levels = self.levels_db(averaged)  # all at once: numpy calls per spectrum add up
        for number, row, spectrum, db in zip(
            searched.tolist(), rows.tolist(), averaged, levels, strict=True
        ):
            lo = row - (self.AVERAGE - 1)
            self._recent = stack[lo : row + 1]
            self._recent_full = fulls[lo : row + 1]
            centre_s = ((number - 1) * self.hop + self.n / 2) / self.fs - self.delay_s
            # the averaged spectrum spans AVERAGE-1 hops more than one window: its centre
            time_s = centre_s - (self.AVERAGE - 1) * self.hop / self.fs / 2
            self.frames.append((time_s, self._candidates(spectrum, db)))

    @staticmethod
    def levels_db(power: np.ndarray) -> np.ndarray:
        """Spectra (rows) in dB, at most 100 dB under each one's top."""
        db = 10.0 * np.log10(np.maximum(power, 1e-30))
        # nothing counts 100 dB under the spectrum's top: a clean digital tone's rounding
        # spurs (~140 dB down) would stand out against an empty background
        np.maximum(db, db.max(axis=-1, keepdims=True) - 100.0, out=db)
        return db

    def whiten(self, db: np.ndarray) -> np.ndarray:
        """Level above the local background in dB (background: clipped running mean of dB,
        ~12 Hz either side; see :func:`~._kernels.whiten`) of a spectrum in dB
        (:meth:`levels_db`)."""
        white = np.empty(len(db), np.float32)
        if self._whiten_scratch is None or self._whiten_scratch.shape[1] != len(db):
            self._whiten_scratch = np.empty((2, len(db)))
        _kernels.whiten(db, self._white_width, self._whiten_scratch, white)
        return white

    def _candidates(
        self, power: np.ndarray, db: np.ndarray
    ) -> list[tuple[float, float, list[float]]]:
        """The tones read in one averaged spectrum (``power``; ``db``: its :meth:`levels_db`)."""
        cfg = self.config
        n = self.n_bins  # the band searched; the bins past it only steady the background
        white = self.whiten(db)[:n]
        if float(white.max()) < cfg.strong_level_db:
            self.strong_hz = np.empty(0)
            return []  # no harmonic can be strong: nothing to read (most windows of wind)
        strong_hz = _peaks(white, cfg.strong_level_db) * self.bin_hz
        if self.steady is None:
            self.strong_hz = strong_hz
        elif self.steady.strong_hz is not None and len(strong_hz):
            # every strong peak is one the long search holds too: steady tones, which it
            # reads better (a sweep, smeared over its long bins, stands out here alone)
            held = self.steady.strong_hz
            if len(held) and np.all(
                np.min(np.abs(strong_hz[:, None] - held[None, :]), axis=1) <= self.bin_hz
            ):
                return []
        self._near_max = None  # see _leaked
        self._recent_trios = None  # see _in_one_window
        power = power[:n]
        salience = np.empty(len(self.f0_bins), np.float32)
        # through the knee: how far up a certain harmonic stands is no evidence (see _knee)
        knee = _knee(white)
        teeth = _Teeth(white, cfg.min_level_db)
        if len(teeth.comb_teeth):
            # A loud clank train's comb, its teeth tens of dB up, made every multiple of its
            # rate out-score a motor's harmonics (12 candidates, none the motor's): the teeth
            # are no candidate's harmonics (see _Teeth.tooth), and add no salience. Their
            # main lobes go too (a Hann window's is 4 bins wide).
            lobe = teeth.comb_teeth[:, None] + np.arange(-2, 3)
            knee[np.clip(lobe, 0, len(knee) - 1)] = 0.0
        _kernels.harmonic_salience(knee, self._harmonic_bins, self.weights, salience)
        order = np.empty(self.candidates, np.int64)
        order = order[: _kernels.salience_peaks(salience, cfg.min_level_db, order)]
        if len(order) == 0:
            return []
        levels = np.empty((len(order), cfg.max_harmonics))
        positions = np.empty_like(levels)
        _kernels.harmonic_levels(
            white,
            np.log(np.maximum(power, 1e-30)),
            self.f0_bins[order],
            cfg.max_harmonics,
            levels,
            positions,
            False,
        )
        log_power = np.log(np.maximum(power, 1e-30))
        # a dozen rows of eight values: plain Python lists beat numpy's per-call overhead here
        readings = []
        for level_row, position_row, score, grid_bins in zip(
            levels.tolist(),
            positions.tolist(),
            salience[order].tolist(),
            self.f0_bins[order].tolist(),
            strict=True,
        ):
            reading = self._read(white, power, log_power, level_row, position_row, grid_bins, teeth)
            if reading is not None:
                readings.append((*reading, score))
        readings = _without_common_subharmonics(readings, self.bin_hz, cfg.strong_level_db)
        # a tone below the range has been read, and explains its harmonics: not reported
        return [a for a in self._resolve(readings) if a[0] >= 0.98 * cfg.f0_min_hz]

    def _read(
        self,
        white: np.ndarray,
        power: np.ndarray,
        log_power: np.ndarray,
        level_row: list[float],
        position_row: list[float],
        grid_bins: float,
        teeth: _Teeth,
    ) -> tuple[float, list[float], list[int]] | None:
        """One salience peak (at ``grid_bins``, its harmonics' levels and positions in the
        rows) read as a tone: its fundamental (Hz), the levels of harmonics 1, 2, ... above
        the background (0 where a peak there is not this tone's), and the numbers of those
        heard; None when it is no tone (see the reasons below)."""
        cfg = self.config
        floor, bin_hz = cfg.min_level_db, self.bin_hz
        lv = [v for v in level_row if v == v]  # NaN: a harmonic beyond the band
        if len(lv) < 2 or max(lv) < cfg.strong_level_db:
            return None
        heard = self._heard(white, lv, position_row, teeth, grid_bins)
        if not heard:
            return None
        for _ in range(2):  # the pruning can leave a common factor: renumber again
            # Every harmonic heard a multiple of g: the tone is g·f0, read at a
            # subharmonic (noise at f0/2's odd harmonics can out-score a pure tone's own
            # candidate; and a tone above f0_max_hz is seen only there).
            g = math.gcd(*heard)
            if g > 1:
                level_row, position_row = level_row[g - 1 :: g], position_row[g - 1 :: g]
                lv = [v for v in level_row if v == v]
                heard = [n // g for n in heard]
            # the harmonics heard fill most of their span, from the lowest up: a tone
            # near a high multiple (84 Hz and 337 Hz: "h4") is another tone
            kept = heard[:1]
            for n in heard[1:]:
                if 2 * (len(kept) + 1) > n - kept[0] + 1:
                    kept.append(n)
            heard = kept
        if heard[0] > 2:  # a fundamental shows itself or its octave
            return None
        # least squares over the harmonics heard, weighted by their level
        num = sum(lv[n - 1] * n * position_row[n - 1] for n in heard)
        f0 = num / sum(lv[n - 1] * n * n for n in heard) * bin_hz
        # read again where this fundamental puts its harmonics: the candidate's grid
        # point is up to a quarter bin off, so its 4th harmonic is a bin off its peak.
        # A harmonic between two bins on a steep background (wind's low-frequency edge)
        # is read at its power's peak beside the bin highest above the background: it is
        # heard, where it was not (a motor's 2nd harmonic, 3 dB under its fundamental,
        # was missing), while the fundamental stays the one the first reading gave
        again = np.empty((2, cfg.max_harmonics))
        f0_bin = np.array([f0 / bin_hz])
        _kernels.harmonic_levels(
            white, log_power, f0_bin, cfg.max_harmonics, again[:1], again[1:], True
        )
        level_again, position_again = again[0].tolist(), again[1].tolist()
        lv_again = [v for v in level_again if v == v]
        more = self._heard(white, lv_again, position_again, teeth, f0 / bin_hz)
        if set(more) > set(heard) and (more[-1] - more[0] + 1) < 2 * len(more):
            level_row, position_row, lv, heard = level_again, position_again, lv_again, more
        if f0 < 0.49 * cfg.f0_min_hz or any(
            abs(position_row[n - 1] * bin_hz - n * f0) > max(bin_hz, 0.005 * n * f0) for n in heard
        ):
            return None  # a harmonic off where this fundamental puts it: another tone's
        if self._under_the_alias_ceiling(power, position_row, heard):
            return None  # as weak as what leaks through the anti-alias filter
        if self._in_one_window(position_row, heard):
            return None  # a burst's noise, not a tone
        # what was not heard (a skirt, a sidelobe) does not count as a harmonic later
        lv = [v if (n in heard or v < floor) else 0.0 for n, v in enumerate(lv, start=1)]
        if max(lv[n - 1] for n in heard) < cfg.strong_level_db:
            return None  # the strong harmonic was no harmonic heard (a comb's tooth, a skirt)
        return f0, lv, heard

    def _resolve(
        self, readings: list[tuple[float, list[float], list[int], float]]
    ) -> list[tuple[float, float, list[float]]]:
        """The tones of one spectrum from its readings ``(f0, levels, heard, salience)``,
        most salient first: a reading is dropped when it is one already taken read twice,
        a harmonic of it (or its subharmonic), or an upper member of its comb."""
        cfg = self.config
        floor, bin_hz = cfg.min_level_db, self.bin_hz
        same_hz = 2 * bin_hz  # one peak of coarse bins, read twice
        accepted: list[tuple[float, float, list[float]]] = []
        for f0, lv, heard, score in readings:
            strong = [n * f0 for n in heard if lv[n - 1] >= cfg.strong_level_db]
            clashes = []
            for i, (other_f0, _score, other_lv) in enumerate(accepted):
                if abs(f0 - other_f0) <= same_hz:
                    break  # one tone read twice
                if _related(f0, other_f0, bin_hz):
                    # one of the two is a harmonic of the other: the lower fundamental
                    # stands only if it is heard at harmonics the higher one lacks
                    lower = lv if f0 < other_f0 else other_lv
                    higher = other_lv if f0 < other_f0 else lv
                    k = round(max(f0, other_f0) / min(f0, other_f0))
                    explains = _lower_explains_more(lower, higher, k, floor, cfg.strong_level_db)
                    if (f0 < other_f0) != explains:
                        break
                    clashes.append(i)
                elif _explained(strong, other_f0, bin_hz):
                    break  # an upper member of a comb
            else:
                accepted = [a for i, a in enumerate(accepted) if i not in clashes]
                accepted.append((f0, score, lv))
                if len(accepted) >= self.MAX_PER_FRAME:
                    break
        return accepted

    #: The anti-alias filter stops 80 dB; a peak within 4 dB of what leaks through may be
    #: a tone above the band folded into it (a pure 12 kHz tone at 48 kHz read as 1333 Hz).
    ALIAS_DB = 76.0

    def _under_the_alias_ceiling(
        self, power: np.ndarray, positions: list[float], heard: list[int]
    ) -> bool:
        """True when the strongest harmonic heard is no stronger than a sinusoid carrying
        the input's whole mean square (the full band, before decimation) would leak
        through the anti-alias filter: it cannot be told from a folded tone."""
        if not self._recent_full:
            return False  # no decimation, nothing folds
        full = sum(self._recent_full) / len(self._recent_full)
        # a sinusoid of mean square P peaks at P/2 (sum of the window)² in a periodogram bin
        ceiling = 0.5 * full * self._window_sum**2 * 10.0 ** (-self.ALIAS_DB / 10.0)
        last = len(power) - 1
        peak = max(
            float(power[max(0, min(last, int(positions[n - 1] + 0.5) + d))])
            for n in heard
            for d in (-1, 0, 1)
        )
        return peak < ceiling

    ONE_WINDOW_SHARE = 0.95

    def _in_one_window(self, positions: list[float], heard: list[int]) -> bool:
        """True when one of the averaged periodograms holds nearly all the power at the
        harmonics heard (:attr:`ONE_WINDOW_SHARE`).

        A short loud burst of noise lies inside one window and barely reaches the next
        (they overlap by half, where the Hann window is small), yet it is in every spectrum
        averaged with that window: its random peaks stood still over three averaged
        spectra and read as a tone. Measured: a burst of 0.3-1 s inside one window holds
        0.97-1.0 of its candidates' power there; tones, even a 1.2-s one at its onset, 0.87
        at most. (A burst split over two windows holds 0.83-0.94 and can still pass.)
        """
        if self._recent_trios is None:  # once per spectrum, for all its candidates
            # each bin's power with its two neighbours', per averaged periodogram
            padded = np.zeros((len(self._recent), self._n_spectrum + 2))
            padded[:, 1:-1] = self._recent
            self._recent_trios = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
        power = self._recent_trios[:, [int(positions[n - 1] + 0.5) for n in heard]].sum(axis=1)
        total = power.sum()
        return bool(total > 0 and power.max() >= self.ONE_WINDOW_SHARE * total)

    def _heard(
        self,
        white: np.ndarray,
        levels: list[float],
        positions: list[float],
        teeth: _Teeth,
        spacing: float,
    ) -> list[int]:
        """Numbers of the harmonics heard: at or above ``min_level_db``, on a peak of their
        own (not a skirt), not a much stronger neighbour's sidelobe, and not one of the
        spectrum's ``teeth`` of a comb finer than the harmonics' ``spacing`` (bins)."""
        floor = self.config.min_level_db
        return [
            n
            for n, (v, p) in enumerate(zip(levels, positions[: len(levels)], strict=True), start=1)
            if v >= floor
            and p == p
            and not self._leaked(white, p, v)
            and not teeth.tooth(p, spacing)
        ]

    LEAK_BINS = 6  # a Hann window's sidelobes stay 8 dB above a tone 60 dB up to ~5.5 bins
    LEAK_DB = 20.0

    def _leaked(self, white: np.ndarray, position: float, level: float) -> bool:
        """True when a much stronger peak lies a few bins away: this one is its sidelobe or
        skirt (the first Hann sidelobe is 31.5 dB down, 2.5 bins out)."""
        if self._near_max is None:  # once per spectrum, for all its candidates' harmonics
            self._near_max = np.empty_like(white)
            _kernels.running_max(white, 2 * self.LEAK_BINS + 1, self._near_max)
        return bool(self._near_max[int(position + 0.5)] >= level + self.LEAK_DB)

    def lines(self, recorded_s: float) -> list[TonalLine]:
        """Link the per-window fundamentals into lines; keep those lasting ``min_duration_s``
        (``recorded_s``: the recording's length so far, where a line heard to its end
        ends)."""
        cfg = self.config
        dt = self.hop / self.fs
        tracks: list[dict] = []
        for i, (time_s, cands) in enumerate(self.frames):
            used: set[int] = set()
            for f0, sal, levels in cands:
                best, best_d = None, None
                for j, tr in enumerate(tracks):
                    if j in used or i - tr["last"] > 2:
                        continue
                    d = abs(f0 - tr["f"][-1])
                    if d <= max(2.0, 0.03 * f0, 1.5 * self.bin_hz) and (
                        best_d is None or d < best_d
                    ):
                        best, best_d = j, d
                if best is None:
                    tracks.append({"t": [time_s], "f": [f0], "s": [sal], "lv": [levels], "last": i})
                    used.add(len(tracks) - 1)
                else:
                    tr = tracks[best]
                    tr["t"].append(time_s)
                    tr["f"].append(f0)
                    tr["s"].append(sal)
                    tr["lv"].append(levels)
                    tr["last"] = i
                    used.add(best)
        if not self.follows_sweeps:
            tracks += _coinciding_pieces(tracks, cfg.min_level_db)
        tracks = _merge_tracks(
            tracks,
            max_gap_s=max(8 * dt, 3.0),
            strong_gap_s=4 * dt,
            strong_db=cfg.strong_level_db + 10,
            continued=self.follows_sweeps,
        )
        span = self.n / self.fs + (self.AVERAGE - 1) * dt  # time one averaged spectrum covers
        first, last = (self.frames[0][0], self.frames[-1][0]) if self.frames else (0.0, 0.0)
        out = []
        for tr in tracks:
            t = np.array(tr["t"])
            f = np.array(tr["f"])
            # averaged windows overlap: count the span between first and last detection only
            # (windows shortened for a short recording: three detections are enough)
            shortest = min(cfg.min_duration_s, 2 * dt) if self.shortened else cfg.min_duration_s
            if len(t) < 3 or t[-1] - t[0] < shortest:
                continue
            slope = float(np.polyfit(t, f, 1)[0])
            # a tone filling only part of an edge spectrum is weaker there (half: -3 dB)
            strength = [max(v for v in lv if v == v) for lv in tr["lv"]]
            typical = float(np.median(strength))
            at_start = t[0] <= first and strength[0] >= typical - 2.0
            at_end = t[-1] >= last and strength[-1] >= typical - 2.0
            n_h = min(len(lv) for lv in tr["lv"])
            med = np.median(np.array([lv[:n_h] for lv in tr["lv"]]), axis=0)
            f_med = float(np.median(f))
            harmonics = [
                Harmonic(h + 1, round(f_med * (h + 1), 3), round(float(med[h]), 2))
                for h in range(n_h)
                if med[h] >= cfg.min_level_db
            ]
            out.append(
                TonalLine(
                    freq_hz=f_med,
                    # the tone is present from about the first window's far edge inward;
                    # heard at full strength in the recording's first or last spectrum,
                    # it runs to the recording's edge
                    start_s=0.0 if at_start else float(max(t[0] - span / 2 + dt, 0.0)),
                    end_s=recorded_s if at_end else float(t[-1] + span / 2 - dt),
                    drift_hz_per_s=slope,
                    harmonics=harmonics,
                    snr_db=float(np.max(med)) if len(med) else 0.0,
                    salience=float(np.median(tr["s"])),
                    times_s=t,
                    freqs_hz=f,
                    coincides_with_hz=tr.get("coincides"),
                )
            )
        out = _drop_explained(out, cfg.strong_level_db, 2 * self.bin_hz)
        out.sort(key=lambda line: (line.start_s, line.freq_hz))
        return out


#: A tone whose harmonics all fall on a lower one's (200 Hz beside 100 Hz) is read as part of
#: its comb while both sound. Where it starts or stops meanwhile, the comb's multiples of
#: g step by this much (mean level above the background, dB) while its other harmonics,
#: the lower tone's own, hold within :data:`COINCIDE_STEADY_DB`
COINCIDE_STEP_DB = 10.0
COINCIDE_STEADY_DB = 4.0
#: Averaged spectra either side of such a step whose levels are compared
COINCIDE_SIDE = 2


def _coinciding_pieces(tracks: list[dict], floor_db: float) -> list[dict]:
    """Tracks of the tones read as part of a lower tone's comb (see
    :data:`COINCIDE_STEP_DB`): for each track whose harmonics 2g, 3g... (g = 2 or 3; g is
    the lower tone's too) step together while the others hold, a track at g times its
    frequency over the spectra on the step's high side where those harmonics stand
    half-way up or more, with the levels of g, 2g... as its harmonics 1, 2, .... On the
    low side they must lie under ``floor_db`` (the tone absent, not merely louder), on the
    high side above it.

    A 200 Hz motor starting while a 100 Hz one ran made no line until the 100 Hz one
    stopped (12.29 s for 8 s), and the 100 Hz line took the 200 Hz one's segment to its end.

    A track whose multiples of g are all heard throughout, and that a track at g times its
    frequency meets at either end (within :data:`COINCIDE_MEET_S`, at the level its
    multiples hold there, within :data:`COINCIDE_LEVEL_DB`), gives its whole span: the
    higher tone sounded on under it (a 200 Hz motor running 3-18 s was two lines, broken
    where a 100 Hz one ran 7-12 s).
    """
    side = COINCIDE_SIDE
    pieces = []

    def piece(tr: dict, run: range, g: int) -> dict:
        return {
            "t": [tr["t"][i] for i in run],
            "f": [g * tr["f"][i] for i in run],
            "s": [tr["s"][i] for i in run],
            "lv": [list(tr["lv"][i][g - 1 :: g]) for i in run],
            "last": tr["last"],
            "coincides": float(np.median(tr["f"])),
        }

    for tr in tracks:
        n = len(tr["t"])
        if n < 2 * side + 1:
            continue
        n_h = min(len(lv) for lv in tr["lv"])
        levels = np.maximum(np.array([lv[:n_h] for lv in tr["lv"]], np.float64), 0.0)
        levels = np.nan_to_num(levels)
        for g in (2, 3):
            mine = np.arange(g - 1, n_h, g)
            own = np.array([h for h in range(n_h) if (h + 1) % g])
            if len(mine) < 2:
                continue
            if _met_by_higher(tr, tracks, g, levels[:, mine], floor_db):
                pieces.append(piece(tr, range(n), g))
                break
            # its harmonic g is the lower tone's too: the step is its upper harmonics'
            m, o = levels[:, mine[1:]].mean(axis=1), levels[:, own].mean(axis=1)
            # the steps between spectra k - 1 and k, k = side..n - side: means of side each
            dm, do = (_side_steps(v, side) for v in (m, o))
            candidate = np.where(
                (np.abs(dm) >= COINCIDE_STEP_DB) & (np.abs(do) <= COINCIDE_STEADY_DB),
                np.abs(dm),
                -1.0,
            )
            if not len(candidate) or candidate.max() < 0:
                continue
            j = int(np.argmax(candidate))
            k, dm = j + side, float(dm[j])
            low, high = (slice(0, k), slice(k, n)) if dm > 0 else (slice(k, n), slice(0, k))
            if np.median(levels[low][:, mine[1:]].max(axis=1)) >= floor_db:
                continue  # its upper harmonics heard before it started: one tone's comb
            if np.median(m[high]) < floor_db:
                continue  # not heard after it started either
            mid = (np.median(m[low]) + np.median(m[high])) / 2
            # the run of spectra with the tone, from the step into its high side
            first, last = (k, k) if dm > 0 else (k - 1, k - 1)
            while first > 0 and m[first - 1] >= mid:
                first -= 1
            while last < n - 1 and m[last + 1] >= mid:
                last += 1
            run = range(first, last + 1)
            if len(run) < 3:
                continue
            pieces.append(piece(tr, run, g))
            break
    return pieces


def _side_steps(values: np.ndarray, side: int) -> np.ndarray:
    """The mean of ``side`` values after each point minus that of ``side`` before it, for
    the points ``side``..``len - side``."""
    cum = np.concatenate([[0.0], np.cumsum(values)])
    k = np.arange(side, len(values) - side + 1)
    return ((cum[k + side] - cum[k]) - (cum[k] - cum[k - side])) / side


#: How near a higher tone's track must end or start to a lower one's to have sounded on
#: under it (seconds), and how close its levels must be to the lower one's multiples there
#: (dB; the lower tone's own harmonic adds to the first)
COINCIDE_MEET_S = 2.5
COINCIDE_LEVEL_DB = 6.0


def _met_by_higher(
    tr: dict, tracks: list[dict], g: int, multiples: np.ndarray, floor_db: float
) -> bool:
    """Whether a track at ``g`` times ``tr``'s frequency meets ``tr`` at an end (see
    :func:`_coinciding_pieces`), ``multiples`` being ``tr``'s levels at its harmonics g, 2g...
    (spectra × harmonics): the harmonics the higher track hears (``floor_db``), two at
    least, heard at those multiples in four spectra of five."""
    f = g * float(np.median(tr["f"]))
    side = COINCIDE_SIDE
    for other in tracks:
        if other is tr or len(other["t"]) < 3:
            continue
        if abs(float(np.median(other["f"])) - f) > max(2.0, 0.01 * f):
            continue
        n_o = min(len(lv) for lv in other["lv"])
        k = min(n_o, multiples.shape[1])
        if k < 2:
            continue
        theirs = np.nan_to_num(np.array([lv[:k] for lv in other["lv"]], np.float64))
        heard = np.flatnonzero(np.median(theirs, axis=0) >= floor_db)
        if len(heard) < 2 or np.any(np.percentile(multiples[:, heard], 20, axis=0) < floor_db):
            continue
        upper = heard[1:]  # the first is the lower tone's harmonic too
        for gap, mine_at, theirs_at in (
            (tr["t"][0] - other["t"][-1], multiples[:side], theirs[-side:]),
            (other["t"][0] - tr["t"][-1], multiples[-side:], theirs[:side]),
        ):
            level_gap = abs(float(np.mean(mine_at[:, upper])) - float(np.mean(theirs_at[:, upper])))
            if 0 < gap <= COINCIDE_MEET_S and level_gap <= COINCIDE_LEVEL_DB:
                return True
    return False


def _merge_tracks(
    tracks: list[dict],
    *,
    max_gap_s: float,
    strong_gap_s: float,
    strong_db: float,
    continued: bool = False,
) -> list[dict]:
    """Join pieces of one tone broken by a few weak windows (same frequency, short gap).

    Pieces heard ``strong_db`` above the background on both sides of the gap are joined only
    across ``strong_gap_s``: a tone that loud does not fade for seconds, it stopped.

    With ``continued``, pieces of a sweeping tone are joined too: each continued straight
    across the gap (:func:`_continued`) meets the other. They are joined across any gap,
    loud or not, when another track holds the path meanwhile (:func:`_held`): the tone
    crossed that one, and the two read as one peak (a motor sweeping 100 to 140 Hz past a
    steady 127 Hz one lost 3.5 s of its line and was two lines)."""

    def loud(tr: dict) -> bool:
        return float(np.median([max(v for v in lv if v == v) for lv in tr["lv"]])) >= strong_db

    tracks = sorted(tracks, key=lambda tr: tr["t"][0])
    merged: list[dict] = []
    for tr in tracks:
        f = float(np.median(tr["f"]))
        tolerance = max(1.0, 0.01 * f)
        for prev in merged:
            gap = tr["t"][0] - prev["t"][-1]
            if gap <= 0:
                continue
            meets = continued and (
                abs(_continued(prev, tr["t"][0]) - tr["f"][0]) <= tolerance
                and abs(_continued(tr, prev["t"][-1]) - prev["f"][-1]) <= tolerance
            )
            crossed = meets and _held(tracks, prev, tr, 2 * tolerance)
            if not (gap <= max_gap_s or crossed):
                continue
            if not (meets or abs(f - float(np.median(prev["f"]))) <= tolerance):
                continue
            if gap <= strong_gap_s or crossed or not (loud(tr) and loud(prev)):
                for key in ("t", "f", "s", "lv"):
                    prev[key] = prev[key] + tr[key]
                if "coincides" in tr:  # read apart from a lower tone's comb over a part
                    prev.setdefault("coincides", tr["coincides"])
                break
        else:
            merged.append(dict(tr))
    return merged


def _held(tracks: list[dict], before: dict, after: dict, tolerance_hz: float) -> bool:
    """Whether another track (three points at least) holds the path from ``before``'s end
    to ``after``'s start somewhere between them: a point within ``tolerance_hz`` of it."""
    start, end = before["t"][-1], after["t"][0]
    return any(
        start < t < end and abs(f - _continued(before, t)) <= tolerance_hz
        for other in tracks
        if other is not before and other is not after and len(other["t"]) >= 3
        for t, f in zip(other["t"], other["f"], strict=True)
    )


def _continued(track: dict, time_s: float) -> float:
    """The frequency a track reaches at ``time_s`` continued straight on from its nearer
    end (the line fitted to its points within :data:`TonalLine.LOCAL_S` of that end)."""
    t, f = np.asarray(track["t"]), np.asarray(track["f"])
    edge = t[-1] if time_s >= t[-1] else t[0]
    near = np.abs(t - edge) <= TonalLine.LOCAL_S
    if np.count_nonzero(near) < 2:
        return float(f[near][0])
    slope, intercept = np.polyfit(t[near], f[near], 1)
    return float(slope * time_s + intercept)


def _with_sweeps(
    lines: list[TonalLine], sweeps: list[TonalLine], long: _Scale, short: _Scale
) -> list[TonalLine]:
    """The long windows' ``lines``, with the sweep search's lines (``sweeps``) where they
    hold a sweeping tone better.

    A sweep line counts when it moves at least half a ``long`` bin per long hop (slower,
    the long windows hold the tone in its bins; see :func:`_sweep_rates`). The long lines
    along its path (see :func:`_along`) are its pieces, doubles and harmonics read as
    tones: 100 to 120 Hz in 12 s was six lines at 48 kHz, each averaged spectrum holding
    the tone's three windows at three frequencies. The sweep line replaces them unless
    they are one line, at its fundamental, over most of it: then the long windows held the
    tone, and resolve it better. A sweep line that keeps within a ``short`` bin of steady
    long lines is their mixture, not a tone: two tones 8 Hz apart at 8 kHz fall in one
    of its 3.9 Hz bins, and their beating wanders through it.
    """
    hop_s = long.hop / long.fs
    span_s = long.n / long.fs + (long.AVERAGE - 1) * hop_s  # one averaged spectrum's span
    slowest = 0.5 * long.bin_hz / hop_s

    def moves(line: TonalLine) -> bool:
        rates = _sweep_rates(line)
        return len(rates) > 0 and float(np.median(rates)) >= slowest

    steady = [line for line in lines if not moves(line)]
    out = list(lines)
    for sweep in sweeps:
        if not moves(sweep) or _among(sweep, steady, short.bin_hz):
            continue
        rates = _sweep_rates(sweep)
        # where one averaged long spectrum reads the tone: anywhere it passed meanwhile
        reach_hz = float(np.percentile(rates, 90)) * span_s / 2 + long.bin_hz
        along = []
        for line in out:
            number = _along(line, sweep, reach_hz, long.config.max_harmonics)
            if number is not None:
                along.append((line, number))
        if len(along) == 1 and along[0][1] == 1:
            line = along[0][0]
            held = min(line.end_s, sweep.end_s) - max(line.start_s, sweep.start_s)
            if held >= 0.8 * (sweep.end_s - sweep.start_s):
                continue
        out = [line for line in out if all(line is not other for other, _ in along)]
        out.append(sweep)
    return out


def _sweep_rates(line: TonalLine, over_s: float = 1.0) -> np.ndarray:
    """How fast a line's fundamental moves (Hz/s, unsigned), between points of its track
    about ``over_s`` apart: a motor that speeds up and slows down again sweeps, though its
    line's drift (one straight line's slope) is nil."""
    t, f = np.asarray(line.times_s), np.asarray(line.freqs_hz)
    if len(t) < 2:
        return np.empty(0)
    lag = max(1, int(over_s / float(np.median(np.diff(t))) + 0.5))
    lag = min(lag, len(t) - 1)
    return np.abs(f[lag:] - f[:-lag]) / (t[lag:] - t[:-lag])


def _among(sweep: TonalLine, lines: list[TonalLine], within_hz: float) -> bool:
    """Whether most of a sweep line's track (four fifths) lies within ``within_hz`` of one
    of ``lines`` at the same time."""
    t, f = np.asarray(sweep.times_s), np.asarray(sweep.freqs_hz)
    near = np.zeros(len(t), bool)
    for line in lines:
        during = (t >= line.times_s[0]) & (t <= line.times_s[-1])
        there = np.interp(t[during], line.times_s, line.freqs_hz)
        near[during] |= np.abs(f[during] - there) <= within_hz
    return bool(len(t)) and float(np.mean(near)) >= 0.8


def _along(line: TonalLine, sweep: TonalLine, reach_hz: float, max_number: int) -> int | None:
    """The harmonic number k (1 to ``max_number``) of ``sweep`` that ``line`` follows: most
    of its track (four fifths) within k ``reach_hz`` of k times the sweep's fundamental at
    the same times, and most of it (half) within the sweep's track; None if none."""
    t = np.asarray(line.times_s)
    inside = (t >= sweep.times_s[0]) & (t <= sweep.times_s[-1])
    if np.count_nonzero(inside) < max(2, 0.5 * len(t)):
        return None
    fundamental = np.interp(t[inside], sweep.times_s, sweep.freqs_hz)
    freqs = np.asarray(line.freqs_hz)[inside]
    for number in range(1, max_number + 1):
        off = np.abs(freqs - number * fundamental)
        if np.mean(off <= number * reach_hz) >= 0.8:
            return number
    return None


def _peaks(white: np.ndarray, floor: float) -> np.ndarray:
    """Bins (ascending) of the local maxima of a whitened spectrum at or above ``floor``."""
    inner = white[1:-1]
    top = (inner >= floor) & (inner >= white[:-2]) & (inner > white[2:])
    return np.flatnonzero(top) + 1


#: A peak is a comb's tooth unless it stands this far above the loudest tooth beside it (a
#: clank's ring is narrow: at 10 clanks per second the tooth on it stands 6-8 dB above the
#: next ones).
COMB_TOOTH_DB = 10.0
#: The teeth beside a peak count from this level above the background (a weak comb's teeth
#: lie under ``min_level_db``, where one of them can still poke above it).
COMB_TEETH_DB = 3.0
#: Heard peaks evenly spaced this many times over make a spectrum a comb.
COMB_SPACINGS = 8


class _Teeth:
    """Which heard peaks of one whitened spectrum are teeth of a comb finer than a
    candidate's harmonics, read once per spectrum (a candidate asks :meth:`tooth` for each
    harmonic it hears).

    A regular clank train's spectrum is a comb at multiples of its rate, shaped by the
    clank's ringing: any multiple of the rate finds its "harmonics" on the teeth (a 10 Hz
    train made lines at 220-330 Hz whose fundamentals were never heard). A tooth has peaks
    at ±d and ±2d about it (further along one side where the band ends), and stands less
    than :data:`COMB_TOOTH_DB` above the loudest of them. In a spectrum that is a comb (at
    least :data:`COMB_SPACINGS` pairs of neighbouring heard peaks share one spacing, at
    least 2.5 bins, within a bin: a tone's harmonics make at most ``max_harmonics - 1``
    such pairs, a clank train's comb dozens) d is its spacing, and three of the four teeth,
    counted from
    :data:`COMB_TEETH_DB`, make a tooth. Elsewhere d is the distance to the nearest heard
    peak beyond this one's main lobe, and all four teeth must be heard: two tones at 120
    and 180 Hz put their harmonics at 120, 180, 240 and 360 Hz, and 240 Hz is not a tooth
    of a 60 Hz comb for it.

    Parameters
    ----------
    white : numpy.ndarray
        The spectrum in dB above its local background.
    floor : float
        Level of a heard peak (``min_level_db``).
    """

    def __init__(self, white: np.ndarray, floor: float) -> None:
        # one kernel: as numpy calls on a few hundred peaks it cost ~0.6 ms a spectrum, a
        # fifth of the tone search on an hour of egress
        peaks = np.empty(len(white), np.int64)
        spacing = np.empty(len(white))
        on_comb = np.empty(len(white), np.bool_)
        count, comb = _kernels.comb_teeth(
            white, floor, COMB_TEETH_DB, COMB_TOOTH_DB, COMB_SPACINGS, peaks, spacing, on_comb
        )
        self.peaks = peaks[:count]
        self.comb = None if comb < 0 else float(comb)
        self.comb_teeth = self.peaks[on_comb[:count]]  # the comb's teeth (bins), when it is one
        # looked up per harmonic heard: a dict of plain values beats numpy's scalar access
        self._at = dict(
            zip(
                self.peaks.tolist(),
                zip(spacing[:count].tolist(), on_comb[:count].tolist(), strict=True),
                strict=True,
            )
        )

    def tooth(self, position: float, spacing: float) -> bool:
        """Whether the heard peak at ``position`` (bins) is a tooth of a comb finer than
        ``spacing`` (the candidate's harmonic spacing, bins: the teeth at most half of it
        apart)."""
        k = int(position + 0.5)
        found = self._at.get(k) or self._at.get(k - 1 if position < k else k + 1)
        if found is None:
            return False  # on no heard peak of its own: nothing to say
        local_d, on_comb = found
        if self.comb is not None and self.comb <= spacing / 2 + 1.0:
            return on_comb
        return local_d <= spacing / 2 + 1.0


def _drop_explained(
    lines: list[TonalLine], strong_db: float, same_hz: float = 0.0
) -> list[TonalLine]:
    """Drop lines whose strong harmonics are all multiples of a more salient concurrent line
    (or that lie within ``same_hz`` of it: one tone in coarse bins); a line read apart from a
    lower one's comb (``coincides_with_hz``) is neither dropped nor drops others."""
    keep = []
    ranked = sorted(lines, key=lambda line: line.salience, reverse=True)
    for line in ranked:
        strong = [h.freq_hz for h in line.harmonics if h.level_db >= strong_db] or [line.freq_hz]
        shadowed = line.coincides_with_hz is None and any(
            min(line.end_s, other.end_s) - max(line.start_s, other.start_s)
            > 0.5 * (line.end_s - line.start_s)
            and (
                abs(line.freq_hz - other.freq_hz) <= same_hz
                or _explained(strong, other.freq_hz, same_hz / 2)
                or _related(line.freq_hz, other.freq_hz, same_hz / 2)
            )
            for other in keep
            # a tone read apart from a lower one's comb explains none of that one
            if other.coincides_with_hz is None
        )
        if not shadowed:
            keep.append(line)
    return keep


def _explained(freqs: list[float], f0: float, tol_hz: float = 0.0) -> bool:
    """True when every frequency is (near) a multiple of ``f0``: already accounted for.

    Within ``tol_hz`` or 0.2 % of the frequency for the first eight (the harmonics a line
    measures), within ``tol_hz`` alone above: a comb's upper members (a click train's, a
    buzzing gear's) lie on its grid, where a tone unrelated to it rarely falls."""

    def on_grid(f: float) -> bool:
        n = round(f / f0)
        return n >= 1 and abs(f - n * f0) <= (max(tol_hz, 0.002 * f) if n <= 8 else tol_hz)

    return all(on_grid(f) for f in freqs)


def _lower_explains_more(
    lower: list[float], higher: list[float], k: int, floor: float, strong: float
) -> bool:
    """Whether a fundamental is heard at harmonics its k-th harmonic's own series lacks:
    one of them ``strong`` (as a line needs one: a tone for certain), or together at power
    at least a quarter of the higher tone's strongest (a flat comb: f0, 2f0, 3f0 score
    alike in a window, and only f0 explains every member). Levels in dB above the
    background, of harmonics 1, 2, ...; below ``floor``: not heard; powers compared through
    :func:`_knee` (a clean comb's one harmonic on an empty background stood 75 dB up, its
    others 50).

    Power alone was not enough: a 257.5 Hz motor's 3rd harmonic, 42 dB up where the wind
    is weak, outweighed its fundamental and octave 29 and 34 dB up, and the three were
    reported as three tones."""
    extra = [v for n, v in enumerate(lower, start=1) if n % k and v >= floor]
    if not extra:
        return False
    if max(extra) >= strong:
        return True
    power = sum(10 ** (float(_knee(v)) / 10) for v in extra)
    return power >= 0.25 * 10 ** (float(_knee(max(higher))) / 10)


def _without_common_subharmonics(
    readings: list[tuple[float, list[float], list[int], float]], bin_hz: float, strong: float
) -> list[tuple[float, list[float], list[int], float]]:
    """Drop the readings that are two tones' common subharmonic.

    Motors at 100 and 150 Hz put peaks at 100, 150, 200, 300 and 450 Hz: 50 Hz hears its
    harmonics 2, 3, 4 and 6 there and outscores both, and each is "a harmonic of it". A
    reading whose strong harmonics (``strong`` dB up) all belong to the series of one or
    two higher readings, each heard at its own fundamental and one more harmonic and
    neither a harmonic of the other, is those tones, not one (its own fundamental, when
    strong, belongs to neither and keeps it). Readings ``(f0, levels, heard, salience)``."""

    def series(reading) -> list[float]:
        f0, _lv, heard, _score = reading
        return [n * f0 for n in heard]

    tones = [r for r in readings if r[2][0] == 1 and len(r[2]) >= 2]
    kept = []
    for reading in readings:
        f0, lv, heard, _score = reading
        loud = [n * f0 for n in heard if lv[n - 1] >= strong]
        higher = [t for t in tones if t[0] > f0 + bin_hz]
        covered = False
        for i, a in enumerate(higher):
            for b in [None, *higher[i + 1 :]]:
                if b is not None and _related(a[0], b[0], bin_hz):
                    continue
                peaks = series(a) + (series(b) if b is not None else [])
                if all(any(abs(f - p) <= max(bin_hz, 0.003 * f) for p in peaks) for f in loud):
                    covered = True
                    break
            if covered:
                break
        if not covered:
            kept.append(reading)
    return kept


#: Levels above the background compared between candidates rise a tenth as fast past this:
#: a harmonic that far up is there for certain, and how far up says more about its
#: background than about it. A clean tone on an exact bin stands ~100 dB up against an
#: empty background, the next harmonic between bins ~50 dB against its own skirts: compared
#: as they were, that one harmonic outweighed a comb's other seven and its fundamental was
#: lost (100 Hz read as 300, 400, 500 and 700 Hz). The levels reported are not changed.
KNEE_DB = 45.0
KNEE_SLOPE = 0.1


def _knee(level_db):
    """Levels in dB above the background, compressed past :data:`KNEE_DB` (order kept:
    a peak still stands over its own sidelobes)."""
    over = np.maximum(np.asarray(level_db, np.float32) - KNEE_DB, 0.0)
    return level_db - (1.0 - KNEE_SLOPE) * over


def _related(f: float, g: float, tol_hz: float = 0.0) -> bool:
    """True when one of f and g is the 2nd to 8th harmonic of the other (within ``tol_hz``
    or 0.2 % of the higher). Two tones a few per cent apart are two tones, not one."""
    hi, lo = max(f, g), min(f, g)
    n = round(hi / lo)
    return 2 <= n <= 8 and abs(hi - n * lo) <= max(tol_hz, 0.002 * hi)
