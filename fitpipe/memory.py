"""Tuning glibc's allocator for long-running servers that stream large answers.

By default glibc raises its mmap threshold after large frees and keeps a heap arena per thread, so a
server that streams an export in 1–3 MB chunks from worker threads keeps tens of MB it no longer
uses. A fixed threshold, an eager trim and two arenas keep the API's memory flat (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["tune_allocator"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def tune_allocator() -> bool:
    """Apply the settings (call before threads start); False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = all(
        mallopt(option, value) == 1
        for option, value in (
            (_M_MMAP_THRESHOLD, 128 * 1024),
            (_M_TRIM_THRESHOLD, 256 * 1024),
            (_M_ARENA_MAX, 2),
        )
    )
    if not ok:
        log.debug("mallopt refused a setting; keeping the allocator's defaults")
    return ok
