"""A corpus of bad inputs through `fitpipe ingest`: each either quarantines the bad record (naming file,
position, field, reason) and stores the rest, or fails the file with a clear error and stores nothing of it.
Rerunning never duplicates anything.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant

pytestmark = pytest.mark.db

ZONE = "America/New_York"


def _wearipedia_hr(day: str, items: list[tuple[str, str]]) -> str:
    dataset = ", ".join(f"{{'time': '{t}', 'value': {v}}}" for t, v in items)
    return (
        f"\"[{{'activities-heart': [{{'dateTime': '{day}', 'value': {{'customHeartRateZones': [], "
        f"'heartRateZones': [], 'restingHeartRate': 58}}}}], 'activities-heart-intraday': {{'dataset': "
        f"[{dataset}], 'datasetInterval': 1, 'datasetType': 'second'}}}}]\""
    )


def wearipedia(rows: list[str], header: str = "heart_rate_day", bom: bool = False) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        text = header + "\n" + "\n".join(rows) + "\n"
        (root / "heart_rate.csv").write_bytes(("\ufeff" if bom else "").encode() + text.encode())
        (root / "activity.csv").write_text("dateTime,value\n2024-01-01,3450\n")

    return write


def takeout(files: dict[str, bytes]) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        folder = root / "Fitbit" / "Global Export Data"
        folder.mkdir(parents=True)
        (folder / "resting_heart_rate-2024-01-01.json").write_text(
            '[{"dateTime":"01/01/24 00:00:00","value":{"date":"01/01/24","value":58.2,"error":6.8}}]'
        )
        for name, data in files.items():
            (folder / name).write_bytes(data)

    return write


def fitabase(text: bytes, name: str = "heartrate_seconds_merged.csv") -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / name).write_bytes(text)

    return write


GOOD = [("00:00:00", "np.float64(70.0)"), ("00:00:01", "71")]
HR_JSON = b'[{"dateTime":"01/01/24 05:00:00","value":{"bpm":62,"confidence":2}},{"dateTime":"01/01/24 05:00:05","value":{"bpm":63,"confidence":2}}]'


@dataclass
class Case:
    name: str
    write: Callable[[Path], None]
    heart_rate_rows: int
    """Heart-rate samples stored after the ingest."""
    quarantine: str | None = None
    """Regex a quarantined reason (or field) must match; None: nothing quarantined."""
    fails: str | None = None
    """Regex the error output must match (exit code 6); None: the ingest succeeds."""
    participant: str | None = "P1"


CASES = [
    Case(
        "bad_date",
        wearipedia([_wearipedia_hr("2024-13-01", GOOD), _wearipedia_hr("2024-01-02", GOOD)]),
        2,
        quarantine=r"date",
    ),
    Case(
        "dst_gap_nonexistent_local_time",
        wearipedia(
            [_wearipedia_hr("2024-03-10", [("01:59:59", "70"), ("02:30:00", "71"), ("03:00:00", "72")])]
        ),
        2,
        quarantine=r"not exist|nonexistent|clocks",
    ),
    Case(
        "dst_overlap_repeated_hour",
        wearipedia(
            [_wearipedia_hr("2024-11-03", [("01:30:00", "70"), ("01:59:00", "71"), ("01:30:00", "72")])]
        ),
        3,
    ),
    Case(
        "nan_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "np.float64(nan)")])]),
        2,
        quarantine=r"finite|nan|number",
    ),
    Case(
        "inf_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "np.float64(inf)")])]),
        2,
        quarantine=r"finite|inf|number|range",
    ),
    Case(
        "non_numeric_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "'abc'")])]),
        2,
        quarantine=r"number|numeric|value",
    ),
    Case(
        "none_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "None")])]),
        2,
        quarantine=r"None|missing|number|finite|value",
    ),
    Case(
        "bad_time_of_day",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("25:61:00", "70")])]),
        2,
        quarantine=r"time",
    ),
    Case(
        "out_of_range_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "400")])]),
        2,
        quarantine=r"range",
    ),
    Case(
        "out_of_order_timestamps",
        wearipedia(
            [_wearipedia_hr("2024-01-01", [("00:00:05", "70"), ("00:00:01", "71"), ("00:00:03", "72")])]
        ),
        3,
    ),
    Case(
        "duplicate_timestamps",
        wearipedia(
            [_wearipedia_hr("2024-01-01", [("00:00:01", "70"), ("00:00:01", "75"), ("00:00:02", "72")])]
        ),
        2,
    ),
    Case(
        "truncated_line",
        wearipedia([_wearipedia_hr("2024-01-01", GOOD), _wearipedia_hr("2024-01-02", GOOD)[:120]]),
        2,
        quarantine=r".",
    ),
    Case("byte_order_mark", wearipedia([_wearipedia_hr("2024-01-01", GOOD)], bom=True), 2),
    Case(
        "wrong_header",
        wearipedia([_wearipedia_hr("2024-01-01", GOOD)], header="heartbeat"),
        0,
        fails=r"heart_rate\.csv",
    ),
    Case(
        "empty_file",
        lambda root: (
            (root / "heart_rate.csv").write_bytes(b""),
            (root / "activity.csv").write_text("dateTime,value\n2024-01-01,10\n"),
        ),
        0,
        fails=r"heart_rate\.csv.*(empty|no data|header)",
    ),
    Case(
        "negative_steps",
        lambda root: (root / "activity.csv").write_text("dateTime,value\n2024-01-01,-5\n2024-01-02,100\n"),
        0,
        quarantine=r"range",
    ),
    Case(
        "invalid_json",
        takeout(
            {
                "heart_rate-2024-01-01.json": b'[{"dateTime":"01/01/24 05:00:00","value":{"bpm"',
                "heart_rate-2024-01-02.json": HR_JSON.replace(b"01/01/24", b"01/02/24"),
            }
        ),
        2,
        fails=r"heart_rate-2024-01-01\.json",
    ),
    Case(
        "not_utf8",
        takeout({"heart_rate-2024-01-01.json": HR_JSON.replace(b"bpm", b"b\xe9m")}),
        0,
        fails=r"heart_rate-2024-01-01\.json",
    ),
    Case(
        "takeout_missing_field",
        takeout({"heart_rate-2024-01-01.json": HR_JSON.replace(b'"bpm":63,', b"")}),
        1,
        quarantine=r"bpm|missing|value",
    ),
    Case(
        "wrong_delimiter",
        fitabase(b"Id;Time;Value\n1;1/1/2024 12:00:00 AM;70\n"),
        0,
        fails=r"heartrate_seconds_merged\.csv",
    ),
    Case(
        "crlf_line_endings",
        fitabase(b"Id,Time,Value\r\nP1,1/1/2024 12:00:00 AM,70\r\nP1,1/1/2024 12:00:05 AM,71\r\n"),
        2,
    ),
    Case(
        "unknown_participant_in_file",
        fitabase(b"Id,Time,Value\nP999,1/1/2024 12:00:00 AM,70\n"),
        0,
        fails=r"unknown participant.*P999",
        participant=None,
    ),
    Case(
        "unknown_extra_file",
        lambda root: (
            wearipedia([_wearipedia_hr("2024-01-01", GOOD)])(root),
            (root / "notes.txt").write_text("hi"),
        ),
        2,
    ),
    Case(
        "corrupt_zip",
        lambda root: (root / "export.zip").write_bytes(b"PK\x03\x04 not really a zip"),
        0,
        fails=r"export\.zip|zip",
    ),
]


@pytest.fixture
def env(fitpipe_env: Path, database_url: str):  # type: ignore[no-untyped-def]
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "P1", "s1", timezone=ZONE)
    return database_url


def _counts(url: str) -> tuple[int, list[tuple[str, str, str, str]]]:
    with psycopg.connect(url) as conn:
        hr = conn.execute("SELECT count(*) FROM samples WHERE metric_id = 1").fetchone()[0]  # type: ignore[index]
        q = conn.execute("SELECT file, record, field, reason FROM quarantine ORDER BY id").fetchall()
    return int(hr), q


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_quarantined_or_refused_and_reruns_change_nothing(
    case: Case, env: str, tmp_path: Path
) -> None:
    root = tmp_path / "input"
    root.mkdir()
    case.write(root)
    target = root / "export.zip" if case.name == "corrupt_zip" else root
    args = ["ingest", str(target), "--study", "s1", "--timezone", ZONE]
    if case.participant:
        args += ["--participant", case.participant]
    first = CliRunner().invoke(cli, args)
    hr, quarantined = _counts(env)
    if case.fails:
        assert first.exit_code == 6, first.output
        assert re.search(case.fails, first.output, re.I | re.S), first.output
    else:
        assert first.exit_code == 0, first.output
    assert hr == case.heart_rate_rows, first.output
    if case.quarantine:
        assert quarantined, f"nothing was quarantined:\n{first.output}"
        assert all(file and record and field and reason for file, record, field, reason in quarantined)
        assert any(
            re.search(case.quarantine, f"{field} {reason}", re.I) for _, _, field, reason in quarantined
        ), quarantined
    elif not case.fails:
        assert quarantined == [], quarantined
    again = CliRunner().invoke(cli, [*args, "--full"])
    assert again.exit_code == first.exit_code, again.output
    assert _counts(env) == (hr, quarantined), "a rerun must not add or duplicate anything"


def test_the_corpus_covers_at_least_twenty_kinds_of_bad_input() -> None:
    assert len(CASES) >= 20


def test_zip_of_a_takeout_export_loads_like_the_directory(env: str, tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    takeout({"heart_rate-2024-01-01.json": HR_JSON})(root)
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            if path.is_file():
                zf.write(path, "Takeout/" + path.relative_to(root).as_posix())
    result = CliRunner().invoke(cli, ["ingest", str(archive), "--participant", "P1"])
    assert result.exit_code == 0, result.output
    assert _counts(env)[0] == 2
