from __future__ import annotations

import sys

import pytest

from zhurong_tk import _memory
from zhurong_tk._memory import MALLOC_ENVIRON, hand_back_freed_memory, keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_malloc_settings_apply_unless_the_environment_gives_its_own(monkeypatch):
    for name in MALLOC_ENVIRON:
        monkeypatch.delenv(name, raising=False)
    assert keep_freed_memory() is True
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_handed_back_only_in_a_process_that_keeps_it(monkeypatch):
    """A host that imported the library keeps its allocator untouched; a process with our
    settings (applied, or given to a batch worker in its environment) trims after a pass."""
    monkeypatch.setattr(_memory, "_applied", False)
    for name in MALLOC_ENVIRON:
        monkeypatch.delenv(name, raising=False)
    assert hand_back_freed_memory() is False
    for name, value in MALLOC_ENVIRON.items():
        monkeypatch.setenv(name, str(value))
    assert hand_back_freed_memory() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")  # the user's own settings
    assert hand_back_freed_memory() is False
    assert keep_freed_memory() is False  # theirs win
    for name in MALLOC_ENVIRON:
        monkeypatch.delenv(name)
    assert keep_freed_memory() is True
    assert hand_back_freed_memory() is True


@pytest.mark.parametrize("skip", [False, True])
def test_exit_collections_skipped_only_when_asked(skip):
    """A cycle left at exit is swept (its ``__del__`` runs) unless the process asked not to."""
    import subprocess

    code = (
        "from zhurong_tk._memory import skip_exit_collections\n"
        "class Node:\n"
        "    def __del__(self):\n"
        "        print('swept', flush=True)\n"
        "node = Node()\n"
        "node.me = node\n"
        "del node\n"
        f"if {skip}:\n"
        "    skip_exit_collections()\n"
        "    skip_exit_collections()  # once is enough; twice is harmless\n"
        "print('done', flush=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == (["done"] if skip else ["done", "swept"])
