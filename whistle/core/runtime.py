"""What a running app holds: its settings, database and clock, reached through the app."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crypto import Argon2Params
from whistle.core.clock import Clock
from whistle.core.db_storage import open_store
from whistle.core.keystore import KeyStore
from whistle.core.settings import Settings
from whistle.core.storage import Store
from whistle.core.throttle import derive_key

log = logging.getLogger(__name__)

EXTENSION_KEY = "whistle"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    # Key-encryption keys, outside the database (whistle/core/keystore.py); opened on first use.
    keystore: KeyStore

    def file_store(self) -> Store:
        """The file store the settings choose (the folder, or the database's tables)."""
        return open_store(self.settings, self.engine)

    @property
    def throttle_key(self) -> bytes:
        """The key of the throttles' keyed hashes (whistle/core/throttle.py), derived from the
        instance key: without the instance folder the stored keys say nothing."""
        return derive_key(self.settings.instance_key)

    @property
    def argon2(self) -> Argon2Params:
        """Key-derivation cost: strong in production, trivial in the test profile."""
        if self.settings.argon2_profile == "test":
            return Argon2Params.for_tests()
        return Argon2Params()

    @property
    def case_code_argon2(self) -> Argon2Params:
        """Key-derivation cost for case codes (:meth:`Argon2Params.for_case_codes`: a code's
        80 random bits need no password's memory cost); trivial in the test profile."""
        if self.settings.argon2_profile == "test":
            return Argon2Params.for_tests()
        return Argon2Params.for_case_codes()


def runtime(app: Flask | None = None) -> Runtime:
    """The :class:`Runtime` of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    found = target.extensions[EXTENSION_KEY]
    assert isinstance(found, Runtime)
    return found


def db() -> Session:
    """The database session of the current request (opened on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    session = g.db_session
    assert isinstance(session, Session)
    return session


def close_db(_exc: BaseException | None = None) -> None:
    """End the request's database session (a teardown).

    Closing ends its transaction, which talks to the database: a database gone since the page
    was made (bench/fault_bench.py stops it) must not turn that finished page into the
    server's bare 500 with a traceback in its log. The connection is dropped instead; the
    pool opens a new one."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError:
        log.error("database unavailable")
        with contextlib.suppress(SQLAlchemyError):
            session.invalidate()
