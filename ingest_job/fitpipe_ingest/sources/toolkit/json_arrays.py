"""Reading JSON export files: each is one array of records. Whole-file problems raise InputError.

Big files go through a typed msgspec decoder first (no dicts, no GC tracking: ~2.5 M records/s);
when a record does not fit the expected shape, the file is read again record by record with orjson
so that each bad record can be rejected on its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import orjson

from fitpipe.errors import InputError
from fitpipe_ingest.records import RAW_LIMIT
from fitpipe_ingest.sources.toolkit.text import BOM
from fitpipe_ingest.tree import InputTree

__all__ = ["read_json_bytes", "load_json_array", "decode_typed", "raw_json", "BadRecord", "number"]

T = TypeVar("T")


class BadRecord(Exception):
    """One record (or one field of it) that cannot be used; becomes a Rejected entry."""

    def __init__(self, field: str, reason: str, kind: str = "") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.kind = kind


def read_json_bytes(tree: InputTree, path: str) -> bytes:
    data = tree.read_bytes(path)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if not data.strip():
        raise InputError(
            "the file is empty", file=path, hint="re-export it; an export file holds at least '[]'"
        )
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise InputError(
                f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})",
                file=path,
                line=line,
                hint="re-export the file as UTF-8",
            ) from None
    return data


def load_json_array(data: bytes, path: str) -> list[Any]:
    try:
        records = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg} (column {exc.colno})",
            file=path,
            line=exc.lineno,
            hint="the file is damaged or cut short; re-export it or remove it from the input",
        ) from None
    if not isinstance(records, list):
        raise InputError(
            f"expected a JSON array of records, found a JSON {type(records).__name__}",
            file=path,
            line=1,
        )
    return records


def decode_typed(data: bytes, decoder: msgspec.json.Decoder[list[T]]) -> list[T] | None:
    """The records in their expected shape, or None when any record differs (or the JSON is invalid)."""
    try:
        return decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def raw_json(record: object) -> str:
    try:
        return orjson.dumps(record)[:RAW_LIMIT].decode("utf-8", "replace")
    except TypeError:
        return repr(record)[:RAW_LIMIT]


def number(value: object, field: str) -> float:
    """A JSON number or numeric string as float; anything else is a BadRecord."""
    if value is None:
        raise BadRecord(field, f"{field} is missing", "missing_field")
    if isinstance(value, bool):
        raise BadRecord(field, f"{field} is {value!r}, not a number", "not_a_number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise BadRecord(field, f"{field} {value[:40]!r} is not a number", "not_a_number") from None
    raise BadRecord(field, f"{field} is a JSON {type(value).__name__}, not a number", "not_a_number")
