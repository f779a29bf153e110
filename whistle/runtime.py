"""What a running app holds: its settings, database and clock, reached through the app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import Argon2Params
from whistle.clock import Clock
from whistle.settings import Settings

EXTENSION_KEY = "whistle"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock

    @property
    def argon2(self) -> Argon2Params:
        """Key-derivation cost: strong in production, trivial in the test profile."""
        if self.settings.argon2_profile == "test":
            return Argon2Params.for_tests()
        return Argon2Params()


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
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
