"""Response classes: JSON serialised with orjson (numpy arrays and datetimes included, NaN as null), and the
streamed export that owns its connection until the last byte."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import psycopg
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from fitpipe_api.admission import ExportLease

__all__ = ["JSONResponse", "ExportResponse", "dumps"]

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class ExportResponse(StreamingResponse):
    """A streamed download on an export lease: the chunks of `make(conn)`, produced in worker threads on the
    lease's connection, which goes back to the pool when the stream ends, fails or the client goes away."""

    def __init__(
        self,
        lease: ExportLease,
        make: Callable[[psycopg.Connection], Iterator[bytes]],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(lease.stream(make), media_type=media_type, headers=headers)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # the stream closes the lease when it runs to its end; this covers a stream cut short
            await self.lease.close()
