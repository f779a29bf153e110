"""The reporter's browser session: the case content key held in the vault (whistle/vault.py).

The Flask session cookie carries only the vault token. Right after submission the case code
is held in the vault too, so the code page survives a reload (post/redirect/get) until the
reporter confirms they have written it down; then it is erased.

A session ends after the idle time and at the latest an hour (by default) after the code was
entered, however active (whistle/vault.py); every code entry sweeps the sessions that have
ended, anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask import session as cookie

from whistle import vault
from whistle.models import Case
from whistle.runtime import db, runtime

COOKIE_KEY = "reporter"
KEY_SIZE = 32


@dataclass(frozen=True, repr=False)
class ReporterSession:
    case: Case
    content_key: bytes
    pending_code: str | None
    token: str

    def __repr__(self) -> str:
        return f"ReporterSession(case={self.case.reference!r})"


def _lifetime() -> vault.Lifetime:
    return vault.lifetimes(runtime().settings)[vault.REPORTER]


def start(case: Case, content_key: bytes, pending_code: str | None = None) -> None:
    """Sign the browser in to ``case`` (replacing any earlier reporter session), sweeping the
    sessions that have ended in passing. Commits."""
    rt = runtime()
    vault.sweep(db(), rt.clock, vault.lifetimes(rt.settings))
    begin(case, content_key, pending_code)
    db().commit()


def begin(case: Case, content_key: bytes, pending_code: str | None = None) -> None:
    """:func:`start` inside the caller's transaction (flushes, never commits): intake signs
    the reporter in with the same commit that stores the report, so a report never exists
    without its session, nor a session without its report."""
    session = db()
    token = cookie.pop(COOKIE_KEY, None)
    if isinstance(token, str):
        vault.destroy(session, token)
    secret = content_key + (pending_code or "").encode("ascii")
    token = vault.create(
        session, runtime().clock, kind=vault.REPORTER, secret=secret, case_id=case.id
    )
    cookie[COOKIE_KEY] = token
    cookie.permanent = False


def current(org_id: int) -> ReporterSession | None:
    """The signed-in reporter's case of ``org_id``, or None (expired, absent, other org)."""
    token = cookie.get(COOKIE_KEY)
    if not isinstance(token, str):
        return None
    session = db()
    opened = vault.open_session(
        session, runtime().clock, token, kind=vault.REPORTER, lifetime=_lifetime()
    )
    session.commit()
    if opened is None or opened.row.case_id is None:
        cookie.pop(COOKIE_KEY, None)
        g.reporter_session_ended = True
        return None
    case = session.get(Case, opened.row.case_id)
    if case is None or case.org_id != org_id:
        return None
    code = opened.secret[KEY_SIZE:].decode("ascii") or None
    return ReporterSession(case, opened.secret[:KEY_SIZE], code, token)


def ended() -> bool:
    """Whether this request came with a session that has ended (idle, past its lifetime, or
    signed out elsewhere), as opposed to none at all: the code page then says so."""
    return bool(g.get("reporter_session_ended", False))


def forget_code(reporter: ReporterSession) -> None:
    """The reporter has the code written down: erase it from the vault. Commits."""
    session = db()
    opened = vault.open_session(
        session, runtime().clock, reporter.token, kind=vault.REPORTER, lifetime=_lifetime()
    )
    if opened is not None:
        vault.replace_secret(session, opened, reporter.token, reporter.content_key)
    session.commit()


def end() -> None:
    """Sign out: the vault row goes, so the cookie is worthless even if copied. Commits."""
    token = cookie.pop(COOKIE_KEY, None)
    if isinstance(token, str):
        vault.destroy(db(), token)
        db().commit()
