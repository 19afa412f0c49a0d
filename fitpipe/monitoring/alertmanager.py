"""The Alertmanager configuration for fitpipe's alerts: email through fitpipe's MAIL_* SMTP settings,
routes by severity, groups by alertname and study, and inhibition of warnings a critical alert explains.
"""

from __future__ import annotations

from pathlib import Path

from fitpipe.errors import ConfigError
from fitpipe.settings import Settings

__all__ = ["DEFAULT_RECIPIENT", "SUBJECT", "TEXT", "alertmanager_config"]

DEFAULT_RECIPIENT = "admin@wearipedia.com"

SUBJECT = (
    "[fitpipe] {{ .Status | toUpper }} {{ .CommonLabels.severity }}: {{ .CommonLabels.alertname }}"
    "{{ if .CommonLabels.study }} (study {{ .CommonLabels.study }}){{ end }}"
)
"""E.g. `[fitpipe] FIRING critical: IngestFailed` or `[fitpipe] RESOLVED warning: ParticipantsNotSyncing (study alpha)`."""

TEXT = """\
{{ range .Alerts }}{{ .Status | toUpper }}: {{ .Annotations.summary }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
Labels:{{ range .Labels.SortedPairs }} {{ .Name }}={{ .Value }}{{ end }}
Since: {{ .StartsAt }}

{{ end }}"""


def _smtp(settings: Settings, password_file: Path | None) -> dict[str, object]:
    if settings.mail_ssl_tls and settings.mail_port != 465:
        raise ConfigError(
            f"MAIL_SSL_TLS is set with MAIL_PORT={settings.mail_port}; Alertmanager uses implicit TLS only on port 465",
            hint="set MAIL_PORT=465, or use MAIL_STARTTLS=true on port 587",
        )
    smtp: dict[str, object] = {
        "smtp_smarthost": f"{settings.mail_server}:{settings.mail_port}",
        "smtp_from": settings.mail_from,
        # On port 465 Alertmanager speaks TLS from the start; require_tls is about STARTTLS.
        "smtp_require_tls": bool(settings.mail_starttls),
    }
    if settings.mail_username:
        smtp["smtp_auth_username"] = settings.mail_username
        if password_file is not None:
            smtp["smtp_auth_password_file"] = str(password_file)
        elif settings.mail_password is not None:
            smtp["smtp_auth_password"] = settings.mail_password.get_secret_value()
    return smtp


def _email(to: str, send_resolved: bool) -> dict[str, object]:
    return {"to": to, "send_resolved": send_resolved, "headers": {"Subject": SUBJECT}, "text": TEXT}


def alertmanager_config(
    settings: Settings,
    *,
    to: str = DEFAULT_RECIPIENT,
    password_file: Path | None = None,
) -> dict[str, object]:
    """The configuration as plain data (for YAML). The SMTP password, when MAIL_PASSWORD is set and no
    `password_file` is given, is written into it: keep such a file private."""
    if "@" not in to or any(c.isspace() for c in to):
        raise ConfigError(f"{to!r} is not an email address", hint="pass --to name@example.org")
    return {
        "global": _smtp(settings, password_file),
        "route": {
            "receiver": "email-warning",
            "group_by": ["alertname", "study"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                {
                    "matchers": ['severity="critical"'],
                    "receiver": "email-critical",
                    "group_wait": "10s",
                    "repeat_interval": "4h",
                },
                {
                    "matchers": ['severity="warning"'],
                    "receiver": "email-warning",
                    "group_wait": "2m",
                    "repeat_interval": "24h",
                },
            ],
        },
        "inhibit_rules": [
            # A critical alert mutes the warnings of the same study; alerts without a study label (ingest,
            # API) count as one shared "study", as Alertmanager treats a missing label as equal.
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["study"],
            },
            # A failed or stale daily ingest explains every study's participants looking out of sync.
            {
                "source_matchers": ['severity="critical"', 'component="ingest"'],
                "target_matchers": ['severity="warning"', 'component="participants"'],
            },
        ],
        "receivers": [
            {"name": "email-critical", "email_configs": [_email(to, send_resolved=True)]},
            {"name": "email-warning", "email_configs": [_email(to, send_resolved=False)]},
        ],
    }
