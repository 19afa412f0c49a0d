"""One participant's wearipedia CSVs, as the challenge notebook saves them (`pd.DataFrame(list).to_csv(index=False)`).

Six files, one row per exported local day, cells in Python `repr` (single quotes, `np.float64(…)`,
`np.int64(…)`), a cell with a comma quoted with `"`, LF line ends. Times are floating local time.
- `heart_rate.csv`: every worn second of the day (`'time': 'HH:MM:SS'`, so the repeated hour of a
  DST change appears twice and the skipped one not at all); zones with the day's worn minutes;
  `restingHeartRate` left out on days without one; a day not worn at all is `[]`.
- `active_zone_minutes.csv`: the worn minutes (`'minute': 'HH:MM:SS'`); in a zone 1 as wearipedia writes.
- `hrv.csv` / `spo2.csv`: per minute of a logged main sleep, in the row of the local date the night
  starts on; HRV keeps that date after midnight (wearipedia's bug), SpO2 rolls it over; whole-number
  SpO2 values are plain ints, the rest `np.float64`. No night: `[]`.
- `breathing_rate.csv`: per `dateOfSleep`; deep/REM/light as plain floats, full sleep as `np.float64`.
- `activity.csv`: the day's steps (worn minutes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fitpipe_ingest.synth.activity import zone_bounds
from fitpipe_ingest.synth.nightly import Nightly
from fitpipe_ingest.synth.participant import Day, Plan
from fitpipe_ingest.synth.textfmt import Field, decimal, fixed, render

__all__ = ["WearipediaWriter", "heart_rate_items", "FILES"]

FILES = {
    "activity.csv": "dateTime,value",
    "heart_rate.csv": "heart_rate_day",
    "active_zone_minutes.csv": "activities-active-zone-minutes-intraday",
    "hrv.csv": "hrv",
    "spo2.csv": "dateTime,minutes",
    "breathing_rate.csv": "br",
}
HR_DECIMALS = 12
"""Heart rate is a float like the generator's (up to 15 significant digits, exactly as repr prints)."""
# kcal a minute in each zone, for the zones' caloriesOut
_KCAL_PER_MINUTE = (1.3, 6.0, 9.0, 12.0)
_AZM_VALUE = (
    "{'activeZoneMinutes': 0}",
    "{'fatBurnActiveZoneMinutes': 1, 'activeZoneMinutes': 1}",
    "{'cardioActiveZoneMinutes': 1, 'activeZoneMinutes': 1}",
    "{'peakActiveZoneMinutes': 1, 'activeZoneMinutes': 1}",
)


def _cell(text: str) -> str:
    """A CSV field as pandas writes it (quoted only when it must be)."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _hms(local: np.ndarray) -> list[bytes | Field]:
    sod = np.asarray(local, dtype=np.int64) % 86_400
    return [fixed(sod // 3600, 2), b":", fixed(sod // 60 % 60, 2), b":", fixed(sod % 60, 2)]


def heart_rate_items(local: np.ndarray, bpm: np.ndarray) -> bytes:
    """`{'time': 'HH:MM:SS', 'value': np.float64(v)}, …` for local naive epoch seconds and float bpm."""
    return render(
        local.size,
        [
            b"{'time': '",
            *_hms(local),
            b"', 'value': np.float64(",
            decimal(bpm, HR_DECIMALS),
            b")}",
        ],
        b", ",
    )


def _spo2_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"np.float64({float(value)!r})"


class WearipediaWriter:
    def __init__(self, folder: Path, plan: Plan) -> None:
        self.plan = plan
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.bytes = 0
        self.files = len(FILES)
        self._out: dict[str, BinaryIO] = {}
        for name, header in FILES.items():
            fh = open(folder / name, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in finish()
            self._out[name] = fh
            self._put(name, header.encode() + b"\n")
        zone = plan.zone
        self._by_start: dict[date, list[Nightly]] = defaultdict(list)
        self._by_end: dict[date, Nightly] = {}
        for entry in plan.logged:
            if entry.nightly is not None:
                started = datetime.fromtimestamp(entry.sleep.start, UTC).astimezone(zone).date()
                self._by_start[started].append(entry.nightly)
                self._by_end[entry.date_of_sleep] = entry.nightly

    def _put(self, name: str, data: bytes) -> None:
        self._out[name].write(data)
        self.bytes += len(data)

    def day(self, day: Day) -> None:
        d = day.day.isoformat()
        worn = day.worn_seconds >= 30
        self._put("activity.csv", f"{d},{int(day.steps.sum())}\n".encode())
        self._heart_rate(day, d)
        if worn.any():
            idx = np.flatnonzero(worn)
            items = ", ".join(
                f"{{'minute': '{s // 3600:02d}:{s // 60 % 60:02d}:00', 'value': {_AZM_VALUE[z]}}}"
                for s, z in zip(
                    (day.minute_local[idx] % 86_400).tolist(), day.zone[idx].tolist(), strict=True
                )
            )
            self._put(
                "active_zone_minutes.csv",
                _cell(f"[{{'dateTime': '{d}', 'minutes': [{items}]}}]").encode() + b"\n",
            )
        else:
            self._put("active_zone_minutes.csv", b"[]\n")
        self._nights(day.day, d)

    def _heart_rate(self, day: Day, d: str) -> None:
        if day.sample_t.size == 0:
            self._put("heart_rate.csv", b"[]\n")
            return
        fat, cardio, peak = (
            round(b) for b in zone_bounds(self.plan.profile, day.resting or self.plan.profile.resting_hr)
        )
        names = ("Out of Range", "Fat Burn", "Cardio", "Peak")
        lows, highs = (30, fat, cardio, peak), (fat, cardio, peak, 220)
        zones = []
        for i, name in enumerate(names):
            kcal = _KCAL_PER_MINUTE[i] * int(day.zone_minutes[i])
            calories = f"np.float64({round(kcal, 5)!r})" if i == 0 else f"np.int64({round(kcal)})"
            zones.append(
                f"{{'caloriesOut': {calories}, 'max': {highs[i]}, 'min': {lows[i]}, "
                f"'minutes': np.int64({int(day.zone_minutes[i])}), 'name': '{name}'}}"
            )
        resting = f", 'restingHeartRate': {round(day.resting)}" if day.resting is not None else ""
        head = (
            f"\"[{{'activities-heart': [{{'dateTime': '{d}', 'value': {{'customHeartRateZones': [], "
            f"'heartRateZones': [{', '.join(zones)}]{resting}}}}}], 'activities-heart-intraday': {{'dataset': ["
        )
        tail = "], 'datasetInterval': 1, 'datasetType': 'second'}}]\"\n"
        self._put(
            "heart_rate.csv", head.encode() + heart_rate_items(day.sample_local, day.hr) + tail.encode()
        )

    def _nights(self, on: date, d: str) -> None:
        zone = self.plan.zone
        nights = self._by_start.get(on, [])
        if nights:
            hrv, spo2 = [], []
            for night in nights:
                for t, rmssd, cov, hf, lf, value in zip(
                    night.minute_t, night.rmssd, night.coverage, night.hf, night.lf, night.spo2, strict=True
                ):
                    local = datetime.fromtimestamp(int(t), UTC).astimezone(zone)
                    hrv.append(
                        f"{{'minute': '{d}T{local.strftime('%H:%M:%S')}.000', 'value': {{"
                        f"'rmssd': np.float64({round(float(rmssd), 3)!r}), 'coverage': np.float64({round(float(cov), 3)!r}), "
                        f"'hf': np.float64({round(float(hf), 3)!r}), 'lf': np.float64({round(float(lf), 3)!r})}}}}"
                    )
                    spo2.append(
                        f"{{'value': {_spo2_value(value)}, 'minute': '{local.strftime('%Y-%m-%dT%H:%M:%S')}'}}"
                    )
            self._put(
                "hrv.csv", _cell(f"[{{'minutes': [{', '.join(hrv)}], 'dateTime': '{d}'}}]").encode() + b"\n"
            )
            self._put("spo2.csv", f"{d},{_cell('[' + ', '.join(spo2) + ']')}\n".encode())
        else:
            self._put("hrv.csv", b"[]\n")
            self._put("spo2.csv", f"{d},[]\n".encode())
        ended = self._by_end.get(on)
        if ended is None:
            self._put("breathing_rate.csv", b"[]\n")
            return
        b = {k: float(v) for k, v in ended.breathing.items()}
        cell = (
            f"[{{'value': {{'deepSleepSummary': {{'breathingRate': {b['deep']!r}}}, 'remSleepSummary': "
            f"{{'breathingRate': {b['rem']!r}}}, 'lightSleepSummary': {{'breathingRate': {b['light']!r}}}, "
            f"'fullSleepSummary': {{'breathingRate': np.float64({b['full']!r})}}}}, 'dateTime': '{d}'}}]"
        )
        self._put("breathing_rate.csv", _cell(cell).encode() + b"\n")

    def finish(self) -> None:
        for fh in self._out.values():
            fh.close()
