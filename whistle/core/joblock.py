"""Locks that let the background jobs run on every machine at once (issue 18).

Several app machines share one PostgreSQL database and each may run the cron jobs
(``whistle notify send``, ``notify deadlines``, ``retention run``, ``doctor``); one SQLite
machine may start the same job twice (a slow run still going when the timer fires again). The
jobs stay correct because each item of work is claimed before it is done, or the whole run
is serialised:

- :func:`lock_transaction` serialises one *transaction* with every other that takes the
  same lock. PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``),
  released at commit or rollback. SQLite: the transaction begins as a writer
  (``BEGIN IMMEDIATE``), which SQLite allows to one connection at a time; reads inside it see
  everything committed before. So "read what is due, then change it" in one such transaction
  can never act on something another process changed meanwhile. SQLite has only the one,
  database-wide lock: on SQLite every name is the same lock, which is correct, only coarser.
- :func:`run_lock` serialises a whole *run* that spans many transactions and work outside
  the database (``whistle doctor``). PostgreSQL: a session-level advisory lock
  (``pg_advisory_lock``) on a connection of its own, held until the run ends. SQLite (one
  machine by definition): an exclusive ``flock`` on a file beside the database. Both are
  released by the operating system or the server when the process dies, so a killed run
  never leaves a lock behind that someone must clear by hand.

Both wait for the other holder rather than skip: a second run then finds the work done and
reports what it sees, the same as if it had run alone after the first.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

# SQLite: how long a job waits for the write lock (the connections' usual busy timeout is
# 10 s, whistle/core/db.py; another run's batch of deletions may hold it longer).
SQLITE_WAIT_MS = 600_000
SQLITE_BUSY_MS = 10_000  # the connections' usual busy timeout, restored afterwards


def rows_changed(result: object) -> int:
    """How many rows an UPDATE or DELETE changed: the claim's answer. Both drivers report it
    for these statements (not for ``INSERT ... ON CONFLICT``, whistle/notify/outbox.py)."""
    return int(getattr(result, "rowcount", 0) or 0)


def lock_key(name: str) -> int:
    """The 64-bit advisory-lock number of the job ``name`` (a stable hash of it)."""
    return int.from_bytes(
        hashlib.sha256(f"whistle job {name}".encode()).digest()[:8], "big", signed=True
    )


def begin_writing(session: Session) -> None:
    """SQLite: begin the session's transaction as the database's one writer (``BEGIN
    IMMEDIATE``), waiting for another writer to finish, so what it reads next cannot change
    under it until it commits. PostgreSQL: nothing (rows are claimed one by one there, with
    ``FOR UPDATE SKIP LOCKED``). Call it before the transaction reads anything."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    # The sqlite3 module begins a transaction only before a write, so an open one is a writer's.
    if raw.in_transaction:
        return
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_WAIT_MS}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")


def lock_transaction(session: Session, name: str) -> None:
    """Take the lock ``name`` for the rest of the session's current transaction (see the
    module's docs). Call it first thing in the transaction: on SQLite the transaction must not
    have read anything yet (it is begun here), or must already be a writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(lock_key(name))))
        return
    begin_writing(session)


def _sqlite_lock_file(engine: Engine, name: str) -> Path | None:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        return None  # a database in memory is one process's alone
    path = Path(database)
    return path.with_name(f"{path.name}.{name.replace(' ', '-')}.lock")


@contextmanager
def run_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` while the block runs, across its transactions (see the module's
    docs); wait while another process holds it."""
    if engine.dialect.name == "postgresql":
        key = lock_key(name)
        # Autocommit: the lock is the connection's, held across the run's own transactions
        # (on the session's connections), and this connection keeps no transaction open.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(select(func.pg_advisory_lock(key)))
            released = False
            try:
                yield
            finally:
                try:
                    connection.execute(select(func.pg_advisory_unlock(key)))
                    released = True
                finally:
                    if not released:
                        # A pooled connection would keep the lock: drop it instead.
                        connection.invalidate()
        return
    path = _sqlite_lock_file(engine, name)
    if path is None:
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock
