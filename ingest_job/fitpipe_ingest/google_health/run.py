"""The bookkeeping of a live-source run: options, each participant's outcome, the thread-safe sink into the
run's summary, the report that becomes the run's details, and the bounded pool that isolates participants.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import psycopg

from fitpipe.db import connect
from fitpipe.errors import FitpipeError
from fitpipe.google_health.errors import ReconsentRequired
from fitpipe.google_health.grants import TokenSource, set_source_status
from fitpipe.participants import Participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.source import SOURCE_NAME, GoogleHealthSource
from fitpipe_ingest.google_health.state import WindowLoad
from fitpipe_ingest.load import LoadOptions

__all__ = ["SyncOptions", "Outcome", "SyncReport", "RunSink", "Work", "run_pool"]

log = logging.getLogger(__name__)

Status = Literal["synced", "deferred", "needs_reconsent"]


@dataclass(frozen=True)
class SyncOptions:
    lag: timedelta = timedelta(days=3)
    run_id: int | None = None
    now: datetime | None = None
    """The sync's "now" (tests pin it); default: the wall clock when the participant starts."""
    data_types: tuple[str, ...] | None = None
    """Only these types (default: every type the grant's scopes allow)."""
    chunk_rows: int = 1_000_000

    def load_options(self) -> LoadOptions:
        # full: a window is selected by the API's filter; the file-growth shortcut of the manifest does not apply
        return LoadOptions(
            source=SOURCE_NAME, lag=self.lag, full=True, run_id=self.run_id, chunk_rows=self.chunk_rows
        )

    def clock_now(self) -> datetime:
        return self.now or datetime.now(UTC)


@dataclass
class Outcome:
    participant: Participant
    status: Status
    message: str | None = None
    windows_loaded: int = 0
    windows_unchanged: int = 0
    points: int = 0
    skipped: list[str] = field(default_factory=list)
    """Data types the API refused (403: not shared by the participant)."""

    @property
    def name(self) -> str:
        return f"{self.participant.study}/{self.participant.external_id}"


class RunSink:
    """Collects window loads into the run's IngestSummary from the worker threads."""

    def __init__(self, summary: IngestSummary) -> None:
        self.summary = summary
        self.lock = threading.Lock()
        """Held while the summary changes; hold it to read the summary while workers run."""

    def add(self, participant: Participant, load: WindowLoad) -> None:
        with self.lock:
            self.summary.participants.add(f"{participant.study}/{participant.external_id}")
            if load.changed:
                self.summary.add_counts(SOURCE_NAME, load.counts)
                if load.result is not None:
                    load.result.file = f"{participant.study}/{participant.external_id}/{load.result.file}"
                    self.summary.files.append(load.result)

    def record(self, participant: Participant, outcome: Outcome, load: WindowLoad) -> None:
        outcome.points += load.points
        outcome.windows_loaded += int(load.changed)
        outcome.windows_unchanged += int(not load.changed)
        self.add(participant, load)


@dataclass
class SyncReport:
    outcomes: list[Outcome] = field(default_factory=list)
    config_error: str | None = None
    api: dict[str, float] = field(default_factory=dict)
    token_refresh_failures: dict[str, int] = field(default_factory=dict)

    def with_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failures(self) -> int:
        return len(self.with_status("deferred")) + (1 if self.config_error and not self.outcomes else 0)

    def error_lines(self) -> list[str]:
        lines = [f"google_health: {self.config_error}"] if self.config_error else []
        lines += [
            f"participant {o.name} (google_health, deferred): {o.message}"
            for o in self.with_status("deferred")
        ]
        return lines

    def details(self) -> dict[str, object]:
        """What the run's `details` gets (see fitpipe/monitoring/ingest_collector.py)."""
        return {
            "google_health": {
                "participants": len(self.outcomes),
                "synced": len(self.with_status("synced")),
                "deferred": len(self.with_status("deferred")),
                "needs_reconsent": len(self.with_status("needs_reconsent")),
                "windows_loaded": sum(o.windows_loaded for o in self.outcomes),
                "windows_unchanged": sum(o.windows_unchanged for o in self.outcomes),
                "points": sum(o.points for o in self.outcomes),
                "api": self.api,
                "config_error": self.config_error,
            },
            "token_refresh_failures": dict(self.token_refresh_failures),
        }

    def merge_into(self, summary: IngestSummary) -> None:
        previous = summary.extra.get("token_refresh_failures") or {}
        assert isinstance(previous, dict)
        merged = dict(previous)
        for study, n in self.token_refresh_failures.items():
            merged[study] = int(merged.get(study, 0)) + n
        summary.extra.update(self.details())
        summary.extra["token_refresh_failures"] = merged


Work = Callable[
    [psycopg.Connection, GoogleHealthSource, Participant, SyncOptions, RunSink, Outcome, TokenSource], None
]


def _run_one(
    url: str,
    source: GoogleHealthSource,
    participant: Participant,
    options: SyncOptions,
    sink: RunSink,
    work: Work,
) -> Outcome:
    """One participant on its own connection; whatever goes wrong stays with this participant."""
    outcome = Outcome(participant, "synced")
    try:
        with connect(url, autocommit=True) as conn:
            tokens = TokenSource(conn, source.cipher, source.oauth, participant.id)
            try:
                work(conn, source, participant, options, sink, outcome, tokens)
            except ReconsentRequired as exc:
                outcome.status, outcome.message = "needs_reconsent", exc.message
                set_source_status(conn, participant.id, exc.message, status="needs_reconsent")
            except (FitpipeError, httpx.HTTPError, psycopg.Error) as exc:
                outcome.status = "deferred"
                outcome.message = (
                    exc.message if isinstance(exc, FitpipeError) else f"{type(exc).__name__}: {exc}"
                )
                if not isinstance(exc, psycopg.OperationalError):
                    set_source_status(conn, participant.id, outcome.message)
            else:
                set_source_status(conn, participant.id, None)
            finally:
                source.count_refresh_failures(participant.study, tokens.refresh_failures)
    except Exception as exc:  # a bug or a lost database must not stop the other participants
        log.exception("participant %s/%s: sync failed", participant.study, participant.external_id)
        outcome.status, outcome.message = "deferred", f"{type(exc).__name__}: {exc}"
    if outcome.status != "synced":
        log.warning("participant %s: %s: %s", outcome.name, outcome.status, outcome.message)
    return outcome


def run_pool(
    url: str,
    source: GoogleHealthSource,
    participants: list[Participant],
    options: SyncOptions,
    sink: RunSink,
    *,
    work: Work,
    concurrency: int | None = None,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
) -> list[Outcome]:
    """Run `work` for each participant, `concurrency` at a time; outcomes in the participants' order."""
    workers = max(1, min(concurrency or source.settings.fitpipe_google_concurrency, len(participants) or 1))
    outcomes: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="google-health") as pool:
        futures = {pool.submit(_run_one, url, source, p, options, sink, work): p.id for p in participants}
        for done, future in enumerate(as_completed(futures), 1):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            if on_outcome is not None:
                with (
                    sink.lock
                ):  # the callback may read the summary (progress of the run) while workers add to it
                    on_outcome(outcome, done, len(participants))
    return [outcomes[p.id] for p in participants]
