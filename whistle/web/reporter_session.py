"""The reporter's browser session (the web kit's session bookkeeping, beside
whistle/web/staff_session.py): the seed of the reporter's key pair held in the vault
(whistle/core/vault.py).

The Flask session cookie carries only the vault token. Each request derives the key pair from
the seed and opens the content keys sealed to it, every key epoch (whistle/casefile/access.py), so
a key renewed while the reporter is signed in reaches them on their next page. Right after
submission the case code is held in the vault too, so the code page survives a reload
(post/redirect/get) until the reporter confirms they have written it down; then it is erased.

A session ends after the idle time and at the latest an hour (by default) after the code was
entered, however active (whistle/core/vault.py); every code entry sweeps the sessions that have
ended, anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask import session as cookie

from crypto import PrivateKey
from whistle.casefile.access import KeyRing, NoAccess, open_reporter_keys
from whistle.core import vault
from whistle.core.models import Case
from whistle.core.runtime import db, runtime

COOKIE_KEY = "reporter"
KEY_SIZE = 32
# The first byte of the vault secret: what follows is the seed of the reporter's key pair (a
# session from before key epochs held a content key instead, and is simply signed out).
_SEED_SECRET = b"\x02"


@dataclass(frozen=True, repr=False)
class ReporterSession:
    case: Case
    content: KeyRing  # SECRET: the content keys of every epoch
    seed: bytes  # SECRET
    pending_code: str | None
    token: str

    def __repr__(self) -> str:
        return f"ReporterSession(case={self.case.reference!r})"


def _lifetime() -> vault.Lifetime:
    return vault.lifetimes(runtime().settings)[vault.REPORTER]


def _secret(seed: bytes, pending_code: str | None) -> bytes:
    return _SEED_SECRET + seed + (pending_code or "").encode("ascii")


def start(case: Case, seed: bytes, pending_code: str | None = None) -> None:
    """Sign the browser in to ``case`` (replacing any earlier reporter session), sweeping the
    sessions that have ended in passing. Commits."""
    rt = runtime()
    vault.sweep(db(), rt.clock, vault.lifetimes(rt.settings))
    begin(case, seed, pending_code)
    db().commit()


def begin(case: Case, seed: bytes, pending_code: str | None = None) -> None:
    """:func:`start` inside the caller's transaction (flushes, never commits): intake signs
    the reporter in with the same commit that stores the report, so a report never exists
    without its session, nor a session without its report."""
    session = db()
    token = cookie.pop(COOKIE_KEY, None)
    if isinstance(token, str):
        vault.destroy(session, token)
    token = vault.create(
        session,
        runtime().clock,
        kind=vault.REPORTER,
        secret=_secret(seed, pending_code),
        case_id=case.id,
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
    secret = opened.secret
    if secret[:1] != _SEED_SECRET or len(secret) < 1 + KEY_SIZE:
        return None
    seed = secret[1 : 1 + KEY_SIZE]
    try:
        content = open_reporter_keys(session, case, PrivateKey.from_seed(seed))
    except NoAccess:
        return None
    code = secret[1 + KEY_SIZE :].decode("ascii") or None
    return ReporterSession(case, content, seed, code, token)


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
        vault.replace_secret(session, opened, reporter.token, _secret(reporter.seed, None))
    session.commit()


def end() -> None:
    """Sign out: the vault row goes, so the cookie is worthless even if copied. Commits."""
    token = cookie.pop(COOKIE_KEY, None)
    if isinstance(token, str):
        vault.destroy(db(), token)
        db().commit()
