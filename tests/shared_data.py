"""Where the shared reference data is, in one place: the tests that use it skip, naming what is missing, without it.

FITPIPE_SHARED_DATA names the folder. Otherwise it is `shared/` beside the project: beside this checkout,
or beside the main checkout of a git worktree. A fresh clone has none, and the tests that need it skip.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SHARED", "shared"]

_REPO = Path(__file__).resolve().parents[1]


def _find() -> Path | None:
    given = os.environ.get("FITPIPE_SHARED_DATA")
    if given:
        return Path(given)
    candidates = [_REPO.parent / "shared"]
    git = _REPO / ".git"
    if git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        text = git.read_text().strip()
        if text.startswith("gitdir:"):
            common = Path(text.split(":", 1)[1].strip()).parents[1]
            candidates.append(common.parent.parent / "shared")
    return next((c for c in candidates if c.is_dir()), None)


SHARED = _find()
"""The shared folder, or None."""


def shared(*parts: str) -> Path:
    """A path inside the shared folder (it may not exist: tests check and skip, naming it)."""
    return (SHARED or _REPO.parent / "shared").joinpath(*parts)
