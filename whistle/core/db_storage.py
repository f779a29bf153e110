"""The file store inside the application database, for app machines that share nothing else.

With ``file_store_backend = "database"`` every stored file (an attachment's or a bundle's
ciphertext, the same bytes the local folder would hold) is a :class:`StoreFile` row and its
content ordered :class:`StoreChunk` rows of at most :data:`CHUNK_SIZE` bytes. Several app
machines on one PostgreSQL then see the same files without a network file system.

- **Streamed both ways.** A write buffers at most one chunk before inserting it; a read holds
  the one chunk it is in, and a seek only says which chunk to fetch next. No file is ever
  whole in memory (tests/core/test_file_stores.py measures it).
- **Visible only when complete.** The writer commits a ``complete = false`` row first, then
  each chunk in a transaction of its own (a long upload holds no lock, which on SQLite would
  stop every other writer), and flips ``complete`` with the last chunk in one transaction.
  Readers only see complete files. A write that fails removes its rows; one that never ends
  (a killed worker, a lost database) leaves an incomplete row, which ``whistle doctor`` lists
  and removes like a local ``.partial`` file once it is an hour old.
- **Its own transactions.** The store works on connections of its own from the engine's
  pool, never in the caller's session: a file exists as soon as its writer ends, as a file
  renamed into place does, whether or not the caller's transaction commits later
  (:func:`~whistle.core.db.unit_of_work_with_files` removes it again if that fails). On SQLite
  this needs the caller's session not to hold the write lock while a file is written or
  deleted (it would wait for itself): writes of files come before the rows that refer to them.
- **Deletion** removes the file's rows. The content was ciphertext under a key of the file's
  own in the key store, which deletion destroys (whistle/core/shredding.py), so whatever the
  database keeps of the rows (PostgreSQL's dead tuples until vacuum, its write-ahead log, a
  backup) cannot be opened again: crypto-shredded, like a file unlinked from the folder.
"""

from __future__ import annotations

import errno
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO, cast

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from whistle.core.models import StoreChunk, StoreFile
from whistle.core.settings import Settings
from whistle.core.storage import (
    NAME_RE,
    PARTIAL_SUFFIX,
    FileStore,
    StorageError,
    Store,
    StoreEntries,
)

CHUNK_SIZE = 1 << 20  # bytes per chunk row
READ_BUFFER = 1 << 16

FILES = cast(Table, StoreFile.__table__)
CHUNKS = cast(Table, StoreChunk.__table__)


def open_store(settings: Settings, engine: Engine) -> Store:
    """The file store the settings choose: the folder, or the tables of ``engine``."""
    if settings.file_store_backend == "database":
        return DatabaseStore(engine)
    return FileStore(settings.file_store)


def _checked(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError("not a file-store name")
    return name


def _missing() -> FileNotFoundError:
    # No name in the message: the caller knows which file it asked for.
    return FileNotFoundError(errno.ENOENT, "no such stored file")


class DatabaseStore:
    """The store as rows of the application database (see the module's docs)."""

    def __init__(self, engine: Engine, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.engine = engine
        self.chunk_size = chunk_size

    @staticmethod
    def new_name() -> str:
        return FileStore.new_name()

    @contextmanager
    def writer(self, name: str) -> Iterator[BinaryIO]:
        """Write file ``name``; it appears only if the block completes without error."""
        _checked(name)
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StorageError(type(exc).__name__) from None
        sink = _ChunkSink(connection, name, self.chunk_size)
        try:
            try:
                sink.begin()
                yield cast(BinaryIO, sink)
                sink.finish()
            except SQLAlchemyError as exc:
                self._discard(connection, sink)
                raise StorageError(type(exc).__name__) from None
            except BaseException:
                self._discard(connection, sink)
                raise
        finally:
            with suppress(SQLAlchemyError):
                connection.close()

    def _discard(self, connection: Connection, sink: _ChunkSink) -> None:
        """Remove what a failed write stored (nothing if its row never was: the name may be
        another write's); if the database refuses, the row stays incomplete (never visible)
        for ``whistle doctor``."""
        with suppress(SQLAlchemyError):
            connection.rollback()
            if sink.started:
                _delete_rows(connection, sink.name, only_incomplete=True)
                connection.commit()

    def open(self, name: str) -> BinaryIO:
        _checked(name)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(FILES.c.size, FILES.c.chunk_size).where(
                    FILES.c.name == name, FILES.c.complete.is_(True)
                )
            ).first()
        if row is None:
            raise _missing()
        raw = _ChunkReader(self.engine, name, size=row.size, chunk_size=row.chunk_size)
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=READ_BUFFER))

    def size(self, name: str) -> int:
        _checked(name)
        with self.engine.connect() as connection:
            size = connection.scalar(
                select(FILES.c.size).where(FILES.c.name == name, FILES.c.complete.is_(True))
            )
        if size is None:
            raise _missing()
        return int(size)

    def delete(self, name: str) -> None:
        _checked(name)
        with self.engine.begin() as connection:
            _delete_rows(connection, name, only_incomplete=False)

    def exists(self, name: str) -> bool:
        _checked(name)
        with self.engine.connect() as connection:
            found = connection.scalar(
                select(FILES.c.name).where(FILES.c.name == name, FILES.c.complete.is_(True))
            )
        return found is not None

    def names(self) -> Iterator[str]:
        with self.engine.connect() as connection:
            found = list(
                connection.scalars(
                    select(FILES.c.name).where(FILES.c.complete.is_(True)).order_by(FILES.c.name)
                )
            )
        yield from found

    def scan(self) -> StoreEntries:
        """Complete files and unfinished writes, each with when it was written (began)."""
        entries = StoreEntries()
        with self.engine.connect() as connection:
            rows = connection.execute(select(FILES.c.name, FILES.c.complete, FILES.c.written_at))
            for name, complete, written_at in rows:
                if complete:
                    entries.files[name] = float(written_at)
                else:
                    entries.partials[name + PARTIAL_SUFFIX] = float(written_at)
        return entries

    def delete_partial(self, partial: str) -> None:
        name = _checked(partial.removesuffix(PARTIAL_SUFFIX))
        with self.engine.begin() as connection:
            _delete_rows(connection, name, only_incomplete=True)


def _delete_rows(connection: Connection, name: str, *, only_incomplete: bool) -> None:
    """The file's row, then its chunks (the foreign key's cascade removes them already; the
    second statement does not rely on it). The file row goes first, in one statement that
    checks ``complete``, so a write finishing at the same moment either finds its row gone (and
    fails) or is complete and kept."""
    condition = FILES.c.name == name
    if only_incomplete:
        condition = condition & FILES.c.complete.is_(False)
    gone = connection.execute(delete(FILES).where(condition)).rowcount
    if gone or not only_incomplete:
        connection.execute(delete(CHUNKS).where(CHUNKS.c.name == name))


class _ChunkSink(io.RawIOBase):
    """The writer's file object: bytes in, a chunk row out each :data:`CHUNK_SIZE` bytes."""

    def __init__(self, connection: Connection, name: str, chunk_size: int) -> None:
        super().__init__()
        self._connection = connection
        self.name = name
        self.started = False
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._seq = 0
        self._size = 0

    def writable(self) -> bool:
        return True

    def begin(self) -> None:
        """The incomplete row, committed: from here a crash leaves something the doctor sees."""
        self._connection.execute(
            insert(FILES).values(
                name=self.name,
                complete=False,
                size=0,
                chunk_size=self._chunk_size,
                written_at=int(time.time()),
            )
        )
        self._connection.commit()
        self.started = True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        self._size += len(data)
        while len(self._buffer) >= self._chunk_size:
            self._insert(bytes(self._buffer[: self._chunk_size]))
            del self._buffer[: self._chunk_size]
            self._connection.commit()
        return len(data)

    def _insert(self, chunk: bytes) -> None:
        self._connection.execute(insert(CHUNKS).values(name=self.name, seq=self._seq, data=chunk))
        self._seq += 1

    def finish(self) -> None:
        """The last chunk and the flip to complete, in one transaction."""
        if self._buffer:
            self._insert(bytes(self._buffer))
            self._buffer.clear()
        flipped = self._connection.execute(
            update(FILES)
            .where(FILES.c.name == self.name, FILES.c.complete.is_(False))
            .values(complete=True, size=self._size, written_at=int(time.time()))
        ).rowcount
        if flipped != 1:  # removed meanwhile (the doctor took it for a dead write)
            self._connection.rollback()
            raise StorageError("FileRemovedWhileWritten")
        self._connection.commit()


class _ChunkReader(io.RawIOBase):
    """A complete stored file as a read-only, seekable raw file: holds the chunk it is in,
    and fetches another (on a connection of its own, for that query only) when a read or a
    seek leaves it. A long download thus holds no connection between reads."""

    def __init__(self, engine: Engine, name: str, *, size: int, chunk_size: int) -> None:
        super().__init__()
        self._engine = engine
        self._name = name
        self._size = size
        self._chunk_size = chunk_size
        self._pos = 0
        self._seq = -1
        self._chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError("invalid whence")
        if target < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = target
        return target

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        seq, offset = divmod(self._pos, self._chunk_size)
        if seq != self._seq:
            self._chunk = self._fetch(seq)
            self._seq = seq
        count = min(len(buffer), len(self._chunk) - offset)
        if count <= 0:
            raise OSError(errno.EIO, "stored file shorter than its size")
        buffer[:count] = self._chunk[offset : offset + count]
        self._pos += count
        return count

    def _fetch(self, seq: int) -> bytes:
        self._chunk = b""  # the old chunk is not kept while the next one arrives
        with self._engine.connect() as connection:
            data = connection.scalar(
                select(CHUNKS.c.data).where(CHUNKS.c.name == self._name, CHUNKS.c.seq == seq)
            )
        if data is None:  # deleted while read
            raise OSError(errno.EIO, "stored file removed while read")
        return bytes(data)
