"""One streaming pass over a recording: levels, PSD, bands, noise floor, features,
tonal lines, impulses and activity segments.

:class:`AudioAnalyzer` is the accumulator (``update(block)`` then
``result()``); :func:`analyze` runs it over a file read in blocks. Memory is
bounded whatever the duration: spectra are reduced as they are computed,
per-frame values go to a disk-backed table, and the spectrogram is pooled
into a fixed number of columns.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import queue
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from zhurong_tk._memory import hand_back_freed_memory
from zhurong_tk.audio import _kernels
from zhurong_tk.audio import bands as bands_mod
from zhurong_tk.audio import features as features_mod
from zhurong_tk.audio.frames_csv import CsvLayout, FramesCsv, FrameSink
from zhurong_tk.audio.framestore import FrameStore
from zhurong_tk.audio.impulses import (
    ONSET_RANGE_DB,
    Impulse,
    ImpulseTrain,
    attack_levels,
    detect_impulses,
    envelope_step,
    fill_in_onsets,
    impulse_trains,
    refine_onsets,
)
from zhurong_tk.audio.levels import (
    LEVEL_CELLS,
    LEVEL_MIN_DB,
    LEVEL_STEP_DB,
    MAX_SAMPLE,
    LevelHistogram,
    calibrate,
    levels_from_histogram,
    to_db,
    usable_samples,
)
from zhurong_tk.audio.segments import (
    Segment,
    SegmentConfig,
    masking_spans,
    segment,
    set_snr,
)
from zhurong_tk.audio.spectral import (
    Psd,
    SpectrogramPool,
    StftConfig,
    WelchAccumulator,
    stft_block,
)
from zhurong_tk.audio.tonal import TonalConfig, TonalLine, TonalTracker
from zhurong_tk.audio.tone_edges import segments_by_line, tone_segments_again
from zhurong_tk.errors import ParameterError
from zhurong_tk.io.audio import AudioInfo, AudioReader
from zhurong_tk.io.pds4 import SignalRequest

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


#: Largest --sensitivity accepted, Pa per full scale (a full-scale sample at 1e6 Pa is
#: 274 dB SPL; microphones sit around 1e-2 to 1e2).
MAX_SENSITIVITY_PA = 1e6


@dataclasses.dataclass(frozen=True)
class AnalysisParams:
    """Everything that shapes an analysis (recorded in the report).

    Attributes
    ----------
    n_fft, hop : int or None
        STFT frame length and step in samples (Hann window, no centring). By
        default the power of two nearest 85 ms at the file's rate (4096 at 48 kHz,
        512 at 8 kHz, 8192 at 100 kHz) and a quarter of it.
    mix : bool
        Average the channels into one before analysing; otherwise each channel alone.
    sensitivity_pa : float or None
        Pascal per digital full scale; adds Pa and dB SPL (re 20 µPa) to the levels.
    user_bands : tuple of (lo, hi)
        Extra bands in Hz, clipped to Nyquist.
    noise_percentile : float
        Percentile of each bin's periodogram level over time that estimates the noise
        floor (the mean noise PSD: the percentile ÷ -ln(1 - q/100), as noise periodograms
        are exponential; a low percentile keeps events out of it).
    max_columns : int
        Time columns of the pooled spectrogram, at most. The default is about the
        spectrogram figure's width in pixels: more columns would only be resampled away.
    clip_level : float or None
        Absolute sample value (full scale 1.0) from which a sample counts as clipped. By
        default 0.999, or the positive full scale of an integer encoding where that is
        lower (127/128 for 8-bit PCM, whose positive rail reads 0.992); see
        :func:`default_clip_level`.
    frames_per_block : int
        STFT frames computed per block.
    """

    n_fft: int | None = None
    hop: int | None = None
    window: str = "hann"
    mix: bool = False
    sensitivity_pa: float | None = None
    user_bands: tuple[tuple[float, float], ...] = bands_mod.DEFAULT_USER_BANDS
    noise_percentile: float = 10.0
    max_columns: int = 1100
    clip_level: float | None = None
    frames_per_block: int = 256
    tonal: TonalConfig = dataclasses.field(default_factory=TonalConfig)
    segments: SegmentConfig = dataclasses.field(default_factory=SegmentConfig)

    def resolved(self, sr: float, *, integer_bits: int | None = None) -> AnalysisParams:
        """These parameters with ``n_fft``/``hop`` filled in for sample rate ``sr``, and
        ``clip_level`` for samples of ``integer_bits`` bits (None: float or unknown)."""
        n_fft = self.n_fft or 1 << max(4, round(math.log2(0.085 * sr)))
        clip = self.clip_level or default_clip_level(integer_bits)
        return dataclasses.replace(
            self, n_fft=n_fft, hop=self.hop or max(1, n_fft // 4), clip_level=clip
        )

    def __post_init__(self) -> None:
        if self.n_fft is not None and (self.n_fft < 16 or self.n_fft & (self.n_fft - 1)):
            raise ParameterError(f"n_fft must be a power of two >= 16, got {self.n_fft}")
        if self.hop is not None and not 0 < self.hop <= (self.n_fft or self.hop):
            raise ParameterError(f"hop must be in 1..n_fft, got {self.hop}")
        if self.sensitivity_pa is not None and not 0 < self.sensitivity_pa <= MAX_SENSITIVITY_PA:
            # squared levels of a larger one overflow float64 (1e300 Pa: inf in every column)
            raise ParameterError(
                f"sensitivity must be positive and at most {MAX_SENSITIVITY_PA:g} Pa per full "
                f"scale, got {self.sensitivity_pa}"
            )
        if not 0 < self.noise_percentile < 100:
            raise ParameterError(
                f"noise_percentile must be in (0, 100), got {self.noise_percentile}"
            )
        if self.max_columns < 10:
            raise ParameterError(f"max_columns must be at least 10, got {self.max_columns}")
        if self.clip_level is not None and not 0 < self.clip_level <= 1:
            raise ParameterError(f"clip_level must be in (0, 1], got {self.clip_level}")


def default_clip_level(integer_bits: int | None) -> float:
    """The level from which a sample counts as clipped, for samples of ``integer_bits``
    bits (None: float or compressed).

    0.999 full scale (-0.009 dBFS), or a ``b``-bit integer encoding's positive rail
    ``(2^(b-1) - 1) / 2^(b-1)`` where that is lower: only at 8 bits (0.992), where a
    fixed 0.999 counted the negative rail only. From 16 bits up the rail lies above
    0.999, and 0.999 also catches a signal clipped before it was scaled a little down.
    """
    if integer_bits is None or integer_bits < 2:
        return 0.999
    return min(0.999, (2 ** (integer_bits - 1) - 1) / 2 ** (integer_bits - 1))


@dataclasses.dataclass
class BandLevel:
    label: str
    lo_hz: float
    hi_hz: float
    level_db: float  # power in the band from the mean PSD, dB re full scale² (or re 20 µPa)
    noise_floor_db: float
    snr_db: float
    L10_db: float
    L50_db: float
    L90_db: float


@dataclasses.dataclass
class ChannelAnalysis:
    """Everything found in one channel (or the mix)."""

    channel: int | str
    samples: int
    levels: dict[str, Any]
    psd: Psd
    noise_floor: np.ndarray
    spectral_slope: dict[str, float] | None
    bands: dict[str, list[BandLevel]]
    tonal_lines: list[TonalLine]
    impulses: list[Impulse]
    trains: list[ImpulseTrain]
    segments: list[Segment]
    frame_columns: list[str]
    frames: np.ndarray
    spectrogram: tuple[np.ndarray, np.ndarray, np.ndarray]  # times, freqs, PSD (n_cols, n_bins)
    warnings: list[str]
    frame_store: FrameStore | None = None  # the file behind ``frames``; read in chunks by writers

    def frame_chunks(self, rows: int = 32768):
        """Yield blocks of the frame table (``frames`` rows) without mapping it whole."""
        if self.frame_store is not None and self.frame_store.rows:
            yield from (block for _, block in self.frame_store.chunks(rows))
        else:
            for start in range(0, len(self.frames), rows):
                yield np.asarray(self.frames[start : start + rows])


@dataclasses.dataclass
class AudioAnalysis:
    """The result of :func:`analyze`: per-channel analyses plus the input's facts."""

    info: AudioInfo | None
    sr: float
    params: AnalysisParams
    stft: StftConfig
    channels: list[ChannelAnalysis]
    warnings: list[str]

    def to_report(self) -> dict[str, Any]:
        """The JSON-able report (``report.json``)."""
        from zhurong_tk.io.outputs import report

        unit = "Pa" if self.params.sensitivity_pa else "FS"
        return report(
            "audio.analyze",
            SCHEMA_VERSION,
            input=None if self.info is None else dataclasses.asdict(self.info),
            parameters={
                "n_fft": self.stft.n_fft,
                "hop": self.stft.hop,
                "window": self.stft.window,
                "frame_s": self.stft.n_fft / self.sr,
                "hop_s": self.stft.hop / self.sr,
                "mix": self.params.mix,
                "sensitivity_pa_per_fs": self.params.sensitivity_pa,
                "noise_percentile": self.params.noise_percentile,
                "clip_level": self.params.clip_level,
                "psd_units": f"{unit}^2/Hz",
                "level_reference": "dB re 20 uPa" if unit == "Pa" else "dBFS",
                "tonal": dataclasses.asdict(self.params.tonal),
                "segments": dataclasses.asdict(self.params.segments),
            },
            warnings=self.warnings,
            channels=[_channel_report(ch, self.params) for ch in self.channels],
        )


def _channel_report(ch: ChannelAnalysis, params: AnalysisParams) -> dict[str, Any]:
    psd = ch.psd
    return {
        "channel": ch.channel,
        "samples": ch.samples,
        "levels": ch.levels,
        "warnings": ch.warnings,
        "psd": {
            "n_segments": psd.n_segments,
            "freqs_hz": psd.freqs,
            "mean": psd.mean,
            "median": psd.median,
            "noise_floor": ch.noise_floor,
        },
        "spectral_slope": ch.spectral_slope,
        "bands": {name: [dataclasses.asdict(b) for b in items] for name, items in ch.bands.items()},
        "segments": [s.to_dict() for s in ch.segments],
        "tonal_lines": [line.to_dict() for line in ch.tonal_lines],
        "impulses": {
            "count": len(ch.impulses),
            "events": [dataclasses.asdict(i) for i in ch.impulses],
            "trains": [dataclasses.asdict(t) for t in ch.trains],
        },
    }


#: A mean at least this fraction of the RMS (DC holding >= 1 % of the power, -20 dB) is
#: warned of: the Hann window passes a quarter of the DC power into the first bin above
#: 0 Hz, enough to rule a lowest band that holds a small share of the signal. Noise alone
#: stays far below it (its mean over n samples is ~RMS/sqrt(n)), and so does a tone over
#: more than a few of its periods.
DC_WARN_FRACTION = 0.1


#: Periodograms counted into the per-frequency level histograms, at most (about).
MAX_LEVEL_FRAMES = 8192


class _Stage:
    """A worker thread fed in order through a bounded queue (memory stays flat if it falls
    behind). Its first error is kept, the rest of its feed drained, and :meth:`finish`
    re-raises the error in the caller's thread."""

    def __init__(self, work: Callable[..., None], name: str, *, depth: int) -> None:
        self._work = work
        self._feed: queue.Queue = queue.Queue(maxsize=depth)
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, *item: Any) -> None:
        """Queue work; raise the stage's error instead once it has one (the pass stops)."""
        if self._errors:
            raise self._errors[0]
        self._feed.put(item)

    def _run(self) -> None:
        while True:
            item = self._feed.get()
            if item is None:
                return
            if not self._errors:
                try:
                    self._work(*item)
                except BaseException as exc:
                    self._errors.append(exc)

    def finish(self, *, quietly: bool = False) -> None:
        """Wait until everything fed is done; re-raise the stage's error unless ``quietly``."""
        if self._thread.is_alive():
            self._feed.put(None)
            self._thread.join()
        if self._errors and not quietly:
            raise self._errors[0]


class _Channel:
    """Streaming state of one channel.

    Three threads share the work, so that both cores are busy through the pass: the
    caller's reads the samples and computes the spectra, a reduction stage turns the
    spectra into features, bands, PSD sums and histograms, and a tone stage runs the
    long-window tone search. The FFTs and the numba kernels release the GIL.
    """

    def __init__(
        self,
        stft: StftConfig,
        params: AnalysisParams,
        band_sets: dict[str, list[bands_mod.Band]],
        expected_frames: int,
        label: int | str,
        sink: FrameSink | None = None,
        duration_s: float | None = None,
    ) -> None:
        self.stft = stft
        self.params = params
        self.label = label
        self.sink = sink
        self.band_sets = band_sets
        self.freqs = stft.freqs
        self.tail = np.empty(0, np.float32)
        self._scratch: tuple | None = None
        self._windowed: np.ndarray | None = None  # the caller's thread's FFT input, reused
        n_oct = len(band_sets["octave"])
        # the onset strength sums the third-octave bands of at least 4 bins: a 1-2-bin band's
        # level swings ~6 dB frame to frame in plain noise, and a few of them together made
        # false onsets in wind (segments take octave bands of >= 4 bins likewise)
        thirds = band_sets["third_octave"]
        narrow = next(
            (i for i, b in enumerate(thirds) if b.bins(stft.sr / stft.n_fft) >= 4), len(thirds)
        )
        self._third = slice(n_oct + narrow, n_oct + len(thirds))
        self._prev_third = np.full(len(thirds) - narrow, np.nan)
        self._onset: list[np.ndarray] = []
        # level distribution over time of every band and of the frame level (last row), for
        # L10/L50/L90 without reading the frame table back: 0.1 dB cells from -300 to +200 dB
        n_bands = sum(len(items) for items in band_sets.values())
        self._level_hist = np.zeros((n_bands + 1, LEVEL_CELLS), np.int64)
        self.frames_done = 0
        self.samples = 0
        self.sum_sq = 0.0
        self.sum = 0.0  # for the DC offset
        self.peak = 0.0
        self.clipped = 0
        self.non_finite = 0
        self.beyond = 0
        # [start, end) samples of each zero-filled stretch, to tell its edges' clicks from sound
        self.repairs: list[list[int]] = []
        self.welch = WelchAccumulator(stft)
        self.scale = stft.density_scale()
        # Non-overlapping periodograms only (overlapped ones add little to a level distribution),
        # and at most ~MAX_LEVEL_FRAMES of them spread evenly over a long file: the histogram's
        # scattered increments are the pass's dearest part (~40 µs a frame, cache misses), and
        # 8k independent periodograms pin a bin's median to ~1.6 % (0.07 dB), below the
        # histogram's 0.1 dB cells.
        step = max(1, stft.n_fft // stft.hop, -(-expected_frames // MAX_LEVEL_FRAMES))
        self.hist = LevelHistogram(self.scale, frame_step=step)
        self.pool = SpectrogramPool(
            stft, expected_frames=expected_frames, max_columns=params.max_columns
        )
        # the tone search's decimated signal, on disk (~80 MB an hour): each tone's edges are
        # read again in its own harmonics' bins at the end (see tone_edges)
        self.decimated = FrameStore(1)
        self.tonal = TonalTracker(stft.sr, params.tonal, duration_s=duration_s, keep=self.decimated)
        self.band_lo = np.concatenate([[b.bin_lo for b in bs] for bs in band_sets.values()]).astype(
            np.int64
        )
        self.band_hi = np.concatenate([[b.bin_hi for b in bs] for bs in band_sets.values()]).astype(
            np.int64
        )
        self.band_weights = np.array(
            [(b.weight_lo, b.weight_hi) for bs in band_sets.values() for b in bs], np.float64
        ).reshape(-1, 2)
        # |X|² summed over a band → mean-square power in that band (one-sided density × df)
        self.band_factor = self.scale[len(self.scale) // 2] * (stft.sr / stft.n_fft)
        self.store = FrameStore(2 + len(features_mod.FEATURE_NAMES) + len(self.band_lo))
        # the high-passed energy in steps of a third of a millisecond, on disk (43 MB an
        # hour): onsets are placed in it, not at frame times
        self._env_step = envelope_step(stft.sr)
        self._env_state = np.zeros(4)
        self.envelope = FrameStore(1)
        # each queued block of spectra is ~4 MB: two in the queue keep the stages busy
        self._reduce = _Stage(self._reduce_frames, "zhurong-reduce", depth=2)
        self._tone = _Stage(self.tonal.update, "zhurong-tonal", depth=4)

    def finish_stages(self, *, quietly: bool = False) -> None:
        """Wait for the reduction and the tone search to consume every block."""
        self._reduce.finish(quietly=quietly)
        self._tone.finish(quietly=quietly)

    def update(
        self,
        x: np.ndarray,
        *,
        clipped: int | None = None,
        repairs: tuple[int, int, np.ndarray] | None = None,
    ) -> None:
        """Feed samples; ``clipped`` counts clipping in the inputs of a mix instead, and
        ``repairs`` (non-finite count, count beyond :data:`MAX_SAMPLE`, where the mix is
        usable) the bad samples its inputs had before they were made 0."""
        x = np.ascontiguousarray(x, np.float32)
        if len(x):
            stats = _sample_stats(x, self.params.clip_level)
            non_finite, beyond, peak, own_clipped, total, sum_sq = stats
            clipped = own_clipped if clipped is None else clipped
            if repairs is not None:
                self.non_finite += repairs[0]
                self.beyond += repairs[1]
                _add_repairs(self.repairs, repairs[2], self.samples)
            if non_finite or beyond:
                self.non_finite += non_finite
                self.beyond += beyond
                usable = usable_samples(x)
                _add_repairs(self.repairs, usable, self.samples)
                x = np.where(usable, x, np.float32(0.0))
            self.peak = max(self.peak, float(peak))
            self.clipped += int(clipped)
            self.sum_sq += sum_sq
            self.sum += total
            self.samples += len(x)
            self._tone.put(x)
            steps = np.empty((len(x) // self._env_step + 1, 1), np.float32)
            squares = np.empty(len(x), np.float32)
            done = _kernels.onset_envelope(x, self._env_step, self._env_state, squares, steps[:, 0])
            self.envelope.append(steps[:done])
        buffer = np.concatenate([self.tail, x]) if len(self.tail) else x
        n_fft, hop = self.stft.n_fft, self.stft.hop
        if len(buffer) < n_fft:
            self.tail = buffer
            return
        n_frames = (len(buffer) - n_fft) // hop + 1
        for first in range(0, n_frames, self.params.frames_per_block):
            count = min(self.params.frames_per_block, n_frames - first)
            seg = buffer[first * hop : first * hop + n_fft + (count - 1) * hop]
            self._frames(seg, count)
        self.tail = buffer[n_frames * hop :].copy()

    def _frames(self, seg: np.ndarray, count: int) -> None:
        stft = self.stft
        energy = np.empty(count, np.float64)
        _kernels.frame_energy(seg, stft.n_fft, stft.hop, energy)
        if self._windowed is None:
            self._windowed = np.empty((self.params.frames_per_block, stft.n_fft), np.float32)
        self._reduce.put(stft_block(seg, stft, scratch=self._windowed), energy)

    def _reduce_frames(self, spec: np.ndarray, energy: np.ndarray) -> None:
        stft = self.stft
        count, n_bins = spec.shape
        if self._scratch is None:
            scratch_p = np.empty(n_bins, np.float32)
            self._scratch = (
                scratch_p,
                scratch_p.view(np.int32),
                np.empty(n_bins, np.float32),
                np.zeros(n_bins, np.float32),
            )
        scratch_p, scratch_bits, scratch_mag, prev_mag = self._scratch
        # the kernels write straight into the frame table's rows: time, RMS, features, bands
        rows = np.empty((count, self.store.n_columns), np.float32)
        rows[:, 0] = stft.frame_times(self.frames_done, count)
        band_col = 2 + len(features_mod.FEATURE_NAMES)
        take = self.hist.take(count)
        cols = self.pool.columns(count)
        _kernels.reduce_frames(
            spec,
            self.freqs,
            prev_mag,
            0.85,
            1e-10,
            self.band_lo,
            self.band_hi,
            self.band_weights,
            rows[:, band_col:],
            self.welch._sum,
            self.hist.hist,
            self.hist.log2_scale,
            self.hist.db_min,
            self.hist.db_step,
            take,
            self.hist.pending,
            self.hist.pending_count,
            self.pool._sum,
            cols,
            scratch_p,
            scratch_bits,
            scratch_mag,
            rows[:, 2:band_col],
        )
        self.welch.n_segments += count
        self.pool.counted(cols)
        onset = np.empty(count, np.float32)
        _kernels.frame_levels(
            rows,
            band_col,
            self.band_factor,
            energy,
            stft.n_fft,
            self._third.start,
            self._third.stop,
            self._prev_third,
            self._level_hist,
            LEVEL_MIN_DB,
            LEVEL_STEP_DB,
            ONSET_RANGE_DB,
            onset,
        )
        self._onset.append(onset)
        self.store.append(rows)
        if self.sink is not None:
            self.sink.add(self.label, rows)
        self.frames_done += count

    def release(self) -> None:
        """Drop the accumulators (after :meth:`result`); the frame table stays."""
        self.hist = self.pool = self.welch = self.tonal = None  # type: ignore[assignment]
        self._level_hist = self._scratch = self._windowed = None  # type: ignore[assignment]
        self._onset = []

    def result(self) -> ChannelAnalysis:
        self.finish_stages()
        params, stft = self.params, self.stft
        frames = self.store.array()
        warnings: list[str] = []
        if self.non_finite:
            warnings.append(f"{self.non_finite} non-finite samples (NaN/Inf) were replaced by 0")
        if self.beyond:
            warnings.append(
                f"{self.beyond} samples beyond ±{MAX_SAMPLE:g} full scale (corrupt float data)"
                " were replaced by 0"
            )
        if self.clipped:
            where = " in an input channel of the mix" if params.mix else ""
            warnings.append(
                f"{self.clipped} samples at or beyond ±{params.clip_level} full scale{where}"
                " (clipping)"
            )
        if self.samples and self.peak == 0.0:
            warnings.append("digital silence: every sample is zero")
        if self.frames_done == 0:
            warnings.append(f"shorter than one analysis frame ({stft.n_fft} samples): levels only")
        quiet_s = params.segments.background_s
        duration_s = self.samples / stft.sr
        if quiet_s is not None and quiet_s[1] > duration_s:
            # still usable (a batch's files differ in length), but not what was asked for
            warnings.append(
                f"the background stretch {quiet_s[0]:g}-{quiet_s[1]:g} s runs past the end"
                f" ({duration_s:.3g} s): read from {quiet_s[0]:g}-{duration_s:.3g} s"
            )

        mean_sq = self.sum_sq / self.samples if self.samples else 0.0
        dc = self.sum / self.samples if self.samples else 0.0
        if mean_sq > 0 and dc * dc >= DC_WARN_FRACTION**2 * mean_sq:
            warnings.append(
                f"DC offset of {dc:.3g} full scale ({100 * abs(dc) / math.sqrt(mean_sq):.0f} % of"
                f" the RMS): it leaks into the lowest bands (below {2 * stft.sr / stft.n_fft:.3g}"
                " Hz); the PSD and levels include it"
            )
        rms_dbfs = float(to_db(mean_sq))
        peak_dbfs = float(to_db(self.peak**2))
        stats = levels_from_histogram(self._level_hist[-1])
        sens = params.sensitivity_pa
        levels: dict[str, Any] = {
            "rms": calibrate(rms_dbfs, sens),
            "peak": calibrate(peak_dbfs, sens),
            "crest_factor_db": peak_dbfs - rms_dbfs if math.isfinite(rms_dbfs) else None,
            "statistical": {k: calibrate(v, sens) for k, v in stats.items()},
            "short_term_window_s": stft.n_fft / stft.sr,
            "clipped_samples": self.clipped,
            "clipped_fraction": self.clipped / self.samples if self.samples else 0.0,
            "non_finite_samples": self.non_finite,
            "out_of_range_samples": self.beyond,
            "zero_filled_stretches": len(self.repairs),
            "dc_offset": {"fs": dc},
        }
        if sens:
            levels["rms"]["pa"] = math.sqrt(mean_sq) * sens
            levels["peak"]["pa"] = self.peak * sens
            levels["dc_offset"]["pa"] = dc * sens

        gain = sens**2 if sens else 1.0
        mean_psd = self.welch.mean() * gain
        median_psd = self.hist.median_psd() * gain if self.hist.count else mean_psd.copy()
        # the mean noise PSD: noise periodograms are exponential, so the q-th percentile
        # lies -ln(1 - q/100) of the mean (9.8 dB under it at 10 %)
        q = params.noise_percentile / 100.0
        floor = self.hist.percentile(params.noise_percentile) / -math.log1p(-q) * gain
        # a steady tone's periodograms do not scatter: its percentile is its mean, and the
        # noise correction put the floor 9.8 dB above the level (a band SNR of -9.7 dB).
        # No floor lies above the mean.
        np.minimum(floor, mean_psd, out=floor)
        self.hist = None  # type: ignore[assignment]  # 20 MB, not needed past this point
        psd = Psd(
            freqs=stft.freqs, mean=mean_psd, median=median_psd, n_segments=self.welch.n_segments
        )
        # the PSD is already in Pa²/Hz when calibrated: only the 20 µPa reference remains
        ref_db = -20 * math.log10(20e-6) if sens else 0.0

        band_levels: dict[str, list[BandLevel]] = {}
        band_index = 0
        df = stft.sr / stft.n_fft
        gain_db = 10 * math.log10(gain) + ref_db
        for name, items in self.band_sets.items():
            out = []
            for band in items:
                level = float(to_db(band.total(mean_psd) * df)) + ref_db
                noise = float(to_db(band.total(floor) * df)) + ref_db
                st = levels_from_histogram(self._level_hist[band_index], gain_db)
                snr = level - noise if math.isfinite(level) and math.isfinite(noise) else None
                out.append(
                    BandLevel(
                        band.label,
                        band.lo_hz,
                        band.hi_hz,
                        level,
                        noise,
                        snr,
                        st["L10"],
                        st["L50"],
                        st["L90"],
                    )
                )
                band_index += 1
            band_levels[name] = out

        lines = self.tonal.lines() if self.samples else []
        hop_s = stft.hop / stft.sr
        times = stft.frame_times(0, self.frames_done)
        n_oct = len(self.band_sets["octave"])
        base = 2 + len(features_mod.FEATURE_NAMES)
        # only the columns needed, read in chunks and kept in float32: the end stays light
        needed = self.store.columns([1, 5, *range(base, base + n_oct)])
        frame_rms, flatness = needed[:, 0].astype(np.float64), needed[:, 1].astype(np.float64)
        octave_db = 10.0 * np.log10(np.maximum(needed[:, 2:], np.float32(1e-30)))
        del needed
        strength = np.concatenate(self._onset).astype(np.float64) if self._onset else np.empty(0)
        frame_dbfs = to_db(frame_rms**2)
        impulses = detect_impulses(
            strength,
            times,
            frame_dbfs,
            hop_s=hop_s,
            onset_offset_s=-stft.n_fft / 4 / stft.sr,
        )
        envelope, step_s = self.envelope.column(0), self._env_step / stft.sr
        impulses = refine_onsets(impulses, envelope, step_s=step_s, search_s=1.5 * hop_s)
        impulses = fill_in_onsets(
            impulses,
            envelope,
            step_s,
            strength,
            times,
            frame_dbfs,
            hop_s=hop_s,
            onset_offset_s=-stft.n_fft / 4 / stft.sr,
        )
        repairs = np.asarray(self.repairs, np.float64).reshape(-1, 2) / stft.sr
        near = near_spans([imp.time_s for imp in impulses], repairs, stft.n_fft / stft.sr)
        if near.any():
            # a zero-filled stretch's edges are steps in the waveform: clicks of the repair's
            # making, not of the recording's
            warnings.append(
                f"{int(near.sum())} onsets at the edges of zero-filled samples were left out"
                " of the impulses"
            )
            impulses = [imp for imp, at in zip(impulses, near, strict=True) if not at]
        onsets = np.array([imp.time_s for imp in impulses], np.float64)
        trains = impulse_trains(impulses, loudness=attack_levels(onsets, envelope, step_s))
        del envelope
        self.envelope.close()
        lines = _off_train_combs(lines, trains)
        centres = np.array([b.centre_hz for b in self.band_sets["octave"]])
        wide = np.array([b.bins(stft.sr / stft.n_fft) >= 4 for b in self.band_sets["octave"]], bool)
        # the pooled columns in the PSD's units, scaled in place (no second image in memory)
        col_times, col_freqs, pooled = self.pool.result()
        pooled *= (self.scale * gain).astype(np.float32)
        spectrogram = (col_times, col_freqs, pooled)
        segs = segment(
            times_s=times,
            band_db=octave_db[:, wide],
            band_centres_hz=centres[wide],
            flatness=flatness,
            tonal_lines=lines,
            impulses=impulses,
            trains=trains,
            frame_s=stft.n_fft / stft.sr,
            config=params.segments,
            tone_band_db=octave_db,  # a low motor's band is too narrow to segment on
            tone_band_centres_hz=centres,
            spectrogram=spectrogram,  # a steady tone above the tone search is peaky in it
        )
        segs = _set_aside_repairs(segs, repairs, stft.n_fft / stft.sr)
        decimated = self.decimated.column(0)
        segs = tone_segments_again(
            segs,
            lines,
            lambda first, past: decimated[first:past],
            fs=self.tonal.fs,
            delay_s=self.tonal.delay_s,
            top_hz=self.tonal.top,
            duration_s=duration_s,
            min_duration_s=params.segments.min_duration_s,
            merge_gap_s=params.segments.merge_gap_s,
        )
        self.decimated.close()
        lines = _refine_line_edges(lines, segs)
        if len(octave_db):
            set_snr(
                segs,
                times_s=times,
                band_db=octave_db,
                band_centres_hz=centres,
                segmented=wide,
                frame_s=stft.n_fft / stft.sr,
                config=params.segments,
            )

        return ChannelAnalysis(
            channel=self.label,
            samples=self.samples,
            levels=levels,
            psd=psd,
            noise_floor=floor,
            spectral_slope=(
                spectral_slope(stft.freqs, mean_psd, window=stft.window_array())
                if self.welch.n_segments
                else None
            ),
            bands=band_levels,
            tonal_lines=lines,
            impulses=impulses,
            trains=trains,
            segments=segs,
            frame_columns=frame_columns(self.band_sets),
            frames=frames,
            spectrogram=spectrogram,
            frame_store=self.store,
            warnings=warnings,
        )


def frame_columns(band_sets: dict[str, list[bands_mod.Band]]) -> list[str]:
    """Names of the frame table's columns: time, RMS, the features, then every band."""
    return ["time_s", "rms", *features_mod.FEATURE_NAMES] + [
        f"{name}_{b.label.replace(' (clipped)', '').replace(' ', '')}"
        for name, items in band_sets.items()
        for b in items
    ]


def _sample_stats(x: np.ndarray, clip_level: float) -> tuple[int, int, float, int, float, float]:
    """(non-finite count, count beyond :data:`MAX_SAMPLE`, peak |x|, clipped count, Σ x,
    Σ x²) of a float32 block, bad samples as 0; see :func:`_kernels.sample_stats`. A
    finite sum of squares proves every sample finite, and then numpy's vectorised
    max/min give the peak (20x faster than the careful kernel)."""
    total, sum_sq = _kernels.sums(x)
    peak = max(float(x.max()), -float(x.min())) if math.isfinite(sum_sq) else math.inf
    if peak > MAX_SAMPLE:
        return _kernels.sample_stats(x, np.float32(clip_level), np.float32(MAX_SAMPLE))
    clip = np.float32(clip_level)
    clipped = int(np.count_nonzero(np.abs(x) >= clip)) if peak >= clip else 0
    return 0, 0, peak, clipped, total, sum_sq


#: Zero-filled stretches remembered per channel; a file with more has damage throughout
MAX_REPAIRS = 100_000


def _add_repairs(repairs: list[list[int]], usable: np.ndarray, offset: int) -> None:
    """Append the ``[start, end)`` samples of ``usable``'s false runs, shifted by
    ``offset``, to ``repairs``; a run continuing the last one extends it."""
    edges = np.flatnonzero(np.diff(np.concatenate([[True], usable, [True]]).view(np.int8)))
    for start, end in zip(edges[::2] + offset, edges[1::2] + offset, strict=True):
        if repairs and repairs[-1][1] == start:
            repairs[-1][1] = int(end)
        elif len(repairs) < MAX_REPAIRS:
            repairs.append([int(start), int(end)])


def near_spans(times_s: list[float], spans_s: np.ndarray, margin_s: float) -> np.ndarray:
    """Whether each time lies within ``margin_s`` of one of ``spans_s`` (sorted, disjoint
    ``(n, 2)`` start and end times)."""
    times = np.asarray(times_s, np.float64)
    if len(spans_s) == 0 or len(times) == 0:
        return np.zeros(len(times), bool)
    # the last span starting before t + margin ends latest of those that could reach t
    i = np.searchsorted(spans_s[:, 0], times + margin_s, side="right") - 1
    return (i >= 0) & (times <= spans_s[np.maximum(i, 0), 1] + margin_s)


def _set_aside_repairs(segments: list[Segment], spans_s: np.ndarray, margin_s: float) -> list:
    """Drop the segments that lie within a zero-filled stretch and a frame about it (the
    repair's silence and edges, not sound); note the repaired seconds in the others."""
    if len(spans_s) == 0:
        return segments
    kept = []
    for seg in segments:
        lo = np.searchsorted(spans_s[:, 1], seg.start_s - margin_s, side="left")
        hi = np.searchsorted(spans_s[:, 0], seg.end_s + margin_s, side="right")
        inside = spans_s[lo:hi]
        if len(inside) == 1 and (
            inside[0, 0] - margin_s <= seg.start_s and seg.end_s <= inside[0, 1] + margin_s
        ):
            continue
        overlap = np.minimum(inside[:, 1], seg.end_s) - np.maximum(inside[:, 0], seg.start_s)
        repaired = float(np.maximum(overlap, 0.0).sum())
        if repaired > 0:
            seg.evidence["zero_filled_s"] = round(repaired, 3)
        kept.append(seg)
    return kept


#: A lone tone on a train's comb: within this of a multiple of its rate (Hz, and a share of
#: the frequency: the rate, read from the onsets' span, is good to ~2e-4 over a few seconds)
COMB_TOOTH_HZ = (0.5, 2.5e-4)


def _off_train_combs(lines: list[TonalLine], trains: list[ImpulseTrain]) -> list[TonalLine]:
    """The lines without those that are one tooth of a clank train's comb.

    A regular train's spectrum is a comb at multiples of its rate; the tone search sets
    combs aside (``tonal._Teeth``) when it resolves their teeth, but at 16-25 clanks a
    second, teeth 16-25 Hz apart, one tooth near a ring's mode (1984 Hz = 124 × 16) stood
    out as a lone tone, and the train's segment was called tonal. A line goes when it has
    no harmonic but its fundamental, lies on a multiple of a train's rate, and sounds only
    while the train does (a long window, ~1 s, either side).
    """
    out = []
    for line in lines:
        on_comb = len(line.harmonics) <= 1 and any(
            train.start_s - 1.0 <= line.start_s
            and line.end_s <= train.end_s + 1.0
            and abs(line.freq_hz - round(line.freq_hz / train.rate_hz) * train.rate_hz)
            <= COMB_TOOTH_HZ[0] + COMB_TOOTH_HZ[1] * line.freq_hz
            for train in trains
        )
        if not on_comb:
            out.append(line)
    return out


def _refine_line_edges(lines: list[TonalLine], segments: list[Segment]) -> list[TonalLine]:
    """Give a tonal line the edges of the segments it explains; split it where they show
    the tone stopped.

    A line's own extent comes from ~1.5 s windows and is blurred by about a window, and
    its pieces are joined across a few seconds of weak windows; the segments it explains
    have frame-accurate edges. Each tonal segment goes to one line of its frequency (the
    one whose own extent overlaps it most), and a line becomes one line per run of its
    segments: a gap between two of them that no segment overlaps (of any kind, but another
    tone's) is a stretch back at the background, where the tone had stopped (a gust
    masking it would be a segment). The pieces keep the line's frequency, harmonics and
    levels.
    """
    owned = {
        i: [segments[k] for k in held] for i, held in segments_by_line(lines, segments).items()
    }
    out: list[TonalLine] = []
    for i, line in enumerate(lines):
        held = sorted(owned.get(i, []), key=lambda sg: sg.start_s)
        if not held:
            out.append(line)
            continue
        spans = masking_spans(segments, round(line.freq_hz, 3))
        runs = [[held[0].start_s, held[0].end_s]]
        for sg in held[1:]:
            lo, hi = runs[-1][1], sg.start_s
            if hi > lo and not any(a < hi and b > lo for a, b in spans):
                runs.append([sg.start_s, sg.end_s])
            else:
                runs[-1][1] = max(runs[-1][1], sg.end_s)
        for start, end in runs:
            # the pieces share the track (times_s, freqs_hz): the figure draws each over its
            # own extent
            out.append(dataclasses.replace(line, start_s=start, end_s=end, edges_from="segment"))
    return out


#: The slope's fit starts this many FFT bins up, whatever ``fmin``: a steep spectrum's
#: lowest bins hold the power under the first bin, which the window leaks into them (and
#: which no power law fitted above can say)
SLOPE_FIRST_BIN = 6


def spectral_slope(
    freqs: np.ndarray,
    psd: np.ndarray,
    *,
    fmin: float = 20.0,
    fmax: float = 10_000.0,
    window: np.ndarray | None = None,
) -> dict[str, float] | None:
    """Power-law fit ``PSD ∝ f^α`` over ``[fmin, min(fmax, 0.9·Nyquist)]``.

    The PSD is averaged on 50 log-spaced frequency bins first, so each decade
    weighs the same in the fit (otherwise the many high-frequency bins decide it).

    Parameters
    ----------
    freqs, psd : numpy.ndarray
        The PSD's bin frequencies (Hz, from 0 in equal steps) and values.
    fmin, fmax : float
        Fit range in Hz; it starts :data:`SLOPE_FIRST_BIN` bins up at the lowest.
    window : numpy.ndarray, optional
        The window the PSD's segments were taken with: the fit then models what it does
        to a power law (its main lobe averages a steep spectrum over ±2 bins, which lifts
        the low bins: f^-3 read -3.06 at 48 kHz without it, and -3.09 at 8 kHz).

    Returns
    -------
    dict or None
        ``{"exponent", "db_per_decade", "db_per_octave", "fmin_hz", "fmax_hz"}``,
        None when the range holds too few positive values.

    Notes
    -----
    Each log bin's point is placed where the model says: for the fitted ``α``, the
    frequency whose ``f^α`` is the mean over the bin's FFT bins of ``f^α`` seen through the
    window (its power response ``|W|²`` at a sixteenth of a bin, ±8 bins). The fit is
    repeated four times from the points at the log bins' centres.
    """
    df = float(freqs[1] - freqs[0]) if len(freqs) > 1 else 0.0
    top = min(fmax, 0.9 * freqs[-1])
    lo = max(fmin, SLOPE_FIRST_BIN * df)
    if top <= lo * 1.5:
        return None
    edges = np.geomspace(lo, top, 51)
    idx = np.digitize(freqs, edges) - 1
    groups = [np.flatnonzero((idx == i) & (psd > 0)) for i in range(50)]
    centres = [np.sqrt(edges[i] * edges[i + 1]) for i in range(50) if len(groups[i])]
    groups = [g for g in groups if len(g)]
    if len(groups) < 5:
        return None
    ys = np.log10([np.mean(psd[g]) for g in groups])
    alpha = float(np.polyfit(np.log10(centres), ys, 1)[0])
    if window is not None:
        offsets, response = _window_response(np.asarray(window, np.float64))
        members = np.concatenate(groups)
        # every fitted bin's view of the spectrum through the window, clamped at the
        # first bin (the model says nothing below it)
        seen = np.maximum(np.abs(freqs[members, None] + offsets[None, :] * df), df)
        starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
        for _ in range(4):
            if abs(alpha) < 1e-9:
                break
            model = (seen**alpha) @ response
            xs = np.log10(np.add.reduceat(model, starts) / [len(g) for g in groups]) / alpha
            alpha = float(np.polyfit(xs, ys, 1)[0])
    return {
        "exponent": alpha,
        "db_per_decade": 10 * alpha,
        "db_per_octave": 10 * alpha * float(np.log10(2)),
        "fmin_hz": float(lo),
        "fmax_hz": float(top),
    }


def _window_response(
    window: np.ndarray, oversample: int = 16, reach: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """The window's power response ``|W|²`` (sums to 1) at offsets in bins within ±``reach``,
    in steps of ``1/oversample`` bin: what a periodogram bin takes of the spectrum about it."""
    n = len(window)
    power = np.abs(np.fft.fft(window, n * oversample)) ** 2
    offsets = np.fft.fftfreq(n * oversample, 1.0 / n)
    near = np.abs(offsets) <= reach
    order = np.argsort(offsets[near])
    return offsets[near][order], power[near][order] / power[near].sum()


class AudioAnalyzer:
    """Streaming analysis: feed consecutive blocks of samples, then call :meth:`result`.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    channels : int
        Channels of the blocks (``(n, channels)`` arrays).
    params : AnalysisParams
    expected_frames : int, optional
        Approximate length in samples, used to size the pooled spectrogram's columns.
    exact_frames : int, optional
        The length in samples, when known exactly: a short recording gets tone-search
        windows that fit it (see :class:`~.tonal.TonalTracker`).
    frame_sink : FrameSink, optional
        Also receives the frame table's rows as they are computed (on the analysis's
        worker threads), e.g. :class:`~.frames_csv.FramesCsv`.

    Examples
    --------
    >>> analyzer = AudioAnalyzer(sr=48_000, channels=1)          # doctest: +SKIP
    >>> for block in blocks:                                       # doctest: +SKIP
    ...     analyzer.update(block)
    >>> result = analyzer.result()                                 # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        sr: float,
        channels: int,
        params: AnalysisParams | None = None,
        expected_frames: int | None = None,
        frame_sink: FrameSink | None = None,
        exact_frames: int | None = None,
    ) -> None:
        self.params = params = (params or AnalysisParams()).resolved(sr)
        if channels < 1:
            raise ParameterError(f"channels must be at least 1, got {channels}")
        self.sr = float(sr)
        self.n_channels = channels
        self.stft = StftConfig(sr=sr, n_fft=params.n_fft, hop=params.hop, window=params.window)
        nyquist = sr / 2
        freqs = self.stft.freqs
        self._notes: list[str] = []  # about the parameters, for the report's warnings
        band_sets = {
            # the top band cut by Nyquist too: segments read the octave bands, and were blind
            # above the last whole one (11.3-22 kHz at 44.1 kHz, 2.8-4 kHz at 8 kHz)
            "octave": bands_mod.fractional_octave_bands(
                fraction=1, fmin=11.0, fmax=nyquist, freqs=freqs, clip_top=True
            ),
            "third_octave": bands_mod.fractional_octave_bands(
                fraction=3, fmin=11.0, fmax=nyquist, freqs=freqs
            ),
            "user": bands_mod.user_bands(
                params.user_bands, freqs=freqs, nyquist=nyquist, notes=self._notes
            ),
        }
        expected = max(1, ((expected_frames or 0) - params.n_fft) // params.hop + 1)
        labels: list[int | str] = ["mix"] if params.mix else list(range(channels))
        self.frame_columns = frame_columns(band_sets)
        if frame_sink is not None:
            frame_sink.begin(self.frame_columns, labels)
        duration_s = exact_frames / sr if exact_frames is not None else None
        self._channels = [
            _Channel(self.stft, params, band_sets, expected, label, frame_sink, duration_s)
            for label in labels
        ]

    def update(self, block: np.ndarray) -> None:
        """Feed the next samples, ``(n, channels)`` (or ``(n,)`` for mono)."""
        block = np.asarray(block, np.float32)
        if block.ndim == 1:
            block = block[:, None]
        if block.shape[1] != self.n_channels:
            raise ParameterError(f"expected {self.n_channels} channels, got {block.shape[1]}")
        if self.params.mix:
            # clipping is the inputs': a mean of one clipped and one quiet channel is not
            # at full scale, and the mix alone hid it. Counted in sample frames.
            clip = np.float32(self.params.clip_level)
            clipping = np.abs(block) >= clip
            if clipping.any():  # NaN, Inf and corrupt values are reported as such instead
                clipping &= usable_samples(block)
            clipped = int(np.count_nonzero(clipping.any(axis=1)))
            # each channel's bad samples become 0 before the mean, as the export does: the
            # mean of a good channel and a NaN one was NaN, and the good one was lost
            non_finite, beyond = _sample_stats(block.reshape(-1), self.params.clip_level)[:2]
            repairs = None
            if non_finite or beyond:
                usable = usable_samples(block)
                # the mix is fill only where no channel was usable; elsewhere it carries
                # the good channels' sound and its segments are kept
                repairs = (non_finite, beyond, usable.any(axis=1))
                block = np.where(usable, block, np.float32(0.0))
            self._channels[0].update(block.mean(axis=1), clipped=clipped, repairs=repairs)
        else:
            for c, state in enumerate(self._channels):
                state.update(block[:, c])

    def result(self, info: AudioInfo | None = None) -> AudioAnalysis:
        channels = [state.result() for state in self._channels]
        for state in self._channels:
            state.release()  # the result holds what it needs; the accumulators go (~40 MB)
        warnings = (
            [f"channel {ch.channel}: {w}" for ch in channels for w in ch.warnings]
            if len(channels) > 1
            else [w for ch in channels for w in ch.warnings]
        )
        warnings = self._notes + warnings
        return AudioAnalysis(
            info=info,
            sr=self.sr,
            params=self.params,
            stft=self.stft,
            channels=channels,
            warnings=warnings,
        )

    def close(self) -> None:
        for state in self._channels:
            state.finish_stages(quietly=True)
            state.store.close()
            state.envelope.close()
            state.decimated.close()


def analyze(
    path: str | os.PathLike[str],
    params: AnalysisParams | None = None,
    *,
    stream: int = 0,
    signal: SignalRequest | None = None,
    progress: Callable[[int], None] | None = None,
    frame_sink: FrameSink | None = None,
) -> AudioAnalysis:
    """Analyse an audio file (or a video's audio track) in one streaming pass.

    Parameters
    ----------
    path : path-like
        WAV, FLAC, OGG, MP3, or M4A/MP4/MOV/WebM/MKV with an audio track.
    params : AnalysisParams, optional
    stream : int
        Audio stream of a container.
    signal : SignalRequest, optional
        For a PDS4 product: the table field holding the samples and the sample
        rate, where the label does not settle them.
    progress : callable, optional
        Called with the number of frames read after each block.
    frame_sink : FrameSink, optional
        As for :class:`AudioAnalyzer`.

    Returns
    -------
    AudioAnalysis
        Per-channel results; its per-frame tables are memory-mapped temporary
        files, valid until :func:`close_analysis` (or garbage collection of the
        process's temp folder).

    Raises
    ------
    MediaReadError, UnsupportedFormatError, ParameterError
    """
    reader = AudioReader(path, stream=stream, signal=signal)
    info = reader.info
    params = (params or AnalysisParams()).resolved(info.samplerate, integer_bits=info.integer_bits)
    blocks = reader.blocks(1 << 18)
    exact = info.frames if info.frames_exact else None
    head: list[np.ndarray] = []
    if exact is None:
        # a container's length is an estimate: a stream that ends within its first two
        # blocks (~11 s at 48 kHz) is read first, so a short one is handled as a WAV is
        head = list(itertools.islice(blocks, 2))
        if len(head) < 2 or len(head[1]) < (1 << 18):
            head += list(blocks)  # at most one empty remainder
            exact = sum(len(b) for b in head)
    if exact is not None and exact < params.n_fft:
        # a short clip: the largest power-of-two frame that fits, still four hops per frame
        n_fft = max(16, 1 << max(4, int(math.log2(max(exact, 1)))))
        if n_fft < params.n_fft:
            log.warning(
                "%s: %d samples, shorter than n_fft=%d; using n_fft=%d",
                path,
                exact,
                params.n_fft,
                n_fft,
            )
            params = dataclasses.replace(params, n_fft=n_fft, hop=max(1, n_fft // 4))
    analyzer = AudioAnalyzer(
        sr=info.samplerate,
        channels=info.channels,
        params=params,
        expected_frames=exact if exact is not None else info.frames,
        frame_sink=frame_sink,
        exact_frames=exact,
    )
    try:
        for block in itertools.chain(head, blocks):
            analyzer.update(block)
            if progress:
                progress(reader.frames_read)
        result = analyzer.result(info)
    except BaseException:
        analyzer.close()
        raise
    if reader.decode_errors:
        result.warnings.append(
            f"{reader.decode_errors} packets could not be decoded and were skipped"
        )
    result._analyzer = analyzer  # keeps the frame tables alive; see close_analysis
    return result


def close_analysis(result: AudioAnalysis) -> None:
    """Delete the temporary per-frame tables of a result from :func:`analyze`."""
    analyzer = getattr(result, "_analyzer", None)
    if analyzer is not None:
        for ch in result.channels:
            ch.frames = np.empty((0, len(ch.frame_columns)), np.float32)
            ch.frame_store = None
        analyzer.close()


def write_outputs(
    result: AudioAnalysis,
    out: Any,
    *,
    log_freq: bool = True,
    title: str = "",
    frames_csv: bool = True,
) -> list[str]:
    """Write ``report.json``, ``frames.csv``, ``spectrogram.png`` and ``psd.png`` into ``out``.

    ``out`` is an :class:`~zhurong_tk.io.outputs.OutputDir`. With several
    channels the figures get a ``_ch<N>`` suffix and ``frames.csv`` a
    ``channel`` column. ``frames_csv=False`` leaves out ``frames.csv`` (written
    during the analysis by :class:`~.frames_csv.FramesCsv`). Returns the names written.
    """
    from zhurong_tk import plot

    names = ["report.json"]
    out.json("report.json", result.to_report())
    if frames_csv:
        with out.atomic("frames.csv") as tmp, open(tmp, "w", newline="") as fh:
            write_frames_csv(result, fh)
        names.append("frames.csv")
    multi = len(result.channels) > 1
    unit = "Pa" if result.params.sensitivity_pa else "FS"
    for ch in result.channels:
        suffix = f"_ch{ch.channel}" if multi else ""
        label = f"{title} — channel {ch.channel}" if multi else title
        times, freqs, pooled = ch.spectrogram
        if len(times):
            fig = plot.spectrogram_figure(
                times,
                freqs,
                pooled,
                segments=[s.to_dict() for s in ch.segments],
                tonal_lines=ch.tonal_lines,
                log_freq=log_freq,
                title=label,
                units=f"dB re {unit}²/Hz",
            )
            out.figure(f"spectrogram{suffix}.png", fig)
            names.append(f"spectrogram{suffix}.png")
            fig = plot.psd_figure(
                ch.psd.freqs,
                ch.psd.mean,
                median=ch.psd.median,
                noise_floor=ch.noise_floor,
                slope=ch.spectral_slope,
                title=label,
                units=f"{unit}²/Hz",
            )
            out.figure(f"psd{suffix}.png", fig)
            names.append(f"psd{suffix}.png")
    return names


def write_frames_csv(result: AudioAnalysis, fh: Any, *, chunk: int = 8192) -> None:
    """Per-frame table: time, RMS, features, then octave and user band levels in dB
    (in pascals and dB SPL when the analysis had a sensitivity).

    The layout is :class:`~.frames_csv.CsvLayout`'s, channel after channel, read
    from the frame tables a chunk at a time.
    """
    layout = CsvLayout.for_columns(
        result.channels[0].frame_columns,
        multi=len(result.channels) > 1,
        sensitivity_pa=result.params.sensitivity_pa,
    )
    fh.write(layout.header_line())
    for ch in result.channels:
        for rows in ch.frame_chunks(chunk):
            fh.write(layout.format(rows, ch.channel))


def analyze_to_folder(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    params: AnalysisParams | None = None,
    *,
    overwrite: bool = False,
    stream: int = 0,
    signal: SignalRequest | None = None,
    log_freq: bool = True,
    export_denoised: str | None = None,
    bandpass: tuple[float, float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[AudioAnalysis, list[str]]:
    """Analyse one file and write every output into ``out_dir`` (what ``audio analyze`` does).

    Parameters
    ----------
    export_denoised : str, optional
        File name (inside ``out_dir``) for a spectrally gated copy.
    bandpass : (lo, hi), optional
        Also write ``bandpass_<lo>-<hi>Hz.wav`` with only that band: at least 60 dB down at
        and beyond ``lo`` and ``hi``, full level from ``lo·2^(1/6)`` to ``hi/2^(1/6)`` (see
        :func:`~.export.bandpass_fir`).
    stream, signal
        As for :func:`analyze`.

    Returns
    -------
    (AudioAnalysis, list of str)
        The analysis (frame tables already released) and the names written.
    """
    from zhurong_tk.io.outputs import OutputDir

    if export_denoised or bandpass:  # scipy.ndimage and the writers: only when asked for
        from zhurong_tk.audio import export as export_mod

    out = OutputDir(out_dir, overwrite=overwrite)
    planned = ["report.json", "frames.csv"]
    if export_denoised:
        planned.append(export_denoised)
    bandpass_name = f"bandpass_{bandpass[0]:g}-{bandpass[1]:g}Hz.wav" if bandpass else None
    if bandpass_name:
        planned.append(bandpass_name)
        export_mod.check_band(*bandpass)  # before the long work
    if export_denoised and export_denoised == bandpass_name:
        raise ParameterError(
            f"--export-denoised {export_denoised} is the name of the --bandpass export: "
            "choose another"
        )
    # the figures' names depend on the channel count, known only once the file is open:
    # any figure of ours already there is in the way (checked now, not after the pass)
    if out.path.is_dir():
        planned += [
            p.name
            for pattern in ("spectrogram*.png", "psd*.png")
            for p in out.path.glob(pattern)
            if re.fullmatch(r"(spectrogram|psd)(_ch\d+)?\.png", p.name)
        ]
    out.check_free(*planned)
    with out:  # a failed run leaves no file (nor a folder it made) behind
        # frames.csv is formatted during the pass, on the core the reduction stage leaves idle
        result: AudioAnalysis | None = None
        try:
            sensitivity_pa = params.sensitivity_pa if params is not None else None
            with (
                out.atomic("frames.csv") as csv_path,
                FramesCsv(csv_path, sensitivity_pa=sensitivity_pa) as csv_sink,
            ):
                result = analyze(
                    path,
                    params,
                    stream=stream,
                    signal=signal,
                    progress=progress,
                    frame_sink=csv_sink,
                )
                csv_sink.finish()
        except BaseException:
            if result is not None:
                close_analysis(result)
            raise
        nyquist = result.sr / 2
        if bandpass_name and bandpass[0] >= nyquist:
            # an all-zero file would look like a result
            result.warnings.append(
                f"--bandpass {bandpass[0]:g}-{bandpass[1]:g} Hz lies above the Nyquist frequency"
                f" ({nyquist:g} Hz): {bandpass_name} not written"
            )
            bandpass_name = None
        common = {
            "n_fft": result.stft.n_fft,
            "mix": result.params.mix,
            "stream": stream,
            "signal": signal,
            "overwrite": overwrite,
        }
        exported: list[str] = []
        try:
            # the exports first: what they find (samples clipped, a gate with no floor) goes
            # into the report
            if export_denoised:
                floors = [
                    ch.noise_floor / (result.params.sensitivity_pa or 1.0) ** 2
                    for ch in result.channels
                ]
                notes = export_mod.export(
                    path, out / export_denoised, noise_floors=floors, **common
                )
                result.warnings += [f"--export-denoised {export_denoised}: {w}" for w in notes]
                out.adopt(export_denoised)
                exported.append(export_denoised)
            if bandpass_name:
                notes = export_mod.export(path, out / bandpass_name, band_hz=bandpass, **common)
                result.warnings += [f"{bandpass_name}: {w}" for w in notes]
                out.adopt(bandpass_name)
                exported.append(bandpass_name)
            hand_back_freed_memory()  # the pass's freed blocks, before the figures' peak
            names = write_outputs(
                result,
                out,
                log_freq=log_freq,
                title=os.path.basename(os.fspath(path)),
                frames_csv=False,
            )
            names.insert(1, "frames.csv")
        finally:
            close_analysis(result)
        names += exported
        out.finish("audio analyze")
        return result, names
