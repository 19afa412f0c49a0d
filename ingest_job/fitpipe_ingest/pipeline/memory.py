"""Keeping an ingest process's memory bounded by what it holds, not by what it once held.

pyarrow's default pool (mimalloc) and glibc's per-thread arenas keep freed memory for reuse: a
process that reads a several-GB file chunk by chunk would grow with every chunk's peak. The system
pool with glibc tuned (fitpipe.memory) hands large buffers back when a chunk is done.
"""

from __future__ import annotations

from functools import cache

from fitpipe.memory import tune_allocator

__all__ = ["bound_memory"]


@cache
def bound_memory() -> None:
    """Once per process, before the first file is read."""
    import pyarrow as pa

    tune_allocator()
    pa.set_memory_pool(pa.system_memory_pool())
