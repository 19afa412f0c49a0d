"""The data-volume calculator: its formulas, the schema they model, `fitpipe estimate`, and the figures
docs/capacity.md pastes from it."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe import capacity as cap
from fitpipe.catalog import BY_NAME, METRICS
from fitpipe.cli import cli
from fitpipe.errors import InputError
from tests.queries import scalar

ROOT = Path(__file__).resolve().parents[2]
SECONDS_PER_YEAR = 365 * 24 * 60 * 60

# PostgreSQL's storage of the column types the schema uses: (bytes, alignment)
_PG_TYPES = {"timestamptz": (8, 8), "double precision": (8, 8), "integer": (4, 4), "smallint": (2, 2)}


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["estimate", *args])
    return result.exit_code, result.stdout


# --- the formulas -----------------------------------------------------------------------------------
def test_one_participant_for_one_year_at_1_hz_is_31_536_000_points() -> None:
    assert cap.volume(1, 1, 86_400).points == 31_536_000 == SECONDS_PER_YEAR


def test_thousand_participants_for_five_years_multiply_out() -> None:
    assert cap.volume(1_000, 5, 86_400).points == 1_000 * 5 * SECONDS_PER_YEAR == 157_680_000_000


def test_bytes_are_points_times_bytes_per_point_and_compression_keeps_the_rest() -> None:
    v = cap.volume(1_000, 2, 86_400, bytes_per_point=80, compression=0.8)
    assert v.uncompressed_bytes == v.points * 80
    assert v.compressed_bytes == pytest.approx(v.uncompressed_bytes * 0.2)


def _grows(volumes: list[cap.Volume]) -> None:
    for smaller, larger in zip(volumes, volumes[1:], strict=False):
        assert smaller.points < larger.points
        assert smaller.uncompressed_bytes < larger.uncompressed_bytes
        assert smaller.compressed_bytes < larger.compressed_bytes


def test_points_and_bytes_grow_with_participants() -> None:
    _grows([cap.volume(n, 1, 86_400) for n in (1, 2, 10, 1_000)])


def test_points_and_bytes_grow_with_years() -> None:
    _grows([cap.volume(1, y, 86_400) for y in (0.5, 1, 2, 5)])


def test_more_compression_stores_fewer_bytes() -> None:
    stored = [cap.volume(10, 1, 86_400, compression=c).compressed_bytes for c in (0, 0.5, 0.8, 0.95)]
    assert stored == sorted(stored, reverse=True)
    assert stored[0] == cap.volume(10, 1, 86_400).uncompressed_bytes


def test_grid_covers_1_1000_10000_participants_by_1_2_5_years() -> None:
    rows = cap.grid(86_400)
    assert [(v.participants, v.years) for v in rows] == [
        (n, y) for n in (1, 1_000, 10_000) for y in (1, 2, 5)
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: cap.volume(-1, 1, 86_400), "participants"),
        (lambda: cap.volume(1, 0, 86_400), "years"),
        (lambda: cap.volume(1, float("nan"), 86_400), "years"),
        (lambda: cap.volume(1, 1, 86_400, compression=1.0), "compression"),
        (lambda: cap.volume(1, 1, 86_400, bytes_per_point=0), "bytes per point"),
    ],
)
def test_impossible_inputs_are_refused_naming_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(InputError, match=field):
        call()


# --- bytes per point from the schema ----------------------------------------------------------------
def _create_table_columns(sql: str, table: str) -> list[tuple[str, str]]:
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", sql, re.S)
    assert body, f"sql/0001_core.sql has no CREATE TABLE {table}"
    columns = []
    for line in body.group(1).strip().splitlines():
        name, rest = line.strip().split(None, 1)
        columns.append((name, next(t for t in _PG_TYPES if rest.startswith(t))))
    return columns


@pytest.mark.parametrize(("layout", "table"), [(cap.SAMPLES, "samples"), (cap.ROLLUP, "rollup_1m")])
def test_row_layout_matches_the_schema(layout: cap.TableLayout, table: str) -> None:
    sql = (ROOT / "sql" / "0001_core.sql").read_text()
    declared = _create_table_columns(sql, table)
    assert [(c.name, (c.width, c.align)) for c in layout.columns] == [(n, _PG_TYPES[t]) for n, t in declared]
    key = re.search(rf"CREATE UNIQUE INDEX IF NOT EXISTS {table}_key ON {table} \(([^)]*)\)", sql)
    assert key, f"no unique key on {table}"
    assert list(layout.indexes) == [tuple(c.strip() for c in key.group(1).split(","))]


def test_samples_row_is_a_48_byte_tuple_and_a_24_byte_index_entry() -> None:
    # 24-byte header + (8 + 8 + 4 + 2) bytes of data, MAXALIGNed; index: 8-byte header + int4, int2, pad, ts
    assert cap.data_bytes(cap.SAMPLES.columns) == 22
    assert cap.heap_tuple_bytes(cap.SAMPLES) == 48
    assert cap.index_tuple_bytes(cap.SAMPLES, cap.SAMPLES.indexes[0]) == 24


def test_a_stored_point_costs_80_to_85_bytes_with_its_index() -> None:
    row = cap.SAMPLE_ROW
    assert 52 <= row.heap < 53  # 48 + 4-byte line pointer, plus the page header shared by 157 rows
    assert 28 / 0.9 < row.index < 28 / 0.9 * 1.02  # 28 bytes at 90 % leaf fill, plus the inner pages
    assert 80 <= row.total <= 85


def test_column_order_of_samples_saves_padding() -> None:
    padded = cap.TableLayout("padded", tuple(cap.SAMPLES.columns[i] for i in (2, 0, 3, 1)), ())
    assert cap.heap_tuple_bytes(padded) - cap.heap_tuple_bytes(cap.SAMPLES) == 8


def test_emptier_index_leaves_cost_more_bytes() -> None:
    assert cap.row_cost(cap.SAMPLES, leaf_fill=0.5).index > cap.row_cost(cap.SAMPLES, leaf_fill=1.0).index


# --- metric sets and rollups ------------------------------------------------------------------------
def test_metric_sets_name_only_catalog_metrics_and_all_covers_the_catalog() -> None:
    for metric_set in cap.METRIC_SETS.values():
        assert {m.metric for m in metric_set.metrics} <= set(BY_NAME)
    assert [m.metric for m in cap.METRIC_SETS["all"].metrics] == [m.name for m in METRICS]


def test_realistic_heart_rate_is_one_sample_per_5_seconds() -> None:
    hr = cap.metric_volume(BY_NAME["heart_rate"])
    assert hr.nominal == 86_400
    assert hr.realistic == 86_400 / 5


def test_sleep_only_metrics_count_only_the_night() -> None:
    spo2, hrv = cap.metric_volume(BY_NAME["spo2"]), cap.metric_volume(BY_NAME["hrv_rmssd"])
    assert spo2.window == hrv.window == "sleep"
    assert spo2.nominal == cap.SLEEP_HOURS * 60
    assert hrv.nominal == cap.SLEEP_HOURS * 12
    assert cap.metric_volume(BY_NAME["steps"]).nominal == 1_440


def test_activity_sleep_set_has_heart_rate_activity_sleep_and_daily_summaries() -> None:
    study = cap.METRIC_SETS["activity-sleep"]
    names = {m.metric for m in study.metrics}
    assert {
        "heart_rate",
        "steps",
        "calories",
        "distance",
        "active_zone_minutes",
        "spo2",
        "hrv_rmssd",
    } <= names
    assert {"resting_heart_rate", "breathing_rate", "skin_temperature"} <= names
    assert study.sleep_logs
    assert study.points_per_day("realistic") < study.points_per_day("nominal")
    # everything besides heart rate adds little to the nominal 1 Hz stream
    assert study.points_per_day("nominal") < 1.1 * 86_400


def test_rollups_read_far_fewer_rows_than_raw_for_a_year_chart() -> None:
    reads = {(r.source, r.resolution): r.rows for r in cap.chart_reads(365)}
    raw = reads[("samples", "1 Hz (nominal)")]
    assert raw == SECONDS_PER_YEAR
    assert reads[("data_1h", "1 h")] == 365 * 24
    assert reads[("data_1d", "1 day")] == 365
    rows = list(reads.values())
    assert rows == sorted(rows, reverse=True)


def test_nightly_load_of_1000_participants_at_1_hz_takes_minutes_not_hours() -> None:
    load = cap.daily_load(1_000, 86_400)
    assert load.rows == 86_400_000
    assert load.seconds == load.rows / cap.INGEST_ROWS_PER_SECOND
    assert load.chunk_bytes == pytest.approx(load.rows * cap.SAMPLE_ROW.total)


# --- fitpipe estimate -------------------------------------------------------------------------------
def test_estimate_defaults_answer_1000_participants_for_1_year_at_1_hz() -> None:
    code, out = _run()
    assert code == 0
    assert f"{1_000 * SECONDS_PER_YEAR:,}" in out
    assert "heart rate at 1 s" in out


def test_estimate_json_parses_and_agrees_with_the_library() -> None:
    code, out = _run("--participants", "10", "--years", "2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    expected = cap.volume(10, 2, 86_400)
    assert data["volume"]["points"] == expected.points
    assert data["volume"]["uncompressed_bytes"] == pytest.approx(expected.uncompressed_bytes)
    assert data["bytes_per_point"]["total"] == pytest.approx(cap.SAMPLE_ROW.total)


def test_estimate_grid_has_nine_rows_in_json_and_in_the_table() -> None:
    code, out = _run("--grid", "--format", "json")
    assert code == 0
    assert len(json.loads(out)["grid"]) == 9
    code, out = _run("--grid")
    assert code == 0
    data_lines = [line for line in out.splitlines() if re.match(r"^\s*[\d,]+\s+\d+\s+[\d,]+\s", line)]
    assert len(data_lines) == 9


def test_estimate_bytes_per_point_and_compression_options_change_the_bytes() -> None:
    code, out = _run(
        "-n", "3", "-y", "1", "--bytes-per-point", "100", "--compression", "0.9", "--format", "json"
    )
    assert code == 0
    volume = json.loads(out)["volume"]
    assert volume["uncompressed_bytes"] == volume["points"] * 100
    assert volume["compressed_bytes"] == pytest.approx(volume["points"] * 100 * 0.1)


def test_estimate_realistic_activity_sleep_counts_fewer_points_than_nominal() -> None:
    counts = {}
    for sampling in ("nominal", "realistic"):
        code, out = _run("--metric-set", "activity-sleep", "--sampling", sampling, "--format", "json")
        assert code == 0
        counts[sampling] = json.loads(out)["volume"]["points"]
    assert counts["realistic"] < counts["nominal"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--participants", "-5"], "-5 is not in the range x>=1"),
        (["--years", "0"], "0.0 is not in the range x>0"),
        (["--compression", "1"], "--compression"),
        (["--metric-set", "ecg"], "'ecg' is not one of"),
    ],
)
def test_estimate_refuses_invalid_input_with_exit_code_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["estimate", *args])
    assert result.exit_code == 2
    assert message in result.stderr


# --- docs/capacity.md pastes the command's output ---------------------------------------------------
_DOC = ROOT / "docs" / "capacity.md"
_BLOCK = re.compile(r"^( *)```text\n\1\$ fitpipe (estimate[^\n]*)\n(.*?)\n\1```", re.S | re.M)


def test_capacity_doc_shows_what_fitpipe_estimate_prints() -> None:
    blocks = _BLOCK.findall(_DOC.read_text())
    assert len(blocks) >= 3, "docs/capacity.md should paste `fitpipe estimate` outputs in ```text blocks"
    for indent, command, pasted in blocks:
        code, out = _run(*shlex.split(command)[1:])
        assert code == 0, command
        expected = "\n".join((indent + line).rstrip() for line in out.rstrip("\n").splitlines())
        assert pasted == expected, f"docs/capacity.md is stale for `fitpipe {command}`"


# --- the formula against the real schema ------------------------------------------------------------
def _bench() -> ModuleType:
    """bench/ is not a package: load the script as a module (registered, as dataclasses require)."""
    name = "fitpipe_bench_bytes_per_point"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "bytes_per_point.py")
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.mark.db
def test_measured_bytes_per_point_match_the_formula_within_2_percent(db: psycopg.Connection) -> None:
    m = _bench().measure(db, rows=300_000, participants=3)
    assert m.heap_bytes / m.rows == pytest.approx(cap.SAMPLE_ROW.heap, rel=0.02)
    assert m.index_bytes / m.rows == pytest.approx(cap.SAMPLE_ROW.index, rel=0.02)
    assert m.total_bytes / m.rows == pytest.approx(cap.SAMPLE_ROW.total, rel=0.02)


# --- what each edition stores, and what to give the database ----------------------------------------
def test_per_minute_metrics_store_no_rollup_1m_rows_only_heart_rate_does() -> None:
    study = cap.METRIC_SETS["activity-sleep"]
    assert {m.metric: m.rollup_1m for m in study.metrics if m.rollup_1m} == {"heart_rate": 1_440}
    assert study.rollup_rows_per_day[0] == 1_440


def test_apache_edition_stores_every_row_at_its_measured_cost() -> None:
    study = cap.METRIC_SETS["hr1s"]
    fp = cap.study_footprint(study, "nominal", 1_000, 1, cap.APACHE)
    points = cap.volume(1_000, 1, 86_400).points
    assert fp.samples_bytes == pytest.approx(points * cap.APACHE.row_bytes["heart_rate_nominal"])
    assert fp.uncompressed_bytes == pytest.approx(fp.samples_bytes + fp.rollup_bytes)
    assert cap.APACHE.row_bytes["heart_rate_nominal"] == pytest.approx(cap.SAMPLE_ROW.total, rel=0.02)


def test_full_edition_keeps_the_newest_week_uncompressed_and_the_rest_far_smaller() -> None:
    study = cap.METRIC_SETS["activity-sleep"]
    apache = cap.study_footprint(study, "realistic", 1_000, 2, cap.APACHE)
    full = cap.study_footprint(study, "realistic", 1_000, 2, cap.FULL)
    week = cap.study_footprint(study, "realistic", 1_000, 7 / 365, cap.APACHE)
    coarse = cap.side_tables(study, 1_000, 2).rollup_rows  # rollup_1h and rollup_1d are never compressed
    assert full.uncompressed_bytes > week.samples_bytes
    assert full.total_bytes < apache.total_bytes / 8
    assert full.sleep_bytes == apache.sleep_bytes and coarse > 0
    # a study shorter than the window is all uncompressed
    short = cap.study_footprint(study, "realistic", 10, 3 / 365, cap.FULL)
    assert short.total_bytes == pytest.approx(
        cap.study_footprint(study, "realistic", 10, 3 / 365, cap.APACHE).total_bytes
    )


def test_recommendations_cover_the_data_and_the_hot_set() -> None:
    study = cap.METRIC_SETS["hr1s"]
    previous = 0.0
    for n in (1, 100, 1_000, 10_000):
        fp = cap.study_footprint(study, "nominal", n, 2, cap.APACHE)
        hot = cap.hot_set(study, "nominal", n)
        rec = cap.recommend(fp, hot)
        assert rec.disk_bytes >= fp.total_bytes * (1 + cap.DISK_HEADROOM) + cap.WAL_BYTES
        assert rec.disk_bytes < (fp.total_bytes * (1 + cap.DISK_HEADROOM) + cap.WAL_BYTES) * 1.5
        assert rec.memory_bytes >= max(2 * hot, cap.MIN_MEMORY_BYTES)
        assert rec.memory_bytes >= previous
        previous = rec.memory_bytes
    # 1,000 participants at 1 Hz write a 7.3 GB chunk a day: the hot set is the day and the lag window's index
    assert 10e9 < cap.hot_set(study, "nominal", 1_000) < 20e9


def test_estimate_shows_both_editions_with_disk_and_memory() -> None:
    code, out = _run("--metric-set", "activity-sleep", "--sampling", "realistic", "--format", "json")
    assert code == 0
    editions = json.loads(out)["editions"]
    assert set(editions) == {"apache", "full"}
    assert editions["full"]["total_bytes"] < editions["apache"]["total_bytes"]
    assert editions["full"]["recommended_memory_bytes"] == editions["apache"]["recommended_memory_bytes"]
    code, out = _run()
    assert "Apache edition" in out and "recommended disk" in out and "recommended memory" in out
    code, out = _run("--grid", "--format", "json")
    assert all(row["full_bytes"] < row["apache_bytes"] for row in json.loads(out)["grid"])


def _storage_bench() -> ModuleType:
    name = "fitpipe_bench_storage"
    if name not in sys.modules:
        sys.path.insert(0, str(ROOT / "bench"))
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "storage.py")
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.mark.db
def test_the_editions_measured_bytes_per_sample_hold_on_this_server(db: psycopg.Connection) -> None:
    """fitpipe estimate's bytes per row, measured again at a small scale through the loader: the Apache
    figure within 3 %, and on the full edition the compressed heart rate within 30 %."""
    from fitpipe.storage import compress_old_chunks, detect_edition

    bench = _storage_bench()
    bench.load_study(db, "nominal", 2, 3, realistic=False)
    db.execute("VACUUM ANALYZE samples")
    rows = scalar(db, "SELECT count(*) FROM samples")
    size = {t.table_name: t for t in bench.read_sizes(db)}["samples"]
    assert size.total_bytes / rows == pytest.approx(cap.APACHE.row_bytes["heart_rate_nominal"], rel=0.03)
    if not detect_edition(db).compression:
        return
    from datetime import UTC, datetime

    compress_old_chunks(db, datetime(2100, 1, 1, tzinfo=UTC))
    hr = bench.compressed_bytes_per_row(db, "samples")["heart rate"][1]
    assert hr == pytest.approx(cap.FULL.row_bytes["heart_rate_nominal"], rel=0.3)
