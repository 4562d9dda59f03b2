"""The standard processing chain of ground-penetrating-radar software, on arrays.

Every function takes traces as ``(traces, samples)`` (records along the
first axis, as the products store them; complex or real) and returns a new
array; none keeps state. The steps and their names follow GPRPy, RGPR and
readgssi (docs/radar_processing.md compares them):

- :func:`dewow`: subtract a running mean along each trace (low-frequency
  "wow" of the receiver), GPRPy ``dewow``, RGPR ``dewow(type="runmean")``;
- :func:`align_time_zero`: shift each trace so its first strong arrival
  (the direct/surface wave) sits at sample 0, RGPR ``time0Cor``;
- :func:`remove_background`: subtract the mean trace, over all traces or a
  moving window, GPRPy ``remMeanTrace``, RGPR ``rmBackground``, readgssi ``bgr``;
- :func:`bandpass`: zero-phase band-pass in the frequency domain with cosine
  tapers (GPRPy and readgssi use Butterworth or FIR filters run forwards and
  backwards: also zero-phase);
- :func:`gain_agc` and :func:`gain_exponential`: automatic gain control by
  the running RMS, and ``exp(a t) t^b``, RGPR ``gainAGC`` and ``gainSEC``;
- :func:`depth_axis`: depth from two-way time and relative permittivity.
"""

from __future__ import annotations

import numpy as np
from scipy import fft
from scipy.ndimage import uniform_filter1d

from zhurong_tk.errors import ParameterError

#: Speed of light in vacuum, metres per nanosecond.
C_M_PER_NS = 0.299792458


def _filter(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Running mean that works on complex arrays (scipy's filters take real ones)."""
    if np.iscomplexobj(values):
        return uniform_filter1d(values.real, size, axis=axis, mode="nearest") + 1j * (
            uniform_filter1d(values.imag, size, axis=axis, mode="nearest")
        )
    return uniform_filter1d(values, size, axis=axis, mode="nearest")


def dewow(traces: np.ndarray, window: int) -> np.ndarray:
    """Subtract a running mean of ``window`` samples along each trace."""
    if window < 2:
        raise ParameterError(f"dewow window must be at least 2 samples, got {window}")
    return traces - _filter(traces, int(window), axis=1)


def align_time_zero(
    traces: np.ndarray, search: int | None = None, refine: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Shift the traces so the first strong arrival (the direct/surface wave) is sample 0.

    Time zero is the strongest sample of the mean amplitude trace within its
    first ``search`` samples (one noisy trace cannot move it), refined per
    trace within ``refine`` samples of it (a wave that arrives a little early
    or late in one trace is lined up). Returns the shifted traces, as long as
    the shortest remainder, and each trace's original time-zero sample.
    """
    n = traces.shape[1]
    window = search or n
    common = int(np.abs(traces[:, :window]).mean(axis=0).argmax())
    lo, hi = max(0, common - refine), min(n, common + refine + 1)
    zero = lo + np.abs(traces[:, lo:hi]).argmax(axis=1)
    length = n - int(zero.max())
    if length < 2:
        raise ParameterError("time zero leaves no samples: the first arrival is at the end")
    rows = np.arange(traces.shape[0])[:, None]
    cols = zero[:, None] + np.arange(length)[None, :]
    return traces[rows, cols], zero


def signal_extent(
    traces: np.ndarray, margin_db: float = 12.0, range_db: float = 60.0, smooth: int = 9
) -> int:
    """Samples until the mean amplitude sinks into the noise floor (the median of the
    last quarter) plus ``margin_db``, or ``range_db`` below its peak if that comes
    first: where a radargram has something to show."""
    envelope = uniform_filter1d(np.abs(traces).mean(axis=0), smooth, mode="nearest")
    n = len(envelope)
    floor = float(np.median(envelope[-max(1, n // 4) :])) * 10 ** (margin_db / 20)
    above = np.flatnonzero(envelope > max(floor, float(envelope.max()) * 10 ** (-range_db / 20)))
    return int(above[-1]) + 1 if len(above) else n


def remove_background(traces: np.ndarray, window: int | None = None) -> np.ndarray:
    """Subtract the mean trace (over all traces, or a running mean of ``window`` traces):
    removes what every trace shares (antenna ringing, the direct wave, flat layers)."""
    if window is None or window >= traces.shape[0]:
        return traces - traces.mean(axis=0, keepdims=True)
    if window < 2:
        raise ParameterError(f"background window must be at least 2 traces, got {window}")
    return traces - _filter(traces, int(window), axis=0)


def bandpass(
    traces: np.ndarray, low_hz: float, high_hz: float, sample_interval_s: float
) -> np.ndarray:
    """Zero-phase band-pass between ``low_hz`` and ``high_hz`` (cosine tapers of 10 %).

    For complex traces both signs of frequency pass (the band is in |f|).
    """
    nyquist = 0.5 / sample_interval_s
    if not 0 <= low_hz < high_hz <= nyquist:
        raise ParameterError(
            f"band-pass {low_hz / 1e6:g}-{high_hz / 1e6:g} MHz: needs 0 ≤ low < high ≤ "
            f"Nyquist ({nyquist / 1e6:g} MHz)"
        )
    n = traces.shape[1]
    freqs = np.abs(fft.fftfreq(n, sample_interval_s))
    taper = 0.1 * (high_hz - low_hz)
    response = np.clip((freqs - low_hz + taper) / taper, 0, 1) * np.clip(
        (high_hz + taper - freqs) / taper, 0, 1
    )
    response = 0.5 - 0.5 * np.cos(np.pi * response)
    spectrum = fft.fft(traces, axis=1) * response[None, :]
    out = fft.ifft(spectrum, axis=1)
    return out if np.iscomplexobj(traces) else out.real


def gain_agc(traces: np.ndarray, window: int, floor: float = 1e-6) -> np.ndarray:
    """Divide each sample by the RMS amplitude of the ``window`` samples around it.

    The RMS is floored at ``floor`` times the whole section's RMS: a running
    mean of squares rounds to nothing beside samples twelve orders larger,
    and dividing by that would blow rounding noise up into the loudest echo.
    """
    if window < 2:
        raise ParameterError(f"AGC window must be at least 2 samples, got {window}")
    scale = float(np.abs(traces).max()) or 1.0
    power = uniform_filter1d((np.abs(traces) / scale) ** 2, int(window), axis=1, mode="nearest")
    rms = np.sqrt(np.maximum(power, 0.0))  # a running mean of squares can round below 0
    overall = float(np.sqrt(np.mean((np.abs(traces) / scale) ** 2))) or 1.0
    return traces / (scale * np.maximum(rms, floor * overall))


def gain_exponential(
    traces: np.ndarray, times_ns: np.ndarray, a_per_ns: float, b: float = 0.0
) -> np.ndarray:
    """Multiply by ``exp(a t) · t^b`` (t in ns from time zero): spreading and attenuation."""
    t = np.maximum(np.asarray(times_ns, dtype=np.float64), 0.0)
    gain = np.exp(a_per_ns * t) * np.where(t > 0, t, 1.0) ** b
    return traces * gain[None, :]


def depth_axis(times_ns: np.ndarray, permittivity: float) -> np.ndarray:
    """Depth in metres of each two-way time (ns) in a medium of relative ``permittivity``."""
    if permittivity < 1:
        raise ParameterError(f"relative permittivity must be at least 1, got {permittivity}")
    return np.asarray(times_ns) * C_M_PER_NS / np.sqrt(permittivity) / 2.0
