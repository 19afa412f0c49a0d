"""How fast the Takeout source parses a day of 1 Hz heart rate, as JSON (`Global Export Data`) and as the
2025-26 CSV, next to the standard library's json.loads of the same bytes, side by side in one run.

Writes the day to a temporary directory in each layout's exact format, parses it as the ingest job does
(warm-up first, then the median of --repeat runs) and prints samples/s and the ratio to json.loads.
Target: >= 1 M samples/s for both layouts on an idle machine (the parse is never the nightly run's
bottleneck: the loader writes about 0.3 M samples/s).

    .venv/bin/python bench/parse_takeout.py [--repeat 7] [--real DIR]

--real also parses every heart_rate-*.json of a real Takeout export (its Fitbit folder or above).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.takeout import SOURCE
from fitpipe_ingest.tree import InputTree, open_tree

N = 86_400
JSON_PATH = "Global Export Data/heart_rate-2024-03-09.json"
CSV_PATH = "Physical Activity_GoogleData/heart_rate_2024-03-09.csv"
ZONE = ZoneInfo("America/New_York")


def write_day(root: Path) -> None:
    """One day of 1 Hz heart rate in both layouts, as Fitbit writes them."""
    start = datetime(2024, 3, 9, 5, 0, 0)
    rng = random.Random(7)
    records, lines = [], ["timestamp,beats per minute"]
    for i in range(N):
        at = start + timedelta(seconds=i)
        bpm = rng.randint(45, 180)
        records.append(
            f'{{\n  "dateTime" : "{at:%m/%d/%y %H:%M:%S}",\n  "value" : {{\n    "bpm" : {bpm},\n'
            f'    "confidence" : {rng.randint(0, 3)}\n  }}\n}}'
        )
        lines.append(f"{at:%Y-%m-%dT%H:%M:%SZ},{bpm}.0")
    for relative, text in ((JSON_PATH, "[" + ",".join(records) + "]"), (CSV_PATH, "\n".join(lines) + "\n")):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def parse_count(tree: InputTree, path: str) -> int:
    pf = SOURCE.parse(tree, path, ParseContext(ZONE))
    return sum(len(b) for b in pf.batches)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--real", type=Path, help="a real Takeout export: parse its heart_rate-*.json too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fitpipe-bench-takeout-") as tmp:
        root = Path(tmp)
        write_day(root)
        tree = open_tree(root)
        assert parse_count(tree, JSON_PATH) == N and parse_count(tree, CSV_PATH) == N
        raw = (root / JSON_PATH).read_bytes()
        baseline = median_seconds(lambda: json.loads(raw), args.repeat)
        print(f"one day of 1 Hz heart rate ({N:,} samples), median of {args.repeat}")
        print(f"{'what':<34}{'ms':>9}{'M samples/s':>13}{'vs json.loads':>15}")
        print(
            f"{'json.loads of the JSON file':<34}{baseline * 1e3:>9.1f}{N / baseline / 1e6:>13.2f}{1:>15.2f}"
        )
        for name, path in (
            ("Takeout JSON (Global Export Data)", JSON_PATH),
            ("Takeout CSV (2025-26 folders)", CSV_PATH),
        ):
            seconds = median_seconds(partial(parse_count, tree, path), args.repeat)
            print(f"{name:<34}{seconds * 1e3:>9.1f}{N / seconds / 1e6:>13.2f}{baseline / seconds:>15.2f}")
    if args.real:
        real = open_tree(args.real)
        files = [p for p in SOURCE.plan(real).files if "/heart_rate-" in p]
        started = time.perf_counter()
        n = sum(parse_count(real, p) for p in files)
        seconds = time.perf_counter() - started
        print(
            f"real export: {len(files)} heart_rate JSON files, {n:,} samples in {seconds:.2f} s: {n / seconds / 1e6:.2f} M/s"
        )


if __name__ == "__main__":
    main()
