"""Files of an input, each read once: an unchanged file is skipped without being opened, a file touched but not
changed is read once and then known by its stamp, and an input with nothing in it is loud."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe_ingest import tree as tree_module

pytestmark = pytest.mark.db

WEARIPEDIA = Path(__file__).resolve().parents[2] / "fixtures" / "wearipedia" / "challenge"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Bytes read from disk per file name, whatever reads them."""
    counts: Counter[str] = Counter()
    real = tree_module._file_opener

    def counting(path: Path) -> Callable[[], IO[bytes]]:
        opener = real(path)

        def open_counted() -> IO[bytes]:
            fh = opener()
            raw_read = fh.read

            def read(n: int = -1) -> bytes:
                data = raw_read(n)
                counts[path.name] += len(data)
                return data

            fh.read = read  # type: ignore[method-assign]  # count what whoever holds the file reads
            return fh

        return open_counted

    monkeypatch.setattr(tree_module, "_file_opener", counting)
    return counts


def ingest(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ingest", *args])
    return result.exit_code, result.output


def test_each_file_is_read_once_and_an_unchanged_one_not_at_all(
    fitpipe_env: Path, database_url: str, tmp_path: Path, reads: Counter[str]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "P1", "s1", timezone="America/New_York")
    export = tmp_path / "export"
    shutil.copytree(WEARIPEDIA, export)
    sizes = {p.name: p.stat().st_size for p in export.iterdir()}
    code, out = ingest(str(export), "--participant", "P1")
    assert code == 0 and "6 loaded" in out, out
    assert dict(reads) == sizes, "sniffing the header, hashing and parsing read each file once"

    reads.clear()
    code, out = ingest(str(export), "--participant", "P1")
    assert code == 0 and "0 loaded, 6 unchanged" in out, out
    assert dict(reads) == {}, "unchanged (same size and modification time): not opened"

    touched = export / "activity.csv"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 1_000_000_000))
    reads.clear()
    code, out = ingest(str(export), "--participant", "P1")
    assert code == 0 and "0 loaded, 6 unchanged" in out, out
    assert dict(reads) == {"activity.csv": sizes["activity.csv"]}, "touched: read once, its hash is the same"
    reads.clear()
    assert ingest(str(export), "--participant", "P1")[0] == 0
    assert dict(reads) == {}, "and its new stamp is remembered"


def test_an_input_without_files_is_loud(fitpipe_env: Path, database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "P1", "s1", timezone="UTC")
    (tmp_path / "empty").mkdir()
    code, out = ingest(str(tmp_path / "empty"), "--participant", "P1")
    assert code == 6
    assert "nothing was loaded:\n  the input holds no files" in out
