"""Input trees: what is listed, what is reported as not read (and why), nested archives, the stated limits, and
each file read once."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path
from typing import IO

import pytest

from fitpipe.errors import InputError
from fitpipe_ingest.tree import DirectoryTree, TreeLimits, ZipTree, open_tree


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def encrypted(archive: bytes, name: bytes) -> bytes:
    """The archive with the member `name` flagged as encrypted in its central directory (zipfile writes no
    encrypted members itself)."""
    data = bytearray(archive)
    at = data.index(b"PK\x01\x02" + data[data.index(b"PK\x01\x02") + 4 : data.index(b"PK\x01\x02") + 4])
    while at >= 0:
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        if bytes(data[at + 46 : at + 46 + length]) == name:
            data[at + 8] |= 0x1
        at = data.find(b"PK\x01\x02", at + 46)
    return bytes(data)


def test_links_special_files_and_hidden_files_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("secret")
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.csv").write_text("a")
    (root / ".DS_Store").write_text("x")
    (root / "file-link.csv").symlink_to(outside / "secret.csv")
    (root / "dir-link").symlink_to(outside)
    os.mkfifo(root / "pipe.csv")
    tree = DirectoryTree(root)
    assert tree.paths() == ["sub/a.csv"]
    assert tree.skipped() == [
        ("dir-link", f"a symbolic link (to {outside}): not followed"),
        ("file-link.csv", f"a symbolic link (to {outside / 'secret.csv'}): not followed"),
        ("pipe.csv", "not a regular file (a device, socket or pipe): not read"),
    ]
    with pytest.raises(InputError, match="no such file"):
        tree.read_bytes("file-link.csv")


def test_archives_anywhere_are_folders_and_unsafe_members_are_reported(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("link.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Takeout/Fitbit/a.json", b"[]")
        zf.writestr("../../up.csv", b"x")
        zf.writestr("/abs.csv", b"x")
        zf.writestr("__MACOSX/._a.json", b"x")
        zf.writestr(link, b"/etc/passwd")
        zf.writestr("secret.csv", b"x")
        zf.writestr("inner.zip", zip_bytes({"deep/b.csv": b"b", "../c.csv": b"c"}))
        zf.writestr("broken.zip", b"PK\x03\x04 not a zip")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("Takeout/Fitbit/a.json", b"[1]")
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "export.zip").write_bytes(encrypted(buf.getvalue(), b"secret.csv"))
    tree = DirectoryTree(tmp_path)
    assert tree.paths() == [
        "uploads/export.zip/Takeout/Fitbit/a.json",
        "uploads/export.zip/inner.zip/deep/b.csv",
    ]
    assert tree.read_bytes("uploads/export.zip/inner.zip/deep/b.csv") == b"b"
    why = dict(tree.skipped())
    unsafe = "an unsafe path in the archive (absolute or with ..): not read"
    assert why == {
        "uploads/export.zip/../../up.csv": unsafe,
        "uploads/export.zip//abs.csv": unsafe,
        "uploads/export.zip/inner.zip/../c.csv": unsafe,
        "uploads/export.zip/link.csv": "a symbolic link stored in the archive: not followed",
        "uploads/export.zip/secret.csv": "encrypted: fitpipe cannot read it",
        "uploads/export.zip/broken.zip": "not a readable .zip archive: File is not a zip file",
        "uploads/export.zip/Takeout/Fitbit/a.json": why["uploads/export.zip/Takeout/Fitbit/a.json"],
    }
    assert "second member of the same name" in why["uploads/export.zip/Takeout/Fitbit/a.json"]
    tree.close()


def test_decompressed_size_limits_are_stated_and_kept(tmp_path: Path) -> None:
    bomb = b"\0" * (65 << 20)  # 65 MiB of zeros, about 64 kB compressed
    (tmp_path / "in.zip").write_bytes(
        zip_bytes({"bomb.csv": bomb, "a.csv": b"a" * 5000, "b.csv": b"b" * 5000, "c.csv": b"c" * 10})
    )
    limits = TreeLimits(max_file_bytes=6000, max_archive_bytes=8000, max_ratio=100)
    with ZipTree(tmp_path / "in.zip", limits) as tree:
        assert tree.paths() == ["a.csv", "c.csv"]
        skipped = dict(tree.skipped())
    assert skipped == {
        "bomb.csv": "68,157,440 bytes, more than the limit of 6,000 (FITPIPE_INGEST_MAX_FILE_BYTES): not read",
        "b.csv": "the archive holds more than 8,000 bytes decompressed (FITPIPE_INGEST_MAX_ARCHIVE_BYTES): not read",
    }
    with ZipTree(tmp_path / "in.zip", TreeLimits(max_ratio=100)) as tree:
        ratio = dict(tree.skipped())
    assert ratio["bomb.csv"].startswith("compressed ") and "more than the limit of 100:1" in ratio["bomb.csv"]


def test_archives_nest_three_deep_at_most(tmp_path: Path) -> None:
    data = b"x"
    for level in range(5, 0, -1):
        data = zip_bytes({f"l{level}.csv": b"csv", f"z{level}.zip": data})
    (tmp_path / "top.zip").write_bytes(data)
    with open_tree(tmp_path / "top.zip") as tree:
        assert tree.paths() == ["l1.csv", "z1.zip/l2.csv", "z1.zip/z2.zip/l3.csv"]
        assert tree.skipped() == [("z1.zip/z2.zip/z3.zip", "an archive nested more than 3 deep: not opened")]


def test_a_damaged_archive_given_as_the_input_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "export.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match="export.zip: not a readable .zip archive"):
        open_tree(tmp_path / "export.zip")


def test_stamps_change_with_the_file_and_a_full_read_knows_its_hash(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"hello")
    tree = DirectoryTree(tmp_path)
    stamp = tree.stamp("a.csv")
    assert stamp.startswith("5:")
    assert tree.known_sha256("a.csv") is None
    assert tree.read_bytes("a.csv") == b"hello"
    assert tree.known_sha256("a.csv") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    (tmp_path / "a.csv").write_bytes(b"hello, world")
    assert DirectoryTree(tmp_path).stamp("a.csv") != stamp
    (tmp_path / "b.zip").write_bytes(zip_bytes({"m.csv": b"hello"}))
    with ZipTree(tmp_path / "b.zip") as archive:
        assert archive.stamp("m.csv") == "5:3610a686"


def test_a_small_file_sniffed_and_parsed_is_read_from_disk_once(tmp_path: Path) -> None:
    (tmp_path / "drop.csv").write_bytes(
        b"participant,metric,timestamp,value\nP1,heart_rate,2024-01-01T00:00:00Z,70\n"
    )
    tree = DirectoryTree(tmp_path)
    opened: list[str] = []
    entry = tree._entries["drop.csv"]
    real_open = entry.open

    def counted_open() -> IO[bytes]:
        opened.append("drop.csv")
        return real_open()

    entry.open = counted_open
    assert tree.head("drop.csv").startswith(b"participant")  # a source asks whether the file is theirs
    tree.hold("drop.csv")  # the pipeline checks its hash against the manifest
    assert tree.read_bytes("drop.csv").endswith(b"70\n")  # the parser reads it
    assert tree.sha256("drop.csv") and opened == ["drop.csv"]
