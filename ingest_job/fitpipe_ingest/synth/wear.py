"""Non-wear episodes of a synthetic participant: when the device is off the wrist, nothing is recorded.

Per local day (parameters per adherence kind in `profiles`): charging once (30–90 min, after waking
07:00–09:00 or in the evening 18:00–22:00), a daytime gap (starts 08:00–14:00), the device left at
home (the whole local day), and per night a night off (taken off 0–30 min before bedtime, put back
10–60 min after waking). A dropout stops wearing from local midnight of day k for good. Late syncs
are not non-wear: those days are simply cut from the export (`Profile.visible_days`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fitpipe_ingest.synth.clock import local_midnight, utc_of_local
from fitpipe_ingest.synth.profiles import Profile
from fitpipe_ingest.synth.sleep import Sleep

__all__ = ["day_episodes", "night_off", "Interval"]

Interval = tuple[int, int]
"""[start, end) in UTC epoch seconds."""


def _local(day: datetime, hours: float, zone: ZoneInfo) -> int:
    return utc_of_local(zone, day + timedelta(seconds=int(hours * 3600)))


def day_episodes(profile: Profile, zone: ZoneInfo, day: int) -> list[Interval]:
    """Non-wear during local day `day` (0-based from the start)."""
    on = profile.start + timedelta(days=day)
    midnight = datetime(on.year, on.month, on.day)
    if profile.dropout_day is not None and day >= profile.dropout_day:
        return [(local_midnight(zone, on), local_midnight(zone, on + timedelta(days=1)))]
    a = profile.adherence
    r = profile.stream("wear", day)
    # draw every number every day so one choice never shifts the others' random streams
    charge, charge_morning, charge_at, charge_min = (
        r.random(),
        r.random(),
        r.random(),
        r.uniform(*a.charging_minutes),
    )
    gap, gap_at, gap_hours = r.random(), r.uniform(8, 14), r.uniform(*a.gap_hours)
    home = r.random()
    if home < a.day_home_prob:
        return [(local_midnight(zone, on), local_midnight(zone, on + timedelta(days=1)))]
    out: list[Interval] = []
    if charge < a.charging_prob:
        hour = 7 + 2 * charge_at if charge_morning < 0.5 else 18 + 4 * charge_at
        start = _local(midnight, hour, zone)
        out.append((start, start + int(charge_min * 60)))
    if gap < a.gap_prob:
        start = _local(midnight, gap_at, zone)
        end = min(start + int(gap_hours * 3600), _local(midnight, 21.0, zone))
        out.append((start, end))
    return out


def night_off(profile: Profile, night: Sleep) -> Interval | None:
    """The night the device stays off the wrist, or None (keyed by the night's index)."""
    r = profile.stream("night-off", night.night)
    off, before, after = r.random(), r.uniform(0, 30), r.uniform(10, 60)
    if off >= profile.adherence.night_off_prob:
        return None
    return night.start - int(before * 60), night.end + int(after * 60)
