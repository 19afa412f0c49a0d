"""How fast the wearipedia source reads a month of 1 Hz heart rate (the bulk of the challenge's data).

Writes a 30-day heart_rate.csv in the generator's exact format to a temporary directory (or reads
--dir), parses it as the ingest job does, and prints time and points/s next to ast.literal_eval's.

    .venv/bin/python bench/parse_wearipedia.py [--days 30] [--tz America/New_York] [--dir DIR]
"""

from __future__ import annotations

import argparse
import ast
import re
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.wearipedia import SOURCE
from fitpipe_ingest.tree import open_tree

ZONES = (
    "[{'caloriesOut': np.float64(2877.06579), 'max': 110, 'min': 30, 'minutes': np.int64(21600), 'name': 'Out of Range'}, "
    "{'caloriesOut': np.int64(15400), 'max': 136, 'min': 110, 'minutes': np.int64(14400), 'name': 'Fat Burn'}, "
    "{'caloriesOut': np.int64(58600), 'max': 169, 'min': 136, 'minutes': np.int64(28800), 'name': 'Cardio'}, "
    "{'caloriesOut': np.int64(65800), 'max': 220, 'min': 169, 'minutes': np.int64(21600), 'name': 'Peak'}]"
)
CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]


def write_heart_rate(path: Path, days: int, seed: int = 0) -> int:
    """One row per day of 86,400 points, a clipped random walk like wearipedia's; returns the points written."""
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)
    with path.open("w") as fh:
        fh.write("heart_rate_day\n")
        for d in range(days):
            walk = np.clip(np.cumsum(rng.integers(-1, 2, 86_400)) + rng.normal(75, 15), 50, 195).tolist()
            dataset = ", ".join(
                f"{{'time': '{t}', 'value': np.float64({v!r})}}" for t, v in zip(CLOCK, walk, strict=True)
            )
            fh.write(
                f"\"[{{'activities-heart': [{{'dateTime': '{start + timedelta(days=d)}', 'value': "
                f"{{'customHeartRateZones': [], 'heartRateZones': {ZONES}, 'restingHeartRate': 58}}}}], "
                f"'activities-heart-intraday': {{'dataset': [{dataset}], 'datasetInterval': 1, "
                f"'datasetType': 'second'}}}}]\"\n"
            )
    return days * 86_400


def time_literal_eval(path: Path) -> float:
    """Seconds ast.literal_eval needs for the first row (the naive way, for the ratio)."""
    with path.open() as fh:
        fh.readline()
        row = fh.readline().strip()[1:-1]
    started = time.perf_counter()
    ast.literal_eval(re.sub(r"np\.\w+\(([^()]*)\)", r"\1", row))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tz", default="America/New_York")
    parser.add_argument(
        "--dir", type=Path, help="read this directory's heart_rate.csv instead of writing one"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        if args.dir is None:
            started = time.perf_counter()
            write_heart_rate(root / "heart_rate.csv", args.days)
            print(f"wrote {args.days} days in {time.perf_counter() - started:.1f} s")
        size = (root / "heart_rate.csv").stat().st_size
        tree = open_tree(root)
        print(f"{'time zone':<20} {'MB':>6} {'points':>10} {'seconds':>8} {'points/s':>12}")
        for tz in ("UTC", args.tz):
            started = time.perf_counter()
            parsed = SOURCE.parse(tree, "heart_rate.csv", ParseContext(ZoneInfo(tz)))
            elapsed = time.perf_counter() - started
            n = sum(len(b) for b in parsed.batches if b.metric == "heart_rate")
            print(f"{tz:<20} {size / 1e6:>6.0f} {n:>10,} {elapsed:>8.2f} {n / elapsed:>12,.0f}")
        per_row = time_literal_eval(root / "heart_rate.csv")
        rows = int(np.unique(np.concatenate([b.line for b in parsed.batches if b.line is not None])).size)
        print(
            f"ast.literal_eval: {per_row:.2f} s for one day-row, ~{per_row * rows:.0f} s for {rows} rows "
            f"({per_row * rows / elapsed:.0f}x slower)"
        )


if __name__ == "__main__":
    main()
