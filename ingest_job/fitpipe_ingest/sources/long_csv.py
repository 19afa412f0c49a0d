"""The "long CSV" drop format: one sample per line as `participant,metric,timestamp,value`, for any device
whose vendor export can be reshaped into it (a spreadsheet, a script, another platform's download).

Columns are found by name in the header (any order, any case; extra columns ignored). `metric` must be a
catalog name (fitpipe/catalog.py). `timestamp` is an ISO 8601 instant with `Z` or an offset (stored as
is), a local time without one (read in the participant's zone; times skipped by a DST change are
rejected), or a date (`YYYY-MM-DD`, stored at the participant's local midnight). Daily metrics are always
stored at the local midnight of their local day. Ingested for one participant (`--participant`), rows of
other participants are skipped; otherwise each row's `participant` must exist in the study.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict

import numpy as np
import pandas as pd

from fitpipe.catalog import BY_NAME
from fitpipe.errors import InputError
from fitpipe_ingest.localtime import NAT, US_PER_DAY, local_to_utc_us
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected, SampleBatch
from fitpipe_ingest.sources.base import Plan
from fitpipe_ingest.sources.takeout.instants import day_starts_utc
from fitpipe_ingest.tree import InputTree

__all__ = ["LongCsvSource", "SOURCE", "COLUMNS"]

COLUMNS = ("participant", "metric", "timestamp", "value")
_AWARE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.I)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _header(tree: InputTree, path: str) -> list[str] | None:
    try:
        with tree.open(path) as fh:
            first = fh.readline(4096).decode("utf-8-sig", errors="replace")
    except InputError:
        return None
    return [c.strip().lower() for c in next(csv.reader([first]), [])]


def _is_long(tree: InputTree, path: str) -> bool:
    header = _header(tree, path) if path.lower().endswith(".csv") else None
    return header is not None and set(COLUMNS) <= set(header)


class LongCsvSource:
    name = "long_csv"
    description = (
        "long CSV drop: participant,metric,timestamp,value (one sample per line, catalog metric names)"
    )

    def detect(self, tree: InputTree) -> int:
        paths = tree.paths()
        found = sum(1 for p in paths if _is_long(tree, p))
        if not found:
            return 0
        return 95 if found == len(paths) else 70

    def plan(self, tree: InputTree) -> Plan:
        plan = Plan()
        for path in tree.paths():
            (plan.files if _is_long(tree, path) else plan.unknown).append(path)
        return plan

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        parsed = ParsedFile(file=path, kind="long CSV (participant, metric, timestamp, value)")
        reader = csv.reader(io.StringIO(tree.read_text(path)))
        header = [c.strip().lower() for c in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"the header lacks {', '.join(missing)}",
                file=path,
                line=1,
                hint="the first line must name the columns participant,metric,timestamp,value",
            )
        col = {c: header.index(c) for c in COLUMNS}

        def reject(line: int, field: str, reason: str, raw: str, kind: str, who: str | None) -> None:
            parsed.rejected.append(
                Rejected(path, f"line {line}", field, reason, raw, participant=who, kind=kind)
            )

        rows: list[tuple[int, str | None, str, str, str]] = []
        for fields in reader:
            line = reader.line_num
            parsed.records_read += 1
            raw = ",".join(fields)
            if len(fields) < len(header):
                reject(
                    line,
                    "line",
                    f"{len(fields)} fields where the header has {len(header)}",
                    raw,
                    "malformed",
                    None,
                )
                continue
            who = fields[col["participant"]].strip() or None
            if ctx.participant is not None and who not in (None, ctx.participant):
                continue  # another participant's row: not theirs to load
            metric = fields[col["metric"]].strip()
            if metric not in BY_NAME:
                reject(
                    line,
                    "metric",
                    f"unknown metric {metric!r} (use a name from the metric catalog)",
                    raw,
                    "malformed",
                    who,
                )
                continue
            if who is None and ctx.participant is None:
                reject(line, "participant", "no participant", raw, "missing_field", None)
                continue
            rows.append(
                (
                    line,
                    None if ctx.participant is not None else who,
                    metric,
                    fields[col["timestamp"]].strip(),
                    fields[col["value"]].strip(),
                )
            )
        ts = self._place([r[3] for r in rows], ctx)
        values = pd.to_numeric(pd.Series([r[4] for r in rows], dtype=object), errors="coerce").to_numpy(
            dtype=np.float64
        )
        groups: dict[tuple[str | None, str], list[int]] = defaultdict(list)
        for i, (line, who, metric, stamp, value) in enumerate(rows):
            raw = f"{who or ctx.participant},{metric},{stamp},{value}"
            if ts[i] == NAT:
                reject(
                    line,
                    "timestamp",
                    f"{stamp!r} is not an ISO 8601 time or date, or does not exist in {ctx.timezone.key}",
                    raw,
                    "bad_timestamp",
                    who,
                )
            elif np.isnan(values[i]):
                reject(line, "value", f"{value!r} is not a number", raw, "not_a_number", who)
            else:
                groups[(who, metric)].append(i)
        for (who, metric), idx in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            at = np.asarray(idx)
            stamps = ts[at]
            if BY_NAME[metric].daily:
                stamps = self._midnights(stamps, ctx)
            parsed.batches.append(
                SampleBatch(
                    metric,
                    stamps,
                    values[at],
                    path,
                    line=np.asarray([rows[i][0] for i in idx]),
                    participant=who,
                )
            )
        return parsed

    @staticmethod
    def _place(stamps: list[str], ctx: ParseContext) -> np.ndarray:
        """UTC µs per timestamp text (NAT when unreadable or skipped by the clocks)."""
        out = np.full(len(stamps), NAT, dtype=np.int64)
        kinds = np.array(
            ["date" if _DATE.match(s) else "aware" if _AWARE.search(s) else "local" for s in stamps]
        )
        for kind in ("aware", "local", "date"):
            at = np.flatnonzero(kinds == kind)
            if at.size == 0:
                continue
            texts = pd.Series([stamps[i] for i in at], dtype=object)
            parsed = pd.to_datetime(texts, utc=kind == "aware", format="ISO8601", errors="coerce")
            ok = ~parsed.isna().to_numpy()
            us = np.full(at.size, NAT, dtype=np.int64)
            good = parsed[ok].dt.tz_localize(None) if kind == "aware" else parsed[ok]
            us[ok] = good.dt.as_unit("us").astype("int64").to_numpy()
            if kind == "local":
                utc, gap = local_to_utc_us(us[ok], ctx.timezone)
                utc[gap] = NAT
                us[ok] = utc
            elif kind == "date":
                us[ok] = day_starts_utc(us[ok] // US_PER_DAY, ctx.timezone)
            out[at] = us
        return out

    @staticmethod
    def _midnights(stamps: np.ndarray, ctx: ParseContext) -> np.ndarray:
        """The local midnight of each instant's local day (where daily metrics live)."""
        local = pd.DatetimeIndex(stamps.astype("datetime64[us]")).tz_localize("UTC").tz_convert(ctx.timezone)
        days = (
            local.tz_localize(None).normalize().astype("datetime64[us]").astype("int64") // US_PER_DAY
        ).to_numpy()
        return day_starts_utc(days, ctx.timezone)


SOURCE = LongCsvSource()
