"""Reading a benchmark's database: the one row of a query, or the one value of that row (the query must
find one; a benchmark that finds none stops there, naming the query). Benchmarks run as scripts import it
as a sibling; bytes_per_point.py, which tests/fitpipe/test_capacity.py loads by path, does without it."""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.abc import Params

__all__ = ["one", "scalar"]

Query = LiteralString | bytes | sql.SQL | sql.Composed


def one(conn: psycopg.Connection, query: Query, params: Params | None = None) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"no row: {query!r}")
    return tuple(row)


def scalar(conn: psycopg.Connection, query: Query, params: Params | None = None) -> Any:
    return one(conn, query, params)[0]
