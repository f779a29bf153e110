"""The key store's tables, and how each backend creates them.

A row of ``whistle_keys`` is a number, a name and 32 bytes; ``whistle_key_marks`` holds the
doctor's marks and ``whistle_keystore`` the format. On PostgreSQL the keys table is split in
64 partitions by a hash of the name, so a destroy rewrites only the partitions it touched
(whistle/core/keystore_scrub.py). Creating is idempotent and safe when several processes start
at once; it refuses the application's own database and a store of a newer format. Using the
store is whistle/core/keystore.py.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateTable

from whistle.core.keystore_errors import KeyStoreError, KeyStoreUnavailable

KEY_BYTES = 32
FORMAT_VERSION = 1
NAME_LENGTH = 128


metadata = MetaData()
# The id type: an alias of SQLite's rowid (AUTOINCREMENT: never reused, so a mark stays
# true), a bigserial on PostgreSQL.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")
KEYS = Table(
    "whistle_keys",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("key", LargeBinary(KEY_BYTES), nullable=False),
    sqlite_autoincrement=True,
)
MARKS = Table(
    "whistle_key_marks",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("observed", BigInteger(), nullable=False),  # seconds since the epoch, UTC
    Column("highest", BigInteger(), nullable=False),
    sqlite_autoincrement=True,
)
INFO = Table(
    "whistle_keystore",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)
# PostgreSQL: the keys table is split in this many partitions by a hash of the name.
PARTITIONS = 64
PARTITION_NAME = re.compile(r"whistle_keys_p[0-9]{2}")
PARTITIONS_OF = text(
    """
    SELECT DISTINCT number
      FROM unnest(CAST(:names AS varchar[])) AS given(name),
           generate_series(0, CAST(:modulus AS integer) - 1) AS number
     WHERE satisfies_hash_partition('whistle_keys'::regclass, :modulus, number, given.name)
    """
).bindparams(modulus=PARTITIONS)
# Tables that only the application database has: a key store URL that finds one of them
# points at the wrong database.
APPLICATION_TABLES = ("alembic_version", "cases")


def prepare_file(path: Path) -> None:
    """Create the store's file owner-only, before SQLite opens it; refuse one others can
    read."""
    if not path.parent.is_dir():
        raise KeyStoreUnavailable(f"the folder of the key store {path} does not exist")
    try:
        # Created owner-only before SQLite opens it: its -wal and -shm files take this mode.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise KeyStoreUnavailable(
            f"the key store {path} cannot be opened ({exc.strerror})"
        ) from None
    os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyStoreError(
            f"the key store {path} is readable by others (mode {mode:o}): run `chmod 600 {path}*`"
        )


def _check_not_application(connection: Connection, safe_url: str) -> None:
    found = inspect(connection)
    if any(found.has_table(t) for t in APPLICATION_TABLES):
        raise KeyStoreError(
            f"{safe_url} is the application's database: the key store must be a "
            "database of its own (see keystore_url in docs/operations.md)"
        )


def _create_tables(connection: Connection, safe_url: str, *, is_sqlite: bool) -> None:
    _check_not_application(connection, safe_url)
    for table in metadata.sorted_tables:
        if is_sqlite or table is not KEYS:
            connection.execute(CreateTable(table, if_not_exists=True))
    version = connection.scalar(select(INFO.c.value).where(INFO.c.name == "format"))
    if version is None:
        connection.execute(insert(INFO).values(name="format", value=str(FORMAT_VERSION)))
    elif not version.isdigit() or int(version) > FORMAT_VERSION:
        raise KeyStoreError(
            f"the key store {safe_url} has format {version}, newer than this "
            f"Whistle reads ({FORMAT_VERSION}): upgrade Whistle"
        )


def create_sqlite(engine: Engine, safe_url: str) -> None:
    """Create the tables of a SQLite store (one process at a time)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # One process at a time checks and creates (the others wait on the busy timeout).
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _create_tables(connection, safe_url, is_sqlite=True)
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")


def create_postgresql(engine: Engine, safe_url: str) -> None:
    """Create the partitioned tables of a PostgreSQL store (one process at a time)."""
    with engine.begin() as connection:
        # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: one at a time.
        connection.execute(text("SELECT pg_advisory_xact_lock(7041983)"))
        _check_not_application(connection, safe_url)
        # Hash-partitioned by name, so a destroy rewrites only the partitions it touched
        # (whistle/core/keystore_scrub.py). The unique key is the name alone: a partition key
        # must be in it.
        connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {KEYS.name} ("
            f"seq bigserial NOT NULL, name varchar({NAME_LENGTH}) NOT NULL, "
            f"key bytea NOT NULL, CONSTRAINT {KEYS.name}_pkey PRIMARY KEY (name)"
            ") PARTITION BY HASH (name)"
        )
        for number in range(PARTITIONS):
            connection.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {KEYS.name}_p{number:02d} PARTITION OF "
                f"{KEYS.name} FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {number})"
            )
        _create_tables(connection, safe_url, is_sqlite=False)
