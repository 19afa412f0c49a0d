"""Write a synthetic cohort: `participants.csv` and one export folder per participant, in the inbox layout.

`DIR/participants.csv` lists everyone (participant_id,timezone,email,profile,enrolment_start) and is
written last, so its presence means the cohort is complete;
`DIR/<participant_id>/` holds that participant's export, so `DIR` can be `$FITPIPE_INBOX/<study>`.
A participant without data has no folder. Participants are independent, so they can be written by
several processes (spawned: a script calling `write_cohort` with jobs > 1 needs the usual
`if __name__ == "__main__":` guard); the files are the same for a seed whatever the number of processes.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from fitpipe.errors import ConflictError, InputError
from fitpipe_ingest.synth.participant import plan_participant, simulate_days
from fitpipe_ingest.synth.profiles import Profile, plan_cohort
from fitpipe_ingest.synth.writers.takeout import TakeoutWriter
from fitpipe_ingest.synth.writers.wearipedia import WearipediaWriter

__all__ = [
    "CohortOptions",
    "ParticipantResult",
    "CohortResult",
    "write_cohort",
    "write_participant",
    "PARTICIPANTS_CSV",
]

Format = Literal["takeout", "wearipedia"]
PARTICIPANTS_CSV = "participants.csv"
_PARTICIPANT_FOLDER = re.compile(r"^P\d{4,}$")
IN_PROCESS_PARTICIPANT_DAYS = 60
"""Below this many participant-days the cohort is written in-process whatever `jobs` says."""


@dataclass(frozen=True)
class CohortOptions:
    participants: int
    days: int
    out: Path
    format: Format = "takeout"
    start: date = date(2024, 1, 1)
    seed: int = 0
    dense: bool = False
    """Every worn second (takeout `--hr-interval 1`); wearipedia is always dense."""
    jobs: int = 1
    overwrite: bool = False
    kinds: tuple[str, ...] | None = None
    """Pin the adherence kind of each participant (tests); None: the seeded mix."""
    zones: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParticipantResult:
    participant_id: str
    kind: str
    days: int
    samples: int
    worn_minutes: int
    files: int
    bytes: int
    seconds: float


@dataclass(frozen=True)
class CohortResult:
    profiles: list[Profile]
    participants: list[ParticipantResult]
    seconds: float

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.participants)

    @property
    def samples(self) -> int:
        return sum(p.samples for p in self.participants)


def write_participant(profile: Profile, fmt: Format, folder: Path, dense: bool) -> ParticipantResult:
    """Simulate one participant and write their export into `folder`."""
    began = time.perf_counter()
    plan = plan_participant(profile)
    writer = TakeoutWriter(folder, plan) if fmt == "takeout" else WearipediaWriter(folder, plan)
    samples = worn = 0
    try:
        for day in simulate_days(plan, dense or fmt == "wearipedia"):
            writer.day(day)
            samples += int(day.sample_t.size)
            worn += day.worn_minutes
    finally:
        writer.finish()
    return ParticipantResult(
        profile.participant_id,
        profile.kind,
        profile.visible_days,
        samples,
        worn,
        writer.files,
        writer.bytes,
        time.perf_counter() - began,
    )


def participants_csv(profiles: list[Profile]) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["participant_id", "timezone", "email", "profile", "enrolment_start"])
    for p in profiles:
        out.writerow([p.participant_id, p.timezone, p.email, p.kind, p.start.isoformat()])
    return buf.getvalue().encode()


def _clear_earlier_run(out: Path, profiles: list[Profile], overwrite: bool) -> None:
    """Refuse to mix two runs in one folder; with `overwrite`, remove only what a run writes."""
    earlier = (
        [p for p in out.iterdir() if p.is_dir() and _PARTICIPANT_FOLDER.match(p.name)] if out.is_dir() else []
    )
    listing = out / PARTICIPANTS_CSV
    if not earlier and not listing.exists():
        return
    if not overwrite:
        raise ConflictError(
            f"{out} already holds a synthetic cohort ({len(earlier)} participant folder(s)"
            f"{', participants.csv' if listing.exists() else ''})",
            hint="pass --overwrite to replace it, or choose an empty --out folder",
        )
    for folder in earlier:
        shutil.rmtree(folder)
    listing.unlink(missing_ok=True)


def write_cohort(
    options: CohortOptions, on_done: Callable[[ParticipantResult, int, int], None] | None = None
) -> CohortResult:
    """Write the cohort; `on_done(result, done, total)` is called as each participant finishes."""
    if options.participants < 1 or options.days < 1:
        raise InputError("need at least 1 participant and 1 day", hint="e.g. --participants 20 --days 30")
    began = time.perf_counter()
    profiles = plan_cohort(
        options.participants,
        options.days,
        options.start,
        options.seed,
        kinds=list(options.kinds) if options.kinds else None,
        zones=list(options.zones) if options.zones else None,
    )
    options.out.mkdir(parents=True, exist_ok=True)
    _clear_earlier_run(options.out, profiles, options.overwrite)
    todo = [p for p in profiles if p.has_data]
    results: list[ParticipantResult] = []

    def done(result: ParticipantResult) -> None:
        results.append(result)
        if on_done:
            on_done(result, len(results), len(todo))

    # starting a worker costs ~0.5 s (spawn), more than a small cohort takes to write in-process
    small = len(todo) * options.days < IN_PROCESS_PARTICIPANT_DAYS
    jobs = 1 if small else max(1, min(options.jobs, len(todo)))
    if jobs == 1:
        for p in todo:
            done(write_participant(p, options.format, options.out / p.participant_id, options.dense))
    else:
        # spawn: a fresh interpreter per worker, safe whatever threads the caller runs (progress bars)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    write_participant, p, options.format, options.out / p.participant_id, options.dense
                )
                for p in todo
            ]
            for future in as_completed(futures):
                done(future.result())
    results.sort(key=lambda r: r.participant_id)
    # written last and renamed into place: a participants.csv means the cohort is complete
    partial = options.out / (PARTICIPANTS_CSV + ".partial")
    partial.write_bytes(participants_csv(profiles))
    partial.replace(options.out / PARTICIPANTS_CSV)
    return CohortResult(profiles, results, time.perf_counter() - began)


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
