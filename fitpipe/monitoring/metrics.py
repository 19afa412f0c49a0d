"""Every Prometheus metric family fitpipe exports, declared once as data: name, type, help, labels, buckets.

This module is the catalog only; it imports no collector. The API wires the families to what measures
them (fitpipe_api/metrics.py): HTTP timings it measures itself, pool gauges read from its connection
pool, and the ingest job's and participants' figures read from the database at each scrape.

    family                                        type       labels                 exported by
    fitpipe_ingest_runs_total                     counter    trigger, status        IngestCollector
    fitpipe_ingest_rows_total                     counter    metric, source         IngestCollector
    fitpipe_ingest_quarantined_total              counter    reason                 IngestCollector
    fitpipe_ingest_errors_total                   counter    kind                   IngestCollector
    fitpipe_ingest_duration_seconds               histogram  trigger                IngestCollector
    fitpipe_ingest_last_success_timestamp_seconds gauge      trigger                IngestCollector
    fitpipe_ingest_last_run_status                gauge      trigger                IngestCollector
    fitpipe_ingest_last_run_duration_seconds      gauge      trigger                IngestCollector
    fitpipe_participants                          gauge      study, state           IngestCollector
    fitpipe_token_refresh_failures_total          counter    study                  IngestCollector
    fitpipe_database_up                           gauge      -                      IngestCollector
    fitpipe_storage_bytes                         gauge      table, state           StorageCollector
    fitpipe_storage_before_compression_bytes      gauge      table                  StorageCollector
    fitpipe_http_request_duration_seconds         histogram  route, method, status  HttpMetricsMiddleware
    fitpipe_db_pool_*                             gauges and counters               PoolCollector

Labels never hold a participant id, a raw URL path or free text: every label has a small, known set of values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from fitpipe.errors import NotFoundError

__all__ = [
    "Family",
    "FAMILIES",
    "family",
    "exposed_names",
    "describe",
    "INGEST_DURATION_BUCKETS",
    "HTTP_DURATION_BUCKETS",
]

Kind = Literal["counter", "gauge", "histogram"]

# A nightly run over 1,000 participants takes minutes to hours; a manual ingest of one file, seconds.
INGEST_DURATION_BUCKETS: tuple[float, ...] = (10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400)
# The API answers from rollups in milliseconds; a year of 1 s heart rate takes seconds.
HTTP_DURATION_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class Family:
    name: str
    """The name as exposed (counters end in _total, histograms get _bucket/_sum/_count)."""
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def counter(self) -> CounterMetricFamily:
        assert self.kind == "counter"
        return CounterMetricFamily(self.name, self.help, labels=self.labels)

    def gauge(self) -> GaugeMetricFamily:
        assert self.kind == "gauge"
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)

    def histogram(self) -> HistogramMetricFamily:
        assert self.kind == "histogram"
        return HistogramMetricFamily(self.name, self.help, labels=self.labels)

    def series_names(self) -> tuple[str, ...]:
        """The names of the time series Prometheus stores for this family."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


FAMILIES: tuple[Family, ...] = (
    # --- the ingest job, read from ingest_runs ---------------------------------------------------------
    Family(
        "fitpipe_ingest_runs_total",
        "counter",
        "Ingest runs that ended, by trigger (run: the daily job, ingest: the CLI, ...) and final status.",
        ("trigger", "status"),
    ),
    Family(
        "fitpipe_ingest_rows_total",
        "counter",
        "Samples written (inserted or changed) by ingest runs.",
        ("metric", "source"),
    ),
    Family(
        "fitpipe_ingest_quarantined_total",
        "counter",
        "Input records sent to quarantine, by class of reason.",
        ("reason",),
    ),
    Family(
        "fitpipe_ingest_errors_total",
        "counter",
        "Ingest errors: kind=file (an input file failed), run (a whole run failed), aborted (the process died).",
        ("kind",),
    ),
    Family(
        "fitpipe_ingest_duration_seconds",
        "histogram",
        "Wall-clock time of finished ingest runs (success, partial or failed).",
        ("trigger",),
        INGEST_DURATION_BUCKETS,
    ),
    Family(
        "fitpipe_ingest_last_success_timestamp_seconds",
        "gauge",
        "Unix time at which the newest successful ingest run finished.",
        ("trigger",),
    ),
    Family(
        "fitpipe_ingest_last_run_status",
        "gauge",
        "Outcome of the newest finished ingest run: 1 success, 0.5 partial, 0 failed or aborted.",
        ("trigger",),
    ),
    Family(
        "fitpipe_ingest_last_run_duration_seconds",
        "gauge",
        "How long the newest ingest run took, or has taken so far while it is still running.",
        ("trigger",),
    ),
    Family(
        "fitpipe_participants",
        "gauge",
        "Participants by study: state=active (enrolled and ingested), and of those not_syncing (no new data "
        "for 48 h by default), needs_reconsent (a data source needs a new grant), flagged (adherence flag raised).",
        ("study", "state"),
    ),
    Family(
        "fitpipe_token_refresh_failures_total",
        "counter",
        "Failed refreshes of participants' data-source access tokens.",
        ("study",),
    ),
    Family(
        "fitpipe_database_up",
        "gauge",
        "1 when this process read fitpipe's database for this scrape, 0 when it could not.",
    ),
    # --- storage, read from the database ------------------------------------------------------------------
    Family(
        "fitpipe_storage_bytes",
        "gauge",
        "Bytes on disk of samples and the rollups (table: samples, rollup_1m, rollup_1h, rollup_1d), by state: "
        "compressed (chunks compressed on the full TimescaleDB edition) or uncompressed.",
        ("table", "state"),
    ),
    Family(
        "fitpipe_storage_before_compression_bytes",
        "gauge",
        "What the compressed chunks of each table took before compression (divide by the compressed bytes "
        "for the compression ratio).",
        ("table",),
    ),
    # --- the API -------------------------------------------------------------------------------------------
    Family(
        "fitpipe_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request, by route template (not the raw path), method and status code.",
        ("route", "method", "status"),
        HTTP_DURATION_BUCKETS,
    ),
    Family(
        "fitpipe_db_pool_connections",
        "gauge",
        "Open connections of the database pool: state=idle or in_use.",
        ("state",),
    ),
    Family("fitpipe_db_pool_max_connections", "gauge", "Largest number of connections the pool may open."),
    Family("fitpipe_db_pool_requests_waiting", "gauge", "Requests waiting for a connection right now."),
    Family("fitpipe_db_pool_requests_total", "counter", "Connections handed out by the pool."),
    Family(
        "fitpipe_db_pool_request_wait_seconds_total",
        "counter",
        "Total time requests spent waiting for a connection.",
    ),
    Family(
        "fitpipe_db_pool_request_errors_total",
        "counter",
        "Requests for a connection that failed (timeout, queue full).",
    ),
    Family(
        "fitpipe_api_admission_slots",
        "gauge",
        "Admission slots of the API process: gate=request (ordinary requests, one pooled connection each) or "
        "export (streamed downloads), state=in_use or free.",
        ("gate", "state"),
    ),
    Family(
        "fitpipe_api_admission_waiting",
        "gauge",
        "Requests waiting for an admission slot right now, by gate (they get 503 busy when the wait runs out).",
        ("gate",),
    ),
)

_BY_NAME = {f.name: f for f in FAMILIES}


def family(name: str) -> Family:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise NotFoundError(f"no metric family {name!r} is declared in fitpipe.monitoring.metrics") from None


def exposed_names() -> frozenset[str]:
    """Every time-series name a Prometheus scraping fitpipe can hold (what dashboards and rules may use)."""
    return frozenset(name for f in FAMILIES for name in f.series_names())


def describe(names: tuple[str, ...]) -> Iterator[Metric]:
    """Empty families for a collector's describe(): lets the registry catch duplicate names without a scrape."""
    for name in names:
        f = family(name)
        yield {"counter": f.counter, "gauge": f.gauge, "histogram": f.histogram}[f.kind]()
