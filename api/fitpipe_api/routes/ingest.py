"""GET /api/v1/ingest/runs and GET /api/v1/quarantine: the pipeline's history and its rejected records."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from fitpipe_api.access import visible_study_id
from fitpipe_api.deps import DbDep, PrincipalDep
from fitpipe_api.params import OptionalStudyQuery
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["pipeline"])


@router.get("/ingest/runs", summary="Ingest runs, newest first, with counts and errors")
def get_runs(
    db: DbDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: Annotated[
        Literal["running", "success", "partial", "failed", "aborted"] | None,
        Query(description="Only runs with this status."),
    ] = None,
) -> Response:
    rows = db.execute(
        """SELECT id, trigger, status, started_at, finished_at,
                  extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 AS seconds,
                  participants, files, rows_read, rows_new, rows_updated, rows_present, rows_quarantined,
                  errors, error, details
           FROM ingest_runs WHERE (%(status)s::text IS NULL OR status = %(status)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"limit": limit, "status": status},
    ).fetchall()
    cols = [
        "id",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "seconds",
        "participants",
        "files",
        "rows_read",
        "rows_new",
        "rows_updated",
        "rows_present",
        "rows_quarantined",
        "errors",
        "error",
        "details",
    ]
    runs = [dict(zip(cols, r, strict=True)) for r in rows]
    if principal.study_ids is not None:
        for run in runs:  # run errors may name participants of other studies
            run["error"] = run["error"] and f"{run['errors']} error(s); details are visible to admins"
            run["details"] = {
                k: v
                for k, v in (run["details"] or {}).items()
                if k in ("metrics", "quarantine_reasons", "files", "sleep")
            }
    return JSONResponse({"runs": runs})


@router.get("/quarantine", summary="Rejected input records with their reasons")
def get_quarantine(
    db: DbDep,
    principal: PrincipalDep,
    study: OptionalStudyQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> Response:
    study_id = visible_study_id(db, principal, study) if study else None
    allowed = None if principal.study_ids is None else sorted(principal.study_ids)
    rows = db.execute(
        """SELECT q.id, st.name, p.external_id, q.source, q.file, q.record, q.field, q.reason, q.raw, q.first_seen, q.last_seen
           FROM quarantine q LEFT JOIN participants p ON p.id = q.participant_id LEFT JOIN studies st ON st.id = p.study_id
           WHERE (%(study)s::int IS NULL OR p.study_id = %(study)s)
             AND (%(allowed)s::int[] IS NULL OR p.study_id = ANY(%(allowed)s))
           ORDER BY q.last_seen DESC, q.id DESC LIMIT %(limit)s""",
        {"study": study_id, "allowed": allowed, "limit": limit},
    ).fetchall()
    counts = db.execute(
        """SELECT q.reason, count(*) FROM quarantine q LEFT JOIN participants p ON p.id = q.participant_id
           WHERE (%(study)s::int IS NULL OR p.study_id = %(study)s)
             AND (%(allowed)s::int[] IS NULL OR p.study_id = ANY(%(allowed)s))
           GROUP BY 1 ORDER BY 2 DESC LIMIT 50""",
        {"study": study_id, "allowed": allowed},
    ).fetchall()
    cols = [
        "id",
        "study",
        "user_id",
        "source",
        "file",
        "record",
        "field",
        "reason",
        "raw",
        "first_seen",
        "last_seen",
    ]
    return JSONResponse(
        {
            "records": [dict(zip(cols, r, strict=True)) for r in rows],
            "by_reason": [{"reason": r, "count": n} for r, n in counts],
        }
    )
