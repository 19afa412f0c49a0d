"""Reading the export's CSV files into string columns with their line numbers, fast (pyarrow, ~14 M rows/s).

Every cell is kept as text so that each bad cell can be rejected on its own; rows whose field count
differs from the header are rejected by line. Whole-file problems (empty, not UTF-8, no header, a
required column missing) raise InputError. Files with quote characters go through Python's csv
module instead, so a quoted line break cannot shift the line numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from fitpipe.errors import InputError
from fitpipe_ingest.sources.takeout.collector import RAW_LIMIT, Collector
from fitpipe_ingest.sources.takeout.stamps import StampText, parse_stamps
from fitpipe_ingest.tree import InputTree

__all__ = ["CsvTable", "read_csv_table"]

_BOM = b"\xef\xbb\xbf"


@dataclass
class CsvTable:
    path: str
    header: list[str]
    columns: dict[str, pa.StringArray]
    lines: np.ndarray
    """1-based line number of each row (the header is line 1)."""
    _data: bytes
    _line_starts: np.ndarray
    _line_ends: np.ndarray

    def __len__(self) -> int:
        return int(self.lines.size)

    def raw(self, row: int) -> str:
        n = int(self.lines[row]) - 1
        text = self._data[int(self._line_starts[n]) : int(self._line_ends[n])]
        return text[: RAW_LIMIT * 4].decode("utf-8", "replace")[:RAW_LIMIT]

    def text(self, column: str) -> list[str]:
        return self.columns[column].to_pylist()  # type: ignore[no-any-return]

    def stamps(self, column: str, layouts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        return parse_stamps(StampText.from_arrow(self.columns[column]), layouts)

    def numbers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(float64 values, mask of cells that are not numbers). 'NaN' is a number here: the loader
        quarantines it with the rest of the non-finite values."""
        arr = self.columns[column]
        try:
            values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            return np.asarray(values, dtype=np.float64), np.zeros(len(arr), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        out = np.zeros(len(arr), dtype=np.float64)
        bad = np.zeros(len(arr), dtype=bool)
        for i, cell in enumerate(arr.to_pylist()):
            try:
                out[i] = float(cell)
            except (TypeError, ValueError):
                bad[i] = True
        return out, bad

    def reject_cells(self, c: Collector, rows: np.ndarray, column: str, reason: str, kind: str) -> None:
        cells = self.columns[column]
        for r in rows:
            cell = cells[int(r)].as_py()
            c.reject(
                f"line {int(self.lines[r])}",
                column,
                reason.format(cell=str(cell)[:40]),
                self.raw(int(r)),
                kind,
            )


def _check_text(data: bytes, path: str) -> bytes:
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        raise InputError(
            "the file is empty", file=path, hint="re-export it; an export CSV has at least a header line"
        )
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})",
                file=path,
                line=data.count(b"\n", 0, exc.start) + 1,
                hint="re-export the file as UTF-8",
            ) from None
    return data


def _line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [len(data)]]).astype(np.int64)
    if starts[-1] == len(data):  # the file ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - has_cr


def _read_with_csv_module(
    data: bytes, path: str, header: list[str], c: Collector, starts: np.ndarray, ends: np.ndarray
) -> tuple[dict[str, pa.StringArray], np.ndarray]:
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    next(reader)
    cells: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(row) != len(header):
            n = line - 1
            raw = data[int(starts[n]) : int(ends[n])].decode("utf-8", "replace")
            c.reject(
                f"line {line}",
                "",
                f"row has {len(row)} fields, the header has {len(header)}",
                raw,
                "malformed",
            )
            continue
        for col, cell in zip(cells, row, strict=True):
            col.append(cell)
        lines.append(line)
    columns = {name: pa.array(col, type=pa.string()) for name, col in zip(header, cells, strict=True)}
    return columns, np.array(lines, dtype=np.int64)


def _read_with_arrow(
    data: bytes, header: list[str], c: Collector, starts: np.ndarray, ends: np.ndarray
) -> tuple[dict[str, pa.StringArray], np.ndarray]:
    filled = np.flatnonzero(ends > starts)  # pyarrow skips empty lines and counts rows among the others
    invalid: list[int] = []

    def on_invalid(row: pcsv.InvalidRow) -> str:
        line = int(filled[row.number - 1]) + 1 if row.number is not None else 0
        invalid.append(line)
        c.reject(
            f"line {line}",
            "",
            f"row has {row.actual_columns} fields, the header has {row.expected_columns}",
            row.text[:RAW_LIMIT],
            "malformed",
        )
        return "skip"

    table = pcsv.read_csv(
        io.BytesIO(data),
        read_options=pcsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
        parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    lines = filled[filled > 0] + 1
    if invalid:
        lines = lines[~np.isin(lines, invalid)]
    columns = {name: table.column(i).combine_chunks() for i, name in enumerate(header)}
    return columns, lines.astype(np.int64)


def read_csv_table(tree: InputTree, path: str, c: Collector, required: tuple[str, ...]) -> CsvTable:
    data = _check_text(tree.read_bytes(path), path)
    rejected_before = len(c.parsed.rejected)
    starts, ends = _line_bounds(data)
    first = data[int(starts[0]) : int(ends[0])].decode("utf-8")
    header = [name.strip() for name in next(csv.reader([first]), [])]
    if not any(header):
        raise InputError("the first line is empty; expected the header", file=path, line=1)
    missing = [name for name in required if name not in header]
    if missing:
        raise InputError(
            f"the header lacks column(s) {', '.join(repr(m) for m in missing)}",
            file=path,
            line=1,
            field=missing[0],
            hint=f"expected columns: {', '.join(required)}; found: {', '.join(header)}",
        )
    columns = None
    if b'"' not in data:
        try:
            columns, lines = _read_with_arrow(data, header, c, starts, ends)
        except pa.ArrowInvalid:  # anything pyarrow's reader balks at: the csv module reads it row by row
            del c.parsed.rejected[rejected_before:]
    if columns is None:
        columns, lines = _read_with_csv_module(data, path, header, c, starts, ends)
    if lines.size != len(columns[header[0]]):  # cannot happen unless line accounting is wrong: fail loudly
        raise InputError(
            f"internal error: {lines.size} line numbers for {len(columns[header[0]])} rows", file=path
        )
    c.read(lines.size + len(c.parsed.rejected) - rejected_before)
    return CsvTable(path, header, columns, lines, data, starts, ends)
