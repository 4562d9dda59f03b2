from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from zhurong_tk.audio.bands import fractional_octave_bands, user_bands
from zhurong_tk.audio.levels import LevelHistogram, calibrate, statistical_levels
from zhurong_tk.audio.spectral import StftConfig, power_block
from zhurong_tk.errors import ParameterError


def test_octave_bands_follow_iec_base_two_and_stop_at_nyquist():
    freqs = np.fft.rfftfreq(4096, 1 / 48_000)
    bands = fractional_octave_bands(fraction=1, fmin=11.0, fmax=24_000, freqs=freqs)
    centres = [b.centre_hz for b in bands]
    assert centres[centres.index(1000.0) + 1] == 2000.0
    assert max(b.hi_hz for b in bands) <= 24_000
    b1k = bands[centres.index(1000.0)]
    assert (b1k.lo_hz, b1k.hi_hz) == pytest.approx((1000 / np.sqrt(2), 1000 * np.sqrt(2)))
    thirds = fractional_octave_bands(fraction=3, fmin=11.0, fmax=24_000, freqs=freqs)
    assert [round(b.centre_hz, 1) for b in thirds if 900 < b.centre_hz < 1300] == [1000.0, 1259.9]


def test_user_bands_are_clipped_to_nyquist():
    freqs = np.fft.rfftfreq(1024, 1 / 8000)
    bands = user_bands(((20, 100), (2000, 10_000), (5000, 6000)), freqs=freqs, nyquist=4000)
    assert [(b.lo_hz, b.hi_hz) for b in bands] == [(20, 100), (2000, 4000)]
    assert bands[1].label.endswith("(clipped)")
    notes: list[str] = []
    kept = user_bands(((5000, 6000), (1001, 1002)), freqs=freqs, nyquist=4000, notes=notes)
    assert notes == [
        "user band 5000-6000 Hz lies above the Nyquist frequency (4000 Hz): left out",
        "user band 1001-1002 Hz is narrower than one frequency bin (bins 7.8125 Hz apart):"
        " its level is its share of that bin, not resolved",
    ]
    # 1001-1002 Hz lies inside the bin at 1000 Hz (996.1-1003.9 Hz): 1/7.8125 of it
    (narrow,) = kept
    assert (narrow.bin_lo, narrow.bin_hi) == (128, 129)
    assert narrow.weight_lo == pytest.approx(1 / 7.8125)
    with pytest.raises(ParameterError, match=r"0 <= lo < hi, got \(100, 20\)"):
        user_bands(((100, 20),), freqs=freqs, nyquist=4000)


def test_bands_narrower_than_a_bin_read_white_noise_at_their_width(rng, tmp_path):
    # third-octave bands of 0-2 bins: counting whole bins read them up to 6.5 dB high, and a
    # band holding no bin centre was left out
    import soundfile as sf

    from zhurong_tk.audio import analyze, close_analysis

    sr = 8000
    sf.write(tmp_path / "white.wav", (0.1 * rng.standard_normal(30 * sr)).astype(np.float32), sr)
    result = analyze(tmp_path / "white.wav")
    thirds = result.channels[0].bands["third_octave"]
    close_analysis(result)
    labels = [b.label for b in thirds]
    assert labels[:6] == ["12.4 Hz", "15.6 Hz", "19.7 Hz", "24.8 Hz", "31.2 Hz", "39.4 Hz"]
    for b in thirds:
        expected = -20.0 + 10 * np.log10((b.hi_hz - b.lo_hz) / (sr / 2))  # flat PSD, -20 dBFS
        assert b.level_db == pytest.approx(expected, abs=0.5), b.label


def test_histogram_percentiles_and_median_psd_match_scipy(rng):
    sr, n = 8000, 256
    x = rng.standard_normal(400_000).astype(np.float32)
    config = StftConfig(sr=sr, n_fft=n, hop=n // 2)
    hist = LevelHistogram(config.density_scale())
    power = power_block(x, config)
    hist.update(power)
    _, median = signal.welch(x, fs=sr, nperseg=n, noverlap=n // 2, detrend=False, average="median")
    got = hist.median_psd()
    # the histogram quantises levels to 0.1 dB (2.3 %); chance adds little with 3000 segments
    assert np.max(np.abs(got[1:-1] / median[1:-1] - 1)) < 0.04
    p10 = 10 * np.log10(np.percentile(power * config.density_scale(), 10, axis=0))
    assert np.max(np.abs(10 * np.log10(hist.percentile(10)) - p10)) <= 0.11


def test_statistical_levels_and_calibration():
    levels = np.linspace(-60, -20, 101)
    st = statistical_levels(levels)
    assert (st["L10"], st["L50"], st["L90"]) == pytest.approx((-24.0, -40.0, -56.0))
    assert statistical_levels(np.array([-np.inf])) == {
        "L10": -np.inf,
        "L50": -np.inf,
        "L90": -np.inf,
    }
    # 1 Pa per full scale: 0 dBFS is 93.98 dB SPL
    assert calibrate(0.0, 1.0)["db_spl"] == pytest.approx(93.979, abs=1e-3)
    assert "db_spl" not in calibrate(-20.0, None)


def test_the_noise_floor_of_steady_noise_is_its_psd_and_its_snr_is_zero(tmp_path):
    # a noise periodogram is exponential: its 10th percentile lies 9.8 dB under the mean,
    # so an uncorrected floor gave every band of plain noise an SNR of +9.8 dB
    import soundfile as sf

    from zhurong_tk.audio import analyze, close_analysis

    sr, sigma = 48_000, 0.01
    noise = np.random.default_rng(5).normal(0, sigma, 20 * sr).astype(np.float32)
    sf.write(tmp_path / "noise.wav", noise, sr, subtype="FLOAT")
    result = analyze(tmp_path / "noise.wav")
    channel = result.channels[0]
    close_analysis(result)
    inside = (channel.psd.freqs > 100) & (channel.psd.freqs < 20_000)
    true_db = 10 * np.log10(2 * sigma**2 / sr)  # one-sided density of white noise
    floor_db = 10 * np.log10(np.median(channel.noise_floor[inside]))
    assert floor_db == pytest.approx(true_db, abs=0.5)
    octaves = [b for b in channel.bands["octave"] if b.lo_hz > 100 and b.hi_hz < 20_000]
    assert octaves and all(abs(b.snr_db) < 1.0 for b in octaves), [b.snr_db for b in octaves]


def test_median_psd_and_floor_of_unscaled_float_input_are_not_capped(tmp_path, rng):
    # samples in 16-bit units (±32768) as float: a tone's PSD reaches +64 dB re FS²/Hz,
    # and the level histograms stopped at +40 dB
    import soundfile as sf

    from zhurong_tk.audio import analyze, close_analysis

    sr = 48_000
    t = np.arange(6 * sr) / sr
    x = (10_000 * np.sin(2 * np.pi * 1000 * t) + 3000 * rng.standard_normal(len(t))).astype(
        np.float32
    )
    path = tmp_path / "unscaled.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    result = analyze(path)
    ch = result.channels[0]
    psd, floor = ch.psd, ch.noise_floor
    close_analysis(result)
    f, expected = signal.welch(
        x.astype(np.float64), sr, nperseg=4096, noverlap=0, detrend=False, average="median"
    )
    k = int(np.argmin(np.abs(f - 1000)))
    assert 10 * np.log10(psd.median[k]) > 60
    assert 10 * np.log10(psd.median[k] / expected[k]) == pytest.approx(0.0, abs=0.2)
    # the steady tone's floor is its mean level, not +40 dB
    assert 10 * np.log10(floor[k] / psd.mean[k]) == pytest.approx(0.0, abs=0.5)
    # the noise elsewhere: 3000² · 2 / sr = +26 dB
    noise = (f > 5000) & (f < 20000)
    assert 10 * np.log10(np.median(psd.median[noise])) == pytest.approx(
        10 * np.log10(3000**2 * 2 / sr), abs=0.3
    )
