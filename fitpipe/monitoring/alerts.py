"""fitpipe's alert rules, the one source for both monitoring/rules.yml (plain Prometheus) and the
PrometheusRule the Kubernetes operator renders: `rule_groups(thresholds)`.

Every rule has labels `severity` (critical or warning) and `component` (ingest, api, database,
participants, tokens; Alertmanager's inhibition uses it), per-study rules keep the `study` label, and
annotations `summary`, `description` and `runbook_url` (a section of docs/operations.md).
Every aggregation keeps `namespace`: in Kubernetes, prometheus-operator routes an AlertmanagerConfig only
the alerts whose `namespace` equals its own, so an alert without it reaches no one (absent() keeps the
selector's matchers, namespace among them). Locally the series carry no namespace and nothing changes.
Ingest rules watch the daily job (`fitpipe run`, trigger="run"): a manual `fitpipe ingest` reports to
the person who ran it and must not hide a failing nightly job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from fitpipe.errors import ConfigError

__all__ = [
    "Threshold",
    "THRESHOLDS",
    "DEFAULT_RUNBOOK_BASE",
    "resolve_thresholds",
    "rule_groups",
    "alert_names",
]

DEFAULT_RUNBOOK_BASE = "docs/operations.md"
"""Where runbook_url points when no published copy of the docs is named (`--runbook-base`)."""


@dataclass(frozen=True)
class Threshold:
    name: str
    default: float
    unit: str
    description: str
    minimum: float = 0.0
    maximum: float | None = None


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "ingestStaleHours",
        26,
        "hours",
        "IngestStale fires when the daily job has not succeeded for this long (a day plus slack).",
        1,
    ),
    Threshold(
        "ingestSlowHours",
        2,
        "hours",
        "IngestSlow fires when the newest daily run takes (or has been running) longer than this.",
        0.01,
    ),
    Threshold(
        "apiErrorRatio",
        0.05,
        "ratio",
        "ApiErrorRatioHigh fires when more than this share of requests answer 5xx for 5 minutes.",
        0.0001,
        1,
    ),
    Threshold(
        "apiLatencyP95Seconds",
        1.0,
        "seconds",
        "ApiLatencyHigh fires when the 95th percentile of request time exceeds this for 10 minutes.",
        0.001,
    ),
    Threshold(
        "apiMinRequestRate",
        0.01,
        "requests/s",
        "The API alerts judge only a 5-minute window with at least this request rate (0.01: 3 requests).",
        0,
    ),
    Threshold(
        "notSyncingRatio",
        0.2,
        "ratio",
        "ParticipantsNotSyncing fires when more than this share of a study's active participants sent "
        "no new data for 48 h.",
        0.0001,
        1,
    ),
    Threshold(
        "flaggedRatio",
        0.3,
        "ratio",
        "CohortAdherenceLow fires when more than this share of a study's active participants are flagged.",
        0.0001,
        1,
    ),
    Threshold(
        "tokenRefreshFailures",
        0,
        "failures per 24 h",
        "TokenRefreshFailures fires when a study has more failed token refreshes than this in 24 h.",
        0,
    ),
)

_BY_NAME = {t.name: t for t in THRESHOLDS}


def resolve_thresholds(overrides: Mapping[str, object] | None = None) -> dict[str, float]:
    """The defaults with `overrides` applied; unknown names and out-of-range values are a ConfigError."""
    values = {t.name: float(t.default) for t in THRESHOLDS}
    for name, value in (overrides or {}).items():
        threshold = _BY_NAME.get(name)
        if threshold is None:
            raise ConfigError(
                f"unknown alert threshold {name!r}", hint="known thresholds: " + ", ".join(_BY_NAME)
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"alert threshold {name} must be a number, not {value!r}")
        if value < threshold.minimum or (threshold.maximum is not None and value > threshold.maximum):
            upper = "" if threshold.maximum is None else f" and at most {threshold.maximum:g}"
            raise ConfigError(
                f"alert threshold {name} = {value:g} is out of range",
                hint=f"use a value of at least {threshold.minimum:g}{upper} ({threshold.unit})",
            )
        values[name] = float(value)
    return values


def _num(value: float) -> str:
    return f"{value:g}"


class _Selectors:
    """Renders `name{matchers}` with the caller's extra matchers (e.g. namespace="alpha") added to each."""

    def __init__(self, extra: str) -> None:
        self.extra = extra.strip().strip(",")

    def __call__(self, name: str, *matchers: str) -> str:
        inner = ", ".join(m for m in (*matchers, self.extra) if m)
        return f"{name}{{{inner}}}" if inner else name


# One Prometheus alerting rule ("for" is a keyword, hence the call syntax)
_Rule = TypedDict(
    "_Rule",
    {"alert": str, "expr": str, "for": str, "labels": dict[str, str], "annotations": dict[str, str]},
)


def _rules(t: Mapping[str, float], m: _Selectors) -> list[tuple[str, _Rule]]:
    """(group, rule) pairs; annotations use Prometheus' Go templates ($value, $labels)."""
    daily = 'trigger="run"'
    requests = m("fitpipe_http_request_duration_seconds_count")
    errors = m("fitpipe_http_request_duration_seconds_count", 'status=~"5.."')
    busy = f"sum by (namespace) (rate({requests}[5m])) > {_num(t['apiMinRequestRate'])}"
    active = m("fitpipe_participants", 'state="active"')
    not_syncing = m("fitpipe_participants", 'state="not_syncing"')
    flagged = m("fitpipe_participants", 'state="flagged"')
    return [
        (
            "fitpipe-ingest",
            {
                "alert": "IngestFailed",
                "expr": f"max by (namespace, trigger) ({m('fitpipe_ingest_last_run_status', daily)}) == 0",
                "for": "0m",
                "labels": {"severity": "critical", "component": "ingest"},
                "annotations": {
                    "summary": "The daily ingest failed",
                    "description": "The newest daily ingest run (`fitpipe run`) failed or was aborted, so no new "
                    "wearable data was loaded. `fitpipe runs` shows its error.",
                },
            },
        ),
        (
            "fitpipe-ingest",
            {
                "alert": "IngestPartiallyFailed",
                "expr": f"max by (namespace, trigger) ({m('fitpipe_ingest_last_run_status', daily)}) == 0.5",
                "for": "0m",
                "labels": {"severity": "warning", "component": "ingest"},
                "annotations": {
                    "summary": "The daily ingest finished with errors",
                    "description": "The newest daily ingest run loaded most data, but some files or participants "
                    "failed. `fitpipe runs` lists them.",
                },
            },
        ),
        (
            "fitpipe-ingest",
            {
                "alert": "IngestStale",
                "expr": f"time() - max by (namespace, trigger) ({m('fitpipe_ingest_last_success_timestamp_seconds', daily)})"
                f" > {_num(t['ingestStaleHours'] * 3600)}",
                "for": "0m",
                "labels": {"severity": "critical", "component": "ingest"},
                "annotations": {
                    "summary": "No successful daily ingest for {} h".format(_num(t["ingestStaleHours"])),
                    "description": "The last successful daily ingest run finished {{ $value | humanizeDuration }} "
                    "ago; the dashboard and API serve data that old.",
                },
            },
        ),
        (
            "fitpipe-ingest",
            {
                "alert": "IngestSlow",
                "expr": f"max by (namespace, trigger) ({m('fitpipe_ingest_last_run_duration_seconds', daily)})"
                f" > {_num(t['ingestSlowHours'] * 3600)}",
                "for": "0m",
                "labels": {"severity": "warning", "component": "ingest"},
                "annotations": {
                    "summary": "The daily ingest takes longer than {} h".format(_num(t["ingestSlowHours"])),
                    "description": "The newest daily ingest run has taken {{ $value | humanizeDuration }} so far.",
                },
            },
        ),
        (
            "fitpipe-api",
            {
                "alert": "ApiErrorRatioHigh",
                "expr": f"(sum by (namespace) (rate({errors}[5m])) / sum by (namespace) (rate({requests}[5m]))"
                f" > {_num(t['apiErrorRatio'])})"
                f" and {busy}",
                "for": "5m",
                "labels": {"severity": "critical", "component": "api"},
                "annotations": {
                    "summary": "The API answers errors",
                    "description": "{{ $value | humanizePercentage }} of API requests answered with a 5xx status "
                    "over the last 5 minutes.",
                },
            },
        ),
        (
            "fitpipe-api",
            {
                "alert": "ApiLatencyHigh",
                "expr": "histogram_quantile(0.95, sum by (namespace, le) (rate("
                f"{m('fitpipe_http_request_duration_seconds_bucket')}[5m]))) > {_num(t['apiLatencyP95Seconds'])}"
                f" and {busy}",
                "for": "10m",
                "labels": {"severity": "warning", "component": "api"},
                "annotations": {
                    "summary": "The API is slow",
                    "description": "95 % of API requests took up to {{ $value | humanizeDuration }} over the last "
                    "5 minutes.",
                },
            },
        ),
        (
            "fitpipe-api",
            {
                "alert": "ApiDown",
                "expr": f"absent({m('fitpipe_database_up')})",
                "for": "5m",
                "labels": {"severity": "critical", "component": "api"},
                "annotations": {
                    "summary": "Prometheus gets no metrics from the fitpipe API",
                    "description": "No fitpipe API has been scraped for 5 minutes: it is down, or Prometheus "
                    "cannot reach it. Ingest and participant alerts cannot fire meanwhile.",
                },
            },
        ),
        (
            "fitpipe-api",
            {
                "alert": "DatabaseUnreachable",
                "expr": f"min by (namespace) ({m('fitpipe_database_up')}) == 0",
                "for": "2m",
                "labels": {"severity": "critical", "component": "database"},
                "annotations": {
                    "summary": "The API cannot read the database",
                    "description": "An API process could not read fitpipe's database for 2 minutes; the API answers "
                    "errors and the ingest and participant alerts cannot fire meanwhile.",
                },
            },
        ),
        (
            "fitpipe-participants",
            {
                "alert": "ParticipantsNotSyncing",
                "expr": f"max by (namespace, study) ({not_syncing}) / max by (namespace, study) ({active})"
                f" > {_num(t['notSyncingRatio'])}",
                "for": "30m",
                "labels": {"severity": "warning", "component": "participants"},
                "annotations": {
                    "summary": "Many participants of study {{ $labels.study }} are not syncing",
                    "description": "{{ $value | humanizePercentage }} of the active participants of study "
                    "{{ $labels.study }} sent no new data for 48 hours.",
                },
            },
        ),
        (
            "fitpipe-participants",
            {
                "alert": "CohortAdherenceLow",
                "expr": f"max by (namespace, study) ({flagged}) / max by (namespace, study) ({active})"
                f" > {_num(t['flaggedRatio'])}",
                "for": "30m",
                "labels": {"severity": "warning", "component": "participants"},
                "annotations": {
                    "summary": "Adherence is low in study {{ $labels.study }}",
                    "description": "{{ $value | humanizePercentage }} of the active participants of study "
                    "{{ $labels.study }} have an adherence flag.",
                },
            },
        ),
        (
            "fitpipe-participants",
            {
                "alert": "TokenRefreshFailures",
                "expr": f"max by (namespace, study) (increase({m('fitpipe_token_refresh_failures_total')}[1d]))"
                f" > {_num(t['tokenRefreshFailures'])}",
                "for": "0m",
                "labels": {"severity": "warning", "component": "tokens"},
                "annotations": {
                    "summary": "Data-source token refreshes fail in study {{ $labels.study }}",
                    # increase() extrapolates (1.0055 failures): print whole failures.
                    "description": 'Refreshing participants\' access tokens failed {{ printf "%.0f" $value }} time(s) '
                    "in study {{ $labels.study }} in the last 24 hours; their data stops arriving until they re-consent.",
                },
            },
        ),
    ]


def rule_groups(
    thresholds: Mapping[str, object] | None = None,
    *,
    selector: str = "",
    runbook_base: str = DEFAULT_RUNBOOK_BASE,
) -> list[dict[str, object]]:
    """fitpipe's Prometheus rule groups as plain data, ready for YAML (`groups:`) or a PrometheusRule's spec.

    `thresholds` overrides defaults by name (see THRESHOLDS); `selector` adds label matchers to every
    series the rules read (e.g. 'namespace="alpha"', when one Prometheus watches several deployments).
    """
    values = resolve_thresholds(thresholds)
    groups: dict[str, list[dict[str, object]]] = {}
    for group, rule in _rules(values, _Selectors(selector)):
        annotations = dict(rule["annotations"])
        annotations["runbook_url"] = f"{runbook_base}#{str(rule['alert']).lower()}"
        groups.setdefault(group, []).append({**rule, "annotations": annotations})
    return [{"name": name, "rules": rules} for name, rules in groups.items()]


def alert_names() -> list[str]:
    return [str(rule["alert"]) for _, rule in _rules(resolve_thresholds(), _Selectors(""))]
