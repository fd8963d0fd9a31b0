"""A build's graph.nq, opened once, checked against its build's record and held open.

Both embedded backends load their workers from this file (:class:`_PinnedDump`), the on-disk
oxigraph store is filled from it (:func:`load_build_into`), and a remote store is pushed from
it. Holding the file open rather than its path is what lets a rebuild swap a new build into
the folder while a server keeps serving the one it opened (see :class:`_PinnedDump`).
"""

from __future__ import annotations

import io
import json
import os
import stat
import weakref
from pathlib import Path

import pyoxigraph as ox

from ..errors import BuildDamaged, BuildNotFound, StoreError

DUMP_NAME = "graph.nq"


class _PreadFile(io.RawIOBase):
    """A file read through a descriptor that other processes share, at its own offset (pread)."""

    def __init__(self, fd: int, name: str):
        super().__init__()
        self._fd, self._offset = fd, 0
        self.name = name  # rdflib names its source after it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = os.pread(self._fd, len(buffer), self._offset)
        buffer[:len(data)] = data
        self._offset += len(data)
        return len(data)


def _fd_source(fd: int, name: str) -> str | io.BufferedReader:
    """A path (Linux: /proc/self/fd/N, a fresh open of the same file) or a file to read ``fd`` from."""
    reopened = f"/proc/self/fd/{fd}"
    if os.path.exists(reopened):
        return reopened
    return io.BufferedReader(_PreadFile(fd, name), 1 << 20)


class _PinnedDump:
    """The graph.nq of one build, opened and checked once, held open for a store's life.

    A store serves the build it opened: every worker, the first ones and those started later
    to replace one, loads this open file (inherited descriptor), never the path again. A
    rebuild that swaps another build into the folder and deletes this one changes nothing for
    them: the file's data stay on disk, unnamed, until the store closes. (A plain folder and a
    descriptor, rather than versioned folders kept until no store uses them: nothing to track
    or to clean up after a killed server; see kg.build.swap_in.)

    Before anything loads it, the file is checked against the size, quad count and SHA-256
    that the build recorded in report.json (``files``): a graph.nq cut short or changed is
    refused (:class:`BuildDamaged`). A build without that record (written before it existed,
    or by hand) is loaded unchecked. The check reads the file once (0.35 s at a million
    triples), which also brings it into the page cache the workers read next.
    """

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path
        self.size = os.fstat(fd).st_size
        self._close = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, build_dir) -> _PinnedDump:
        folder = Path(build_dir)
        try:
            for _ in range(10):
                fd, report = _open_build(folder)
                if fd is not None:
                    break
            else:
                raise StoreError(f"The build at {folder} kept changing while it was opened: try again.")
            pinned = cls(fd, folder / DUMP_NAME)
            try:
                pinned.check(report)
            except BaseException:
                pinned.close()
                raise
        except OSError as error:
            raise StoreError(f"Cannot read the build at {folder}: {error}") from None
        return pinned

    def check(self, report: bytes | None) -> None:
        from ..build import dump_record

        record = _recorded(report, self.path.with_name("report.json"))
        if record is None:
            return
        rebuild = ("It was cut short or changed after the build: rebuild it with 'kg build' (a store "
                   "refuses to load it).")
        if self.size != record["bytes"]:
            raise BuildDamaged(f"{self.path} is {self.size:,} bytes, but its build wrote {record['bytes']:,} "
                               f"(report.json). {rebuild}")
        found = dump_record(self.fd)
        if found["quads"] != record["quads"]:
            raise BuildDamaged(f"{self.path} holds {found['quads']:,} quads, but its build wrote "
                               f"{record['quads']:,} (report.json). {rebuild}")
        if found["sha256"] != record["sha256"]:
            raise BuildDamaged(f"{self.path} does not have the SHA-256 its build recorded in report.json "
                               f"({found['sha256']} instead of {record['sha256']}). {rebuild}")

    def where(self) -> dict:
        """``path=`` or ``input=`` for pyoxigraph's parse and bulk_load: this file, from its start."""
        source = _fd_source(self.fd, str(self.path))
        return {"path": source} if isinstance(source, str) else {"input": source}

    def close(self) -> None:
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open_build(folder: Path) -> tuple[int | None, bytes | None]:
    """graph.nq opened and report.json read, both from one build; (None, None) if it was swapped meanwhile.

    Both are opened through one descriptor of the folder: a build swapped in between gives the
    two files of the old build or of the new one, never one of each.
    """
    directory = getattr(os, "O_DIRECTORY", 0)
    by_folder = os.open in os.supports_dir_fd
    try:
        dir_fd = os.open(folder, os.O_RDONLY | directory) if by_folder else None
    except (FileNotFoundError, NotADirectoryError):
        dir_fd = None
        if not folder.is_dir():
            raise BuildNotFound(f"There is no build at {folder}: run 'kg build' first.") from None
    if dir_fd is None:
        by_folder = False

    def opened(name: str) -> int | None:
        try:
            if by_folder:
                return os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            return os.open(folder / name, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError):
            return None

    try:
        fd = opened(DUMP_NAME)
        report_fd = opened("report.json")
        report = None
        if report_fd is not None:
            with os.fdopen(report_fd, "rb") as handle:
                report = handle.read()
        swapped = by_folder and (fd is None or report is None) and _replaced(folder, dir_fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    if swapped:
        if fd is not None:
            os.close(fd)
        return None, None
    if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
        if fd is not None:
            os.close(fd)
        raise BuildNotFound(f"There is no build at {folder} ({DUMP_NAME} is missing): run 'kg build' first.")
    return fd, report


def _replaced(folder: Path, dir_fd: int) -> bool:
    """Whether ``folder`` now names another folder than ``dir_fd`` (a build was swapped in)."""
    try:
        now, then = os.stat(folder), os.fstat(dir_fd)
    except OSError:
        return True
    return (now.st_dev, now.st_ino) != (then.st_dev, then.st_ino)


def _recorded(report: bytes | None, path: Path) -> dict | None:
    """graph.nq's record in a build's report.json (None: no report, or one written before the record)."""
    if report is None:
        return None
    try:
        record = json.loads(report).get("files", {}).get(DUMP_NAME)
        if record is not None and not (isinstance(record.get("bytes"), int) and isinstance(record.get("quads"), int)
                                       and isinstance(record.get("sha256"), str)):
            raise ValueError(f"its record of {DUMP_NAME} is incomplete")
        return record
    except (ValueError, AttributeError) as error:
        raise BuildDamaged(f"{path} cannot be read ({error}): the build is damaged. Rebuild it with 'kg build'.") from None


def load_build_into(path: str | os.PathLike, build_dir: str | os.PathLike) -> int:
    """Fill a persistent on-disk oxigraph store at PATH from a build; return its quad count.

    The store is rebuilt from scratch with bulk_load and flushed, so readers open it in
    milliseconds and never replay a log. A damaged graph.nq is refused (see _PinnedDump).
    """
    with _PinnedDump.open(build_dir) as pinned:
        return _load_into(Path(path), pinned)


def _load_into(path: Path, pinned: _PinnedDump) -> int:
    try:
        store = ox.Store(str(path))
        store.clear()
        store.bulk_load(**pinned.where(), format=ox.RdfFormat.N_QUADS)
        store.flush()
        store.optimize()
        count = len(store)
        del store
    except OSError as error:
        raise StoreError(f"Cannot write the oxigraph store at {path}: {error}") from None
    return count
