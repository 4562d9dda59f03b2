"""Batch processing at archive scale (issue 6; this part: inputs, result folders, ledger).

:func:`expand_inputs` turns folders, globs and manifests into the input files,
:func:`result_folders` gives each its own folder under the output folder, and
:class:`Ledger` records what was done so a re-run skips it.
"""

from zhurong_tk.batch.inputs import expand_inputs, read_manifest, result_folders
from zhurong_tk.batch.ledger import Ledger, content_hash, file_state, options_key

__all__ = [
    "Ledger",
    "content_hash",
    "expand_inputs",
    "file_state",
    "options_key",
    "read_manifest",
    "result_folders",
]
