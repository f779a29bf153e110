"""Database engine and per-request sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys and ``secure_delete`` on, so
deleted case rows are overwritten rather than left in free pages. PostgreSQL is reached through
psycopg 3; a plain ``postgresql://`` URL is mapped to that driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from whistle.core.storage import Store


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Before WAL, which writes the file header: a new database starts in incremental
    # auto-vacuum mode, so a retention run frees only what it deleted
    # (whistle/retention/deletion.py).
    # On an existing file this does nothing; its first retention run switches it with one
    # full VACUUM.
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the pragmas and pool settings Whistle relies on.

    ``hide_parameters`` keeps bound values out of error messages, so a failing statement
    never copies an e-mail address or a ciphertext into a log.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True
    )


def make_sessionmaker(
    engine: Engine, info: dict[str, object] | None = None
) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``info`` is every session's ``Session.info`` (the key pins,
    whistle/core/key_pins.py)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=dict(info or {}))


def upsert_insert(session: Session) -> Any:
    """The ``insert`` of the session's dialect, which offers ``on_conflict_do_nothing`` (both
    PostgreSQL and SQLite have it; SQLAlchemy's generic ``insert`` does not)."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """One whole unit of work (what a page or a command asks for): commit when the block ends,
    roll back and re-raise when it raises, so a refused or failed action leaves nothing
    half-written in the session.

    This is the commit rule (docs/development.md): domain functions that are a whole unit of
    work commit, through this; the helpers they call only flush; views and CLI commands never
    commit or roll back themselves.
    """
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


@contextmanager
def unit_of_work_with_files(
    session: Session,
    store: Store,
    *,
    on_rollback: Callable[[Sequence[str]], None] | None = None,
) -> Iterator[list[str]]:
    """:func:`unit_of_work` for work that also writes files to ``store``: yields the list the
    block appends each stored file's name to, as soon as the file exists.

    If the block raises, the session is rolled back, every file stored so far is deleted and
    ``on_rollback(names)`` runs (for what else belonged to those files), so nothing stays. If
    the block completes, the session is flushed and committed. A commit that fails keeps the
    files: it may still have been made (the connection broke after the server committed), and
    a stored row needs its file; an unneeded file is only an unreadable orphan that
    ``whistle doctor --repair`` removes.
    """
    stored: list[str] = []
    try:
        yield stored
        session.flush()
    except BaseException:
        session.rollback()
        for name in stored:
            store.delete(name)
        if on_rollback is not None:
            on_rollback(stored)
        raise
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
