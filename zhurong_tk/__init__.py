"""zhurong-tk: turn the raw media a Mars rover sends home into measurements.

The library is plain functions over numpy arrays plus a few reader/writer
modules in :mod:`zhurong_tk.io`; the command line (``zhurong-tk``) is a thin
layer over it in :mod:`zhurong_tk.cli`.
"""

__version__ = "0.1.0"
