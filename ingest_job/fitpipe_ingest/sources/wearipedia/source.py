"""The wearipedia source: which files it reads (by name, confirmed by the header) and how a file's rows are read.

Rows are read with the toolkit's CSV reader; each row's cells go to the reader of its file kind.
A row that cannot be read as a whole is one quarantine record naming the line; a cell that is empty,
None or nan as a whole is pandas' mark of a day without data and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from fitpipe.catalog import BY_NAME
from fitpipe.errors import InputError
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import read_header
from fitpipe_ingest.sources.wearipedia.cells import BadRow, Out, Row
from fitpipe_ingest.sources.wearipedia.daily import BREATHING, read_activity, read_breathing_rate
from fitpipe_ingest.sources.wearipedia.heart_rate import HR_ZONES, read_heart_rate
from fitpipe_ingest.sources.wearipedia.minutes import AZM, HRV, read_active_zone_minutes, read_hrv, read_spo2
from fitpipe_ingest.tree import InputTree

__all__ = ["FILE_KINDS", "FileKind", "WearipediaSource", "SOURCE"]


@dataclass(frozen=True)
class FileKind:
    """One wearipedia CSV: the names it is saved under, the columns it must have and its row reader."""

    name: str
    file_names: tuple[str, ...]
    columns: tuple[str, ...]
    read_row: Callable[[Row, Out], None]

    def describe(self) -> str:
        return f"{self.name} (wearipedia CSV)"


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("activity", ("activity.csv",), ("dateTime", "value"), read_activity),
    FileKind("heart_rate", ("heart_rate.csv", "hr.csv"), ("heart_rate_day",), read_heart_rate),
    FileKind("spo2", ("spo2.csv",), ("dateTime", "minutes"), read_spo2),
    FileKind("hrv", ("hrv.csv",), ("hrv",), read_hrv),
    FileKind("breathing_rate", ("breathing_rate.csv", "br.csv"), ("br",), read_breathing_rate),
    FileKind(
        "active_zone_minutes",
        ("active_zone_minutes.csv", "azm.csv"),
        ("activities-active-zone-minutes-intraday",),
        read_active_zone_minutes,
    ),
)
_BY_FILE_NAME = {name: kind for kind in FILE_KINDS for name in kind.file_names}
_ORDER = {kind.name: i for i, kind in enumerate(FILE_KINDS)}
_USER_ID = "user_id"
_NO_DATA = (b"", b"None", b"nan", b"NaN")
"""What pandas writes for a missing cell: the row holds no data (not an error)."""

# every metric named above must be in the catalog; a typo fails at import, not at load time
assert {
    "steps",
    "heart_rate",
    "resting_heart_rate",
    "spo2",
    *BREATHING.values(),
    *HR_ZONES.values(),
    *(m for m, _ in AZM.values()),
    *(m for m, _ in HRV.values()),
} <= BY_NAME.keys()


def _kind_of(path: str) -> FileKind | None:
    return _BY_FILE_NAME.get(PurePosixPath(path).name.lower())


def _has_header(tree: InputTree, path: str, kind: FileKind) -> bool:
    header = read_header(tree, path)
    return header is not None and all(c in header for c in kind.columns)


class WearipediaSource(FileSource):
    name = "wearipedia"
    description = "CSVs written by the challenge notebook from wearipedia's synthetic Fitbit Charge 6 data"

    def claims(self, tree: InputTree, path: str) -> bool:
        """A wearipedia name with its header; or a wearipedia name beside another wearipedia file that has
        its header (then a wrong header is a damaged file of this export, reported as such)."""
        kind = _kind_of(path)
        if kind is None:
            return False
        if _has_header(tree, path, kind):
            return True
        folder = PurePosixPath(path).parent
        return any(
            other != path
            and PurePosixPath(other).parent == folder
            and (k := _kind_of(other)) is not None
            and _has_header(tree, other, k)
            for other in tree.paths()
        )

    def load_order(self, paths: list[str]) -> list[str]:
        return sorted(paths, key=lambda p: (_ORDER[k.name] if (k := _kind_of(p)) else len(_ORDER), p))

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        kind = _kind_of(path)
        if kind is None:
            raise InputError(
                "not a wearipedia file name",
                file=path,
                hint="wearipedia files are named " + ", ".join(sorted(_BY_FILE_NAME)),
            )
        c = Collector(path, kind.describe(), ctx)
        try:
            table = c.read_csv(tree, kind.columns, optional=(_USER_ID,))
        except InputError as exc:
            if "header" not in exc.message:
                raise
            raise InputError(
                f"{exc.message.split(': ', 1)[-1]}: a wearipedia {kind.name} file has the column(s) "
                f"{', '.join(kind.columns)} (and optionally {_USER_ID})",
                file=path,
                line=1,
                hint="check that the file was saved with pd.DataFrame(data).to_csv(index=False) under its own name",
            ) from None
        out = Out(c)
        last = kind.columns[-1]
        for r in range(len(table)):
            number = int(table.lines[r])
            participant = _participant(table.cell_bytes(_USER_ID, r)) if _USER_ID in table.columns else None
            try:
                cells = {column: table.cell_bytes(column, r) for column in kind.columns}
                if cells[last].strip() in _NO_DATA:
                    continue
                kind.read_row(Row(number, cells, participant), out)
            except BadRow as bad:
                reason = bad.reason
                if number == table.cut_line:  # pandas ends every file it writes with a newline
                    reason += " (the file ends inside this line; copy the file again)"
                out.reject(
                    f"line {number}",
                    bad.field or ",".join(kind.columns),
                    reason,
                    bad.raw,
                    participant,
                    bad.kind,
                )
        return out.finish()


def _participant(cell: bytes) -> str | None:
    text = cell.decode("utf-8", "replace").strip()
    return None if text in ("", "None", "nan") else text


SOURCE = WearipediaSource()
