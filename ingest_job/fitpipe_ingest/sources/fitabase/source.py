"""The fitabase source: which `*_merged.csv` files it reads, in which order, and how each is read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath

from fitpipe.errors import InputError
from fitpipe_ingest.records import ParseContext, ParsedFile, merge_pieces
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.fitabase.daily import (
    DAILY_ACTIVITY,
    SLEEP_DAY,
    read_daily_activity,
    read_sleep_day,
)
from fitpipe_ingest.sources.fitabase.series import read_series
from fitpipe_ingest.sources.fitabase.sleep import MINUTE_SLEEP, read_minute_sleep
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.tree import InputTree

__all__ = ["FitabaseSource", "SOURCE", "HEADERS"]

Reader = Callable[[InputTree, Collector], Iterator[ParsedFile]]


def _series(columns: tuple[str, str, str], metric: str) -> Reader:
    def read(tree: InputTree, c: Collector) -> Iterator[ParsedFile]:
        return read_series(tree, c, columns, metric)

    return read


def _whole(read: Callable[[InputTree, Collector], ParsedFile]) -> Reader:
    def pieces(tree: InputTree, c: Collector) -> Iterator[ParsedFile]:
        yield read(tree, c)

    return pieces


# file name -> (header, what it becomes, reader); in load order. Names match in any case.
FILES: dict[str, tuple[tuple[str, ...], str, Reader]] = {
    "heartrate_seconds_merged.csv": (
        ("Id", "Time", "Value"),
        "heart_rate",
        _series(("Id", "Time", "Value"), "heart_rate"),
    ),
    "minuteStepsNarrow_merged.csv": (
        ("Id", "ActivityMinute", "Steps"),
        "steps",
        _series(("Id", "ActivityMinute", "Steps"), "steps"),
    ),
    "minuteCaloriesNarrow_merged.csv": (
        ("Id", "ActivityMinute", "Calories"),
        "calories",
        _series(("Id", "ActivityMinute", "Calories"), "calories"),
    ),
    "minuteSleep_merged.csv": (MINUTE_SLEEP, "sleep logs", _whole(read_minute_sleep)),
    "dailyActivity_merged.csv": (DAILY_ACTIVITY, "daily activity", _whole(read_daily_activity)),
    "sleepDay_merged.csv": (SLEEP_DAY, "sleep_minutes", _whole(read_sleep_day)),
}
HEADERS = {name: header for name, (header, _, _) in FILES.items()}
_BY_LOWER = {name.lower(): name for name in FILES}
_ORDER = {name: i for i, name in enumerate(FILES)}


def _known(path: str) -> str | None:
    return _BY_LOWER.get(PurePosixPath(path).name.lower())


class FitabaseSource(FileSource):
    name = "fitabase"
    description = "Fitabase *_merged.csv exports (heart rate, minute steps/calories/sleep, daily activity), many participants by Id"

    def claims(self, tree: InputTree, path: str) -> bool:
        return _known(path) is not None

    def load_order(self, paths: list[str]) -> list[str]:
        return sorted(paths, key=lambda p: (_ORDER[_known(p) or ""], p))

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        name = _known(path)
        return merge_pieces(
            self.parse_pieces(tree, path, ctx), path, f"{FILES[name][1] if name else ''} (Fitabase {name})"
        )

    def parse_pieces(self, tree: InputTree, path: str, ctx: ParseContext) -> Iterator[ParsedFile]:
        name = _known(path)
        if name is None:
            raise InputError(
                "not a file of a Fitabase export that fitpipe reads",
                file=path,
                hint="fitpipe reads " + ", ".join(FILES),
            )
        _, what, read = FILES[name]
        yield from read(tree, Collector(path, f"{what} (Fitabase {name})", ctx))


SOURCE = FitabaseSource()
