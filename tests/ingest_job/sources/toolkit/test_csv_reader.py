"""The one CSV reader: its rules for odd lines, the same rows on the fast and the careful path, and chunked
reading that gives the rows of a whole read."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fitpipe.errors import InputError
from fitpipe_ingest.sources.toolkit.csv_reader import CsvTable, iter_csv, read_csv

COLUMNS = ("Id", "Time", "Value")


def rows(table: CsvTable) -> list[tuple[int, str, str, str]]:
    return [
        (int(line), *(table.columns[c][i].as_py() for c in COLUMNS))
        for i, line in enumerate(table.lines.tolist())
    ]


def rejected(table: CsvTable) -> list[tuple[str, str, str, str]]:
    return [(r.record, r.field, r.reason, r.raw) for r in table.rejected]


def test_good_lines_read_the_same_whether_an_odd_line_sends_the_block_down_the_careful_path() -> None:
    good = b"Id,Time,Value\r\n1,a,70\r\n2,b,71\r\n3,c,72\r\n"
    odd = good.replace(b"2,b,71\r\n", b"2,b,71\r\n2,b\r\n")
    fast, careful = read_csv(good, "f.csv", COLUMNS), read_csv(odd, "f.csv", COLUMNS)
    assert rows(fast) == [(2, "1", "a", "70"), (3, "2", "b", "71"), (4, "3", "c", "72")]
    assert rows(careful) == [(2, "1", "a", "70"), (3, "2", "b", "71"), (5, "3", "c", "72")]
    assert rejected(careful) == [("line 4", "line", "2 comma-separated fields, the header has 3", "2,b")]


def test_what_holds_no_record_is_skipped_and_what_is_wrong_is_rejected_line_by_line() -> None:
    data = (
        b"\xef\xbb\xbf\r\n"  # a BOM, then a blank line before the header
        b"id , TIME,Value,Note\r\n"  # names match in any case, with spaces; Note is not asked for
        b"1,a,70,x\r\n"
        b"\r\n   \t\r\n"  # blank lines
        b"1,b,71,,,\r\n"  # empty fields after the last column
        b"1,c,72,x,y\r\n"  # one field too many, not empty
        b"1,d\r\n"  # too few
        b"1,e,7\r3,x\r\n"  # a carriage return inside
        b"1,f,\x00\x00,x\r\n"  # NUL bytes
        b"1,g,\xe97,x\r\n"  # not UTF-8
        b'1,h,"7,5",x\r\n'  # a quoted comma
        b'1,i,"7,x\r\n'  # a quote that does not close
        b"id,TIME,Value,Note\r\n"  # the header again (cat a.csv b.csv)
        b"1,j," + b"9" * 1_000_000 + b",x\r\n"  # a 1 MB field
        b"1,k,7"  # the last line, cut off
    )
    table = read_csv(data, "f.csv", COLUMNS)
    got = rows(table)
    assert [line for line, *_ in got] == [3, 6, 12, 15]
    assert got[:3] == [(3, "1", "a", "70"), (6, "1", "b", "71"), (12, "1", "h", "7,5")]
    assert got[3][3] == "9" * 1_000_000
    assert [(r, f, why) for r, f, why, _ in rejected(table)] == [
        ("line 7", "line", "5 comma-separated fields, the header has 4"),
        ("line 8", "line", "2 comma-separated fields, the header has 4"),
        ("line 9", "line", "carriage return inside the line"),
        ("line 10", "line", "NUL bytes in the line"),
        ("line 11", "line", "not UTF-8 text"),
        ("line 13", "line", "not a CSV line (unexpected end of data): quotes do not pair up"),
        (
            "line 16",
            "line",
            "3 comma-separated fields, the header has 4 (the file ends inside this line: it may be cut off)",
        ),
    ]
    assert rejected(table)[3][3] == "1,f,\\x00\\x00,x", (
        "NUL shown, never stored (PostgreSQL text cannot hold it)"
    )
    assert table.cut_line == 16


def test_raw_text_and_reasons_stay_short_whatever_the_line() -> None:
    table = read_csv(b"Id,Time,Value\n1,a," + b"x" * 300_000 + b",extra\n", "f.csv", COLUMNS)
    [(record, _, _, raw)] = rejected(table)
    assert record == "line 2" and len(raw) == 1000 and raw.startswith("1,a,xxx")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (expected a CSV file with the header Id,Time,Value)"),
        (b"\r\n \r\n", "empty file"),
        ("Id,Time,Value\n".encode("utf-16"), "UTF-16 text, not UTF-8"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image, not a CSV file"),
        (b"Id;Time;Value\n1;a;70\n", "lacks 'Id', 'Time', 'Value' (expected Id,Time,Value)"),
        (b"Id,Value\n1,70\n", "lacks 'Time'"),
    ],
)
def test_whole_file_problems_name_the_file_and_what_was_expected(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match="file f.csv") as caught:
        read_csv(data, "f.csv", COLUMNS)
    assert message in caught.value.message


def test_an_optional_column_the_file_lacks_is_just_absent() -> None:
    table = read_csv(b"Id,Time,Value\n1,a,70\n", "f.csv", COLUMNS, optional=("user_id",))
    assert set(table.columns) == set(COLUMNS)


def test_numbers_and_stamps_of_cells() -> None:
    table = read_csv(
        b"Id,Time,Value\n1,2024-01-01T00:00:00Z, 70 \n1,2024-13-01T00:00:00Z,NaN\n1, ,x\n", "f.csv", COLUMNS
    )
    values, bad = table.numbers("Value")
    assert values[0] == 70.0 and np.isnan(values[1]) and bad.tolist() == [False, False, True]
    _, bad_times = table.stamps("Time", ("YYYY-MM-DDThh:mm:ssZ",))
    assert bad_times.tolist() == [False, True, True]
    assert table.problem("Time", 2, "a time") == "missing Time"
    assert table.problem("Value", 2, "a number") == "'x' is not a number"


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
def test_chunks_give_the_rows_and_line_numbers_of_a_whole_read(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    lines = [f"{i % 7},t{i},{rng.integers(40, 200)}" for i in range(500)]
    lines[100] = "0,bad"
    lines[250] = ""
    lines[333] = "Id,Time,Value"
    data = ("Id,Time,Value\r\n" + "\r\n".join(lines) + "\r\n").encode()
    whole = read_csv(data, "f.csv", COLUMNS)
    pieces = list(iter_csv(io.BytesIO(data), "f.csv", COLUMNS, chunk_bytes=chunk))
    assert [row for p in pieces for row in rows(p)] == rows(whole)
    assert (
        [r for p in pieces for r in rejected(p)]
        == rejected(whole)
        == [("line 102", "line", "2 comma-separated fields, the header has 3", "0,bad")]
    )
    if chunk < len(data):
        assert len(pieces) > 1
    assert [r.raw for p in pieces for r in p.rejected] == ["0,bad"]
    assert pieces[-1].raw(len(pieces[-1]) - 1) == lines[-1]
