"""A Prometheus collector that reads the ingest job's runs and the participants' state from the database
at each scrape, so the API exports the batch job's metrics (see docs/operations.md for why).

What it reads from `ingest_runs` (one row per run, written by ingest_job/runs.py):

    status, trigger, started_at, finished_at, errors     the run's columns
    details = {
      "metrics": {                                       samples written, per metric and source
        "<any key, e.g. heart_rate|wearipedia>": {"metric": "heart_rate", "source": "wearipedia",
                                                  "new": 120, "updated": 3, ...},
        ...                                              (when "metric" is missing, the key is the metric)
      },
      "quarantine_reasons": {"out_of_range": 4, ...},    records quarantined, by low-cardinality class
      "files": {"failed": 1, ...},                       input files that failed
      "token_refresh_failures": {"<study>": 2, ...}      failed access-token refreshes (optional)
    }

Anything missing or not a number counts as 0, so an older or partial `details` never breaks a scrape.
Counters are sums over every run in the table: they survive API restarts and are the same on every
replica (aggregate them with max, not sum, across instances). A run still running contributes what
it has recorded so far. The participants gauge reads `participants`, `participant_sources` and
`ingest_cursors`; `flagged` is exported only when the adherence code is plugged in through `flagged=`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import timedelta

import psycopg
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from fitpipe.catalog import BY_NAME
from fitpipe.errors import FitpipeError
from fitpipe.monitoring.metrics import INGEST_DURATION_BUCKETS, describe, family

__all__ = ["IngestCollector", "STATUS_VALUES", "FlaggedCounter"]

log = logging.getLogger(__name__)

STATUS_VALUES: dict[str, float] = {"success": 1.0, "partial": 0.5, "failed": 0.0, "aborted": 0.0}
"""fitpipe_ingest_last_run_status for each final status of a run."""

FlaggedCounter = Callable[[psycopg.Connection], Mapping[str, int]]
"""Given a connection, the number of active participants with an adherence flag, by study name."""

_NAMES = (
    "fitpipe_ingest_runs_total",
    "fitpipe_ingest_rows_total",
    "fitpipe_ingest_quarantined_total",
    "fitpipe_ingest_errors_total",
    "fitpipe_ingest_duration_seconds",
    "fitpipe_ingest_last_success_timestamp_seconds",
    "fitpipe_ingest_last_run_status",
    "fitpipe_ingest_last_run_duration_seconds",
    "fitpipe_participants",
    "fitpipe_token_refresh_failures_total",
    "fitpipe_database_up",
)


def _number(expr: str) -> str:
    """SQL for a JSON value that counts as 0 unless it is a number."""
    return f"(CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr})::text::numeric ELSE 0 END)"


def _object(expr: str) -> str:
    """SQL for a JSON value that is the empty object unless it is an object (jsonb_each refuses others)."""
    return f"(CASE WHEN jsonb_typeof({expr}) = 'object' THEN {expr} ELSE '{{}}'::jsonb END)"


RUNS_SQL = "SELECT trigger, status, count(*) FROM ingest_runs WHERE status <> 'running' GROUP BY 1, 2"

ROWS_SQL = f"""
SELECT coalesce(m.value ->> 'metric', m.key) AS metric, coalesce(m.value ->> 'source', 'unknown') AS source,
       sum({_number("m.value -> 'new'")} + {_number("m.value -> 'updated'")})
FROM ingest_runs r, jsonb_each({_object("r.details -> 'metrics'")}) AS m
WHERE jsonb_typeof(m.value) = 'object'
GROUP BY 1, 2
"""

QUARANTINE_SQL = f"""
SELECT q.key, sum({_number("q.value")})
FROM ingest_runs r, jsonb_each({_object("r.details -> 'quarantine_reasons'")}) AS q
GROUP BY 1
"""

ERRORS_SQL = f"""
SELECT coalesce(sum({_number("details -> 'files' -> 'failed'")}), 0),
       coalesce(sum(greatest(errors - {_number("details -> 'files' -> 'failed'")}, 0))
                FILTER (WHERE status <> 'aborted'), 0),
       count(*) FILTER (WHERE status = 'aborted')
FROM ingest_runs
"""

DURATIONS_SQL = """
SELECT trigger, b.le, count(*) FILTER (WHERE d.seconds <= b.le), count(*), coalesce(sum(d.seconds), 0)
FROM (SELECT trigger, extract(epoch FROM finished_at - started_at)::float8 AS seconds
      FROM ingest_runs WHERE status IN ('success', 'partial', 'failed') AND finished_at IS NOT NULL) AS d
CROSS JOIN unnest(%(bounds)s::float8[]) AS b(le)
GROUP BY 1, 2 ORDER BY 1, 2
"""

LAST_SUCCESS_SQL = """
SELECT trigger, extract(epoch FROM max(finished_at))::float8 FROM ingest_runs
WHERE status = 'success' AND finished_at IS NOT NULL GROUP BY 1
"""

# Newest by start: the outcome of the latest attempt, even if an older, longer run finished after it.
LAST_STATUS_SQL = """
SELECT DISTINCT ON (trigger) trigger, status FROM ingest_runs WHERE status <> 'running'
ORDER BY trigger, started_at DESC, id DESC
"""

LAST_DURATION_SQL = """
SELECT DISTINCT ON (trigger) trigger, extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8
FROM ingest_runs ORDER BY trigger, started_at DESC, id DESC
"""

# A participant is "not syncing" when the newest sample loaded for them (over every source and metric) is
# older than the window, counting from enrolment (or from when they were added) so newcomers get the window too.
PARTICIPANTS_SQL = """
SELECT s.name,
       count(p.id) AS active,
       count(p.id) FILTER (
           WHERE coalesce(p.enrolment_start, p.created_at) <= now() - %(window)s
             AND (c.newest IS NULL OR c.newest < now() - %(window)s)) AS not_syncing,
       count(p.id) FILTER (WHERE ps.reconsent) AS needs_reconsent
FROM studies s
LEFT JOIN participants p ON p.study_id = s.id AND p.status = 'active'
LEFT JOIN LATERAL (SELECT max(last_value) AS newest FROM ingest_cursors WHERE participant_id = p.id) AS c ON true
LEFT JOIN LATERAL (SELECT bool_or(status = 'needs_reconsent') AS reconsent
                   FROM participant_sources WHERE participant_id = p.id) AS ps ON true
GROUP BY s.name ORDER BY s.name
"""

TOKEN_FAILURES_SQL = f"""
SELECT t.key, sum({_number("t.value")})
FROM ingest_runs r, jsonb_each({_object("r.details -> 'token_refresh_failures'")}) AS t
GROUP BY 1
"""


class IngestCollector(Collector):
    """Exports the ingest and participant families from the database each time Prometheus scrapes.

    `connect()` returns a context manager yielding a connection: `lambda: fitpipe.db.connect(url)` or a
    pool's `pool.connection`. When the database cannot be read, only `fitpipe_database_up 0` is exported
    (the scrape itself succeeds, so the API's own metrics still arrive).
    """

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[psycopg.Connection]],
        *,
        not_syncing_after: timedelta = timedelta(hours=48),
        flagged: FlaggedCounter | None = None,
        statement_timeout_ms: int = 5000,
    ) -> None:
        self._connect = connect
        self._not_syncing_after = not_syncing_after
        self._flagged = flagged
        self._timeout_ms = statement_timeout_ms
        self._failing = False

    def describe(self) -> Iterator[Metric]:
        return describe(_NAMES)

    def collect(self) -> Iterator[Metric]:
        up = family("fitpipe_database_up").gauge()
        try:
            families = self._read()
        except (psycopg.Error, FitpipeError) as exc:
            # Logged once per outage, not at every scrape.
            if not self._failing:
                log.warning("cannot read ingest metrics from the database: %s", str(exc).strip().splitlines()[-1:])
            self._failing = True
            up.add_metric([], 0)
            yield up
            return
        if self._failing:
            log.warning("reading ingest metrics from the database again")
        self._failing = False
        yield from families
        up.add_metric([], 1)
        yield up

    def _read(self) -> list[Metric]:
        with self._connect() as conn, conn.transaction():
            # SET LOCAL ends with the transaction, so a pooled connection goes back unchanged.
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = {int(self._timeout_ms)}")
            return [
                self._runs(conn),
                self._rows(conn),
                self._quarantined(conn),
                self._errors(conn),
                self._durations(conn),
                *self._last_run(conn),
                *self._participants(conn),
            ]

    def _runs(self, conn: psycopg.Connection) -> Metric:
        metric = family("fitpipe_ingest_runs_total").counter()
        for trigger, status, count in conn.execute(RUNS_SQL):
            metric.add_metric([trigger, status], count)
        return metric

    def _rows(self, conn: psycopg.Connection) -> Metric:
        totals: dict[tuple[str, str], float] = {}
        for name, source, count in conn.execute(ROWS_SQL):
            # Label values must come from a known, small set: the catalog's names.
            key = (name if name in BY_NAME else "other", source)
            totals[key] = totals.get(key, 0) + float(count)
        metric = family("fitpipe_ingest_rows_total").counter()
        for labels, value in sorted(totals.items()):
            metric.add_metric(list(labels), value)
        return metric

    def _quarantined(self, conn: psycopg.Connection) -> Metric:
        metric = family("fitpipe_ingest_quarantined_total").counter()
        for reason, count in conn.execute(QUARANTINE_SQL):
            metric.add_metric([reason], float(count))
        return metric

    def _errors(self, conn: psycopg.Connection) -> Metric:
        row = conn.execute(ERRORS_SQL).fetchone()
        assert row is not None
        metric = family("fitpipe_ingest_errors_total").counter()
        for kind, value in zip(("file", "run", "aborted"), row, strict=True):
            metric.add_metric([kind], float(value))
        return metric

    def _durations(self, conn: psycopg.Connection) -> Metric:
        buckets: dict[str, list[tuple[str, float]]] = {}
        sums: dict[str, float] = {}
        for trigger, le, below, count, total in conn.execute(DURATIONS_SQL, {"bounds": list(INGEST_DURATION_BUCKETS)}):
            buckets.setdefault(trigger, []).append((floatToGoString(le), float(below)))
            if len(buckets[trigger]) == len(INGEST_DURATION_BUCKETS):
                buckets[trigger].append(("+Inf", float(count)))
            sums[trigger] = float(total)
        metric = family("fitpipe_ingest_duration_seconds").histogram()
        for trigger in sorted(buckets):
            metric.add_metric([trigger], buckets[trigger], sum_value=sums[trigger])
        return metric

    def _last_run(self, conn: psycopg.Connection) -> list[Metric]:
        success = family("fitpipe_ingest_last_success_timestamp_seconds").gauge()
        for trigger, ts in conn.execute(LAST_SUCCESS_SQL):
            success.add_metric([trigger], ts)
        status = family("fitpipe_ingest_last_run_status").gauge()
        for trigger, value in conn.execute(LAST_STATUS_SQL):
            status.add_metric([trigger], STATUS_VALUES.get(value, 0.0))
        duration = family("fitpipe_ingest_last_run_duration_seconds").gauge()
        for trigger, seconds in conn.execute(LAST_DURATION_SQL):
            duration.add_metric([trigger], max(seconds, 0.0))
        return [success, status, duration]

    def _participants(self, conn: psycopg.Connection) -> list[Metric]:
        participants = family("fitpipe_participants").gauge()
        studies = []
        for study, active, not_syncing, reconsent in conn.execute(
            PARTICIPANTS_SQL, {"window": self._not_syncing_after}
        ):
            studies.append(study)
            participants.add_metric([study, "active"], active)
            participants.add_metric([study, "not_syncing"], not_syncing)
            participants.add_metric([study, "needs_reconsent"], reconsent)
        if self._flagged is not None:
            flagged = self._flagged(conn)
            for study in studies:
                participants.add_metric([study, "flagged"], flagged.get(study, 0))
        failures = dict(conn.execute(TOKEN_FAILURES_SQL).fetchall())
        tokens = family("fitpipe_token_refresh_failures_total").counter()
        # Every study gets a series from the start (0 until a failure): increase() cannot see a
        # counter's first value, so a series born at 3 would hide its first 3 failures.
        for study in studies:
            tokens.add_metric([study], float(failures.get(study, 0)))
        return [participants, tokens]

