"""`fitpipe synth`: write a realistic synthetic cohort (Takeout or wearipedia files) for the demo, tests and benchmarks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fitpipe.cli.output import say
from fitpipe.settings import get_settings
from fitpipe_ingest.synth.cohort import (
    PARTICIPANTS_CSV,
    CohortOptions,
    Format,
    ParticipantResult,
    default_jobs,
    write_cohort,
)

__all__ = ["synth"]

Callback = Callable[[ParticipantResult, int, int], None]


def _line(result: ParticipantResult, done: int, total: int) -> str:
    return (
        f"[{done}/{total}] {result.participant_id} {result.kind:9} {result.days} days, {result.samples:,} heart-rate "
        f"samples, {result.worn_minutes / max(result.days * 1440, 1):.0%} worn, {result.bytes / 1e6:.1f} MB "
        f"in {result.seconds:.1f} s"
    )


@contextmanager
def _progress(total: int) -> Iterator[Callback]:
    """A progress bar when stderr is a terminal; one plain line per participant otherwise (logs, CI)."""
    if sys.stderr.isatty():
        console = Console(stderr=True, highlight=False)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("participants", total=total)

            def update(result: ParticipantResult, done: int, total: int) -> None:
                progress.update(
                    task,
                    completed=done,
                    total=total,
                    description=f"participants (last {result.participant_id})",
                )

            yield update
    else:
        yield lambda result, done, total: say(_line(result, done, total))


@click.command()
@click.option("--participants", "-n", type=click.IntRange(1), required=True, help="How many participants.")
@click.option("--days", "-d", type=click.IntRange(1), required=True, help="How many local days each.")
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2024-01-01",
    show_default=True,
    help="First local day (YYYY-MM-DD); also everyone's enrolment start.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Same seed, same options: byte-identical files.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["takeout", "wearipedia"]),
    required=True,
    help="takeout: Google Takeout Fitbit folder; wearipedia: the challenge's six CSVs.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for participants.csv and one folder per participant. Default: $FITPIPE_INBOX/<study>.",
)
@click.option(
    "--study", default="demo", show_default=True, help="Study name (names the default --out folder)."
)
@click.option(
    "--hr-interval",
    type=click.Choice(["auto", "1"]),
    default="auto",
    show_default=True,
    help="auto: device-like 1–3 s active, 5–15 s at rest (Takeout); 1: every worn second. wearipedia is always 1.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1),
    default=default_jobs(),
    show_default=True,
    help="Processes writing participants in parallel (the files do not depend on it).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the participant folders and participants.csv of an earlier run in --out.",
)
def synth(
    participants: int,
    days: int,
    start: datetime,
    seed: int,
    fmt: Format,  # one of the click.Choice above
    out: Path | None,
    study: str,
    hr_interval: str,
    jobs: int,
    overwrite: bool,
) -> None:
    """Write a synthetic cohort in the inbox layout: OUT/participants.csv and OUT/<participant>/<export>.

    Heart rate with a daily rhythm, sleep stages, exercise, AR(1) noise; charging, nights off, days
    left at home, dropouts and late syncs; adherence from excellent to poor, and a participant with no
    data at all (listed, no folder). `--out $FITPIPE_INBOX/<study>` is what `fitpipe run` reads.
    """
    out = out or get_settings().inbox / study
    options = CohortOptions(
        participants=participants,
        days=days,
        out=out,
        format=fmt,
        start=start.date(),
        seed=seed,
        dense=hr_interval == "1",
        jobs=jobs,
        overwrite=overwrite,
    )
    with _progress(participants) as on_done:
        result = write_cohort(options, on_done)
    without = [p.participant_id for p in result.profiles if not p.has_data]
    files = sum(p.files for p in result.participants)
    say(
        f"wrote {len(result.participants)} participants × {days} days ({fmt}) to {out}: {files:,} files, "
        f"{result.bytes / 1e6:,.1f} MB, {result.samples:,} heart-rate samples in {result.seconds:.1f} s"
    )
    if without:
        say(f"no data (listed in {PARTICIPANTS_CSV}, no folder): {', '.join(without)}")
