"""GET /api/v1/ingest/runs and GET /api/v1/quarantine: the pipeline's history and its rejected records.

Runs, per study: a run's `studies` maps each study it touched to its counts there. The run's own record
(`ingest_runs.details.studies`: {study: {participants, files, rows_read, rows_new, rows_updated,
rows_present, rows_quarantined, errors}}) is used when the ingest job wrote one; otherwise the counts are
read from what the run left behind: the files it loaded (`ingest_files.run_id`) and the records it
quarantined (`quarantine.run_id`), so `participants`, `files` and `rows_quarantined` only.

A token scoped to studies sees the runs that touched one of its studies, with only its studies' counts: the
run's top-level counts become the sums over those studies (null where the run recorded none). It also sees
the runs no study can be told from (a run that failed before reading anything, or whose counts name no
study): their status and times only, every count null, so that a coordinator learns that last night's run
failed. Runs that touched only other studies are left out. Error texts and run-wide details may name other
studies' participants and files: scoped tokens get "N error(s); details are visible to admins" instead.
Admins see everything.

Quarantined records are raw participant data: every read is audited (`read_quarantine`, one row per
participant whose records were returned).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from fitpipe.contracts import QuarantineAnswer, RunsAnswer
from fitpipe_api.access import visible_study_id
from fitpipe_api.deps import Call, CallerDep
from fitpipe_api.params import OptionalStudyQuery
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["pipeline"])

RUN_COUNTS = (
    "participants",
    "files",
    "rows_read",
    "rows_new",
    "rows_updated",
    "rows_present",
    "rows_quarantined",
    "errors",
)

_RUNS = """
SELECT r.id, r.trigger, r.status, r.started_at, r.finished_at,
       extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at)::float8 AS seconds,
       r.participants, r.files, r.rows_read, r.rows_new, r.rows_updated, r.rows_present, r.rows_quarantined,
       r.errors, r.error, r.details, per.studies
FROM ingest_runs r
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(c.study, c.counts ORDER BY c.study)
                        FILTER (WHERE %(allowed)s::int[] IS NULL OR st.id = ANY(%(allowed)s::int[])),
                    '{}'::jsonb) AS studies,
           coalesce(bool_or(st.id = ANY(%(allowed)s::int[])), false) AS touches_allowed,
           count(st.id) > 0 AS touches_any
    FROM (
        SELECT key AS study, value AS counts
        FROM jsonb_each(CASE WHEN jsonb_typeof(r.details -> 'studies') = 'object' THEN r.details -> 'studies'
                             ELSE '{}'::jsonb END)
        UNION ALL
        SELECT s.name, jsonb_build_object('participants', count(DISTINCT x.pid),
                                          'files', count(*) FILTER (WHERE x.kind = 'file'),
                                          'rows_quarantined', count(*) FILTER (WHERE x.kind = 'quarantine'))
        FROM (SELECT participant_id AS pid, 'file' AS kind FROM ingest_files WHERE run_id = r.id
              UNION ALL
              SELECT participant_id, 'quarantine' FROM quarantine WHERE run_id = r.id) AS x
        JOIN participants p ON p.id = x.pid JOIN studies s ON s.id = p.study_id
        WHERE jsonb_typeof(r.details -> 'studies') IS DISTINCT FROM 'object'
        GROUP BY s.name
    ) AS c JOIN studies st ON st.name = c.study
) AS per
WHERE (%(status)s::text IS NULL OR r.status = %(status)s::text)
  AND (%(allowed)s::int[] IS NULL OR per.touches_allowed OR NOT per.touches_any)
ORDER BY r.id DESC LIMIT %(limit)s
"""

_RUN_COLUMNS = [
    "id",
    "trigger",
    "status",
    "started_at",
    "finished_at",
    "seconds",
    *RUN_COUNTS,
    "error",
    "details",
    "studies",
]


def _scoped(run: dict[str, Any]) -> dict[str, Any]:
    """A run as a study-scoped token sees it: its studies' counts, summed, and nothing run-wide."""
    studies: dict[str, dict[str, Any]] = run["studies"]
    errors = run["errors"]
    for name in RUN_COUNTS:
        values = [s.get(name) for s in studies.values()]
        run[name] = sum(values) if values and all(isinstance(v, int) for v in values) else None
    if studies and run["errors"] is not None:
        errors = run["errors"]  # its studies' own count, when the run recorded one
    failed = run["status"] in ("failed", "partial", "aborted")
    run["error"] = (
        (f"{errors} error(s); details are visible to admins" if errors else "details are visible to admins")
        if failed or errors
        else None
    )
    run["details"] = {}
    return run


@router.get(
    "/ingest/runs",
    summary="Ingest runs, newest first, with counts and errors, per study",
    response_model=RunsAnswer,
)
async def get_runs(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: Annotated[
        Literal["running", "success", "partial", "failed", "aborted"] | None,
        Query(description="Only runs with this status."),
    ] = None,
) -> Response:
    return await caller.run(_runs, limit, status)


def _runs(call: Call, limit: int, status: str | None) -> Response:
    scoped = call.principal.study_ids is not None
    allowed = sorted(call.principal.study_ids) if call.principal.study_ids is not None else None
    rows = call.db.execute(_RUNS, {"limit": limit, "status": status, "allowed": allowed}).fetchall()
    runs = [dict(zip(_RUN_COLUMNS, r, strict=True)) for r in rows]
    return JSONResponse({"runs": [_scoped(r) for r in runs] if scoped else runs})


@router.get(
    "/quarantine",
    summary="Rejected input records with their reasons (reads are audited)",
    response_model=QuarantineAnswer,
)
async def get_quarantine(
    caller: CallerDep,
    study: OptionalStudyQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> Response:
    return await caller.run(_quarantine, study, limit)


def _quarantine(call: Call, study: str | None, limit: int) -> Response:
    db, principal = call.db, call.principal
    study_id = visible_study_id(db, principal, study) if study else None
    allowed = None if principal.study_ids is None else sorted(principal.study_ids)
    rows = db.execute(
        """SELECT q.id, st.name, p.external_id, q.source, q.file, q.record, q.field, q.reason, q.raw, q.first_seen,
                  q.last_seen, q.participant_id
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
    call.audit.record(
        "read_quarantine",
        [r[-1] for r in rows],  # records of no known participant audit as one row without a participant
        {"study": study, "limit": limit, "records": len(rows)},
    )
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
            "records": [dict(zip(cols, r[:-1], strict=True)) for r in rows],
            "by_reason": [{"reason": r, "count": n} for r, n in counts],
        }
    )
