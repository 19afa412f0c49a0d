"""The "long CSV" drop format: one sample per line as `participant,metric,timestamp,value`, for any device
whose vendor export can be reshaped into it (a spreadsheet, a script, another platform's download).

Columns are found by name in the header (any order, any case; extra columns ignored). `metric` must be a
catalog name (fitpipe/catalog.py). `timestamp` is an ISO 8601 instant with `Z` or an offset (stored as
is), a local time without one (read in the participant's zone; times skipped by a DST change are
rejected), or a date (`YYYY-MM-DD`, the participant's local day). Daily metrics are always stored at
the start of their local day. Ingested for one participant (`--participant`), rows of other
participants are neither read nor counted; otherwise each row's `participant` must exist in the study.
The file is read in chunks (toolkit.csv_reader.iter_csv), so its size does not bound memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from fitpipe.catalog import BY_NAME
from fitpipe.localtime import NAT, US_PER_DAY, day_starts_utc
from fitpipe_ingest.records import ParseContext, ParsedFile, merge_pieces
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import CsvTable, iter_csv, read_header
from fitpipe_ingest.tree import InputTree

__all__ = ["LongCsvSource", "SOURCE", "COLUMNS"]

COLUMNS = ("participant", "metric", "timestamp", "value")
_KIND = "long CSV (participant, metric, timestamp, value)"
_AWARE = r"(Z|[+-]\d{2}:?\d{2})$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"


class LongCsvSource(FileSource):
    name = "long_csv"
    description = (
        "long CSV drop: participant,metric,timestamp,value (one sample per line, catalog metric names)"
    )

    def claims(self, tree: InputTree, path: str) -> bool:
        if not path.lower().endswith(".csv"):
            return False
        header = read_header(tree, path)
        return header is not None and set(COLUMNS) <= {name.lower() for name in header}

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        return merge_pieces(self.parse_pieces(tree, path, ctx), path, _KIND)

    def parse_pieces(self, tree: InputTree, path: str, ctx: ParseContext) -> Iterator[ParsedFile]:
        c = Collector(path, _KIND, ctx)
        with tree.open(path) as stream:
            for table in iter_csv(stream, path, COLUMNS, chunk_bytes=ctx.chunk_bytes):
                _read(table, c, ctx)
                yield c.take()


def _read(t: CsvTable, c: Collector, ctx: ParseContext) -> None:
    who = np.asarray(t.trimmed("participant").to_numpy(zero_copy_only=False), dtype=object)
    if ctx.participant is not None:  # another participant's rows are not theirs to load, nor to count
        mine = (who == ctx.participant) | (who == "")
        for other in who[~mine].tolist():
            c.pass_over(other)
        t = t.take(np.flatnonzero(mine))
        who = np.full(len(t), ctx.participant, dtype=object)
    c.add_table(t)
    metric = np.asarray(t.trimmed("metric").to_numpy(zero_copy_only=False), dtype=object)
    use = np.ones(len(t), dtype=bool)

    def reject(mask: np.ndarray, field: str, reason: str, kind: str) -> None:
        nonlocal use
        for r in np.flatnonzero(mask & use).tolist():
            c.reject(
                f"line {int(t.lines[r])}",
                field,
                reason.format(cell=t.cell(field, r)[:40], zone=ctx.timezone.key),
                t.raw(r),
                kind,
                None if ctx.participant is not None or not who[r] else str(who[r]),
            )
        use &= ~mask

    reject(
        ~np.isin(metric, list(BY_NAME)),
        "metric",
        "unknown metric {cell!r} (use a name from the metric catalog)",
        "malformed",
    )
    reject(who == "", "participant", "no participant", "missing_field")
    ts, gap = _place(t, c, who)
    reject(
        gap,
        "timestamp",
        "local time {cell} does not exist in {zone} (clocks went forward)",
        "nonexistent_local_time",
    )
    reject(ts == NAT, "timestamp", "{cell!r} is not an ISO 8601 time or date", "bad_timestamp")
    values, not_number = t.numbers("value")
    reject(not_number, "value", "{cell!r} is not a number", "not_a_number")
    rows = np.flatnonzero(use)
    keys = sorted({(str(who[r]), str(metric[r])) for r in rows.tolist()})
    for person, name in keys:
        mine = rows[(who[rows] == person) & (metric[rows] == name)]
        stamps = ts[mine]
        if BY_NAME[name].daily:
            stamps = _day_starts(stamps, ctx)
        c.add(
            name,
            stamps,
            values[mine],
            line=t.lines[mine],
            participant=None if ctx.participant is not None else person,
            time_field="timestamp",
        )


def _place(t: CsvTable, c: Collector, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC µs per row, NAT when unreadable; mask of local times skipped by the clocks)."""
    stamps = t.trimmed("timestamp")
    aware = np.asarray(
        pc.match_substring_regex(stamps, _AWARE, ignore_case=True).to_numpy(zero_copy_only=False)
    )
    day = np.asarray(pc.match_substring_regex(stamps, _DATE).to_numpy(zero_copy_only=False))
    texts = np.asarray(stamps.to_numpy(zero_copy_only=False), dtype=object)
    out = np.full(len(t), NAT, dtype=np.int64)
    gap = np.zeros(len(t), dtype=bool)
    for kind, at in (("aware", aware), ("date", day & ~aware), ("local", ~aware & ~day)):
        rows = np.flatnonzero(at)
        if rows.size == 0:
            continue
        parsed = pd.to_datetime(
            pd.Series(texts[rows]), utc=kind == "aware", format="ISO8601", errors="coerce"
        )
        ok = ~parsed.isna().to_numpy()
        good = parsed[ok].dt.tz_localize(None) if kind == "aware" else parsed[ok]
        us = good.dt.as_unit("us").astype("int64").to_numpy().copy()
        rows = rows[ok]
        if kind == "date":
            us = day_starts_utc(us // US_PER_DAY, c.zone)
        elif kind == "local":
            for person in np.unique(who[rows]).tolist():  # each participant's times in their file order
                mine = who[rows] == person
                us[mine], missing = c.to_utc(us[mine], series=person)
                gap[rows[mine][missing]] = True
        out[rows] = us
    out[gap] = 0  # placed nowhere: the gap mask names them
    return out, gap


def _day_starts(stamps: np.ndarray, ctx: ParseContext) -> np.ndarray:
    """The start of each instant's local day (where daily metrics live)."""
    local = pd.DatetimeIndex(stamps.astype("datetime64[us]")).tz_localize("UTC").tz_convert(ctx.timezone)
    days = (
        local.tz_localize(None).normalize().astype("datetime64[us]").astype("int64") // US_PER_DAY
    ).to_numpy()
    return day_starts_utc(days, ctx.timezone)


SOURCE = LongCsvSource()
