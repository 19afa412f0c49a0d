"""The allocator tuning applies on glibc (this project's Debian machines) and is harmless to call twice."""

from __future__ import annotations

import platform

import pytest

from fitpipe.memory import tune_allocator


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt is a glibc function; this C library is not glibc"
)
def test_tune_allocator_applies_on_glibc() -> None:
    assert tune_allocator() is True
    assert tune_allocator() is True
