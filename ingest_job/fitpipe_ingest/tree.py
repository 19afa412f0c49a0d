"""An input to ingest, as a tree of files: a directory, a .zip archive or one file, read the same way.

Archives are folders: a .zip found anywhere (inside a directory or inside another archive) lists its
members under its own name (`exports/takeout.zip/Takeout/Fitbit/…`), so a participant's inbox may
hold exports in any mix and nesting. Paths are POSIX and relative to what was ingested.

What is never read, and is listed by `skipped()` with the reason instead of being dropped silently:
- symbolic links (in a directory or stored in an archive) and special files: not followed, so an
  input cannot make fitpipe read (and quarantine, and show) files outside it;
- archive members whose name is absolute or climbs out with `..`;
- encrypted members, archives that cannot be read, archives nested deeper than `max_depth`;
- a file or member larger than `max_file_bytes` once decompressed, a member compressed more than
  `max_ratio`:1 (zip bombs), and members beyond `max_archive_bytes` decompressed in one archive.
Hidden files and folders (`.DS_Store`, `.git`) and `__MACOSX` are ignored.

Each file is read once: `stamp` (size and modification time, or a member's size and CRC-32) lets an
unchanged file be skipped unread; a full read records the file's SHA-256 on the way (`sha256`), and
`hold` keeps a small file's bytes for the parser after its hash was checked.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from fitpipe.errors import InputError

__all__ = ["InputTree", "DirectoryTree", "ZipTree", "TreeLimits", "open_tree"]

_GiB = 1 << 30


@dataclass(frozen=True)
class TreeLimits:
    max_file_bytes: int = 20 * _GiB
    """Largest file or archive member read, decompressed."""
    max_archive_bytes: int = 100 * _GiB
    """Most bytes decompressed from one archive (nested ones included)."""
    max_ratio: int = 1000
    """Largest compression ratio of a member bigger than 64 MiB (text compresses 5-50:1; bombs far more)."""
    max_depth: int = 3
    """Archives inside archives, this deep at most."""


@dataclass
class _Entry:
    size: int
    stamp: str
    open: Callable[[], IO[bytes]]


class _Hashing:
    """A read-only stream that hashes what passes and reports the digest if it is read to the end."""

    def __init__(self, raw: IO[bytes], done: Callable[[str], None]) -> None:
        self._raw, self._done = raw, done
        self._digest = hashlib.sha256()
        self._sequential = True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._sequential:
            self._digest.update(data)
            if not data or n is None or n < 0:
                self._done(self._digest.hexdigest())
                self._sequential = False
        return data

    def readline(self, limit: int = -1) -> bytes:
        self._sequential = False  # a peek at the first line: no hash
        return self._raw.readline(limit)

    def close(self) -> None:
        self._raw.close()


class InputTree:
    """Files below a root, named by POSIX paths relative to it."""

    def __init__(self, root: Path, limits: TreeLimits | None = None) -> None:
        self.root = root
        self.label = str(root)
        self.limits = limits or TreeLimits()
        self._entries: dict[str, _Entry] = {}
        self._skipped: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._held: tuple[str, bytes] | None = None
        self._heads: dict[str, bytes] = {}
        self._head_bytes = 0
        self._closers: list[Callable[[], None]] = []

    # --- what is in it ---------------------------------------------------------------------------

    def paths(self) -> list[str]:
        return sorted(self._entries)

    def skipped(self) -> list[tuple[str, str]]:
        """(path, why) of everything found that is not read."""
        return sorted(self._skipped.items())

    def size(self, path: str) -> int:
        return self._entry(path).size

    def stamp(self, path: str) -> str:
        """A cheap identity (no read): it changes when the file does, in practice."""
        return self._entry(path).stamp

    def _entry(self, path: str) -> _Entry:
        try:
            return self._entries[path]
        except KeyError:
            found = self._late(path)
            if found is None:
                raise InputError("no such file in the input", file=path) from None
            return found

    def _late(self, path: str) -> _Entry | None:
        """A file that appeared after the tree was listed (directories only; never through a link)."""
        return None

    # --- reading -----------------------------------------------------------------------------------

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        """Streams the file (a 140 MB heart-rate CSV in a zip is not unpacked to read its header)."""
        try:
            raw = self._entry(path).open()
        except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as exc:
            raise InputError(f"cannot read it: {exc}", file=path) from None
        stream = _Hashing(raw, lambda digest: self._hashes.__setitem__(path, digest))
        try:
            yield stream  # type: ignore[misc]  # _Hashing has the read/readline/close that readers use
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise InputError(f"the archive is damaged: {exc}", file=path) from None
        except OSError as exc:
            raise InputError(f"cannot read it: {exc}", file=path) from None
        finally:
            stream.close()

    def read_bytes(self, path: str) -> bytes:
        if self._held is not None and self._held[0] == path:
            return self._held[1]
        whole = self._heads.get(path)
        if whole is not None and len(whole) == self.size(path):  # sniffed whole already: no second read
            return whole
        with self.open(path) as fh:
            return fh.read()

    HEAD_BYTES = 65536
    """What sources read of a file to tell whether it is theirs (a CSV header, say)."""
    _HEAD_CACHE = 32 << 20

    def head(self, path: str) -> bytes:
        """The file's first HEAD_BYTES (all of a smaller file, hashed on the way), read once for every source
        that asks; a small file's head is also what read_bytes returns, so it is not read again."""
        if path in self._heads:
            return self._heads[path]
        with self.open(path) as fh:
            data = fh.read() if self.size(path) <= self.HEAD_BYTES else fh.read(self.HEAD_BYTES)
        if self._head_bytes + len(data) <= self._HEAD_CACHE:
            self._heads[path] = data
            self._head_bytes += len(data)
        return data

    def read_text(self, path: str) -> str:
        data = self.read_bytes(path)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})",
                file=path,
                hint="re-export the file as UTF-8",
            ) from None

    def hold(self, path: str) -> bytes:
        """Read a file once and keep its bytes for the next read_bytes of it (its hash is then known)."""
        self._held = None
        data = self.read_bytes(path)
        self._held = (path, data)
        return data

    def release(self) -> None:
        self._held = None

    def known_sha256(self, path: str) -> str | None:
        """The SHA-256 of a file that was read to the end, without reading it."""
        return self._hashes.get(path)

    def sha256(self, path: str) -> str:
        if path not in self._hashes:
            with self.open(path) as fh:
                while fh.read(1 << 20):
                    pass
        return self._hashes[path]

    def close(self) -> None:
        self._held = None
        self._heads.clear()
        for close in reversed(self._closers):
            close()
        self._closers.clear()

    def __enter__(self) -> InputTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- building ----------------------------------------------------------------------------------

    def _add_directory(self, folder: Path, prefix: str, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self._skipped[prefix or "."] = f"cannot list the folder: {exc.strerror}"
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = prefix + entry.name
            if entry.is_symlink():
                self._skipped[path] = f"a symbolic link (to {os.readlink(entry.path)}): not followed"
            elif entry.is_dir(follow_symlinks=False):
                self._add_directory(Path(entry.path), path + "/", depth)
            elif not entry.is_file(follow_symlinks=False):
                self._skipped[path] = "not a regular file (a device, socket or pipe): not read"
            else:
                st = entry.stat(follow_symlinks=False)
                if st.st_size > self.limits.max_file_bytes:
                    self._skipped[path] = _too_big(st.st_size, self.limits)
                elif path.lower().endswith(".zip"):
                    self._add_archive(
                        Path(entry.path), path + "/", depth + 1, budget=[self.limits.max_archive_bytes]
                    )
                else:
                    self._entries[path] = _Entry(
                        st.st_size, f"{st.st_size}:{st.st_mtime_ns}", _file_opener(Path(entry.path))
                    )

    def _add_archive(self, source: Path | IO[bytes], prefix: str, depth: int, budget: list[int]) -> None:
        where = prefix.rstrip("/") or self.label
        if depth > self.limits.max_depth:
            self._skipped[where] = f"an archive nested more than {self.limits.max_depth} deep: not opened"
            return
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            if not prefix:
                raise InputError(f"not a readable .zip archive: {exc}", file=str(self.root)) from None
            self._skipped[where] = f"not a readable .zip archive: {exc}"
            return
        self._closers.append(archive.close)
        seen: set[str] = set()
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            path = prefix + name
            if info.is_dir() or any(p.startswith(".") and p != ".." or p == "__MACOSX" for p in parts):
                continue
            if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
                self._skipped[path] = "an unsafe path in the archive (absolute or with ..): not read"
            elif stat.S_ISLNK(info.external_attr >> 16):
                self._skipped[path] = "a symbolic link stored in the archive: not followed"
            elif info.flag_bits & 0x1:
                self._skipped[path] = "encrypted: fitpipe cannot read it"
            elif path in seen:
                self._skipped[path] = "a second member of the same name in the archive: not read"
            elif info.file_size > self.limits.max_file_bytes:
                self._skipped[path] = _too_big(info.file_size, self.limits)
            elif info.file_size > 64 << 20 and info.file_size > self.limits.max_ratio * max(
                info.compress_size, 1
            ):
                self._skipped[path] = (
                    f"compressed {info.file_size // max(info.compress_size, 1):,}:1, more than the limit of "
                    f"{self.limits.max_ratio}:1 (FITPIPE_INGEST_MAX_COMPRESSION_RATIO): not read"
                )
            elif info.file_size > budget[0]:
                self._skipped[path] = (
                    f"the archive holds more than {self.limits.max_archive_bytes:,} bytes decompressed "
                    "(FITPIPE_INGEST_MAX_ARCHIVE_BYTES): not read"
                )
            else:
                seen.add(path)
                budget[0] -= info.file_size
                if name.lower().endswith(".zip"):
                    self._add_nested(archive, info, path + "/", depth + 1, budget)
                else:
                    self._entries[path] = _Entry(
                        info.file_size, f"{info.file_size}:{info.CRC:08x}", _member_opener(archive, info)
                    )

    def _add_nested(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str, depth: int, budget: list[int]
    ) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - the tree closes it
        self._closers.append(spool.close)
        try:
            with archive.open(info) as member:
                while block := member.read(1 << 20):
                    spool.write(block)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError) as exc:
            self._skipped[prefix.rstrip("/")] = f"cannot be unpacked: {exc}"
            return
        spool.seek(0)
        self._add_archive(spool, prefix, depth, budget)


def _too_big(size: int, limits: TreeLimits) -> str:
    return (
        f"{size:,} bytes, more than the limit of {limits.max_file_bytes:,} "
        "(FITPIPE_INGEST_MAX_FILE_BYTES): not read"
    )


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    def open_file() -> IO[bytes]:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # swapped for a link since listed?
        return os.fdopen(fd, "rb")

    return open_file


def _member_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(info)


class DirectoryTree(InputTree):
    def __init__(self, root: Path, limits: TreeLimits | None = None) -> None:
        super().__init__(root, limits)
        self._add_directory(root, "", 0)

    def _late(self, path: str) -> _Entry | None:
        file = self.root / path
        if ".." in PurePosixPath(path).parts or any(
            p.is_symlink() for p in (file, *file.parents) if self.root in p.parents or p == file
        ):
            return None
        try:
            st = file.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > self.limits.max_file_bytes:
            return None
        self._entries[path] = _Entry(st.st_size, f"{st.st_size}:{st.st_mtime_ns}", _file_opener(file))
        return self._entries[path]


class ZipTree(InputTree):
    def __init__(self, root: Path, limits: TreeLimits | None = None) -> None:
        super().__init__(root, limits)
        self._add_archive(root, "", 1, budget=[self.limits.max_archive_bytes])


class _SingleFileTree(InputTree):
    def __init__(self, file: Path, limits: TreeLimits | None = None) -> None:
        super().__init__(file.parent, limits)
        self.label = str(file)
        st = file.stat()
        if st.st_size > self.limits.max_file_bytes:
            self._skipped[file.name] = _too_big(st.st_size, self.limits)
        else:
            self._entries[file.name] = _Entry(
                st.st_size, f"{st.st_size}:{st.st_mtime_ns}", _file_opener(file)
            )


def open_tree(path: Path, limits: TreeLimits | None = None) -> InputTree:
    """A directory, a .zip, or a single file (then the tree holds just that file)."""
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="check the path given to `fitpipe ingest`")
    if path.is_dir():
        return DirectoryTree(path, limits)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return ZipTree(path, limits)
    return _SingleFileTree(path, limits)
