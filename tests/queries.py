"""Reading what a test stored: the one row of a query, or the one value of that row. Both fail the test,
naming the query, when the query finds no row (rather than failing later on `None[0]`)."""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.abc import Params

__all__ = ["one", "scalar"]

Query = LiteralString | bytes | sql.SQL | sql.Composed
"""What Connection.execute takes (psycopg.abc.Query also names the template strings of Python 3.14)."""


def one(conn: psycopg.Connection, query: Query, params: Params | None = None) -> tuple[Any, ...]:
    """The first row of `query`, which must find one."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, f"no row: {query!r}"
    return tuple(row)


def scalar(conn: psycopg.Connection, query: Query, params: Params | None = None) -> Any:
    """The first column of the first row of `query`, which must find one."""
    return one(conn, query, params)[0]
