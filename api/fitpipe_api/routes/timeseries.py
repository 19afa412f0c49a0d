"""GET /api/v1/timeseries: any participants' metrics over any span, at the granularity that keeps it fast.

JSON answers are one unit of work. Exports (csv, parquet, arrow) take one connection for their whole life:
the request is checked and audited on it, then the same connection streams the rows chunk by chunk, and
it goes back to the pool when the last byte is sent or the client goes away (fitpipe_api.admission).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query
from pydantic import StringConstraints
from starlette.responses import Response

from fitpipe.catalog import get_metric
from fitpipe.contracts import TimeseriesAnswer
from fitpipe.errors import InputError
from fitpipe_api.access import visible_participant
from fitpipe_api.deps import Call, CallerDep, SettingsDep
from fitpipe_api.exporters import MEDIA_TYPES, Chunk, arrow_stream, csv_stream, parquet_stream
from fitpipe_api.params import OptionalStudyQuery, RequiredUserIdsQuery
from fitpipe_api.queries.timeseries import stream_raw, stream_rollup
from fitpipe_api.responses import ExportResponse, JSONResponse
from fitpipe_api.series import Series, SeriesPlan, fetch_series, parse_when, plan_series

router = APIRouter(prefix="/timeseries", tags=["timeseries"])

EXPORT_CHUNK_ROWS = 50_000
"""Rows per chunk of a streamed export: a few MB in flight whatever the export's size."""

EXPORT_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    **{MEDIA_TYPES[f]: {"schema": {"type": "string", "format": "binary"}} for f in ("parquet", "arrow")},
}
"""The streamed exports as OpenAPI names them: a file download each (format=csv, parquet or arrow)."""

GranularityParam = Literal["auto", "raw", "1m", "1h", "1d"]


@router.get(
    "",
    summary="Time series of one or more participants and metrics",
    response_description="Columnar series (JSON), or a long table streamed as a download (csv, parquet, arrow): "
    "one row per point with columns user_id, study, metric, t, v, imputed, min, max, count.",
    response_model=TimeseriesAnswer,
    responses={200: {"content": EXPORT_CONTENT}},
)
async def get_timeseries(
    caller: CallerDep,
    settings: SettingsDep,
    user_id: RequiredUserIdsQuery,
    metric: Annotated[
        list[Annotated[str, StringConstraints(max_length=64)]],
        Query(description="Metric name from /metrics-catalog (repeatable).", min_length=1, max_length=50),
    ],
    start_date: Annotated[
        str | None,
        Query(
            description="YYYY-MM-DD (participant's local day) or ISO date-time; default: 7 days before end.",
            max_length=64,
        ),
    ] = None,
    end_date: Annotated[
        str | None,
        Query(
            description="YYYY-MM-DD (inclusive) or ISO date-time; default: the latest sample.", max_length=64
        ),
    ] = None,
    granularity: Annotated[
        GranularityParam, Query(description="auto picks the finest of raw/1m/1h/1d within the point budget.")
    ] = "auto",
    impute: Annotated[
        Literal["none", "auto"],
        Query(description="auto fills short heart-rate gaps (flagged, with intervals)."),
    ] = "none",
    format: Annotated[
        Literal["json", "csv", "parquet", "arrow"], Query(description="Answer format.")
    ] = "json",
    study: OptionalStudyQuery = None,
    max_points: Annotated[
        int | None, Query(ge=10, le=100_000, description="Point budget per series for auto (default 2,000).")
    ] = None,
) -> Response:
    request = TimeseriesRequest(
        user_ids=list(dict.fromkeys(user_id)),
        metrics=list(dict.fromkeys(metric)),
        start_date=start_date,
        end_date=end_date,
        granularity=granularity,
        impute=impute,
        format=format,
        study=study,
        budget=max_points or settings.fitpipe_api_point_budget,
    )
    if format == "json":
        return await caller.run(_json_answer, request, settings.fitpipe_api_max_json_points)
    # The export's one connection: it checks the request, then streams the rows, then goes back.
    lease, plan = await caller.export(_plan, request)
    return ExportResponse(
        lease,
        lambda conn: {"csv": csv_stream, "parquet": parquet_stream, "arrow": arrow_stream}[format](
            _chunks(conn, plan, impute)
        ),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="fitpipe-timeseries.{format}"'},
    )


@dataclass(frozen=True)
class TimeseriesRequest:
    user_ids: list[str]
    metrics: list[str]
    start_date: str | None
    end_date: str | None
    granularity: GranularityParam
    impute: str
    format: str
    study: str | None
    budget: int


Plan = list[SeriesPlan]
"""Every series of the answer, each planned once (granularity chosen, points counted) and passed down."""


def _plan(call: Call, r: TimeseriesRequest) -> Plan:
    """Who and what, over which span at which granularity; audited before anything is read."""
    metrics = [get_metric(m) for m in r.metrics]
    participants = [visible_participant(call.db, call.principal, u, r.study) for u in r.user_ids]
    start = parse_when(r.start_date, "start_date") if r.start_date else None
    end = parse_when(r.end_date, "end_date") if r.end_date else None
    plan = [
        plan_series(
            call.db,
            p,
            m,
            start,
            end,
            r.granularity,
            r.budget,
            count_raw=r.format == "json",  # JSON refuses too many raw points before reading them
        )
        for p in participants
        for m in metrics
    ]
    call.audit.record(
        "read_timeseries",
        [p.id for p in participants],
        {
            "metrics": [m.name for m in metrics],
            "start": r.start_date,
            "end": r.end_date,
            "granularity": r.granularity,
            "format": r.format,
            "impute": r.impute,
        },
    )
    return plan


def _json_answer(call: Call, r: TimeseriesRequest, max_json_points: int) -> Response:
    plan = _plan(call, r)
    raw_points = sum(s.raw_points or 0 for s in plan)
    if raw_points > max_json_points:
        raise InputError(
            f"the answer would hold {raw_points:,} raw points, more than JSON allows ({max_json_points:,})",
            field="format",
            hint="use format=parquet, arrow or csv (streamed), or a coarser granularity",
        )
    series = [_series(call.db, s, r.impute) for s in plan]
    return JSONResponse(
        {
            "granularity_requested": r.granularity,
            "impute": r.impute,
            "point_budget": r.budget,
            "series": [s.as_json() for s in series],
        }
    )


def _series(db: psycopg.Connection, plan: SeriesPlan, impute: str) -> Series:
    series = fetch_series(db, plan)
    if impute == "auto":
        # pandas and the model load on first use, not in every API worker
        from fitpipe_api.imputation import impute_series

        series = impute_series(db, series)
    return series


def _chunks(db: psycopg.Connection, plan: Plan, impute: str) -> Iterator[Chunk]:
    """Runs while the response streams, chunk by chunk in worker threads, on the export's connection."""
    for planned in plan:
        p, m, span, g = planned.participant, planned.metric, planned.span, planned.granularity
        if impute == "auto":
            s = _series(db, planned, impute)
            yield Chunk(
                p.external_id,
                p.study,
                m.name,
                s.t,
                s.v,
                s.imputed,
                s.extra.get("min"),
                s.extra.get("max"),
                s.extra.get("count"),
            )
        elif g == "raw":
            for t, v in stream_raw(db, span, chunk_rows=EXPORT_CHUNK_ROWS):
                yield Chunk(p.external_id, p.study, m.name, t, v)
        else:
            for part in stream_rollup(db, span, g, chunk_rows=EXPORT_CHUNK_ROWS):
                yield Chunk(
                    p.external_id,
                    p.study,
                    m.name,
                    part["t"],
                    part["sum"] / part["count"],
                    None,
                    part["min"],
                    part["max"],
                    part["count"],
                )
