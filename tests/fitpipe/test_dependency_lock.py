"""The hashed lock files (requirements/*.txt) agree with pyproject.toml and with what is installed here.

The Dockerfile installs requirements/runtime.txt, `make install` (and so CI) requirements/dev.txt, both
with --require-hashes; scripts/lock-dependencies.sh regenerates them.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)


def _lock(name: str) -> dict[str, tuple[str, Marker | None, int]]:
    """package -> (version, marker, number of hashes)."""
    pins: dict[str, tuple[str, Marker | None, int]] = {}
    current = None
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group("name"))
            marker = Marker(match.group("marker")) if match.group("marker") else None
            pins[current] = (match.group("version"), marker, 0)
        elif "--hash=sha256:" in line and current:
            v, m, n = pins[current]
            pins[current] = (v, m, n + 1)
    return pins


def _pyproject() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        "runtime": [Requirement(r) for r in project["dependencies"]],
        "test": [Requirement(r) for r in project["optional-dependencies"]["test"]],
        "bench": [Requirement(r) for r in project["optional-dependencies"]["bench"]],
    }


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("runtime.txt", ["runtime"]),
        ("dev.txt", ["runtime", "test"]),
        ("bench.txt", ["runtime", "test", "bench"]),
    ],
)
def test_every_dependency_is_locked_within_its_range_with_hashes(lock: str, groups: list[str]) -> None:
    pins = _lock(lock)
    wanted = [r for g in groups for r in _pyproject()[g]]
    problems = []
    for req in wanted:
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req.name} is not in requirements/{lock}")
        elif not req.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{req.name}=={pin[0]} is outside {req}")
    unhashed = sorted(name for name, (_, _, hashes) in pins.items() if hashes == 0)
    assert problems == [] and unhashed == [], (
        f"{problems} {unhashed}: run scripts/lock-dependencies.sh after changing pyproject.toml"
    )
    assert "setuptools" in pins  # the build backend is locked too (pip --no-build-isolation)


def test_the_locks_agree_on_every_shared_package() -> None:
    bench = {k: v[0] for k, v in _lock("bench.txt").items()}
    for lock in ("dev.txt", "runtime.txt"):
        differ = {k: (v[0], bench.get(k)) for k, v in _lock(lock).items() if bench.get(k) != v[0]}
        assert differ == {}, f"requirements/{lock} and bench.txt differ: {differ}"


def test_this_environment_was_installed_from_the_lock() -> None:
    """`make install` (and CI) install requirements/dev.txt exactly; a drifted virtualenv fails here."""
    drift = []
    for name, (pinned, marker, _) in _lock("dev.txt").items():
        if marker is not None and not marker.evaluate():
            continue
        try:
            installed = version(name)
        except PackageNotFoundError:
            drift.append(f"{name}: not installed (lock: {pinned})")
            continue
        if Version(installed) != Version(pinned):
            drift.append(f"{name}: {installed} installed, lock: {pinned}")
    assert drift == [], f"{drift}: run `make install` (the virtualenv predates the lock)"
