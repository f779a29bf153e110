"""The file store's contract, held by both backends: the local folder and the database's
tables (whistle/core/storage.py, whistle/core/db_storage.py), the latter on SQLite and
PostgreSQL. A file is visible only once its writer completed, a failed write leaves nothing, a
killed one leaves what ``whistle doctor`` removes, reads seek, deletion removes, and neither
direction ever holds a file whole in memory (issue 18)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select

from whistle.core.db import make_engine
from whistle.core.db_storage import CHUNK_SIZE, DatabaseStore
from whistle.core.models import StoreChunk, StoreFile
from whistle.core.storage import PARTIAL_SUFFIX, FileStore, StorageError, Store

MB = 1 << 20
# Three and a half chunks: reads and seeks cross chunk boundaries and end mid-chunk.
DATA = hashlib.sha256(b"fake stored bytes").digest() * (CHUNK_SIZE * 7 // 2 // 32)


def _emptied(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(delete(StoreChunk))
        connection.execute(delete(StoreFile))
    return engine


@pytest.fixture(params=["folder", "database-sqlite", "database-postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """What the store of the test is: a folder, or a migrated database's URL."""
    if request.param == "folder":
        yield str(tmp_path / "files")
    elif request.param == "database-sqlite":
        path = tmp_path / "whistle.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _emptied(make_engine(url)).dispose()
        yield url
        _emptied(make_engine(url)).dispose()


def open_backend(backend: str) -> tuple[Store, Engine | None]:
    if "://" not in backend:
        return FileStore(Path(backend)), None
    engine = make_engine(backend)
    return DatabaseStore(engine), engine


@pytest.fixture
def store(backend: str) -> Iterator[Store]:
    opened, engine = open_backend(backend)
    yield opened
    if engine is not None:
        engine.dispose()


@pytest.fixture
def other_machine(backend: str) -> Iterator[Store]:
    """The same store opened again, as a second app machine does (its own engine)."""
    opened, engine = open_backend(backend)
    yield opened
    if engine is not None:
        engine.dispose()


def write(store: Store, data: bytes = DATA, piece: int = 64 * 1024) -> str:
    name = store.new_name()
    with store.writer(name) as out:
        for start in range(0, len(data), piece):
            out.write(data[start : start + piece])
    return name


def rows_of(store: Store, name: str) -> tuple[int, int]:
    """(file rows, chunk rows) of ``name`` in the database backend's tables."""
    assert isinstance(store, DatabaseStore)
    with store.engine.connect() as connection:
        files = connection.scalar(
            select(func.count()).select_from(StoreFile).where(StoreFile.name == name)
        )
        chunks = connection.scalar(
            select(func.count()).select_from(StoreChunk).where(StoreChunk.name == name)
        )
    return int(files or 0), int(chunks or 0)


# --- what every caller relies on -----------------------------------------------------------------


def test_a_written_file_reads_back_whole_and_is_listed(store: Store, other_machine: Store) -> None:
    name = write(store)

    for seen_by in (store, other_machine):
        assert seen_by.exists(name)
        assert seen_by.size(name) == len(DATA)
        assert list(seen_by.names()) == [name]
        with seen_by.open(name) as handle:
            assert handle.read() == DATA
    assert store.scan().files.keys() == {name}
    assert store.scan().partials == {}


def test_a_file_is_visible_only_once_its_writer_completed(
    store: Store, other_machine: Store
) -> None:
    name = store.new_name()
    with store.writer(name) as out:
        out.write(DATA)  # several chunks already stored, in the database backend
        for seen_by in (store, other_machine):
            assert not seen_by.exists(name)
            assert list(seen_by.names()) == []
            with pytest.raises(FileNotFoundError):
                seen_by.open(name)
            with pytest.raises(FileNotFoundError):
                seen_by.size(name)
    assert other_machine.exists(name)


def test_a_write_that_fails_leaves_nothing(store: Store) -> None:
    name = store.new_name()
    with pytest.raises(RuntimeError, match="upload broke"), store.writer(name) as out:
        out.write(DATA)
        raise RuntimeError("upload broke")

    assert not store.exists(name)
    assert store.scan().files == {} and store.scan().partials == {}
    if isinstance(store, DatabaseStore):
        assert rows_of(store, name) == (0, 0)


def test_a_killed_write_is_never_visible_and_the_doctor_removes_it(store: Store) -> None:
    """A worker killed mid-write runs no cleanup: here the writer is left open, never ended."""
    name = store.new_name()
    writing = store.writer(name)
    out = writing.__enter__()
    out.write(DATA)
    out.flush()

    assert not store.exists(name)
    scan = store.scan()
    assert scan.files == {}
    assert list(scan.partials) == [name + PARTIAL_SUFFIX]
    store.delete_partial(name + PARTIAL_SUFFIX)
    assert store.scan().partials == {}
    if isinstance(store, DatabaseStore):
        assert rows_of(store, name) == (0, 0)
    # The write, if it ever went on, fails rather than making a file without its start.
    with pytest.raises(StorageError):
        writing.__exit__(None, None, None)
    assert not store.exists(name)


def test_reads_seek_to_any_place(store: Store) -> None:
    name = write(store)
    with store.open(name) as handle:
        assert handle.seekable()
        assert handle.seek(0, io.SEEK_END) == len(DATA)
        for offset, length in [
            (0, 7),
            (CHUNK_SIZE - 3, 10),  # across a chunk boundary
            (2 * CHUNK_SIZE, CHUNK_SIZE),
            (len(DATA) - 5, 100),  # past the end: what there is
            (17, 3 * CHUNK_SIZE),
            (len(DATA) + 10, 5),
        ]:
            assert handle.seek(offset) == offset
            assert handle.read(length) == DATA[offset : offset + length]
        handle.seek(-4, io.SEEK_END)
        assert handle.read() == DATA[-4:]


def test_deletion_removes_the_file(store: Store, other_machine: Store) -> None:
    name, kept = write(store), write(store, b"another fake file")

    store.delete(name)
    store.delete(name)  # a file already gone is no error

    assert not other_machine.exists(name)
    with pytest.raises(FileNotFoundError):
        other_machine.open(name)
    assert list(other_machine.names()) == [kept]
    if isinstance(store, DatabaseStore):
        assert rows_of(store, name) == (0, 0)  # no row left: nothing but WAL and backups
        assert rows_of(store, kept) == (1, 1)


def test_names_outside_the_store_are_refused(store: Store) -> None:
    for bad in ("../../etc/passwd", "AB" * 16, "0" * 31, ""):
        with pytest.raises(ValueError):
            store.open(bad)
        with pytest.raises(ValueError), store.writer(bad):
            pass
        with pytest.raises(ValueError):
            store.delete(bad)


def test_an_empty_file_is_a_file(store: Store) -> None:
    name = write(store, b"")
    assert store.exists(name) and store.size(name) == 0
    with store.open(name) as handle:
        assert handle.read() == b""


# --- bounded memory ------------------------------------------------------------------------------

BIG = 50 * MB
PIECE = 64 * 1024


def _pieces() -> Iterator[bytes]:
    block = os.urandom(PIECE)
    for i in range(BIG // PIECE):
        yield i.to_bytes(8, "big") + block[8:]


def test_fifty_mib_are_written_and_read_in_bounded_memory(store: Store) -> None:
    """Neither direction holds the file: Python's peak allocation while writing, and while
    reading it back, stays far below its 50 MiB."""
    name = store.new_name()
    written = hashlib.sha256()
    tracemalloc.start()
    try:
        with store.writer(name) as out:
            for piece in _pieces():
                written.update(piece)
                out.write(piece)
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        read = hashlib.sha256()
        with store.open(name) as handle:
            while piece := handle.read(PIECE):
                read.update(piece)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert read.digest() == written.digest()
    assert store.size(name) == BIG
    print(f"peaks: writing {write_peak / MB:.2f} MiB, reading {read_peak / MB:.2f} MiB")
    assert write_peak < 8 * MB, f"writing peaked at {write_peak / MB:.1f} MiB"
    assert read_peak < 8 * MB, f"reading peaked at {read_peak / MB:.1f} MiB"


# --- the database backend's rows -----------------------------------------------------------------


def test_the_database_holds_a_file_as_chunks_of_a_mebibyte(database_url: str) -> None:
    engine = make_engine(database_url)
    store = DatabaseStore(engine)
    try:
        name = write(store)
        with engine.connect() as connection:
            sizes = list(
                connection.scalars(
                    select(func.length(StoreChunk.data))
                    .where(StoreChunk.name == name)
                    .order_by(StoreChunk.seq)
                )
            )
        assert sizes == [CHUNK_SIZE] * 3 + [len(DATA) - 3 * CHUNK_SIZE]
    finally:
        engine.dispose()
