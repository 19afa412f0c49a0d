"""The one CSV reader of the file sources: the requested columns as text, with the line each row came from,
fast, and never losing a file to one odd line.

Fast path: pyarrow reads a whole block of lines at once (the file, or one chunk of a big file). When
anything in the block is odd, the careful path numbers every line with numpy, sets the odd lines aside
as Rejected records (`line N`, field `line`, the reason and the raw line) and hands only the good lines
to pyarrow again; lines with quotes are checked one by one with Python's csv module. Both paths give
the same rows for the same good lines.

The rules, the same for every source:
- a UTF-8 byte-order mark is dropped; the header is the first line that is not blank; column names
  match ignoring case, surrounding spaces and quotes; columns that were not asked for are ignored;
- blank lines (spaces, tabs, carriage returns only) and repeats of the header line (files joined
  with `cat`) hold no record: they are skipped, not quarantined;
- a line ends with LF or CRLF; a carriage return elsewhere rejects its line;
- quoted fields follow RFC 4180 (`"a,b"`, `""` for a quote) but never span lines;
- empty fields after the header's last column (`1,2,3,,`, what some spreadsheets write) are ignored;
  any other difference from the header's number of fields rejects the line;
- a line holding NUL bytes, or that is not UTF-8, is rejected;
- a field may be of any length; a rejected record keeps the first RAW_LIMIT characters of its line.
Whole-file problems raise InputError: an empty file, UTF-16 or binary data, a required column missing
from the header. `iter_csv` reads a big file in chunks that end at a line end, so memory is bounded by
the chunk, not by the file.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fitpipe.errors import InputError
from fitpipe_ingest.records import RAW_LIMIT, Rejected
from fitpipe_ingest.sources.toolkit.stamps import StampText, parse_stamps
from fitpipe_ingest.sources.toolkit.text import BOM, check_text, short
from fitpipe_ingest.tree import InputTree

__all__ = ["CsvTable", "read_csv", "iter_csv", "read_header", "CHUNK_BYTES"]

CHUNK_BYTES = 16 << 20
"""Bytes of a file read and parsed at a time by iter_csv (its caller may pass another size)."""
_NUMBER = r"^[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$"
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 13, 32]] = True


@dataclass
class CsvTable:
    """Rows of one CSV file (or of one chunk of it): requested columns as Arrow text, their line numbers."""

    path: str
    header: list[str]
    """The header's names as written."""
    columns: dict[str, pa.StringArray]
    """Requested name (as the caller spelled it) -> text of each row; optional columns the file lacks are absent."""
    lines: np.ndarray
    """int64, the 1-based line of each row in the file."""
    rejected: list[Rejected] = field(default_factory=list)
    """Lines that are not rows (wrong number of fields, NUL bytes, not UTF-8, ...), in line order."""
    cut_line: int | None = None
    """The file's last line when it does not end with a line break (a file cut off in a copy, maybe)."""
    _block: bytes = b""
    _first_line: int = 0
    _starts: np.ndarray | None = None
    _ends: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.lines.size)

    def raw(self, row: int) -> str:
        """The text of a row's line (at most RAW_LIMIT characters)."""
        return self.raw_line(int(self.lines[row]))

    def raw_line(self, line: int) -> str:
        assert self._starts is not None and self._ends is not None
        i = line - self._first_line
        start, end = int(self._starts[i]), int(self._ends[i])
        return self._block[start : min(end, start + RAW_LIMIT * 4)].decode("utf-8", "replace")[:RAW_LIMIT]

    def cell(self, column: str, row: int) -> str:
        return str(self.columns[column][row].as_py())

    def cell_bytes(self, column: str, row: int) -> bytes:
        """A cell's UTF-8 bytes straight from Arrow's buffers (a 5 MB cell costs one copy, no decoding)."""
        col = self.columns[column]
        _, offsets, data = col.buffers()
        at = np.frombuffer(offsets, np.int32, count=2, offset=4 * (col.offset + row))
        return memoryview(data)[int(at[0]) : int(at[1])].tobytes() if data is not None else b""

    def text(self, column: str) -> list[str]:
        return self.columns[column].to_pylist()

    def trimmed(self, column: str) -> pa.StringArray:
        return pc.utf8_trim_whitespace(self.columns[column])

    def numbers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(float64 values, mask of cells that are not numbers). Surrounding spaces are ignored; 'NaN' and 'inf'
        are numbers here (the loader quarantines non-finite values with the out-of-range ones)."""
        cells = self.trimmed(column)
        try:
            values = pc.cast(cells, pa.float64())
            return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64), np.zeros(
                len(cells), dtype=bool
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        ok = pc.match_substring_regex(cells, _NUMBER, ignore_case=True)
        values = pc.cast(pc.if_else(ok, cells, pa.scalar(None, pa.string())), pa.float64())
        return (
            np.asarray(pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64),
            ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool),
        )

    def stamps(self, column: str, layouts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(µs as written, mask of cells that fit none of the fixed layouts); see toolkit.stamps."""
        return parse_stamps(StampText.from_arrow(self.trimmed(column)), layouts)

    def problem(self, column: str, row: int, what: str) -> str:
        """'missing <column>' for an empty cell, else "'<cell>' is not <what>"."""
        cell = self.cell(column, row)
        return f"missing {column}" if not cell.strip() else f"{short(cell)} is not {what}"

    def take(self, rows: np.ndarray) -> CsvTable:
        """The given rows only (rejected lines are kept as they are)."""
        index = pa.array(np.asarray(rows, dtype=np.int64))
        return CsvTable(
            self.path,
            self.header,
            {name: col.take(index) for name, col in self.columns.items()},
            self.lines[rows],
            self.rejected,
            self.cut_line,
            self._block,
            self._first_line,
            self._starts,
            self._ends,
        )


@dataclass
class _Header:
    path: str
    names: list[str]
    width: int
    index: dict[str, int]
    """Requested name -> position in the line."""
    written: dict[str, str]
    """Requested name -> the header's spelling (to recognise the header repeated by `cat a.csv b.csv`)."""
    first: bytes = b""
    """The header's first name: a block with no line starting with it holds no repeat (a cheap test first)."""


def _header(path: str, line: bytes, columns: tuple[str, ...], optional: tuple[str, ...]) -> _Header:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            "the header is not UTF-8 text", file=path, line=1, hint="re-export the file as UTF-8"
        ) from None
    csv.field_size_limit(1 << 30)
    names = next(csv.reader([text]), [])
    found = {name.strip().strip('"').strip().lower(): i for i, name in reversed(list(enumerate(names)))}
    missing = [c for c in columns if c.lower() not in found]
    if missing:
        raise InputError(
            f"the header {short(text, 200)} lacks {', '.join(repr(m) for m in missing)}"
            f" (expected {','.join(columns)})",
            file=path,
            line=1,
            field=missing[0],
            hint="check the delimiter (commas) and that this is the right file",
        )
    index = {c: found[c.lower()] for c in (*columns, *optional) if c.lower() in found}
    stripped = [n.strip().strip('"').strip() for n in names]
    return _Header(
        path,
        [n.strip() for n in names],
        len(names),
        index,
        {c: stripped[i] for c, i in index.items()},
        stripped[0].encode() if stripped else b"",
    )


def _line_bounds(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end without the line break, whether the line ends with LF) of every line of a block."""
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [arr.size]]).astype(np.int64)
    if starts[-1] == arr.size:  # the block ends with a line break: no line after it
        starts, ends = starts[:-1], ends[:-1]
    terminated = ends < arr.size
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - has_cr, terminated


def _blank(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Lines holding only spaces, tabs and carriage returns."""
    blank = ends <= starts
    maybe = np.flatnonzero(~blank & _SPACE[arr[np.minimum(starts, arr.size - 1)]])  # starts with a space
    for i in maybe.tolist():
        blank[i] = not arr[starts[i] : ends[i]].tobytes().strip()
    return blank


def _is_utf8(data: bytes | memoryview) -> bool:
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _arrow(block: bytes, header: _Header, max_line: int) -> pa.Table:
    names = [f"c{i}" for i in range(header.width)]
    wanted = {names[i]: name for name, i in header.index.items()}

    def on_invalid(row: object) -> str:
        return "error"  # a line with another number of fields: the careful path numbers and reports it

    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(block)),
        read_options=pacsv.ReadOptions(column_names=names, block_size=max(1 << 22, 2 * max_line + 2)),
        parse_options=pacsv.ParseOptions(
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(wanted),
            column_types=dict.fromkeys(wanted, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,
        ),
    )
    return table


def _columns(table: pa.Table, header: _Header) -> dict[str, pa.StringArray]:
    out = {}
    for name, i in header.index.items():
        col = table.column(f"c{i}")
        out[name] = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return out


def _empty(header: _Header) -> dict[str, pa.StringArray]:
    return {name: pa.array([], pa.string()) for name in header.index}


def _quoted_fields(line: bytes) -> list[str] | str:
    """Fields of a line with quotes, or why it is not a CSV line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        return f"not a CSV line ({exc}): quotes do not pair up"


def _field_end(line: bytes, k: int) -> int:
    """Byte offset of the k-th separator outside quotes (where field k+1 starts, minus one)."""
    arr = np.frombuffer(line, np.uint8)
    outside = np.cumsum(arr == 34) % 2 == 0
    return int(np.flatnonzero((arr == 44) & outside)[k - 1])


def _careful(
    block: bytes,
    arr: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    first_line: int,
    header: _Header,
    last_is_file_end: bool,
) -> tuple[dict[str, pa.StringArray], np.ndarray, list[Rejected]]:
    starts, ends, terminated = bounds
    n = starts.size
    width = header.width
    blank = _blank(arr, starts, ends)
    reason: dict[int, str] = {}
    cut = ends.copy()  # where each kept line's content stops (before trailing empty fields)

    def lines_of(positions: np.ndarray) -> list[int]:
        return np.unique(np.searchsorted(starts, positions, side="right") - 1).tolist()

    for i in lines_of(np.flatnonzero(arr == 0)):
        reason.setdefault(i, "NUL bytes in the line")
    crs = np.flatnonzero(arr == 13)
    for i in lines_of(crs[crs < ends[np.searchsorted(starts, crs, side="right") - 1]]):
        reason.setdefault(i, "carriage return inside the line")
    for i in lines_of(np.flatnonzero(arr >= 0x80)):
        if i not in reason and not _is_utf8(block[starts[i] : ends[i]]):
            reason[i] = "not UTF-8 text"
    quotes = set(lines_of(np.flatnonzero(arr == 34)))
    commas = np.flatnonzero(arr == 44)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    for found in np.flatnonzero((fields != width) & ~blank):
        i = int(found)
        if i in reason or i in quotes:
            continue
        if fields[i] > width:
            first_extra = commas[np.searchsorted(commas, starts[i]) + width - 1]
            if not block[first_extra : ends[i]].replace(b",", b"").strip():
                cut[i] = first_extra
                continue
        reason[i] = f"{int(fields[i])} comma-separated fields, the header has {width}"
    for i in sorted(quotes):
        if i in reason or blank[i]:
            continue
        values = _quoted_fields(block[starts[i] : ends[i]])
        if isinstance(values, str):
            reason[i] = values
            continue
        if len(values) > width and not "".join(values[width:]).strip():
            cut[i] = starts[i] + _field_end(block[starts[i] : ends[i]], width)
        elif len(values) != width:
            reason[i] = f"{len(values)} fields, the header has {width}"
    rejected = []
    for i in sorted(reason):
        why = reason[i]
        if i == n - 1 and last_is_file_end and not terminated[i]:
            why += " (the file ends inside this line: it may be cut off)"
        rejected.append(
            Rejected(
                file=header.path,
                record=f"line {first_line + i}",
                field="line",
                reason=why,
                raw=block[starts[i] : min(ends[i], starts[i] + RAW_LIMIT * 4)].decode("utf-8", "replace"),
                kind="malformed",
            )
        )
    good = ~blank
    good[list(reason)] = False
    rows = np.flatnonzero(good)
    if rows.size == 0:
        return _empty(header), np.zeros(0, np.int64), rejected
    # the good lines, each cut after its last field and ended with a line feed, in one buffer
    clean = np.frombuffer(block, np.uint8).copy()
    stop = cut[rows]
    inside = stop < clean.size
    clean[stop[inside]] = 10
    delta = np.zeros(clean.size + 2, dtype=np.int32)
    np.add.at(delta, starts[rows], 1)
    np.add.at(delta, stop + 1, -1)
    keep = np.cumsum(delta[: clean.size]) > 0
    data = clean[keep].tobytes() + (b"" if inside.all() else b"\n")
    max_line = int((stop - starts[rows]).max())
    try:
        table = _arrow(data, header, max_line)
        if table.num_rows != rows.size:
            raise pa.ArrowInvalid("rows and lines differ")
        columns = _columns(table, header)
    except pa.ArrowInvalid:  # every line left has the header's fields; read them one by one all the same
        columns = _python_columns(block, starts[rows], stop, header)
    return columns, rows.astype(np.int64) + first_line, rejected


def _python_columns(
    block: bytes, starts: np.ndarray, stops: np.ndarray, header: _Header
) -> dict[str, pa.StringArray]:
    cells: dict[str, list[str]] = {name: [] for name in header.index}
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        values = next(csv.reader([block[a:b].decode("utf-8")]), [])
        for name, i in header.index.items():
            cells[name].append(values[i] if i < len(values) else "")
    return {name: pa.array(values, pa.string()) for name, values in cells.items()}


def _drop_header_repeats(
    columns: dict[str, pa.StringArray], lines: np.ndarray, header: _Header
) -> tuple[dict[str, pa.StringArray], np.ndarray]:
    if not columns or lines.size == 0:
        return columns, lines
    repeat = None
    for name, col in columns.items():
        name_written = header.written[name]
        same = pc.or_(
            pc.equal(col, name_written), pc.equal(col, "\ufeff" + name_written)
        )  # files joined by cat
        repeat = same if repeat is None else pc.and_(repeat, same)
    assert repeat is not None
    mask = np.asarray(repeat.to_numpy(zero_copy_only=False), dtype=bool)
    if not mask.any():
        return columns, lines
    keep = pa.array(~mask)
    return {name: col.filter(keep) for name, col in columns.items()}, lines[~mask]


def _may_repeat_header(block: bytes, first: bytes) -> bool:
    """Whether some line of the block starts with the header's first name (else there is no repeat to drop)."""
    return any(m + first in block for m in (b"\n", b'\n"', b"\n" + BOM)) or block.lstrip(
        b'"' + BOM
    ).startswith(first)


def _parse_block(block: bytes, first_line: int, header: _Header, last_is_file_end: bool) -> CsvTable:
    """Rows of a block of whole lines (the header excluded) whose first line is `first_line`."""
    arr = np.frombuffer(block, np.uint8)
    if arr.size == 0:
        empty = np.zeros(0, np.int64)
        return CsvTable(
            header.path, header.names, _empty(header), empty, [], None, block, first_line, empty, empty
        )
    bounds = _line_bounds(arr)
    starts, ends, _ = bounds
    columns = None
    rejected: list[Rejected]
    if block.find(b"\0") < 0 and (block.isascii() or _is_utf8(block)):
        try:
            table = _arrow(block, header, int((ends - starts).max()))
            blank = _blank(arr, starts, ends)
            if table.num_rows == int((~blank).sum()):
                columns, lines, rejected = _columns(table, header), np.flatnonzero(~blank) + first_line, []
        except pa.ArrowInvalid:
            pass
    if columns is None:
        columns, lines, rejected = _careful(block, arr, bounds, first_line, header, last_is_file_end)
    if header.first and _may_repeat_header(block, header.first):
        columns, lines = _drop_header_repeats(columns, lines, header)
    cut = first_line + starts.size - 1 if last_is_file_end and not bounds[2][-1] else None
    return CsvTable(
        header.path,
        header.names,
        columns,
        lines.astype(np.int64),
        rejected,
        cut,
        block,
        first_line,
        starts,
        ends,
    )


def _split_header(data: bytes, path: str, expected: str) -> tuple[bytes, int, int]:
    """(header line, its 1-based number, offset of the line after it) of the start of a file."""
    check_text(data[:65536], path, expected)
    pos = len(BOM) if data.startswith(BOM) else 0
    line = 1
    while True:
        end = data.find(b"\n", pos)
        text = data[pos : len(data) if end < 0 else end]
        if text.strip():
            return text.rstrip(b"\r"), line, len(data) if end < 0 else end + 1
        if end < 0:
            raise InputError(f"empty file (expected {expected})", file=path)
        pos, line = end + 1, line + 1


def read_csv(data: bytes, path: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
    """A whole file already in memory."""
    expected = f"a CSV file with the header {','.join(columns)}"
    header_line, number, body = _split_header(data, path, expected)
    header = _header(path, header_line, columns, optional)
    return _parse_block(data[body:], number + 1, header, last_is_file_end=True)


def iter_csv(
    stream: IO[bytes],
    path: str,
    columns: tuple[str, ...],
    optional: tuple[str, ...] = (),
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[CsvTable]:
    """A file read from a stream in blocks of at least chunk_bytes, each ending at a line end."""
    expected = f"a CSV file with the header {','.join(columns)}"
    pending, eof = b"", False

    def fill() -> None:
        nonlocal pending, eof
        while not eof and (len(pending) < chunk_bytes or b"\n" not in pending):
            more = stream.read(chunk_bytes - len(pending) if len(pending) < chunk_bytes else chunk_bytes)
            if not more:
                eof = True
            pending += more

    fill()
    header_line, number, body = _split_header(pending, path, expected)
    header = _header(path, header_line, columns, optional)
    pending, line = pending[body:], number + 1
    while True:
        fill()
        cut = len(pending) if eof else pending.rfind(b"\n") + 1
        block, pending = pending[:cut], pending[cut:]
        if block:
            yield _parse_block(block, line, header, last_is_file_end=eof)
        line += block.count(b"\n")
        if eof:
            return


def read_header(tree: InputTree, path: str) -> list[str] | None:
    """The names in a file's first non-blank line, or None when it cannot be a CSV header (to claim files)."""
    try:
        head = tree.head(path)
    except InputError:
        return None
    lines = head.removeprefix(BOM).splitlines()
    first = next((line for line in lines if line.strip()), b"")
    if b"\0" in first or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    csv.field_size_limit(1 << 30)
    return [
        name.strip().strip('"').strip() for name in next(csv.reader([first.decode("utf-8", "replace")]), [])
    ]
