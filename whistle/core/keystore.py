"""The key store: key-encryption keys held outside the application database (issue 14, item 6).

Deleting a case (or purging an item) must make it unreadable in the live database, its
write-ahead log and every database backup taken before, even to the organisation's recovery
key. So each case key (and each purgeable item's key) is additionally wrapped under a random
key that lives only here, named after its owner (``case:<case uid>``, ``msg:<message uid>``,
``note:<note uid>``, ``file:<storage name>``; whistle/core/shredding.py). Destroying that key here
is the deletion; what stays in the database is ciphertext nobody can open again.

Two backends, chosen by the ``keystore_url`` setting:

- **SQLite** (default, ``<instance>/keystore.db``, mode 0600, like its ``-wal`` and ``-shm``
  files which SQLite creates with the database's mode): WAL mode with a busy timeout, so many
  gunicorn workers and CLI processes create, read and destroy at once; ``synchronous=FULL``,
  so a created key is on disk before :meth:`KeyStore.create` returns (the caller is about to
  seal data under it); ``secure_delete``, so a destroyed key's bytes are overwritten in its
  page, and after every destroy a ``wal_checkpoint(TRUNCATE)``, so the older page versions in
  the write-ahead log are gone too (tests/core/test_keystore.py scans the files).
- **PostgreSQL**: a database of its own (``keystore_url = "postgresql://…/whistle_keys"``),
  never the application's (refused, by the settings and here). The table is split in 64
  partitions by a hash of the name; after every destroy the partitions that lost rows are
  rewritten (``VACUUM FULL``, once no older transaction can still see the rows), so the
  destroyed rows are in no live data file and in no later dump or base backup. A plain
  ``VACUUM`` would leave their bytes in the pages' free space. The server's write-ahead log,
  and any WAL archive, still hold every key ever created until the segments are recycled: the
  backup rule in docs/operations.md says what that means.

Nothing here records when a key was made: a row is a number, a name and 32 bytes, and the
number only orders keys. ``whistle doctor`` needs to tell a key whose owner row is still in
flight (created, not yet committed) from an orphan; instead of creation times it leaves marks
("keys up to number N existed at the doctor's run at time T"), keeping only the newest mark
older than an hour and the younger ones, so the store tells at most which keys are younger
than the previous doctor run (the database's dates say more).

Key bytes never reach a log or an error message: the engine hides bound parameters, the
exceptions carry names at most, and nothing here logs a name.

This module is the store in use: opening it, creating, reading, destroying, listing and
copying keys. Its tables and their creation on each backend are
whistle/core/keystore_schema.py, scrubbing destroyed keys' bytes from its files
whistle/core/keystore_scrub.py, and its exceptions whistle/core/keystore_errors.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, delete, event, func, insert, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from whistle.core.keystore_errors import (
    KeyExists,
    KeyStoreError,
    KeyStoreUnavailable,
    ScrubIncomplete,
)
from whistle.core.keystore_schema import (
    INFO,
    KEY_BYTES,
    KEYS,
    MARKS,
    PARTITIONS_OF,
    create_postgresql,
    create_sqlite,
    prepare_file,
)
from whistle.core.keystore_scrub import checkpoint, rewrite

# A prefix naming the owner's kind, a colon and the owner's id (a uid or a storage name).
NAME_RE = re.compile(r"[a-z]{1,16}:[A-Za-z0-9_.-]{1,100}")
BATCH = 500  # names per IN (...) query
# Keys younger than this may belong to rows not committed yet (whistle doctor leaves them).
SETTLE = timedelta(hours=1)
BUSY_TIMEOUT_MS = 10_000
# PostgreSQL: how long a destroy waits for the transactions older than the deletion to end
# (whistle/core/keystore_scrub.py).
HORIZON_WAIT = 10.0


def check_name(name: str) -> str:
    """``name`` if it is a key name (``prefix:id``, short ASCII); ValueError otherwise."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValueError("a key name is a short prefix, a colon and an id of [A-Za-z0-9_.-]")
    return name


def _names(names: Iterable[str]) -> list[str]:
    return sorted({check_name(n) for n in names})


def _chunks(names: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(names), BATCH):
        yield names[start : start + BATCH]


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware time is needed")
    return int(moment.timestamp())


def store_url(url: str | URL) -> URL:
    """``url`` parsed, with ``postgresql://`` mapped to the psycopg 3 driver (as the app's)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for another database or an in-memory one)."""
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    # FULL, not the application's NORMAL: in WAL mode NORMAL can lose the last commits on a
    # power cut, and a key lost after data was sealed under it loses that data.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


class KeyStore:
    """Random 32-byte keys by name, in a store of their own (see the module's docs).

    Safe to share between the threads of a process and to use from many processes at once.
    The schema is created on first use (and by ``whistle init``).
    """

    def __init__(self, url: str | URL) -> None:
        # Kept parsed: a file name is never pasted into a URL string, where "?" or "#"
        # would change its meaning.
        self.url = store_url(url)
        self.path = sqlite_path(self.url)
        self.is_sqlite = self.url.drivername.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                self.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # hide_parameters: a failing statement never copies a key into an error message.
            self.engine = create_engine(
                self.url, pool_pre_ping=True, pool_size=2, max_overflow=8, hide_parameters=True
            )
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyStore({self.safe_url})"

    @property
    def safe_url(self) -> str:
        """The store's URL with any password masked, for messages."""
        return self.url.render_as_string(hide_password=True)

    # --- opening ----------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the store if it is not there (idempotent, safe when several processes start
        at once) and check that it is a key store of a format this code reads.
        :class:`KeyStoreUnavailable` when it cannot be reached, :class:`KeyStoreError` when it
        is the application's database, readable by others, or of a newer format."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if self.path is not None:
                prepare_file(self.path)
            try:
                if self.is_sqlite:
                    create_sqlite(self.engine, self.safe_url)
                else:
                    create_postgresql(self.engine, self.safe_url)
            except SQLAlchemyError as exc:
                raise KeyStoreUnavailable(
                    f"the key store {self.safe_url} cannot be opened ({type(exc).__name__})"
                ) from None
            self._ready = True

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[Connection]:
        """A connection to the store; any database failure becomes
        :class:`KeyStoreUnavailable` naming ``doing`` (never a statement or its values)."""
        self.ensure()
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise KeyStoreUnavailable(
                f"the key store {self.safe_url} could not {doing} ({type(exc).__name__})"
            ) from None

    # --- the operations ---------------------------------------------------------------------

    def create(self, names: Collection[str]) -> dict[str, bytes]:
        """Fresh random keys for ``names``, on disk (committed) before this returns.

        All or nothing: :class:`KeyExists` (and no key created) if any name exists already,
        so two writers can never end up with different keys under one name. ValueError for a
        malformed or repeated name.
        """
        wanted = _names(names)
        if len(wanted) != len(names):
            raise ValueError("a key name is given twice")
        if not wanted:
            return {}
        keys = {name: secrets.token_bytes(KEY_BYTES) for name in wanted}
        with self._connection("store keys") as connection:
            try:
                connection.execute(insert(KEYS), [{"name": n, "key": k} for n, k in keys.items()])
                connection.commit()
            except IntegrityError:
                connection.rollback()
                taken: list[str] = []
                for chunk in _chunks(wanted):
                    taken += connection.scalars(select(KEYS.c.name).where(KEYS.c.name.in_(chunk)))
                connection.rollback()
                raise KeyExists(taken or wanted) from None
        return keys

    def get_many(self, names: Collection[str]) -> dict[str, bytes]:
        """The keys of those ``names`` that exist (an absent name is simply missing)."""
        wanted = _names(names)
        found: dict[str, bytes] = {}
        if not wanted:
            return found
        with self._connection("read keys") as connection:
            for chunk in _chunks(wanted):
                rows = connection.execute(
                    select(KEYS.c.name, KEYS.c.key).where(KEYS.c.name.in_(chunk))
                )
                found.update({name: bytes(key) for name, key in rows})
            connection.rollback()
        return found

    def get(self, name: str) -> bytes | None:
        """The key called ``name``, or None if there is none (never made, or destroyed)."""
        return self.get_many([name]).get(name)

    def destroy(self, names: Collection[str]) -> int:
        """Destroy the keys called ``names`` for good; return how many existed.

        Idempotent: an absent name is no error, and destroying again finishes the scrubbing
        of a destroy that raised :class:`ScrubIncomplete`. When this returns, the bytes are in
        no live file of the store (see the module's docs for what each backend can promise).
        """
        wanted = _names(names)
        if not wanted:
            return 0
        removed = 0
        partitions: set[str] = set()
        with self._connection("destroy keys") as connection:
            for chunk in _chunks(wanted):
                removed += connection.execute(delete(KEYS).where(KEYS.c.name.in_(chunk))).rowcount
                if not self.is_sqlite:
                    # The partitions the names hash to, whether or not a row was there: a
                    # repeated destroy finishes the rewrite of a first one that failed.
                    partitions.update(
                        f"{KEYS.name}_p{number:02d}"
                        for number in connection.scalars(PARTITIONS_OF, {"names": chunk})
                    )
            connection.commit()
        self.scrub(partitions)
        return removed

    def scrub(self, partitions: Collection[str] | None = None) -> None:
        """Remove the bytes of deleted keys from the store's files (called by
        :meth:`destroy`). SQLite: checkpoint the write-ahead log into the database, where
        ``secure_delete`` zeroed them, and truncate it. PostgreSQL: rewrite ``partitions`` of
        the table (default: all of them). :class:`ScrubIncomplete` if that could not finish."""
        try:
            with self._connection("be scrubbed") as connection:
                auto = connection.execution_options(isolation_level="AUTOCOMMIT")
                if self.is_sqlite:
                    checkpoint(auto, patience=BUSY_TIMEOUT_MS / 1000)
                else:
                    rewrite(auto, partitions, horizon_wait=HORIZON_WAIT)
        except KeyStoreUnavailable as exc:
            raise ScrubIncomplete(str(exc)) from None

    def names(self, prefix: str = "") -> Iterator[str]:
        """Every key name starting with ``prefix``, in order (for consistency checks)."""
        after = ""
        while True:
            with self._connection("list keys") as connection:
                chunk = list(
                    connection.scalars(
                        select(KEYS.c.name)
                        .where(KEYS.c.name.startswith(prefix, autoescape=True), KEYS.c.name > after)
                        .order_by(KEYS.c.name)
                        .limit(BATCH * 2)
                    )
                )
                connection.rollback()
            yield from chunk
            if len(chunk) < BATCH * 2:
                return
            after = chunk[-1]

    def count(self) -> int:
        """How many keys the store holds."""
        with self._connection("count keys") as connection:
            total = connection.scalar(select(func.count()).select_from(KEYS)) or 0
            connection.rollback()
        return int(total)

    def settled_names(
        self, *, now: datetime, min_age: timedelta = SETTLE
    ) -> tuple[list[str], list[str]]:
        """``(settled, recent)``: the names of the keys known to exist since at least
        ``min_age`` before ``now``, and the others. Leaves a mark for the next call (see the
        module's docs) and drops the marks no longer needed.

        The first call on a store knows no earlier mark, so every key is recent unless
        ``min_age`` is zero (only safe while no process creates keys).
        """
        stamp = _epoch(now)
        cutoff = _epoch(now - min_age)
        keep_from = _epoch(now - SETTLE)
        with self._connection("list keys") as connection:
            highest = connection.scalar(select(func.max(KEYS.c.seq))) or 0
            connection.execute(insert(MARKS).values(observed=stamp, highest=highest))
            settled_up_to = connection.scalar(
                select(func.max(MARKS.c.highest)).where(MARKS.c.observed <= cutoff)
            )
            # Kept: every mark younger than SETTLE and the newest older one; it alone can
            # still settle keys.
            newest_old = connection.scalar(
                select(func.max(MARKS.c.observed)).where(MARKS.c.observed <= keep_from)
            )
            if newest_old is not None:
                connection.execute(delete(MARKS).where(MARKS.c.observed < newest_old))
            connection.commit()
            rows = connection.execute(select(KEYS.c.seq, KEYS.c.name).order_by(KEYS.c.name))
            settled: list[str] = []
            recent: list[str] = []
            limit = settled_up_to or 0
            for seq, name in rows:
                (settled if seq <= limit else recent).append(name)
            connection.rollback()
        return settled, recent

    # --- operations side --------------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`KeyStoreUnavailable` unless the store can be read."""
        with self._connection("be read") as connection:
            connection.execute(select(func.count()).select_from(INFO)).one()
            connection.rollback()

    def server(self) -> tuple[str, bool] | None:
        """PostgreSQL: the server's system identifier (same for every database of one
        cluster) and whether it archives its write-ahead log. None for SQLite."""
        if self.is_sqlite:
            return None
        with self._connection("be inspected") as connection:
            identifier = connection.scalar(
                text("SELECT system_identifier FROM pg_control_system()")
            )
            archive = connection.scalar(text("SELECT current_setting('archive_mode')"))
            connection.rollback()
        return str(identifier), archive != "off"

    def backup(self, target: Path) -> int:
        """Write a consistent copy of every key to a new SQLite file ``target`` (mode 0600,
        never overwriting); return how many keys it holds. Works for both backends; the copy
        opens as a key store (``keystore_url = "sqlite:///<target>"``)."""
        target = target.resolve()
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyStoreError(f"{target} exists: a backup never overwrites a file") from None
        except OSError as exc:
            raise KeyStoreError(f"{target} cannot be written ({exc.strerror})") from None
        os.close(fd)
        copy = KeyStore(URL.create("sqlite", database=str(target)))
        try:
            copy.ensure()
            copied = 0
            with self._connection("be copied") as source, copy.engine.begin() as sink:
                # One snapshot of the source: a key created meanwhile is in the next backup.
                if not self.is_sqlite:
                    source.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                rows = source.execute(select(KEYS.c.name, KEYS.c.key).order_by(KEYS.c.seq))
                batch: list[dict[str, object]] = []
                for name, key in rows:
                    batch.append({"name": name, "key": bytes(key)})
                    if len(batch) >= BATCH:
                        sink.execute(insert(KEYS), batch)
                        copied += len(batch)
                        batch = []
                if batch:
                    sink.execute(insert(KEYS), batch)
                    copied += len(batch)
                source.rollback()
        except BaseException:
            copy.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            raise
        copy.dispose()  # the last connection to close folds the write-ahead log into the file
        return copied

    def dispose(self) -> None:
        """Close the pooled connections (tests, and before copying the file)."""
        self.engine.dispose()


def of_session(session: Session) -> KeyStore:
    """The key store that ``session``'s sessionmaker carries (whistle/core/db.py
    ``make_sessionmaker``): every session of a running Whistle has it."""
    found = session.info.get("keystore")
    if not isinstance(found, KeyStore):
        raise KeyStoreError("this database session carries no key store")
    return found
