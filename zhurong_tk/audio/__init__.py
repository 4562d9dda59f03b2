"""Spectral analysis of rover audio, in one streaming pass.

The steps, in the order data flows through them: :mod:`~.spectral` (STFT
blocks, Welch PSD, pooled spectrogram), :mod:`~.features` (per-frame
features), :mod:`~.bands` and :mod:`~.levels` (band levels, noise floor),
:mod:`~.tonal` (tonal lines), :mod:`~.impulses` (onsets and cadence),
:mod:`~.segments` (activity segments) and :mod:`~.analyze` (composition);
:mod:`~.export` writes denoised or band-passed audio.
"""

from zhurong_tk.audio.analyze import (
    AnalysisParams,
    AudioAnalysis,
    AudioAnalyzer,
    analyze,
    close_analysis,
)

__all__ = ["AnalysisParams", "AudioAnalysis", "AudioAnalyzer", "analyze", "close_analysis"]
