"""What start-up leaves behind is given back (common.memory)."""

from __future__ import annotations

import ctypes
import gc
import weakref

from common.memory import release_startup_memory


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_release_collects_cycles_and_trims_on_glibc() -> None:
    node = _Node()
    ref = weakref.ref(node)
    del node
    gc.disable()
    try:
        trimmed = release_startup_memory()
    finally:
        gc.enable()
    assert ref() is None
    has_trim = hasattr(ctypes.CDLL(None), "malloc_trim")
    assert trimmed is has_trim
