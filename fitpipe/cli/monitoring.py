"""`fitpipe monitoring rules|alertmanager-config|dashboards`: the files plain Prometheus, Alertmanager and
Grafana need, generated from fitpipe.monitoring (the same source the Kubernetes operator renders from).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from fitpipe.cli.output import say
from fitpipe.errors import ConfigError
from fitpipe.monitoring.alertmanager import DEFAULT_RECIPIENT
from fitpipe.monitoring.alerts import DEFAULT_RUNBOOK_BASE, THRESHOLDS
from fitpipe.monitoring.generated import alertmanager_yaml, rules_yaml
from fitpipe.settings import get_settings

__all__ = ["monitoring"]


def _parse_threshold(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(
            f"--threshold {text!r} is not NAME=VALUE", hint="e.g. --threshold ingestStaleHours=30"
        )
    try:
        return name.strip(), float(value)
    except ValueError:
        raise ConfigError(f"--threshold {name}: {value!r} is not a number") from None


@click.group()
def monitoring() -> None:
    """Prometheus rules, Alertmanager configuration and Grafana dashboards for fitpipe."""


@monitoring.command()
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override an alert threshold (repeatable): "
    + ", ".join(f"{t.name} ({t.default:g} {t.unit})" for t in THRESHOLDS)
    + ".",
)
@click.option(
    "--selector",
    default="",
    metavar="MATCHERS",
    help="Label matchers added to every series the rules read, e.g. 'namespace=\"alpha\"'.",
)
@click.option(
    "--runbook-base",
    default=DEFAULT_RUNBOOK_BASE,
    show_default=True,
    metavar="URL",
    help="Where docs/operations.md is published; each alert's runbook_url is URL#alertname.",
)
def rules(thresholds: tuple[str, ...], selector: str, runbook_base: str) -> None:
    """Print the Prometheus alert rules (YAML for Prometheus' rule_files) on stdout."""
    overrides = dict(_parse_threshold(t) for t in thresholds)
    click.echo(rules_yaml(overrides, selector=selector, runbook_base=runbook_base), nl=False)


@monitoring.command("alertmanager-config")
@click.option("--to", default=DEFAULT_RECIPIENT, show_default=True, help="Who receives the alert emails.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File Alertmanager reads the SMTP password from (instead of writing MAIL_PASSWORD into the output).",
)
def alertmanager_config(to: str, password_file: Path | None) -> None:
    """Print the Alertmanager configuration on stdout: email via the MAIL_* settings, routing by severity,
    grouping by alertname and study, critical alerts muting warnings of the same study."""
    settings = get_settings()
    if settings.mail_username and settings.mail_password is not None and password_file is None:
        say("note: the output contains MAIL_PASSWORD; keep the file private, or use --password-file")
    click.echo(alertmanager_yaml(settings, to=to, password_file=password_file), nl=False)


@monitoring.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def dashboards(directory: Path) -> None:
    """Write the Grafana dashboards as JSON files into DIRECTORY (for Grafana's file provisioning)."""
    from fitpipe.monitoring.dashboards import load_dashboards

    directory.mkdir(parents=True, exist_ok=True)
    for name, dashboard in load_dashboards().items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(dashboard, indent=2) + "\n")
        say(f"wrote {path}")
