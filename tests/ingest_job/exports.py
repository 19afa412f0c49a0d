"""Writers of realistic export files for the ingest tests: the bytes real tools write (CRLF, trailing blank lines,
folder layouts), generated so each test states its own data."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

__all__ = [
    "fitabase_heart_rate",
    "fitabase_time",
    "fitbit_json_stamp",
    "global_export_day",
    "legacy_account_export",
    "long_csv",
    "write_zip",
]


def fitabase_time(t: datetime) -> str:
    """Fitabase's local time: M/D/YYYY h:mm:ss AM."""
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


def fitabase_heart_rate(
    path: Path,
    rows: dict[str, tuple[datetime, int]],
    *,
    step_seconds: int = 5,
    trailing_blank_line: bool = True,
) -> int:
    """heartrate_seconds_merged.csv as Fitabase writes it: CRLF, and an empty line at the end.

    rows: participant Id -> (first local time, number of samples). Returns the samples written.
    """
    lines = ["Id,Time,Value"]
    for pid, (start, n) in rows.items():
        lines += [
            f"{pid},{fitabase_time(start + timedelta(seconds=step_seconds * i))},{60 + i % 40}"
            for i in range(n)
        ]
    text = "\r\n".join(lines) + "\r\n" + ("\r\n" if trailing_blank_line else "")
    path.write_bytes(text.encode())
    return sum(n for _, n in rows.values())


def fitbit_json_stamp(t: datetime) -> str:
    """Global Export Data's 'MM/DD/YY HH:MM:SS'."""
    return t.strftime("%m/%d/%y %H:%M:%S")


def global_export_day(day: date) -> dict[str, str]:
    """One day's Global Export Data files (name -> JSON text): heart rate, steps, calories, distance and
    the daily files, the kinds an old Fitbit account archive holds."""
    start = datetime(day.year, day.month, day.day, 6)
    heart = [
        {
            "dateTime": fitbit_json_stamp(start + timedelta(seconds=5 * i)),
            "value": {"bpm": 60 + i % 30, "confidence": 2},
        }
        for i in range(120)
    ]
    minute = [fitbit_json_stamp(start + timedelta(minutes=i)) for i in range(30)]
    midnight = fitbit_json_stamp(datetime(day.year, day.month, day.day))
    return {
        f"heart_rate-{day}.json": json.dumps(heart),
        f"steps-{day}.json": json.dumps(
            [{"dateTime": t, "value": str(10 + i)} for i, t in enumerate(minute)]
        ),
        f"calories-{day}.json": json.dumps([{"dateTime": t, "value": "1.2"} for t in minute]),
        f"distance-{day}.json": json.dumps([{"dateTime": t, "value": "1520"} for t in minute]),
        f"resting_heart_rate-{day}.json": json.dumps(
            [{"dateTime": midnight, "value": {"date": day.strftime("%m/%d/%y"), "value": 58.5, "error": 6.8}}]
        ),
        f"sedentary_minutes-{day}.json": json.dumps([{"dateTime": midnight, "value": "712"}]),
    }


def legacy_account_export(root: Path, days: list[date], *, per_metric_folders: bool) -> list[str]:
    """MyFitbitData/<name>/user-site-export/...: flat, or one folder per metric (heart_rate/heart_rate-….json).

    Returns the written paths relative to root."""
    base = root / "MyFitbitData" / "JaneDoe" / "user-site-export"
    written = []
    for day in days:
        for name, text in global_export_day(day).items():
            metric = name.rsplit("-", 3)[0]
            path = base / metric / name if per_metric_folders else base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path.relative_to(root).as_posix())
    return written


def long_csv(path: Path, rows: list[tuple[str, str, str, str]], extra: list[str] | None = None) -> None:
    """participant,metric,timestamp,value[,note] lines (extra: one note cell per row)."""
    header = "participant,metric,timestamp,value" + (",note" if extra else "")
    lines = [header] + [",".join(row) + (f",{extra[i]}" if extra else "") for i, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
