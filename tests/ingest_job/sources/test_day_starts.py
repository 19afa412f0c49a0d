"""The one day-start rule across sources: a daily value on a day whose local midnight the clocks skip is
stored at the day's first instant (fitpipe.localtime.day_starts_utc) by every source alike."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.registry import get_source
from fitpipe_ingest.tree import DirectoryTree


def utc(text: str) -> int:
    return int(np.datetime64(text, "us").astype(np.int64))


def test_every_source_stores_a_daily_value_at_the_same_first_instant(tmp_path: Path) -> None:
    """America/Santiago skipped 2024-09-08 00:00-01:00."""
    zone = ZoneInfo("America/Santiago")
    files = {
        "activity.csv": "dateTime,value\n2024-09-08,5000\n",
        "resting_heart_rate-2024-09-08.json": '[{"dateTime":"09/08/24 00:00:00","value":{"date":"09/08/24","value":58.2,"error":6.8}}]',
        "dailyActivity_merged.csv": "Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes,"
        "LightlyActiveMinutes,SedentaryMinutes,Calories\n1,9/8/2024,8000,5.5,10,20,200,700,2000\n",
        "drop.csv": "participant,metric,timestamp,value\nP1,steps,2024-09-08,7000\nP1,resting_heart_rate,2024-09-08T12:00:00,61\n",
    }
    instants = set()
    for name, text in files.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / name).write_text(text)
        with DirectoryTree(folder) as tree:
            source = next(
                s
                for s in ("wearipedia", "takeout", "fitabase", "long_csv")
                if get_source(s).claims(tree, name)
            )
            parsed = get_source(source).parse(
                tree, name, ParseContext(zone, participant="1" if source == "fitabase" else "P1")
            )
        assert parsed.rejected == [], name
        instants |= {int(t) for b in parsed.batches for t in b.ts}
    assert instants == {utc("2024-09-08T04:00:00")}
