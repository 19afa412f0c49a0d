"""How fast the Google Health source maps a day of 1 Hz heart rate (86,400 data points, as the API's pages
decode them) onto the catalog, next to the standard library's json.loads of the same points' JSON, side by
side in one run. Target: the mapping is never the sync's bottleneck (the loader writes about 0.3 M samples/s).

    .venv/bin/python bench/map_google_health.py [--repeat 7]

The points are built with the fake's own builder (tests/fakes/health_points.py), in the documented shape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: the checkout's tests/ (the fake's point builder) importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitpipe.google_health.datatypes import BY_NAME
from fitpipe_ingest.google_health.mapping import map_points
from tests.fakes import health_points as hp

N = 86_400
ZONE = ZoneInfo("America/New_York")


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    points = hp.heart_rate(datetime(2026, 11, 10, tzinfo=UTC), N, timedelta(seconds=1))
    text = json.dumps({"dataPoints": points})
    data_type = BY_NAME["heart-rate"]

    def mapped() -> object:
        parsed = map_points(data_type, points, path="google_health/heart-rate/bench", zone=ZONE)
        (batch,) = parsed.batches
        assert batch.ts.size == N
        return parsed

    mapping = median_seconds(mapped, args.repeat)
    loads = median_seconds(lambda: json.loads(text), args.repeat)
    print(f"| step | seconds (median of {args.repeat}) | points/s | vs json.loads |")
    print("|---|---:|---:|---:|")
    print(
        f"| json.loads of the day's points ({len(text) / 1e6:.1f} MB) | {loads:.3f} | {N / loads:,.0f} | 1.00 |"
    )
    print(
        f"| map_points (validate, UTC, catalog) | {mapping:.3f} | {N / mapping:,.0f} | {loads / mapping:.2f} |"
    )


if __name__ == "__main__":
    main()
