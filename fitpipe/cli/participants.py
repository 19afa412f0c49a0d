"""`fitpipe participants add|list|update`."""

from __future__ import annotations

from datetime import datetime

import click

from fitpipe.cli.output import print_table, say
from fitpipe.db import connect
from fitpipe.participants import add_participant, get_participant, list_participants, update_participant
from fitpipe.settings import get_settings

__all__ = ["participants"]


@click.group()
def participants() -> None:
    """Enrol participants and list them."""


@participants.command("add")
@click.argument("participant_id")
@click.option("--study", "-s", help="Study name (created if needed). Default: FITPIPE_DEFAULT_STUDY.")
@click.option("--timezone", "-z", help="IANA time zone, e.g. Europe/London (default UTC).")
@click.option("--email", "-e", help="Contact address for reminders.")
@click.option("--enrolled", type=click.DateTime(["%Y-%m-%d"]), help="Enrolment start date (YYYY-MM-DD).")
def add(
    participant_id: str, study: str | None, timezone: str | None, email: str | None, enrolled: datetime | None
) -> None:
    """Add PARTICIPANT_ID to a study (no error when it exists unchanged)."""
    study = study or get_settings().fitpipe_default_study
    with connect(autocommit=True) as conn:
        participant, created = add_participant(
            conn, participant_id, study, timezone=timezone, email=email, enrolment_start=enrolled
        )
    verb = "added" if created else "already present, unchanged:"
    say(f"{verb} {participant.external_id} (study {participant.study}, time zone {participant.timezone})")


@participants.command("update")
@click.argument("participant_id")
@click.option("--study", "-s")
@click.option("--timezone", "-z")
@click.option("--email", "-e")
@click.option("--status", type=click.Choice(["active", "paused", "withdrawn", "completed"]))
def update(
    participant_id: str, study: str | None, timezone: str | None, email: str | None, status: str | None
) -> None:
    """Change a participant's time zone, email or status deliberately."""
    with connect(autocommit=True) as conn:
        participant = update_participant(
            conn, get_participant(conn, participant_id, study), timezone=timezone, email=email, status=status
        )
    say(f"updated {participant.external_id}: time zone {participant.timezone}, status {participant.status}")


@participants.command("list")
@click.option("--study", "-s", help="Only this study.")
@click.option("--emails", is_flag=True, help="Show email addresses (health data: off by default).")
def list_command(study: str | None, emails: bool) -> None:
    """List participants with their data status."""
    with connect(autocommit=True) as conn:
        rows = list_participants(conn, study)
        stats = {
            int(r[0]): r[1:]
            for r in conn.execute(
                """SELECT p.id,
                          (SELECT max(c.last_value) FROM ingest_cursors c WHERE c.participant_id = p.id),
                          (SELECT string_agg(ps.source || ':' || ps.status, ', ' ORDER BY ps.source)
                           FROM participant_sources ps WHERE ps.participant_id = p.id)
                   FROM participants p"""
            ).fetchall()
        }
    columns = ["study", "participant", "time zone", "status", "last sample", "sources"]
    if emails:
        columns.insert(4, "email")
    table = []
    for p in rows:
        last, sources = stats.get(p.id, (None, None))
        row: list[object] = [
            p.study,
            p.external_id,
            p.timezone,
            p.status,
            last.isoformat(timespec="seconds") if last else None,
            sources or "none yet",
        ]
        if emails:
            row.insert(4, p.email)
        table.append(row)
    print_table(None, columns, table)
    say(f"{len(rows)} participant(s)")
