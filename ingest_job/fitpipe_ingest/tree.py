"""An input to ingest, as a tree of files: a directory or a .zip archive, read the same way."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from fitpipe.errors import InputError

__all__ = ["InputTree", "open_tree"]


class InputTree:
    """Files below a root, named by POSIX paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def paths(self) -> list[str]:
        raise NotImplementedError

    def size(self, path: str) -> int:
        raise NotImplementedError

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        raise NotImplementedError
        yield  # pragma: no cover

    def read_bytes(self, path: str) -> bytes:
        with self.open(path) as fh:
            return fh.read()

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

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        with self.open(path) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def close(self) -> None:
        pass


class DirectoryTree(InputTree):
    def paths(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )

    def size(self, path: str) -> int:
        return (self.root / path).stat().st_size

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        try:
            fh = (self.root / path).open("rb")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=path) from None
        with fh:
            yield fh


class ZipTree(InputTree):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        try:
            self._zip = zipfile.ZipFile(root)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a readable .zip archive: {exc}", file=str(root)) from None

    def paths(self) -> list[str]:
        return sorted(
            info.filename
            for info in self._zip.infolist()
            if not info.is_dir()
            and not any(
                part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(info.filename).parts
            )
        )

    def size(self, path: str) -> int:
        return self._zip.getinfo(path).file_size

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        """Streams the member (a 140 MB heart-rate CSV is not unpacked to read its header)."""
        try:
            fh = self._zip.open(path)
        except (KeyError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InputError(f"cannot read from the archive: {exc}", file=path) from None
        with fh:
            try:
                yield fh
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise InputError(f"the archive is damaged: {exc}", file=path) from None

    def close(self) -> None:
        self._zip.close()


def open_tree(path: Path) -> InputTree:
    """A directory, a .zip, or a single file (then the tree holds just that file)."""
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="check the path given to `fitpipe ingest`")
    if path.is_dir():
        return DirectoryTree(path)
    if zipfile.is_zipfile(path):
        return ZipTree(path)
    return _SingleFileTree(path)


class _SingleFileTree(DirectoryTree):
    def __init__(self, file: Path) -> None:
        super().__init__(file.parent)
        self.label = str(file)
        self._name = file.name

    def paths(self) -> list[str]:
        return [self._name]
