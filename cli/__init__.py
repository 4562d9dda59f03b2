"""Command-line layer of zhurong-tk, installed as :mod:`zhurong_tk.cli`.

Each command parses its options, calls one library function, writes through
:mod:`zhurong_tk.io.outputs` and prints a short summary. No analysis lives here.
"""
