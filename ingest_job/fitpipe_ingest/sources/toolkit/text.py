"""Whole-file checks shared by the file readers: byte-order marks, UTF-16 and binary data, empty files.

A file that fails them cannot hold a single readable record, so these are the only checks that fail a
whole file; everything after them is judged line by line or record by record.
"""

from __future__ import annotations

from fitpipe.errors import InputError

__all__ = ["BOM", "MAGIC", "check_text", "short"]

BOM = b"\xef\xbb\xbf"
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
MAGIC = {
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive",
    b"\x1f\x8b": "gzip-compressed data",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document",
    b"SQLite format 3": "an SQLite database",
}


def check_text(head: bytes, path: str, expected: str) -> None:
    """Refuse data that cannot be UTF-8 text; `head` is the file's first bytes, `expected` what it should hold."""
    if head.startswith(_UTF16):
        raise InputError(
            "UTF-16 text, not UTF-8", file=path, hint="re-export (or save from Excel) as CSV UTF-8"
        )
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{what}, not {expected}", file=path, hint="is this the right file?")
    body = head.removeprefix(BOM)
    if not body.strip():
        raise InputError(f"empty file (expected {expected})", file=path, hint="re-export or re-copy it")
    first_line = body.lstrip()[:4096].split(b"\n", 1)[0]
    if b"\0" in first_line:
        raise InputError(f"binary data, not {expected}", file=path, hint="is this the right file?")


def short(text: object, limit: int = 40) -> str:
    """A cell quoted in a message: repr of its first `limit` characters, with … when cut."""
    value = str(text)
    return repr(value[:limit]) + ("…" if len(value) > limit else "")
