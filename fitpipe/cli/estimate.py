"""`fitpipe estimate`: how many points a study stores, how many bytes they take, and what rollups save.

A thin layer over fitpipe.capacity; plain aligned text (pasted verbatim into docs/capacity.md) or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

import click

from fitpipe import capacity as cap

__all__ = ["estimate", "format_bytes", "text_table"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(n: float) -> str:
    """SI units (1 GB = 10^9 bytes, as disks are sold) with three significant digits: '2.64 TB', '528 GB'."""
    unit = 0
    while abs(n) >= 999.5 and unit < len(_UNITS) - 1:
        n /= 1000
        unit += 1
    if unit == 0:
        return f"{n:.0f} B"
    decimals = 0 if abs(n) >= 99.95 else 1 if abs(n) >= 9.995 else 2
    return f"{n:.{decimals}f} {_UNITS[unit]}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _plural(count: float, noun: str) -> str:
    return f"{count:,g} {noun}" + ("" if count == 1 else "s")


def _duration(seconds: float) -> str:
    return (
        f"{seconds:.1f} s"
        if seconds < 60
        else f"{seconds / 60:.1f} min"
        if seconds < 3600
        else f"{seconds / 3600:.1f} h"
    )


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Columns padded to their widest cell; the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _bytes_per_point_lines(bytes_per_point: float, given: bool) -> list[str]:
    if given:
        return [f"bytes per point: {bytes_per_point:g} (given with --bytes-per-point)"]
    row = cap.SAMPLE_ROW
    tuple_bytes = cap.heap_tuple_bytes(cap.SAMPLES)
    entry = cap.index_tuple_bytes(cap.SAMPLES, cap.SAMPLES.indexes[0])
    return [
        f"bytes per point: {row.total:.1f} = heap {row.heap:.1f} + index {row.index:.1f}",
        f"  heap: {tuple_bytes}-byte tuple + 4-byte line pointer, 8 kB pages;"
        f" index: {entry}-byte btree entry + 4-byte line pointer, leaves {cap.BTREE_LEAF_FILL:.0%} full",
    ]


def _metrics_table(metric_set: cap.MetricSet, sampling: cap.Sampling) -> list[str]:
    rows = [
        [
            m.metric,
            m.resolution,
            m.window,
            _num(m.points(sampling)),
            _num(m.rollup_1m),
            _num(m.rollup_1h),
            _num(m.rollup_1d),
        ]
        for m in metric_set.metrics
    ]
    r1m, r1h, r1d = metric_set.rollup_rows_per_day
    rows.append(["total", "", "", _num(metric_set.points_per_day(sampling)), _num(r1m), _num(r1h), _num(r1d)])
    lines = [
        "per participant-day: points (rows of samples) and rollup rows (data_1m, data_1h, data_1d)",
        *text_table(
            ["metric", "resolution", "window", "points", "data_1m", "data_1h", "data_1d"], rows, left=3
        ),
    ]
    if metric_set.sleep_logs:
        sessions, stages = metric_set.sleep_rows_per_day
        lines.append(
            f"sleep logs: {_num(sessions)} sleep_sessions row + {_num(stages)} sleep_stages rows per night"
        )
    return lines


def _chart_table() -> list[str]:
    rows = [[r.source, r.resolution, f"{r.rows:,}", format_bytes(r.bytes)] for r in cap.chart_reads()]
    return [
        "1-year heart-rate chart of one participant reads:",
        *text_table(["from", "resolution", "rows", "bytes"], rows, left=2),
    ]


@click.command()
@click.option(
    "--participants", "-n", type=click.IntRange(min=1), default=1_000, show_default=True, help="Participants."
)
@click.option(
    "--years",
    "-y",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Study length (365-day years).",
)
@click.option(
    "--metric-set",
    type=click.Choice(list(cap.METRIC_SETS)),
    default="hr1s",
    show_default=True,
    help="hr1s: heart rate at 1 s (the challenge's question); activity-sleep: the study's Fitbit metrics; all: the catalog.",
)
@click.option(
    "--sampling",
    type=click.Choice(cap.SAMPLING),
    default="nominal",
    show_default=True,
    help="nominal: heart rate at the full 1 Hz; realistic: one sample per ~5 s, as Fitbit devices deliver it.",
)
@click.option(
    "--bytes-per-point",
    type=click.FloatRange(min=0, min_open=True),
    help=f"Override the schema's cost of a stored point [default: {cap.SAMPLE_ROW.total:.1f}].",
)
@click.option(
    "--compression",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=0.8,
    show_default=True,
    help="Share of the bytes compression saves (0.8: 80% smaller).",
)
@click.option("--grid", is_flag=True, help="The table for 1 / 1,000 / 10,000 participants x 1 / 2 / 5 years.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Text or JSON (bytes unrounded).",
)
def estimate(
    participants: int,
    years: float,
    metric_set: str,
    sampling: cap.Sampling,
    bytes_per_point: float | None,
    compression: float,
    grid: bool,
    fmt: str,
) -> None:
    """Points, bytes (uncompressed and compressed) and rollup sizes for --participants x --years.

    Bytes per point come from the row layout of sql/0001_core.sql (heap tuple + btree entry);
    docs/capacity.md derives them and bench/bytes_per_point.py measures them.
    """
    chosen = cap.get_metric_set(metric_set)
    given = bytes_per_point is not None
    bpp = bytes_per_point if bytes_per_point is not None else cap.SAMPLE_ROW.total
    per_day = chosen.points_per_day(sampling)
    if grid:
        volumes = cap.grid(per_day, bytes_per_point=bpp, compression=compression)
        _print_grid(chosen, sampling, bpp, given, compression, volumes, fmt)
        return
    vol = cap.volume(participants, years, per_day, bytes_per_point=bpp, compression=compression)
    side = cap.side_tables(chosen, participants, years)
    load = cap.daily_load(participants, per_day, bytes_per_point=bpp)
    if fmt == "json":
        click.echo(
            json.dumps(
                _json(chosen, sampling, bpp, given, compression)
                | {
                    "volume": {
                        "participants": participants,
                        "years": years,
                        "participant_days": cap.participant_days(participants, years),
                        "points": vol.points,
                        "uncompressed_bytes": vol.uncompressed_bytes,
                        "compressed_bytes": vol.compressed_bytes,
                        "rollup_rows": side.rollup_rows,
                        "rollup_bytes": side.rollup_bytes,
                        "sleep_rows": side.sleep_rows,
                        "sleep_bytes": side.sleep_bytes,
                    },
                    "nightly_load": {
                        "rows": load.rows,
                        "copy_seconds": load.seconds,
                        "rows_per_second": cap.INGEST_ROWS_PER_SECOND,
                        "chunk_bytes": load.chunk_bytes,
                    },
                    "chart_1y_heart_rate": [asdict(r) for r in cap.chart_reads()],
                },
                indent=2,
            )
        )
        return
    days = cap.participant_days(participants, years)
    lines = [
        f"{chosen.title} ({chosen.name}), {sampling} sampling",
        *_bytes_per_point_lines(bpp, given),
        "",
        *_metrics_table(chosen, sampling),
        "",
        f"{_plural(participants, 'participant')} x {_plural(years, 'year')} ({_num(days)} participant-days):",
        *text_table(
            ["", ""],
            [
                ["points", f"{vol.points:,}"],
                ["uncompressed", format_bytes(vol.uncompressed_bytes)],
                [f"compressed ({compression:.0%} smaller)", format_bytes(vol.compressed_bytes)],
                ["rollups, uncompressed", f"{format_bytes(side.rollup_bytes)} ({side.rollup_rows:,} rows)"],
                *(
                    [["sleep logs", f"{format_bytes(side.sleep_bytes)} ({side.sleep_rows:,} rows)"]]
                    if chosen.sleep_logs
                    else []
                ),
                [
                    "nightly load",
                    f"{load.rows:,} rows, {_duration(load.seconds)} of COPY at"
                    f" {cap.INGEST_ROWS_PER_SECOND / 1e6:g} M rows/s",
                ],
                [
                    "all tables, uncompressed",
                    format_bytes(vol.uncompressed_bytes + side.rollup_bytes + side.sleep_bytes),
                ],
                ["one day's chunk", f"{format_bytes(load.chunk_bytes)} (heap + index)"],
            ],
            left=2,
        )[1:],
        "",
        *_chart_table(),
    ]
    click.echo("\n".join(lines))


def _json(
    chosen: cap.MetricSet, sampling: cap.Sampling, bpp: float, given: bool, compression: float
) -> dict[str, object]:
    return {
        "metric_set": chosen.name,
        "title": chosen.title,
        "sampling": sampling,
        "points_per_participant_day": chosen.points_per_day(sampling),
        "bytes_per_point": {"total": bpp, "source": "option"}
        if given
        else {
            "total": cap.SAMPLE_ROW.total,
            "heap": cap.SAMPLE_ROW.heap,
            "index": cap.SAMPLE_ROW.index,
            "source": "schema",
        },
        "compression": compression,
        "metrics": [asdict(m) | {"points_per_day": m.points(sampling)} for m in chosen.metrics],
    }


def _print_grid(
    chosen: cap.MetricSet,
    sampling: cap.Sampling,
    bpp: float,
    given: bool,
    compression: float,
    volumes: list[cap.Volume],
    fmt: str,
) -> None:
    if fmt == "json":
        click.echo(
            json.dumps(
                _json(chosen, sampling, bpp, given, compression)
                | {
                    "grid": [
                        {
                            "participants": v.participants,
                            "years": v.years,
                            "points": v.points,
                            "uncompressed_bytes": v.uncompressed_bytes,
                            "compressed_bytes": v.compressed_bytes,
                        }
                        for v in volumes
                    ]
                },
                indent=2,
            )
        )
        return
    rows = [
        [
            f"{v.participants:,}",
            f"{v.years:g}",
            f"{v.points:,}",
            format_bytes(v.uncompressed_bytes),
            format_bytes(v.compressed_bytes),
        ]
        for v in volumes
    ]
    lines = [
        f"{chosen.title} ({chosen.name}), {sampling} sampling:"
        f" {_num(chosen.points_per_day(sampling))} points per participant-day, {bpp:.1f} bytes per point",
        "",
        *text_table(
            ["participants", "years", "points", "uncompressed", f"compressed ({compression:.0%} smaller)"],
            rows,
            left=0,
        ),
    ]
    click.echo("\n".join(lines))
