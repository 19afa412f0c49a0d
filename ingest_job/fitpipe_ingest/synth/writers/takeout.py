"""One participant's Google Takeout "Fitbit" folder, file by file as the real export writes it.

Written under `<folder>/Fitbit/` (conventions checked against a real Pixel Watch 3 export):
- `Global Export Data/heart_rate-YYYY-MM-DD.json`: one file per local day that has samples, UTC
  `MM/DD/YY HH:MM:SS`, `{"bpm": int, "confidence": 1–3}`.
- `Global Export Data/steps-YYYY-MM-DD.json`: per-minute steps (value as a string), UTC times, one
  file per 30 local days counted from the first day and named after it; only worn minutes are listed.
- `Global Export Data/resting_heart_rate-YYYY-MM-DD.json`: one entry per local day up to the export
  date, 365 days a file; days without a value are `{"date": null, "value": 0.0, "error": 0.0}`.
- `Global Export Data/sleep-YYYY-MM-DD.json`: the sleep logs (local times), 30-day files like steps by
  `dateOfSleep`, newest first; a log that starts on the last day of a file and ends in the next appears
  in both (readers dedupe by `logId`, as with the real export).
- `Heart Rate Variability/Heart Rate Variability Details - YYYY-MM-DD.csv`: 5-min windows in sleep, local
  times without offset, split by local day; CRLF, no newline at the end (as every CSV below except AZM).
- `Heart Rate Variability/Daily Respiratory Rate Summary - YYYY-MM-DD.csv`: one row per main sleep, dated
  by `dateOfSleep`.
- `Oxygen Saturation (SpO2)/Minute SpO2 - YYYY-MM-DD.csv`: UTC `…Z` times split by UTC day; like the real
  files, a day's file also holds the first minute after its midnight (that row is in both files).
- `Active Zone Minutes (AZM)/Active Zone Minutes - YYYY-MM-01.csv`: per calendar month, local
  `YYYY-MM-DDTHH:MM`, FAT_BURN 1 / CARDIO 2 / PEAK 2; LF, no newline at the end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from fitpipe_ingest.synth.participant import Day, Plan
from fitpipe_ingest.synth.sleep import sleep_log
from fitpipe_ingest.synth.textfmt import Field, fixed, integer, render, utc_datetime_fields
from fitpipe_ingest.synth.writers.fitbit_json import dumps

__all__ = ["TakeoutWriter", "heart_rate_json", "steps_json", "MONTH_DAYS", "YEAR_DAYS"]

MONTH_DAYS = 30
YEAR_DAYS = 365
# zone code -> ",heart_zone_id,total_minutes" (cardio and peak earn 2 a minute)
_AZM_ROW_TAIL = {1: b",FAT_BURN,1", 2: b",CARDIO,2", 3: b",PEAK,2"}


def _us_datetime(t: np.ndarray) -> list[bytes | Field]:
    """Pieces of `MM/DD/YY HH:MM:SS` for epoch seconds t."""
    year, month, day, hour, minute, second = utc_datetime_fields(t)
    return [
        fixed(month, 2),
        b"/",
        fixed(day, 2),
        b"/",
        fixed(year % 100, 2),
        b" ",
        fixed(hour, 2),
        b":",
        fixed(minute, 2),
        b":",
        fixed(second, 2),
    ]


def heart_rate_json(t: np.ndarray, bpm: np.ndarray, confidence: np.ndarray) -> bytes:
    """The records of a heart_rate-*.json file, without the enclosing brackets."""
    return render(
        t.size,
        [
            b'{\n  "dateTime" : "',
            *_us_datetime(t),
            b'",\n  "value" : {\n    "bpm" : ',
            integer(bpm),
            b',\n    "confidence" : ',
            integer(confidence),
            b"\n  }\n}",
        ],
        b",",
    )


def steps_json(t: np.ndarray, steps: np.ndarray) -> bytes:
    return render(
        t.size,
        [b'{\n  "dateTime" : "', *_us_datetime(t), b'",\n  "value" : "', integer(steps), b'"\n}'],
        b",",
    )


def _minute_stamps(naive: np.ndarray) -> list[bytes | Field]:
    """Pieces of `YYYY-MM-DDTHH:MM` for naive local epoch seconds (AZM rows)."""
    year, month, day, hour, minute, _ = utc_datetime_fields(naive)
    return [
        fixed(year, 4),
        b"-",
        fixed(month, 2),
        b"-",
        fixed(day, 2),
        b"T",
        fixed(hour, 2),
        b":",
        fixed(minute, 2),
    ]


def _us_date(value: date) -> str:
    return value.strftime("%m/%d/%y")


class TakeoutWriter:
    """Streams heart rate day by day; keeps the small per-minute and nightly data for the monthly files."""

    def __init__(self, folder: Path, plan: Plan) -> None:
        self.plan = plan
        self.root = folder / "Fitbit"
        self.bytes = 0
        self.files = 0
        self._steps: dict[int, list[bytes]] = defaultdict(list)
        self._azm: dict[date, list[bytes]] = defaultdict(list)
        self._resting: dict[int, float] = {}

    def _write(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb", buffering=1 << 20) as fh:
            fh.write(data)
        self.bytes += len(data)
        self.files += 1

    def day(self, day: Day) -> None:
        if day.sample_t.size:
            bpm = np.rint(day.hr).astype(np.int64)
            self._write(
                f"Global Export Data/heart_rate-{day.day.isoformat()}.json",
                b"[" + heart_rate_json(day.sample_t, bpm, day.confidence) + b"]",
            )
        listed = np.flatnonzero(day.step_listed)
        if listed.size:
            self._steps[day.index // MONTH_DAYS].append(steps_json(day.minute_t[listed], day.steps[listed]))
        in_zone = np.flatnonzero(day.zone > 0)
        if in_zone.size:
            stamps = render(in_zone.size, _minute_stamps(day.minute_local[in_zone]), b"\n").split(b"\n")
            self._azm[day.day.replace(day=1)].append(
                b"\n".join(
                    s + _AZM_ROW_TAIL[z] for s, z in zip(stamps, day.zone[in_zone].tolist(), strict=True)
                )
            )
        if day.resting is not None:
            self._resting[day.index] = day.resting

    def finish(self) -> None:
        profile = self.plan.profile
        for chunk, parts in sorted(self._steps.items()):
            first = profile.start + timedelta(days=chunk * MONTH_DAYS)
            self._write(f"Global Export Data/steps-{first.isoformat()}.json", b"[" + b",".join(parts) + b"]")
        for month, rows in sorted(self._azm.items()):
            self._write(
                f"Active Zone Minutes (AZM)/Active Zone Minutes - {month.isoformat()}.csv",
                b"date_time,heart_zone_id,total_minutes\n" + b"\n".join(rows),
            )
        self._write_resting()
        self._write_sleep()
        self._write_nightly()

    def _write_resting(self) -> None:
        profile = self.plan.profile
        # the export runs to the last day of the range, so days not synced yet are there as empty entries
        for first in range(0, profile.days, YEAR_DAYS):
            entries = []
            for d in range(first, min(first + YEAR_DAYS, profile.days)):
                on = profile.start + timedelta(days=d)
                value = self._resting.get(d)
                if value is None:
                    inner: dict[str, object] = {"date": None, "value": 0.0, "error": 0.0}
                else:
                    # Fitbit computes in float32 and writes the widened double: 61.25308895111084
                    error = profile.stream("resting-error", d).uniform(6.5, 13.0)
                    inner = {
                        "date": _us_date(on),
                        "value": float(np.float32(value)),
                        "error": float(np.float32(error)),
                    }
                entries.append({"dateTime": f"{_us_date(on)} 00:00:00", "value": inner})
            start = profile.start + timedelta(days=first)
            self._write(
                f"Global Export Data/resting_heart_rate-{start.isoformat()}.json", dumps(entries).encode()
            )

    def _write_sleep(self) -> None:
        profile, zone = self.plan.profile, self.plan.zone
        chunks: dict[int, list[tuple[int, dict[str, object]]]] = defaultdict(list)
        for entry in self.plan.logged:
            log = sleep_log(entry.sleep, zone, entry.log_id, entry.thirty_day_avg)
            started = datetime.fromtimestamp(entry.sleep.start, UTC).astimezone(zone).date()
            homes = {
                (entry.date_of_sleep - profile.start).days // MONTH_DAYS,
                max(0, (started - profile.start).days) // MONTH_DAYS,
            }
            for chunk in homes:
                chunks[chunk].append((entry.sleep.start, log))
        for chunk, logs in sorted(chunks.items()):
            logs.sort(key=lambda item: -item[0])
            first = profile.start + timedelta(days=chunk * MONTH_DAYS)
            self._write(
                f"Global Export Data/sleep-{first.isoformat()}.json", dumps([log for _, log in logs]).encode()
            )

    def _write_nightly(self) -> None:
        zone = self.plan.zone
        hrv: dict[str, list[str]] = defaultdict(list)
        spo2: dict[str, list[str]] = defaultdict(list)
        for entry in self.plan.logged:
            night = entry.nightly
            if night is None:
                continue
            for t, rmssd, cov, lf, hf in zip(
                night.window_t,
                night.window_rmssd,
                night.window_coverage,
                night.window_lf,
                night.window_hf,
                strict=True,
            ):
                local = datetime.fromtimestamp(int(t), UTC).astimezone(zone)
                hrv[local.date().isoformat()].append(
                    f"{local.strftime('%Y-%m-%dT%H:%M:%S')},{round(float(rmssd), 3)!r},{round(float(cov), 3)!r},"
                    f"{round(float(lf), 3)!r},{round(float(hf), 3)!r}"
                )
            for t, value, low in zip(night.minute_t, night.spo2, night.spo2_low_confidence, strict=True):
                stamp = datetime.fromtimestamp(int(t), UTC)
                row = f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}Z,{50.0 if low else float(value):.1f}"
                spo2[stamp.date().isoformat()].append(row)
                if stamp.hour == 0 and stamp.minute == 0:
                    spo2[(stamp.date() - timedelta(days=1)).isoformat()].append(row)
            breathing = night.breathing["deep"]
            self._write(
                f"Heart Rate Variability/Daily Respiratory Rate Summary - {entry.date_of_sleep.isoformat()}.csv",
                f"timestamp,daily_respiratory_rate\r\n{entry.date_of_sleep.isoformat()}T00:00:00,{breathing:.1f}".encode(),
            )
        for day, rows in sorted(hrv.items()):
            self._write(
                f"Heart Rate Variability/Heart Rate Variability Details - {day}.csv",
                ("timestamp,rmssd,coverage,low_frequency,high_frequency\r\n" + "\r\n".join(rows)).encode(),
            )
        for day, rows in sorted(spo2.items()):
            rows.sort()
            self._write(
                f"Oxygen Saturation (SpO2)/Minute SpO2 - {day}.csv",
                ("timestamp,value\r\n" + "\r\n".join(rows)).encode(),
            )
