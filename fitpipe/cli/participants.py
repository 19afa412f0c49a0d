"""`fitpipe participants add|list|update|erase`."""

from __future__ import annotations

import getpass
from datetime import datetime

import click

from fitpipe.cli.output import print_table, say
from fitpipe.db import connect
from fitpipe.errors import InputError
from fitpipe.migrations import check_schema_current
from fitpipe.participants import add_participant, get_participant, list_participants, update_participant
from fitpipe.settings import get_settings
from fitpipe.storage import erase_participant, erasure_preview, remove_inbox_folder

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
            "erased" if p.erased_at else p.status,
            last.isoformat(timespec="seconds") if last else None,
            sources or "none yet",
        ]
        if emails:
            row.insert(4, p.email)
        table.append(row)
    print_table(None, columns, table)
    say(f"{len(rows)} participant(s)")


@participants.command("erase")
@click.argument("participant_id")
@click.option(
    "--study", "-s", required=True, help="The participant's study (required: erasing is irreversible)."
)
@click.option("--yes", is_flag=True, help="Erase for real. Without it: show what would be deleted.")
@click.option(
    "--keep-inbox", is_flag=True, help="Leave the participant's inbox folder (raw exports) in place."
)
def erase(participant_id: str, study: str, yes: bool, keep_inbox: bool) -> None:
    """Erase everything stored of a participant who withdrew consent (irreversible, audited).

    Deletes their samples (compressed chunks too), rollups, sleep, cursors, file manifest, quarantined raw
    text, data sources, Google grants and tokens, and contact log, and their inbox folder
    ($FITPIPE_INBOX/<study>/<participant>). The participant row stays as a tombstone (id and erased_at, no
    email, time zone or dates) because the append-only audit log refers to it; the audit log keeps who read
    or contacted them and when, never measured values, and gets one erase_participant row for this command.
    """
    settings = get_settings()
    folder = settings.inbox / study / participant_id
    with connect(autocommit=True) as conn:
        check_schema_current(conn)
        participant = get_participant(conn, participant_id, study)
        if not yes:
            counts = erasure_preview(conn, participant)
            print_table(None, ["table", "rows"], [[t, n] for t, n in counts.items() if n])
            say(
                f"{sum(counts.values()):,} row(s) of {participant_id} (study {study}) would be erased"
                + (f", and the inbox folder {folder}" if folder.exists() else "")
            )
            raise InputError("nothing was erased", hint="add --yes to erase for real (it cannot be undone)")
        report = erase_participant(conn, participant, actor={"via": "cli", "os_user": getpass.getuser()})
    removed = remove_inbox_folder(settings.inbox, study, participant_id)
    print_table(None, ["table", "rows deleted"], [[t, n] for t, n in report.rows.items() if n])
    if report.previously_erased:
        say(f"{participant_id} was already erased on {report.previously_erased:%Y-%m-%d}")
    say(
        f"erased {participant_id} (study {study}): {report.total_rows:,} row(s)"
        + (f"; removed {folder}" if removed else "")
        + "; recorded in the audit log"
    )
