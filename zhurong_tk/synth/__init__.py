"""Synthetic rover media with ground truth.

Each generator first builds a *scene*: a plain dict, JSON-serialisable, that
is the ground truth (times of events, frequencies, frame numbers, track
centrelines). A renderer then turns the scene into media. Tests, the demo and
users' own pipeline tests share these generators; everything is deterministic
for a given seed.

- :mod:`~zhurong_tk.synth.audio`: egress-like climate-station audio.
- :mod:`~zhurong_tk.synth.video`: descent (EDL) video with cuts, flashes, hover and dust.
- :mod:`~zhurong_tk.synth.tracks`: rear-camera images of wheel tracks in perspective.
"""
