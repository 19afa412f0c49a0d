"""dailyActivity_merged.csv and sleepDay_merged.csv: one value per row, participant and metric, on a local day.

Double counting: dailyActivity's TotalSteps and Calories are the day sums of the minute files, and the
rollups sum steps and calories whatever their resolution; so daily steps (calories) are read only when
no minuteStepsNarrow (minuteCaloriesNarrow) file sits in the same folder (one folder = one export).
TotalDistance (km, stored in m) has no minute file in Fitabase and is always read. sleepDay is the day
sum of minuteSleep: beside a minuteSleep file only its header is checked.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from fitpipe_ingest.records import ParsedFile
from fitpipe_ingest.sources.fitabase.cells import DATE_FORMATS, DATE_SHAPE, Rows
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import read_csv
from fitpipe_ingest.tree import InputTree

__all__ = ["DAILY_ACTIVITY", "SLEEP_DAY", "MINUTE_SLEEP_NAME", "read_daily_activity", "read_sleep_day"]

MINUTE_SLEEP_NAME = "minuteSleep_merged.csv"
DAILY_ACTIVITY = (
    "Id",
    "ActivityDate",
    "TotalSteps",
    "TotalDistance",
    "VeryActiveMinutes",
    "FairlyActiveMinutes",
    "LightlyActiveMinutes",
    "SedentaryMinutes",
    "Calories",
)
SLEEP_DAY = ("Id", "SleepDay", "TotalSleepRecords", "TotalMinutesAsleep", "TotalTimeInBed")


def _names_beside(tree: InputTree, path: str) -> set[str]:
    """Lower-case names of the files in the same folder as path: one export."""
    folder = PurePosixPath(path).parent
    return {PurePosixPath(p).name.lower() for p in tree.paths() if PurePosixPath(p).parent == folder}


def _read_daily(
    tree: InputTree,
    c: Collector,
    header: tuple[str, ...],
    metrics: dict[str, tuple[str, float]],
) -> ParsedFile:
    """One value per row and metric at the start of the row's local day; a bad cell loses only its metric."""
    rows = Rows(read_csv(tree.read_bytes(c.path), c.path, header), c)
    seconds = rows.local_seconds(header[1], DATE_FORMATS, DATE_SHAPE)
    days = seconds // 86_400
    for metric, (column, scale) in metrics.items():
        values, ok = rows.numbers(column, drop=False)
        for who, idx in rows.by_participant(ok):
            c.add_daily(
                metric,
                days[idx],
                values[idx] * scale,
                line=rows.lines[idx],
                participant=who,
                time_field=header[1],
            )
    return c.take()


def read_daily_activity(tree: InputTree, c: Collector) -> ParsedFile:
    metrics = {
        "very_active_minutes": ("VeryActiveMinutes", 1.0),
        "moderately_active_minutes": ("FairlyActiveMinutes", 1.0),
        "lightly_active_minutes": ("LightlyActiveMinutes", 1.0),
        "sedentary_minutes": ("SedentaryMinutes", 1.0),
    }
    beside = _names_beside(tree, c.path)
    left = []
    for metric, column, minute_file in (
        ("steps", "TotalSteps", "minutestepsnarrow_merged.csv"),
        ("calories", "Calories", "minutecaloriesnarrow_merged.csv"),
    ):
        if minute_file in beside:
            left.append(metric)  # the minute file holds the same day, minute by minute: one of them only
        else:
            metrics[metric] = (column, 1.0)
    metrics["distance"] = ("TotalDistance", 1000.0)  # kilometres; no Fitabase file has distance per minute
    note = f"; daily {' and '.join(left)} left to the minute files" if left else ""
    c.kind = f"daily activity (Fitabase dailyActivity_merged.csv{note})"
    return _read_daily(tree, c, DAILY_ACTIVITY, metrics)


def read_sleep_day(tree: InputTree, c: Collector) -> ParsedFile:
    if MINUTE_SLEEP_NAME.lower() in _names_beside(tree, c.path):
        with tree.open(c.path) as fh:  # the header tells a wrong file; the rows are not needed
            read_csv(fh.read(4096).split(b"\n", 1)[0] + b"\n", c.path, SLEEP_DAY)
        c.kind = f"sleep day totals (redundant: {MINUTE_SLEEP_NAME} beside it is loaded instead)"
        return c.take()
    c.kind = f"sleep_minutes (Fitabase sleepDay_merged.csv; no {MINUTE_SLEEP_NAME} beside it)"
    return _read_daily(tree, c, SLEEP_DAY, {"sleep_minutes": ("TotalMinutesAsleep", 1.0)})
