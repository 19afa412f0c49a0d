"""Size limits on what a client sends: a body over FITPIPE_API_MAX_BODY_BYTES is answered 413 and a query
string over FITPIPE_API_MAX_QUERY_BYTES 414, both without reading on and without echoing any of it back.

A declared Content-Length over the limit is refused before the body is read; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fitpipe_api.responses import JSONResponse

__all__ = ["SizeLimitMiddleware"]


class SizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_query: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_query = max_query

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body:,} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await JSONResponse(
                {
                    "detail": f"the query string is longer than {self.max_query:,} bytes",
                    "hint": "send fewer or shorter parameters",
                },
                status_code=414,
            )(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await JSONResponse(
                {"detail": self._too_large(), "hint": "send a smaller body"},
                status_code=413,
                headers={"Connection": "close"},  # the rest of the body is never read
            )(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # FastAPI passes an HTTPException raised while reading the body through to its handler
                    raise HTTPException(413, detail=self._too_large(), headers={"Connection": "close"})
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
