"""Give back to the system what start-up needed only once.

Parsing a 1,000-tag profile and validating it builds several megabytes of short-lived objects;
Python frees them, but glibc's malloc keeps the freed pages in its arenas, so the process's
resident memory stays at its start-up peak for ever. `release_startup_memory` collects what is
left and asks glibc to return its free pages (``malloc_trim``); on another C library it only
collects.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:  # the symbols the process already has: its C library's among them
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim), or no dlopen
        return None
    return trim


def release_startup_memory() -> bool:
    """Collect garbage and return free heap pages to the system; True when they were trimmed."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
