"""GET /api/v1/timeseries: any participants' metrics over any span, at the granularity that keeps it fast."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from fitpipe.catalog import get_metric
from fitpipe.errors import InputError
from fitpipe_api.access import visible_participant
from fitpipe_api.deps import AuditDep, DbDep, PrincipalDep, SettingsDep
from fitpipe_api.exporters import MEDIA_TYPES, Chunk, arrow_stream, csv_stream, parquet_stream
from fitpipe_api.params import OptionalStudyQuery, RequiredUserIdsQuery
from fitpipe_api.queries.timeseries import point_counts, stream_raw, stream_rollup
from fitpipe_api.responses import JSONResponse
from fitpipe_api.series import Series, align_span, choose_granularity, fetch_series, parse_when, resolve_span

router = APIRouter(prefix="/timeseries", tags=["timeseries"])

EXPORT_CHUNK_ROWS = 50_000
"""Rows per chunk of a streamed export: a few MB in flight whatever the export's size."""

GranularityParam = Literal["auto", "raw", "1m", "1h", "1d"]


@router.get(
    "",
    summary="Time series of one or more participants and metrics",
    response_description="Columnar series (JSON) or a long table (csv, parquet, arrow).",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "application/vnd.apache.parquet": {},
                "application/vnd.apache.arrow.stream": {},
            }
        }
    },
)
def get_timeseries(
    request: Request,
    db: DbDep,
    principal: PrincipalDep,
    audit: AuditDep,
    settings: SettingsDep,
    user_id: RequiredUserIdsQuery,
    metric: Annotated[
        list[str], Query(description="Metric name from /metrics-catalog (repeatable).", min_length=1)
    ],
    start_date: Annotated[
        str | None,
        Query(
            description="YYYY-MM-DD (participant's local day) or ISO date-time; default: 7 days before end."
        ),
    ] = None,
    end_date: Annotated[
        str | None, Query(description="YYYY-MM-DD (inclusive) or ISO date-time; default: the latest sample.")
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
    budget = max_points or settings.fitpipe_api_point_budget
    metrics = [get_metric(m) for m in dict.fromkeys(metric)]
    participants = [visible_participant(db, principal, u, study) for u in dict.fromkeys(user_id)]
    start = parse_when(start_date, "start_date") if start_date else None
    end = parse_when(end_date, "end_date") if end_date else None
    plan = []
    for p in participants:
        for m in metrics:
            span = resolve_span(db, p, m, start, end)
            g = granularity
            if g == "auto":
                g = choose_granularity(point_counts(db, span), budget)
            plan.append((p, m, align_span(span, g, p), g))
    audit.record(
        "read_timeseries",
        [p.id for p in participants],
        {
            "metrics": [m.name for m in metrics],
            "start": start_date,
            "end": end_date,
            "granularity": granularity,
            "format": format,
            "impute": impute,
        },
    )
    if format == "json":
        raw_points = sum(point_counts(db, span)["raw"] for _, _, span, g in plan if g == "raw")
        if raw_points > settings.fitpipe_api_max_json_points:
            raise InputError(
                f"the answer would hold {raw_points:,} raw points, more than JSON allows "
                f"({settings.fitpipe_api_max_json_points:,})",
                field="format",
                hint="use format=parquet, arrow or csv (streamed), or a coarser granularity",
            )
        series = [_series(db, p, m, span, g, budget, impute) for p, m, span, g in plan]
        return JSONResponse(
            {
                "granularity_requested": granularity,
                "impute": impute,
                "point_budget": budget,
                "series": [s.as_json() for s in series],
            }
        )
    chunks = _chunks(request.app.state.pool, plan, budget, impute)
    stream = {"csv": csv_stream, "parquet": parquet_stream, "arrow": arrow_stream}[format](chunks)
    filename = f"fitpipe-timeseries.{format}"
    return StreamingResponse(
        stream,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _series(db: psycopg.Connection, p, m, span, g, budget: int, impute: str) -> Series:  # type: ignore[no-untyped-def]
    series = fetch_series(db, p, m, span, g, budget)
    if impute == "auto":
        # pandas and the model load on first use, not in every API worker
        from fitpipe_api.imputation import impute_series

        series = impute_series(db, series)
    return series


def _chunks(pool, plan, budget: int, impute: str) -> Iterator[Chunk]:  # type: ignore[no-untyped-def]
    """Runs while the response streams, on a connection of its own (the request's one is returned by then)."""
    with pool.connection() as db:
        for p, m, span, g in plan:
            if impute == "auto":
                s = _series(db, p, m, span, g, budget, impute)
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
