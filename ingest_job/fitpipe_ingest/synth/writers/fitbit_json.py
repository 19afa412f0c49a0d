"""JSON text exactly as Fitbit's account export writes it (`"key" : value`, `},{` between records,
objects in an array indented with the key that holds it, no newline at the end).
"""

from __future__ import annotations

import json

__all__ = ["dumps"]


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"fitbit_json: cannot write {type(value).__name__}")


def _value(value: object, indent: int) -> str:
    if isinstance(value, dict):
        return _object(value, indent)
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[" + ",".join(_value(v, indent) for v in value) + "]"
    return _scalar(value)


def _object(obj: dict[str, object], indent: int) -> str:
    if not obj:
        return "{ }"
    inner = " " * (indent + 2)
    members = ",\n".join(f"{inner}{json.dumps(k)} : {_value(v, indent + 2)}" for k, v in obj.items())
    return "{\n" + members + "\n" + " " * indent + "}"


def dumps(value: object) -> str:
    """The text of `value` (a list of records, as every export file holds)."""
    return _value(value, 0)
