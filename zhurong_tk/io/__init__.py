"""The only modules that open files.

:mod:`~zhurong_tk.io.sniff` recognises media by content, :mod:`~zhurong_tk.io.audio`,
:mod:`~zhurong_tk.io.video` and :mod:`~zhurong_tk.io.image` read them,
:mod:`~zhurong_tk.io.probe` describes them and :mod:`~zhurong_tk.io.outputs`
writes results atomically.
"""
