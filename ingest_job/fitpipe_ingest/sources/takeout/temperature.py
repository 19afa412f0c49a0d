"""Nightly skin temperature relative to the personal baseline, from 'Temperature/Computed Temperature - DATE.csv'.

Each row is one sleep: sleep_start, sleep_end (local wall clock), temperature_samples and
baseline_relative_sample_sum; the night's relative value is their ratio (the mean deviation from
baseline), stored on the local day the sleep ends, like every other nightly metric. Rows written
before a baseline exists hold NaN there and are skipped. The per-minute 'Wrist Temperature' and
'Device Temperature' files have no catalog metric and stay unknown.
"""

from __future__ import annotations

import numpy as np

from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.takeout.csv_series import place_rows
from fitpipe_ingest.sources.takeout.csv_specs import FALSE_Z
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.tree import InputTree

__all__ = ["parse_computed_temperature"]

_LAYOUTS = (*FALSE_Z, "YYYY-MM-DD hh:mm:ss")


def parse_computed_temperature(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    c = Collector(path, "nightly skin temperature vs baseline (Fitbit CSV)", ctx)
    t = c.read_csv(tree, ("sleep_end", "temperature_samples", "baseline_relative_sample_sum"))
    ts, use = place_rows(t, c, "sleep_end", _LAYOUTS, "wake_day", ctx)
    samples, bad_samples = t.numbers("temperature_samples")
    total, bad_total = t.numbers("baseline_relative_sample_sum")
    for column, bad in (("temperature_samples", bad_samples), ("baseline_relative_sample_sum", bad_total)):
        c.reject_cells(t, np.flatnonzero(use & bad), column, "{cell} is not a number", "not_a_number")
    use &= ~bad_samples & ~bad_total & (samples > 0) & np.isfinite(total)
    rows = np.flatnonzero(use)
    c.add(
        "skin_temperature", ts[rows], total[rows] / samples[rows], line=t.lines[rows], time_field="sleep_end"
    )
    return c.result()
