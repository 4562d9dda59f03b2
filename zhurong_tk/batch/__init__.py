"""Batch processing at archive scale (issue 6).

:func:`run_batch` runs a per-file task over folders, globs and manifests of
inputs, each into its own result folder, on local worker processes or a Dask
cluster; a crashed or hung input fails alone, and the ledger
(:class:`Ledger`) lets a re-run skip what is done. The pieces:
:func:`expand_inputs`, :func:`result_folders`, :func:`options_key`.
"""

from zhurong_tk.batch.inputs import expand_inputs, read_manifest, result_folders
from zhurong_tk.batch.ledger import Ledger, content_hash, file_state, options_key
from zhurong_tk.batch.run import BatchStopped, BatchSummary, run_batch

__all__ = [
    "BatchStopped",
    "BatchSummary",
    "Ledger",
    "content_hash",
    "expand_inputs",
    "file_state",
    "options_key",
    "read_manifest",
    "result_folders",
    "run_batch",
]
