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
        "per participant-day: points (rows of samples) and rollup rows stored (rollup_1m only for sub-minute"
        " metrics: data_1m reads the others' samples)",
        *text_table(
            ["metric", "resolution", "window", "points", "rollup_1m", "rollup_1h", "rollup_1d"], rows, left=3
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


def _edition_rows(
    chosen: cap.MetricSet, sampling: cap.Sampling, participants: int, years: float, bpp: float | None
) -> tuple[list[str], dict[str, object]]:
    """The table of bytes on disk and recommendations per edition, and the same as JSON."""
    hot = cap.hot_set(chosen, sampling, participants)
    results = {}
    for edition in (cap.APACHE, cap.FULL):
        fp = cap.study_footprint(chosen, sampling, participants, years, edition, apache_sample_bytes=bpp)
        results[edition.name] = (fp, cap.recommend(fp, hot))
    apache, full = results["apache"], results["full"]
    rows = [
        ["samples", format_bytes(apache[0].samples_bytes), format_bytes(full[0].samples_bytes)],
        ["rollups", format_bytes(apache[0].rollup_bytes), format_bytes(full[0].rollup_bytes)],
        *(
            [["sleep logs", format_bytes(apache[0].sleep_bytes), format_bytes(full[0].sleep_bytes)]]
            if chosen.sleep_logs
            else []
        ),
        ["total", format_bytes(apache[0].total_bytes), format_bytes(full[0].total_bytes)],
        [
            "of it uncompressed",
            format_bytes(apache[0].uncompressed_bytes),
            format_bytes(full[0].uncompressed_bytes),
        ],
        ["recommended disk", format_bytes(apache[1].disk_bytes), format_bytes(full[1].disk_bytes)],
        ["recommended memory", _gib(apache[1].memory_bytes), _gib(full[1].memory_bytes)],
    ]
    lines = [
        f"on disk at the end, by TimescaleDB edition (measured bytes per row, bench/storage.py;"
        f" the full edition compresses chunks older than {cap.FULL.compressed_after_days:g} days):",
        *text_table(["", "Apache edition", "full edition"], rows, left=1),
        f"disk: total + {cap.DISK_HEADROOM:.0%} headroom + {format_bytes(cap.WAL_BYTES)} of WAL;"
        f" memory: twice the hot set of {format_bytes(hot)} (today's chunk, the lag window's index,"
        f" {cap.HOT_DAYS_OF_ROLLUPS} days of hourly and daily rollups)",
    ]
    as_json = {
        name: {
            "samples_bytes": fp.samples_bytes,
            "rollup_bytes": fp.rollup_bytes,
            "sleep_bytes": fp.sleep_bytes,
            "total_bytes": fp.total_bytes,
            "uncompressed_bytes": fp.uncompressed_bytes,
            "row_bytes": fp.edition.row_bytes,
            "compressed_after_days": fp.edition.compressed_after_days,
            "recommended_disk_bytes": rec.disk_bytes,
            "recommended_memory_bytes": rec.memory_bytes,
            "hot_set_bytes": rec.hot_set_bytes,
        }
        for name, (fp, rec) in results.items()
    }
    return lines, as_json


def _gib(n: float) -> str:
    """Memory in binary units, as RAM is sold."""
    return f"{n / 2**30:.0f} GiB"


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
    help="Also show a what-if: the schema's bytes made this share smaller (0.8: 80% smaller).",
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
    compression: float | None,
    grid: bool,
    fmt: str,
) -> None:
    """Points, bytes and rollup rows for --participants x --years, and what each TimescaleDB edition stores
    on disk, with the disk and memory to give the database.

    Bytes per point come from the row layout of sql/0001_core.sql (heap tuple + btree entry); docs/capacity.md
    derives them and bench/bytes_per_point.py checks them. The editions' figures use bytes per row measured by
    bench/storage.py: the Apache edition (the embedded default) stores every row uncompressed; the full
    edition compresses chunks older than a week.
    """
    chosen = cap.get_metric_set(metric_set)
    given = bytes_per_point is not None
    bpp = bytes_per_point if bytes_per_point is not None else cap.SAMPLE_ROW.total
    per_day = chosen.points_per_day(sampling)
    what_if = compression if compression is not None else 0.0
    if grid:
        volumes = cap.grid(per_day, bytes_per_point=bpp, compression=what_if)
        _print_grid(chosen, sampling, bpp, given, compression, volumes, fmt, bytes_per_point)
        return
    vol = cap.volume(participants, years, per_day, bytes_per_point=bpp, compression=what_if)
    side = cap.side_tables(chosen, participants, years)
    load = cap.daily_load(participants, per_day, bytes_per_point=bpp)
    edition_lines, editions = _edition_rows(chosen, sampling, participants, years, bytes_per_point)
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
                        **({"compressed_bytes": vol.compressed_bytes} if compression is not None else {}),
                        "rollup_rows": side.rollup_rows,
                        "rollup_bytes": side.rollup_bytes,
                        "sleep_rows": side.sleep_rows,
                        "sleep_bytes": side.sleep_bytes,
                    },
                    "editions": editions,
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
                ["samples, by the schema", format_bytes(vol.uncompressed_bytes)],
                *(
                    [[f"compressed ({compression:.0%} smaller)", format_bytes(vol.compressed_bytes)]]
                    if compression is not None
                    else []
                ),
                ["rollups, by the schema", f"{format_bytes(side.rollup_bytes)} ({side.rollup_rows:,} rows)"],
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
                ["one day's chunk", f"{format_bytes(load.chunk_bytes)} (heap + index)"],
            ],
            left=2,
        )[1:],
        "",
        *edition_lines,
        "",
        *_chart_table(),
    ]
    click.echo("\n".join(lines))


def _json(
    chosen: cap.MetricSet, sampling: cap.Sampling, bpp: float, given: bool, compression: float | None
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
    compression: float | None,
    volumes: list[cap.Volume],
    fmt: str,
    override: float | None,
) -> None:
    footprints = {
        (v.participants, v.years): {
            e.name: cap.study_footprint(
                chosen, sampling, v.participants, v.years, e, apache_sample_bytes=override
            )
            for e in (cap.APACHE, cap.FULL)
        }
        for v in volumes
    }
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
                            **({"compressed_bytes": v.compressed_bytes} if compression is not None else {}),
                            "apache_bytes": footprints[(v.participants, v.years)]["apache"].total_bytes,
                            "full_bytes": footprints[(v.participants, v.years)]["full"].total_bytes,
                        }
                        for v in volumes
                    ]
                },
                indent=2,
            )
        )
        return
    rows = []
    for v in volumes:
        fp = footprints[(v.participants, v.years)]
        hot = cap.hot_set(chosen, sampling, v.participants)
        apache, full = (cap.recommend(fp[e], hot) for e in ("apache", "full"))
        rows.append(
            [
                f"{v.participants:,}",
                f"{v.years:g}",
                f"{v.points:,}",
                format_bytes(v.uncompressed_bytes),
                *([format_bytes(v.compressed_bytes)] if compression is not None else []),
                format_bytes(fp["apache"].total_bytes),
                format_bytes(fp["full"].total_bytes),
                f"{format_bytes(apache.disk_bytes)} / {format_bytes(full.disk_bytes)}",
                _gib(apache.memory_bytes),
            ]
        )
    headers = [
        "participants",
        "years",
        "points",
        "schema",
        *([f"{compression:.0%} smaller"] if compression is not None else []),
        "Apache edition",
        "full edition",
        "disk Apache / full",
        "memory",
    ]
    lines = [
        f"{chosen.title} ({chosen.name}), {sampling} sampling:"
        f" {_num(chosen.points_per_day(sampling))} points per participant-day, {bpp:.1f} bytes per point",
        "schema: samples x bytes per point; Apache / full edition: samples, rollups"
        + (" and sleep logs" if chosen.sleep_logs else "")
        + " on disk, measured bytes per row; recommended disk and memory (`fitpipe estimate -n N -y Y` explains)",
        "",
        *text_table(headers, rows, left=0),
    ]
    click.echo("\n".join(lines))
