"""A Prometheus collector that reads the ingest job's runs and the participants' state from the database
at each scrape, so the API exports the batch job's metrics (see docs/operations.md for why).

What it reads, all typed (sql/0010_run_outcomes.sql; written by ingest_job/fitpipe_ingest/pipeline/runs.py):

    ingest_runs                  status, trigger, started_at, finished_at, errors, files_failed
    ingest_run_metrics           samples written per (metric, source): rows_new + rows_updated
    ingest_run_quarantine        records quarantined, per low-cardinality reason
    ingest_run_token_failures    failed access-token refreshes, per study

Runs recorded as JSON only (before 0010, or by the previous release's ingest job during an upgrade) were
copied into these by the migration and its triggers, so the collector never parses `details`.
Counters are sums over every run in the table: they survive API restarts and are the same on every
replica (aggregate them with max, not sum, across instances). A run still running contributes what
it has recorded so far. Runs that have ended do not change again, so the collector folds them into
totals it keeps and reads only newer runs at each scrape (starting over if runs are deleted).
The participants gauge reads `participants`, `participant_sources` and `ingest_cursors`; `flagged`
is exported only when the adherence code is plugged in through `flagged=`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
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

ERROR_KINDS = ("file", "run", "aborted")

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


# Where runs may still change: the oldest running run. Runs before it have ended ("settled"). The count
# of settled runs already folded in tells whether some were deleted since.
WATERMARK_SQL = """
SELECT coalesce((SELECT min(id) - 1 FROM ingest_runs WHERE status = 'running'),
                (SELECT max(id) FROM ingest_runs), 0),
       (SELECT count(*) FROM ingest_runs WHERE id <= %(after)s)
"""

# Every figure of the runs after `after`, each row marked settled (id <= settle) or not. Columns:
# settled, kind, label a, label b, value, and for the "newest" kinds the run's start and id (to compare).
RUNS_SQL = """
WITH r AS MATERIALIZED (
    SELECT id, id <= %(settle)s AS settled, trigger, status, errors, files_failed, started_at,
           CASE WHEN status IN ('success', 'partial', 'failed') AND finished_at IS NOT NULL
                THEN extract(epoch FROM finished_at - started_at)::float8 END AS seconds,
           extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 AS elapsed,
           extract(epoch FROM finished_at)::float8 AS finished
    FROM ingest_runs WHERE id > %(after)s
)
SELECT settled, 'count', '', '', count(*)::float8, NULL::float8, NULL::bigint FROM r GROUP BY 1
UNION ALL
SELECT settled, 'runs', trigger, status, count(*)::float8, NULL, NULL FROM r WHERE status <> 'running' GROUP BY 1, 3, 4
UNION ALL
SELECT settled, 'rows', m.metric, m.source, sum(m.rows_new + m.rows_updated)::float8, NULL, NULL
FROM r JOIN ingest_run_metrics m ON m.run_id = r.id GROUP BY 1, 3, 4
UNION ALL
SELECT settled, 'quarantined', q.reason, '', sum(q.records)::float8, NULL, NULL
FROM r JOIN ingest_run_quarantine q ON q.run_id = r.id GROUP BY 1, 3
UNION ALL
SELECT settled, 'tokens', t.study, '', sum(t.failures)::float8, NULL, NULL
FROM r JOIN ingest_run_token_failures t ON t.run_id = r.id GROUP BY 1, 3
UNION ALL
SELECT settled, 'errors', 'file', '', sum(files_failed)::float8, NULL, NULL FROM r GROUP BY 1
UNION ALL
SELECT settled, 'errors', 'run', '', coalesce(sum(greatest(errors - files_failed, 0))
       FILTER (WHERE status <> 'aborted'), 0), NULL, NULL FROM r GROUP BY 1
UNION ALL
SELECT settled, 'errors', 'aborted', '', count(*) FILTER (WHERE status = 'aborted'), NULL, NULL FROM r GROUP BY 1
UNION ALL
SELECT settled, 'le', trigger, b.le::text, count(*) FILTER (WHERE seconds <= b.le), NULL, NULL
FROM r CROSS JOIN unnest(%(bounds)s::float8[]) AS b(le) WHERE seconds IS NOT NULL GROUP BY 1, 3, 4
UNION ALL
SELECT settled, 'duration_count', trigger, '', count(*), NULL, NULL FROM r WHERE seconds IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT settled, 'duration_sum', trigger, '', sum(seconds), NULL, NULL FROM r WHERE seconds IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT settled, 'last_success', trigger, '', max(finished), NULL, NULL FROM r WHERE status = 'success' GROUP BY 1, 3
UNION ALL
SELECT * FROM (SELECT DISTINCT ON (settled, trigger) settled, 'last_status', trigger, status, 0::float8,
                      extract(epoch FROM started_at)::float8, id
               FROM r WHERE status <> 'running' ORDER BY settled, trigger, started_at DESC, id DESC) AS s
UNION ALL
SELECT * FROM (SELECT DISTINCT ON (settled, trigger) settled, 'last_duration', trigger, '', elapsed,
                      extract(epoch FROM started_at)::float8, id
               FROM r ORDER BY settled, trigger, started_at DESC, id DESC) AS d
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

# "Newest" figures keep the run that started last: (started_at, id) orders runs.
_NEWEST = ("last_status", "last_duration")
_MAXIMUM = ("last_success",)


@dataclass
class _RunFigures:
    """The figures of a set of runs; figures of disjoint sets merge (sums add, newest wins)."""

    runs: int = 0
    sums: dict[tuple[str, str, str], float] = field(default_factory=dict)
    newest: dict[tuple[str, str], tuple[float, int, str, float]] = field(default_factory=dict)
    """(kind, trigger) -> (started, id, status, value) of the newest run."""

    def add_row(
        self, kind: str, a: str, b: str, value: float, started: float | None, run_id: int | None
    ) -> None:
        if kind == "count":
            self.runs += int(value)
        elif kind in _NEWEST:
            assert started is not None and run_id is not None
            self._keep_newest((kind, a), (started, run_id, b, value))
        elif kind in _MAXIMUM:
            self._keep_newest((kind, a), (value, 0, b, value))
        else:
            if kind == "le":
                b = floatToGoString(float(b))  # the bucket bound as the exposition writes it
            self.sums[(kind, a, b)] = self.sums.get((kind, a, b), 0.0) + float(value)

    def _keep_newest(self, key: tuple[str, str], candidate: tuple[float, int, str, float]) -> None:
        current = self.newest.get(key)
        if current is None or candidate[:2] > current[:2]:
            self.newest[key] = candidate

    def merge(self, other: _RunFigures) -> _RunFigures:
        merged = _RunFigures(self.runs, dict(self.sums), dict(self.newest))
        merged.runs += other.runs
        for key, value in other.sums.items():
            merged.sums[key] = merged.sums.get(key, 0.0) + value
        for nkey, candidate in other.newest.items():
            merged._keep_newest(nkey, candidate)
        return merged

    def sums_of(self, kind: str) -> dict[tuple[str, str], float]:
        return {(a, b): v for (k, a, b), v in sorted(self.sums.items()) if k == kind}

    def newest_of(self, kind: str) -> dict[str, tuple[str, float]]:
        return {
            t: (status, value) for (k, t), (_, _, status, value) in sorted(self.newest.items()) if k == kind
        }


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
        self._lock = threading.Lock()  # scrapes may run concurrently; the settled figures are shared
        self._settled = _RunFigures()
        self._settled_upto = 0

    def describe(self) -> Iterator[Metric]:
        return describe(_NAMES)

    def collect(self) -> Iterator[Metric]:
        up = family("fitpipe_database_up").gauge()
        try:
            with self._lock:
                families = self._read()
        except (psycopg.Error, FitpipeError) as exc:
            if not self._failing:  # once per outage, not at every scrape
                log.warning(
                    "cannot read ingest metrics from the database: %s", str(exc).strip().splitlines()[-1:]
                )
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
            conn.execute("SET TRANSACTION READ ONLY")
            # SET LOCAL ends with the transaction, so a pooled connection goes back unchanged.
            conn.execute(f"SET LOCAL statement_timeout = {int(self._timeout_ms)}")
            figures = self._run_figures(conn)
            return [*self._run_families(figures), *self._participants(conn, figures)]

    def _run_figures(self, conn: psycopg.Connection) -> _RunFigures:
        row = conn.execute(WATERMARK_SQL, {"after": self._settled_upto}).fetchone()
        assert row is not None
        settle, still_there = int(row[0]), int(row[1])
        if still_there != self._settled.runs or settle < self._settled_upto:
            # Runs were deleted (or ids reused): fold everything in again.
            self._settled, self._settled_upto = _RunFigures(), 0
        newly_settled, live = _RunFigures(), _RunFigures()
        params = {"after": self._settled_upto, "settle": settle, "bounds": list(INGEST_DURATION_BUCKETS)}
        for settled, kind, a, b, value, started, run_id in conn.execute(RUNS_SQL, params):
            (newly_settled if settled else live).add_row(kind, a, b, value, started, run_id)
        # Only now that every query has succeeded do the kept totals move.
        self._settled = self._settled.merge(newly_settled)
        self._settled_upto = max(self._settled_upto, settle)
        return self._settled.merge(live)

    def _run_families(self, figures: _RunFigures) -> list[Metric]:
        runs = family("fitpipe_ingest_runs_total").counter()
        for (trigger, final), value in figures.sums_of("runs").items():
            runs.add_metric([trigger, final], value)

        totals: dict[tuple[str, str], float] = {}
        for (name, source), value in figures.sums_of("rows").items():
            # Label values must come from a known, small set: the catalog's names.
            key = (name if name in BY_NAME else "other", source)
            totals[key] = totals.get(key, 0.0) + value
        rows = family("fitpipe_ingest_rows_total").counter()
        for labels, value in sorted(totals.items()):
            rows.add_metric(list(labels), value)

        quarantined = family("fitpipe_ingest_quarantined_total").counter()
        for (reason, _), value in figures.sums_of("quarantined").items():
            quarantined.add_metric([reason], value)

        errors = family("fitpipe_ingest_errors_total").counter()
        error_sums = figures.sums_of("errors")
        for kind in ERROR_KINDS:
            errors.add_metric([kind], error_sums.get((kind, ""), 0.0))

        durations = family("fitpipe_ingest_duration_seconds").histogram()
        below = figures.sums_of("le")
        sums = figures.sums_of("duration_sum")
        for (trigger, _), count in figures.sums_of("duration_count").items():
            buckets = [
                (floatToGoString(le), below.get((trigger, floatToGoString(le)), 0.0))
                for le in INGEST_DURATION_BUCKETS
            ]
            durations.add_metric(
                [trigger], [*buckets, ("+Inf", count)], sum_value=sums.get((trigger, ""), 0.0)
            )

        success = family("fitpipe_ingest_last_success_timestamp_seconds").gauge()
        for trigger, (_, ts) in figures.newest_of("last_success").items():
            success.add_metric([trigger], ts)
        status = family("fitpipe_ingest_last_run_status").gauge()
        for trigger, (outcome, _) in figures.newest_of("last_status").items():
            status.add_metric([trigger], STATUS_VALUES.get(outcome, 0.0))
        duration = family("fitpipe_ingest_last_run_duration_seconds").gauge()
        for trigger, (_, seconds) in figures.newest_of("last_duration").items():
            duration.add_metric([trigger], max(seconds, 0.0))
        return [runs, rows, quarantined, errors, durations, success, status, duration]

    def _participants(self, conn: psycopg.Connection, figures: _RunFigures) -> list[Metric]:
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
        failures = figures.sums_of("tokens")
        tokens = family("fitpipe_token_refresh_failures_total").counter()
        # Every study gets a series from the start (0 until a failure): increase() cannot see a
        # counter's first value, so a series born at 3 would hide its first 3 failures.
        for study in studies:
            tokens.add_metric([study], failures.get((study, ""), 0.0))
        return [participants, tokens]
