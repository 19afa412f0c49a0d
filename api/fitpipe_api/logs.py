"""The API server's log: one JSON object a line when not on a terminal (text on one), every line of a
request naming its ids, and one line for every request that was refused or failed.

- `log_config(settings, stream)` is the logging configuration `fitpipe serve api` hands to uvicorn (its own
  loggers included), at FITPIPE_LOG_LEVEL (INFO by default, so contacts and refusals are shown).
- JSON lines hold `ts` (UTC, ISO 8601), `level`, `logger`, `message`, the request's `request_id` and
  `client_request_id` when there is a request, the fields a call passed with `extra=`, and `exc_info`.
- `AnswerLogMiddleware` logs every answer >= 400 (`event: "answer"`, method, route template, status, ms,
  token_id): refusals (401, 403, 404, 409, 413, 422, ...) at INFO, 503 at WARNING, other 5xx at ERROR.
  An unexpected exception (a 500, or a failure after the answer started) is logged there at ERROR with its
  traceback (`exc_info`) and the request's ids, so the traceback of a 500 can be found by its request id.
  Successful requests are not logged (the HTTP histogram counts them; the audit log records data reads).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fitpipe.monitoring.http import route_template
from fitpipe.settings import Settings
from fitpipe_api.request_ids import current_ids

__all__ = ["JsonFormatter", "RequestIdFilter", "AnswerLogMiddleware", "log_config", "wants_json"]

log = logging.getLogger("fitpipe_api.answers")

# attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Adds request_id / client_request_id of the request being served (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = current_ids()
        record.request_id = ids.server if ids else None
        record.client_request_id = ids.client if ids else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None and key not in body:
                body[key] = value
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def wants_json(settings: Settings, stream: IO[str] | None = None) -> bool:
    if settings.fitpipe_log_format != "auto":
        return settings.fitpipe_log_format == "json"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


def log_config(settings: Settings, stream: IO[str] | None = None) -> dict[str, Any]:
    """A logging.config.dictConfig for the API server and uvicorn's own loggers."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if wants_json(settings, stream)
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_ids": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_ids"],
                "stream": stream or "ext://sys.stderr",
            }
        },
        "root": {"level": settings.fitpipe_log_level, "handlers": ["default"]},
        "loggers": {
            # uvicorn's loggers go through the same handler (its defaults would add their own)
            "uvicorn": {"level": settings.fitpipe_log_level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": settings.fitpipe_log_level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            # psycopg_pool logs every checkout at INFO
            "psycopg.pool": {"level": "WARNING"},
        },
    }


class AnswerLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        status = 500
        started = False
        start = time.perf_counter()

        async def remember_status(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        error: Exception | None = None
        try:
            await self.app(scope, receive, remember_status)
        except Exception as exc:
            error = exc  # Starlette answers it 500 further out; uvicorn's own line lacks the request's ids
            raise
        finally:
            if status >= 400 or error is not None:
                if error is not None:
                    level = logging.ERROR
                else:
                    level = (
                        logging.INFO if status < 500 else logging.WARNING if status == 503 else logging.ERROR
                    )
                principal = scope.get("state", {}).get("principal")
                route = route_template(scope, root_path)
                log.log(
                    level,
                    "%s %s answered %d%s",
                    scope.get("method"),
                    route,
                    status,
                    " and then failed" if error is not None and started else "",
                    exc_info=error,
                    extra={
                        "event": "answer",
                        "method": scope.get("method"),
                        "route": route,
                        "status": status,
                        "ms": round(1000 * (time.perf_counter() - start), 1),
                        "token_id": getattr(principal, "token_id", None),
                    },
                )
