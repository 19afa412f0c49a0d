"""Each alert rule, run by the real `promtool test rules`: it fires when it should (with the labels and
text the email will carry) and stays quiet when it should not. Samples are 1 minute apart, so
Prometheus' 5-minute lookback never bridges a gap we do not intend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fitpipe.errors import ConfigError
from fitpipe.monitoring.alerts import THRESHOLDS, alert_names, resolve_thresholds, rule_groups
from fitpipe.monitoring.generated import rules_yaml
from fitpipe.monitoring.metrics import exposed_names
from tests.prometheus_tools import Tool


@dataclass(frozen=True)
class Expected:
    labels: dict[str, str]
    summary: str
    description: str


@dataclass
class Scenario:
    series: dict[str, str]
    """series -> promtool's expanding notation (one value per minute)."""
    quiet: list[str] = field(default_factory=list)
    """Evaluation times at which the alert must not fire."""
    firing: dict[str, list[Expected]] = field(default_factory=dict)
    """Evaluation time -> the alerts expected to fire then."""


alert = Expected


INGEST = {"severity": "critical", "component": "ingest", "trigger": "run"}
INGEST_WARN = {"severity": "warning", "component": "ingest", "trigger": "run"}
API = {"severity": "critical", "component": "api"}
HTTP = "fitpipe_http_request_duration_seconds"

CASES: dict[str, list[Scenario]] = {
    "IngestFailed": [
        Scenario(
            # Two API replicas export the same value; a failing manual `fitpipe ingest` must not page anyone.
            series={
                'fitpipe_ingest_last_run_status{trigger="run", instance="a"}': "1x9 0x10 1x10",
                'fitpipe_ingest_last_run_status{trigger="run", instance="b"}': "1x9 0x10 1x10",
                'fitpipe_ingest_last_run_status{trigger="ingest", instance="a"}': "0x30",
            },
            quiet=["5m", "25m"],
            firing={
                "15m": [
                    alert(
                        INGEST,
                        "The daily ingest failed",
                        "The newest daily ingest run (`fitpipe run`) failed or was aborted, so no new "
                        "wearable data was loaded. `fitpipe runs` shows its error.",
                    )
                ]
            },
        ),
    ],
    "IngestPartiallyFailed": [
        Scenario(
            series={'fitpipe_ingest_last_run_status{trigger="run"}': "1x9 0.5x10 0x10"},
            quiet=["5m", "25m"],
            firing={
                "15m": [
                    alert(
                        INGEST_WARN,
                        "The daily ingest finished with errors",
                        "The newest daily ingest run loaded most data, but some files or participants "
                        "failed. `fitpipe runs` lists them.",
                    )
                ]
            },
        ),
    ],
    "IngestStale": [
        Scenario(
            # The daily job last succeeded at time 0; manual ingests keep succeeding and must not hide that.
            series={
                'fitpipe_ingest_last_success_timestamp_seconds{trigger="run"}': "0x1700",
                'fitpipe_ingest_last_success_timestamp_seconds{trigger="ingest"}': "0+60x1700",
            },
            quiet=["25h"],
            firing={
                "27h": [
                    alert(
                        INGEST,
                        "No successful daily ingest for 26 h",
                        "The last successful daily ingest run finished 1d 3h 0m 0s ago; the dashboard "
                        "and API serve data that old.",
                    )
                ]
            },
        ),
    ],
    "IngestSlow": [
        Scenario(
            # A run still running: its duration grows by a minute each minute. Manual ingests may be long.
            series={
                'fitpipe_ingest_last_run_duration_seconds{trigger="run"}': "0+60x140",
                'fitpipe_ingest_last_run_duration_seconds{trigger="ingest"}': "30000x140",
            },
            quiet=["110m"],
            firing={
                "130m": [
                    alert(
                        INGEST_WARN,
                        "The daily ingest takes longer than 2 h",
                        "The newest daily ingest run has taken 2h 10m 0s so far.",
                    )
                ]
            },
        ),
    ],
    "ApiErrorRatioHigh": [
        Scenario(
            # 1 request/s answered 200 throughout; from minute 10 also 10 errors/minute: 1 in 7 requests.
            series={
                f'{HTTP}_count{{route="/x", method="GET", status="200"}}': "0+60x40",
                f'{HTTP}_count{{route="/x", method="GET", status="500"}}': "0x10 0+10x30",
            },
            quiet=["8m", "14m"],
            firing={
                "25m": [
                    alert(
                        API,
                        "The API answers errors",
                        "14.29% of API requests answered with a 5xx status over the last 5 minutes.",
                    )
                ]
            },
        ),
        Scenario(
            # Nearly idle: one failing request in a quarter of an hour is not a high error ratio.
            series={
                f'{HTTP}_count{{route="/x", method="GET", status="200"}}': "0x20 1x20",
                f'{HTTP}_count{{route="/x", method="GET", status="500"}}': "0x20 1x20",
            },
            quiet=["22m", "30m"],
        ),
    ],
    "ApiLatencyHigh": [
        Scenario(
            # 60 requests/minute, under 0.5 s for 10 minutes, then all between 1 s and 2.5 s.
            series={
                f'{HTTP}_bucket{{le="0.5"}}': "0+60x10 600x40",
                f'{HTTP}_bucket{{le="1"}}': "0+60x10 600x40",
                f'{HTTP}_bucket{{le="2.5"}}': "0+60x50",
                f'{HTTP}_bucket{{le="+Inf"}}': "0+60x50",
                f"{HTTP}_count": "0+60x50",
            },
            quiet=["8m", "18m"],
            firing={
                "30m": [
                    alert(
                        {"severity": "warning", "component": "api"},
                        "The API is slow",
                        "95 % of API requests took up to 2.425s over the last 5 minutes.",
                    )
                ]
            },
        ),
    ],
    "ApiDown": [
        Scenario(
            # Scraped for 10 minutes, then nothing: absent 5 minutes later (lookback), firing 5 minutes after.
            series={"fitpipe_database_up": "1x10"},
            quiet=["5m", "18m"],
            firing={
                "22m": [
                    alert(
                        API,
                        "Prometheus gets no metrics from the fitpipe API",
                        "No fitpipe API has been scraped for 5 minutes: it is down, or Prometheus cannot "
                        "reach it. Ingest and participant alerts cannot fire meanwhile.",
                    )
                ]
            },
        ),
    ],
    "DatabaseUnreachable": [
        Scenario(
            series={
                'fitpipe_database_up{instance="a"}': "1x30",
                'fitpipe_database_up{instance="b"}': "1x9 0x10 1x10",
            },
            quiet=["5m", "11m", "25m"],
            firing={
                "15m": [
                    alert(
                        {"severity": "critical", "component": "database"},
                        "The API cannot read the database",
                        "An API process could not read fitpipe's database for 2 minutes; the API answers "
                        "errors and the ingest and participant alerts cannot fire meanwhile.",
                    )
                ]
            },
        ),
    ],
    "ParticipantsNotSyncing": [
        Scenario(
            # Study alpha: 5 of 10 stop syncing at minute 11; beta: 1 of 10 throughout.
            series={
                'fitpipe_participants{study="alpha", state="active"}': "10x60",
                'fitpipe_participants{study="alpha", state="not_syncing"}': "1x10 5x50",
                'fitpipe_participants{study="beta", state="active"}': "10x60",
                'fitpipe_participants{study="beta", state="not_syncing"}': "1x60",
            },
            quiet=["30m"],
            firing={
                "50m": [
                    alert(
                        {"severity": "warning", "component": "participants", "study": "alpha"},
                        "Many participants of study alpha are not syncing",
                        "50% of the active participants of study alpha sent no new data for 48 hours.",
                    )
                ]
            },
        ),
    ],
    "CohortAdherenceLow": [
        Scenario(
            series={
                'fitpipe_participants{study="alpha", state="active"}': "10x60",
                'fitpipe_participants{study="alpha", state="flagged"}': "1x10 4x50",
                'fitpipe_participants{study="beta", state="active"}': "10x60",
                'fitpipe_participants{study="beta", state="flagged"}': "2x60",
            },
            quiet=["30m"],
            firing={
                "50m": [
                    alert(
                        {"severity": "warning", "component": "participants", "study": "alpha"},
                        "Adherence is low in study alpha",
                        "40% of the active participants of study alpha have an adherence flag.",
                    )
                ]
            },
        ),
        Scenario(
            # Before the adherence code exports `flagged`, there is nothing to judge: no alert, not a fake one.
            series={'fitpipe_participants{study="alpha", state="active"}': "10x60"},
            quiet=["50m"],
        ),
    ],
    "TokenRefreshFailures": [
        Scenario(
            series={
                'fitpipe_token_refresh_failures_total{study="alpha"}': "0x60 1x60",
                'fitpipe_token_refresh_failures_total{study="beta"}': "0x120",
            },
            quiet=["30m"],
            firing={
                "90m": [
                    alert(
                        {"severity": "warning", "component": "tokens", "study": "alpha"},
                        "Data-source token refreshes fail in study alpha",
                        "Refreshing participants' access tokens failed 1 time(s) in study alpha in the "
                        "last 24 hours; their data stops arriving until they re-consent.",
                    )
                ]
            },
        ),
    ],
}


def _rules_by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rules as plain data (rule_groups(), or YAML read back) by alert name."""
    return {str(r["alert"]): r for g in groups for r in g["rules"]}


def rules_test_file(tmp_path: Path, name: str, scenarios: list[Scenario], rules_text: str) -> Path:
    """A promtool unit-test file checking `scenarios` of alert `name` against the rules in `rules_text`."""
    return _test_file(tmp_path, name, scenarios, rules_text)


def _test_file(tmp_path: Path, name: str, scenarios: list[Scenario], rules_text: str) -> Path:
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(rules_text)
    rule = _rules_by_name(yaml.safe_load(rules_text)["groups"])[name]
    runbook = rule["annotations"]["runbook_url"]
    tests = []
    for s in scenarios:
        checks: list[dict[str, object]] = [
            {"eval_time": t, "alertname": name, "exp_alerts": []} for t in s.quiet
        ]
        for t, expected in s.firing.items():
            checks.append(
                {
                    "eval_time": t,
                    "alertname": name,
                    "exp_alerts": [
                        {
                            "exp_labels": e.labels,
                            "exp_annotations": {
                                "summary": e.summary,
                                "description": e.description,
                                "runbook_url": runbook,
                            },
                        }
                        for e in expected
                    ],
                }
            )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": v} for k, v in s.series.items()],
                "alert_rule_test": checks,
            }
        )
    path = tmp_path / "test.yml"
    path.write_text(
        yaml.safe_dump({"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": tests})
    )
    return path


def test_every_alert_has_a_unit_test() -> None:
    assert sorted(CASES) == sorted(alert_names())
    for name, scenarios in CASES.items():
        assert any(s.firing for s in scenarios), f"{name} is never shown firing"
        assert any(s.quiet for s in scenarios), f"{name} is never shown quiet"


@pytest.mark.monitoring
def test_generated_rules_pass_promtool_check(promtool: Tool, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml())
    out = promtool("check", "rules", path).stdout
    assert f"SUCCESS: {len(alert_names())} rules found" in out


@pytest.mark.monitoring
@pytest.mark.parametrize("name", sorted(CASES))
def test_alert_fires_when_it_should_and_not_otherwise(promtool: Tool, tmp_path: Path, name: str) -> None:
    promtool("test", "rules", _test_file(tmp_path, name, CASES[name], rules_yaml()), cwd=tmp_path)


@pytest.mark.monitoring
def test_unit_tests_catch_a_wrong_expectation(promtool: Tool, tmp_path: Path) -> None:
    # Guards the harness itself: promtool must fail when we expect an alert that does not fire.
    wrong = Scenario(
        series={'fitpipe_ingest_last_run_status{trigger="run"}': "1x20"},
        firing={"10m": [alert(INGEST, "x", "y")]},
    )
    result = promtool(
        "test",
        "rules",
        _test_file(tmp_path, "IngestFailed", [wrong], rules_yaml()),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


@pytest.mark.monitoring
def test_overridden_threshold_moves_when_ingest_stale_fires(promtool: Tool, tmp_path: Path) -> None:
    later = Scenario(
        series={'fitpipe_ingest_last_success_timestamp_seconds{trigger="run"}': "0x2000"},
        quiet=["27h"],
        firing={
            "31h": [
                alert(
                    INGEST,
                    "No successful daily ingest for 30 h",
                    "The last successful daily ingest run finished 1d 7h 0m 0s ago; the dashboard "
                    "and API serve data that old.",
                )
            ]
        },
    )
    text = rules_yaml({"ingestStaleHours": 30})
    promtool("test", "rules", _test_file(tmp_path, "IngestStale", [later], text), cwd=tmp_path)


@pytest.mark.monitoring
def test_selector_limits_rules_to_one_deployments_series(promtool: Tool, tmp_path: Path) -> None:
    # The operator renders one PrometheusRule per pipeline; another namespace's failure is not ours.
    scenario = Scenario(
        series={
            'fitpipe_ingest_last_run_status{trigger="run", namespace="alpha"}': "1x20",
            'fitpipe_ingest_last_run_status{trigger="run", namespace="beta"}': "0x20",
        },
        quiet=["10m"],
    )
    text = rules_yaml(selector='namespace="alpha"')
    promtool("test", "rules", _test_file(tmp_path, "IngestFailed", [scenario], text), cwd=tmp_path)


# What Prometheus adds to every series of a ServiceMonitor's target in Kubernetes.
TARGET = {"namespace": "alpha", "service": "alpha-api", "pod": "alpha-api-7d9f-x2x", "job": "alpha-api"}


def in_namespace(scenario: Scenario, target: dict[str, str] = TARGET) -> Scenario:
    """The scenario as Prometheus sees it in a cluster: every series carries its target's labels."""
    extra = ", ".join(f'{k}="{v}"' for k, v in target.items())
    series = {}
    for key, values in scenario.series.items():
        name, _, rest = key.partition("{")
        series[f"{name}{{{rest.rstrip('}')}{', ' if rest.strip('}') else ''}{extra}}}"] = values
    return Scenario(series, scenario.quiet, {t: list(alerts) for t, alerts in scenario.firing.items()})


@pytest.mark.monitoring
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_alert_keeps_the_namespace_label(promtool: Tool, tmp_path: Path, name: str) -> None:
    # prometheus-operator routes an AlertmanagerConfig only alerts whose `namespace` is its own:
    # an alert that aggregates the label away would reach no one.
    text = rules_yaml(selector='namespace="alpha", service="alpha-api"')
    scenarios = []
    for scenario in CASES[name]:
        moved = in_namespace(scenario)
        for expected in moved.firing.values():
            for i, e in enumerate(expected):
                labels = {**e.labels, "namespace": "alpha"}
                if name == "ApiDown":
                    labels["service"] = "alpha-api"  # absent() returns its equality matchers
                expected[i] = alert(labels, e.summary, e.description)
        scenarios.append(moved)
    promtool("test", "rules", _test_file(tmp_path, name, scenarios, text), cwd=tmp_path)


def test_every_rule_reads_only_declared_metrics() -> None:
    names = exposed_names()
    for rule in _rules_by_name(rule_groups()).values():
        for word in re.findall(r"\bfitpipe_\w+", str(rule["expr"])):
            assert word in names, f"{rule['alert']} reads {word}, which fitpipe does not export"


def test_every_rule_has_severity_component_and_annotations() -> None:
    for rule in _rules_by_name(rule_groups()).values():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["severity"] in ("critical", "warning")
        assert labels["component"]
        assert set(annotations) == {"summary", "description", "runbook_url"}


def test_runbook_urls_use_the_given_base() -> None:
    rules = _rules_by_name(rule_groups(runbook_base="https://docs.example.org/operations"))
    assert rules["IngestFailed"]["annotations"]["runbook_url"] == (
        "https://docs.example.org/operations#ingestfailed"
    )


def test_unknown_threshold_is_refused_with_the_known_names() -> None:
    with pytest.raises(ConfigError) as exc:
        rule_groups({"ingestStaleHour": 30})
    assert "ingestStaleHour" in exc.value.message
    assert "ingestStaleHours" in (exc.value.hint or "")


@pytest.mark.parametrize("value", [-1, 0, True, "30"])
def test_invalid_threshold_value_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="ingestStaleHours"):
        resolve_thresholds({"ingestStaleHours": value})


def test_ratio_threshold_above_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        resolve_thresholds({"apiErrorRatio": 5})


def test_defaults_are_used_when_nothing_is_overridden() -> None:
    assert resolve_thresholds(None) == {t.name: float(t.default) for t in THRESHOLDS}
    assert resolve_thresholds({"ingestSlowHours": 3})["ingestSlowHours"] == 3.0
