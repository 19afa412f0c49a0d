"""What a file nobody reads looks like, for the summary's "not known" list: enough to tell a misplaced export
from a stray file without opening it."""

from __future__ import annotations

import orjson

from fitpipe.errors import InputError
from fitpipe_ingest.sources.toolkit.text import BOM, MAGIC, short
from fitpipe_ingest.tree import InputTree

__all__ = ["describe"]

_HEAD = 4096
_WHOLE_JSON = 1 << 20


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def describe(tree: InputTree, path: str) -> str:
    size = tree.size(path)
    if size == 0:
        return "an empty file"
    try:
        with tree.open(path) as fh:
            head = fh.read(_WHOLE_JSON if size <= _WHOLE_JSON else _HEAD)
    except InputError as exc:
        return f"unreadable ({exc.message})"
    return f"{_what(head, size)}, {_size(size)}"


def _what(head: bytes, size: int) -> str:
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return what
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text"
    body = head.removeprefix(BOM)
    if b"\0" in body[:_HEAD]:
        return "binary data"
    text = body[:_HEAD].decode("utf-8", "replace").lstrip()
    if text[:1] in "[{":
        return _json(body, size)
    first = text.splitlines()[0] if text else ""
    if "," in first or ";" in first or "\t" in first:
        return f"CSV with the header {short(first, 120)}"
    return f"text starting {short(first, 60)}"


def _json(data: bytes, size: int) -> str:
    if size > _WHOLE_JSON:
        return "JSON"
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "JSON that does not parse"
    if isinstance(value, list):
        keys = sorted({k for item in value[:50] if isinstance(item, dict) for k in item})
        return f"a JSON array of {len(value):,} records" + (
            f" with keys {', '.join(keys[:8])}" if keys else ""
        )
    if isinstance(value, dict):
        return f"a JSON object with keys {', '.join(sorted(value)[:8])}"
    return "a JSON scalar"
