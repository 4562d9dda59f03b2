"""Wheel-track (rut) detection in rear-camera images."""

from zhurong_tk.tracks.detect import (
    CameraModel,
    Track,
    TrackConfig,
    TrackResult,
    detect_tracks,
)

__all__ = ["CameraModel", "Track", "TrackConfig", "TrackResult", "detect_tracks"]
