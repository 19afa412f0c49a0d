"""heartrate_seconds_merged.csv, minuteStepsNarrow_merged.csv, minuteCaloriesNarrow_merged.csv: one value per
row and participant at a local time. Read in chunks: a merged export of a whole study is several GB, and
memory stays bounded by one chunk (the collector's clocks carry DST order from chunk to chunk)."""

from __future__ import annotations

from collections.abc import Iterator

from fitpipe_ingest.records import ParsedFile
from fitpipe_ingest.sources.fitabase.cells import TIME_FORMATS, TIME_SHAPE, Rows
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import iter_csv
from fitpipe_ingest.tree import InputTree

__all__ = ["read_series"]


def read_series(
    tree: InputTree,
    c: Collector,
    columns: tuple[str, str, str],
    metric: str,
) -> Iterator[ParsedFile]:
    _, time_col, value_col = columns
    with tree.open(c.path) as stream:
        for table in iter_csv(stream, c.path, columns, chunk_bytes=c.ctx.chunk_bytes):
            rows = Rows(table, c)
            seconds = rows.local_seconds(time_col, TIME_FORMATS, TIME_SHAPE)
            values, _ = rows.numbers(value_col)
            utc = rows.to_utc(seconds, time_col)
            for who, idx in rows.by_participant():
                c.add(
                    metric, utc[idx], values[idx], line=rows.lines[idx], participant=who, time_field=time_col
                )
            yield c.take()
