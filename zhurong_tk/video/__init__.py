"""Frame extraction and event detection for EDL and drop-camera video."""

from zhurong_tk.video.detect import Cut, CutConfig, CutDetector, scenes_from_cuts
from zhurong_tk.video.extract import FrameSelection, extract_frames
from zhurong_tk.video.signals import FrameSignals, SignalTracker, dhash, grey_proxy, sharpness

__all__ = [
    "Cut",
    "CutConfig",
    "CutDetector",
    "FrameSelection",
    "FrameSignals",
    "SignalTracker",
    "dhash",
    "extract_frames",
    "grey_proxy",
    "scenes_from_cuts",
    "sharpness",
]
