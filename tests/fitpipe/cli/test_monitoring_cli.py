"""`fitpipe monitoring`: the rules, Alertmanager configuration and dashboards it writes, and its errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.monitoring.alerts import alert_names
from fitpipe.monitoring.dashboards import load_dashboards
from fitpipe.monitoring.generated import rules_yaml
from fitpipe.settings import reset_settings_cache


@pytest.fixture(autouse=True)
def no_mail_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAIL_"):
            monkeypatch.delenv(name)
    reset_settings_cache()


def test_rules_prints_the_generated_rules() -> None:
    result = CliRunner().invoke(cli, ["monitoring", "rules"])
    assert result.exit_code == 0, result.output
    assert result.output == rules_yaml()
    rules = [r["alert"] for g in yaml.safe_load(result.output)["groups"] for r in g["rules"]]
    assert rules == alert_names()


def test_rules_take_threshold_overrides_and_a_selector() -> None:
    result = CliRunner().invoke(
        cli, ["monitoring", "rules", "--threshold", "ingestStaleHours=30", "--selector", 'namespace="alpha"']
    )
    assert result.exit_code == 0, result.output
    assert result.output == rules_yaml({"ingestStaleHours": 30}, selector='namespace="alpha"')
    assert "> 108000" in result.output


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("ingestStaleHours", "is not NAME=VALUE"),
        ("ingestStaleHours=soon", "is not a number"),
        ("staleHours=30", "unknown alert threshold 'staleHours'"),
    ],
)
def test_bad_threshold_is_a_config_error(argument: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["monitoring", "rules", "--threshold", argument])
    assert result.exit_code == 2
    assert message in result.output


def test_alertmanager_config_mails_the_given_recipient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("MAIL_PORT", "587")
    reset_settings_cache()
    result = CliRunner().invoke(cli, ["monitoring", "alertmanager-config", "--to", "ops@example.org"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config["global"]["smtp_smarthost"] == "smtp.example.org:587"
    assert {e["to"] for r in config["receivers"] for e in r["email_configs"]} == {"ops@example.org"}


def test_alertmanager_config_warns_when_it_writes_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_USERNAME", "alerts")
    monkeypatch.setenv("MAIL_PASSWORD", "s3cret")
    reset_settings_cache()
    result = CliRunner().invoke(cli, ["monitoring", "alertmanager-config"])
    assert result.exit_code == 0
    assert "contains MAIL_PASSWORD" in result.stderr
    assert yaml.safe_load(result.stdout)["global"]["smtp_auth_password"] == "s3cret"
    with_file = CliRunner().invoke(cli, ["monitoring", "alertmanager-config", "--password-file", "/run/smtp"])
    assert "s3cret" not in with_file.output
    assert yaml.safe_load(with_file.stdout)["global"]["smtp_auth_password_file"] == "/run/smtp"


def test_dashboards_writes_one_json_file_per_dashboard(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["monitoring", "dashboards", str(tmp_path / "grafana")])
    assert result.exit_code == 0, result.output
    written = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "grafana").glob("*.json")}
    assert written == load_dashboards()
