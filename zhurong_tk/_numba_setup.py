"""numba set-up for the short processes zhurong-tk owns (the ``tracks detect`` command).

On its first compiled call in a process, numba loads its array support
(``numba.np.arraymath``), which imports ``scipy.linalg.cython_blas`` for one purpose:
to learn whether ``np.dot`` and ``np.linalg`` can be compiled. With scipy 1.17 that
import took 0.15-0.27 s on the reference machine (scipy's array-API layer walks
numpy's namespace and so loads ``numpy.f2py`` and ``numpy.testing``): a tenth of a
``tracks detect`` command, whose kernels use no BLAS and which never imports scipy
otherwise. Like the allocator settings of :mod:`zhurong_tk._memory`, this is for a
process that is ours: a library must not decide for its host that numba has no BLAS.
"""

from __future__ import annotations

import sys

_BLAS_MODULE = "scipy.linalg.cython_blas"


def skip_blas_probe() -> bool:
    """Load numba's array support without importing scipy.linalg.

    numba then records that it has no BLAS: a kernel compiled later in this process
    cannot use ``np.dot``, ``@`` or ``np.linalg`` (none of ours do). Does nothing
    when numba's array support or scipy.linalg is already loaded.

    Returns
    -------
    bool
        Whether the probe was skipped.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return False  # too late, or already paid for
    sys.modules[_BLAS_MODULE] = None  # importing a module mapped to None raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if _BLAS_MODULE in sys.modules and sys.modules[_BLAS_MODULE] is None:
            del sys.modules[_BLAS_MODULE]  # scipy.linalg stays importable for others
    return True
