"""Named, independent random streams: one per (seed, participant, day, component).

Keying every draw by what it is for keeps a cohort byte-identical for a seed whatever the process
layout, and keeps earlier days unchanged when `--days` grows (a later run only adds days).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def _key(part: int | str) -> int:
    # crc32 rather than hash(): str hashes are salted per process, which would break determinism
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def stream(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator that depends only on `seed` and `keys` (non-negative ints or names)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(_key(k) for k in keys)]))
