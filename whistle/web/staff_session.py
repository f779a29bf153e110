"""The signed-in staff member's browser session, holding their private key in the vault.

The Flask session cookie carries only a vault token (whistle/core/vault.py): the unwrapped HPKE
private key rests server-side, encrypted under a key only that cookie has. Two kinds:

- ``staff-pending``: the password was right; the TOTP code (or enrolment) is still due. It
  opens nothing but the code and enrolment pages, for ten minutes at most.
- ``staff``: fully signed in. Ends on sign-out, after the idle time (15 minutes by default),
  at the latest after the absolute lifetime (a working day by default), and when the
  password changes elsewhere.

Every sign-in also sweeps the sessions that have ended, of anyone (whistle/core/vault.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g
from flask import session as cookie

from crypto import PrivateKey
from whistle.core import vault
from whistle.core.models import User
from whistle.core.runtime import db, runtime

COOKIE_KEY = "staff"
PENDING_KEY = "staff_pending"


@dataclass(frozen=True, repr=False)
class StaffSession:
    user: User
    private_key: PrivateKey | None  # SECRET
    session_id: int
    ends_at: datetime  # the end of the absolute lifetime, however active the session

    def __repr__(self) -> str:
        return f"StaffSession(user_id={self.user.id})"


def _lifetime(kind: str) -> vault.Lifetime:
    return vault.lifetimes(runtime().settings)[kind]


def _secret(private_key: PrivateKey | None) -> bytes:
    return private_key.to_bytes() if private_key is not None else b""


def _key(secret: bytes) -> PrivateKey | None:
    return PrivateKey.from_bytes(secret) if secret else None


def _open(key: str, kind: str) -> StaffSession | None:
    token = cookie.get(key)
    if not isinstance(token, str):
        return None
    session = db()
    lifetime = _lifetime(kind)
    opened = vault.open_session(session, runtime().clock, token, kind=kind, lifetime=lifetime)
    session.commit()
    if opened is None or opened.row.user_id is None:
        cookie.pop(key, None)
        g.staff_session_ended = True
        return None
    user = session.get(User, opened.row.user_id)
    if user is None or not user.is_active:
        vault.destroy(session, token)
        session.commit()
        cookie.pop(key, None)
        g.staff_session_ended = True
        return None
    return StaffSession(
        user, _key(opened.secret), opened.row.id, opened.row.created_at + lifetime.absolute
    )


def _drop(key: str) -> None:
    token = cookie.pop(key, None)
    if isinstance(token, str):
        vault.destroy(db(), token)
        db().commit()


def start_pending(user: User, private_key: PrivateKey | None) -> None:
    """The password was right: hold the key until the code is given. Sweeps the sessions
    that have ended, anyone's, in passing. Commits."""
    end()
    rt = runtime()
    vault.sweep(db(), rt.clock, vault.lifetimes(rt.settings))
    token = vault.create(
        db(), rt.clock, kind=vault.STAFF_PENDING, secret=_secret(private_key), user_id=user.id
    )
    db().commit()
    cookie[PENDING_KEY] = token
    cookie.permanent = False


def pending() -> StaffSession | None:
    """The half-signed-in user (password given, code due), or None."""
    return _open(PENDING_KEY, vault.STAFF_PENDING)


def promote() -> StaffSession | None:
    """The code was right: turn the pending session into a full one. Commits."""
    half = pending()
    if half is None:
        return None
    _drop(PENDING_KEY)
    token = vault.create(
        db(),
        runtime().clock,
        kind=vault.STAFF,
        secret=_secret(half.private_key),
        user_id=half.user.id,
    )
    db().commit()
    cookie[COOKIE_KEY] = token
    cookie.permanent = False
    g.pop("staff_session", None)
    return current()


def current() -> StaffSession | None:
    """The signed-in staff member of this request (opened once per request), or None."""
    if "staff_session" not in g:
        g.staff_session = _open(COOKIE_KEY, vault.STAFF)
    found = g.staff_session
    assert found is None or isinstance(found, StaffSession)
    return found


def ended() -> bool:
    """Whether this request came with a staff session that has ended (idle, past its lifetime,
    signed out elsewhere), as opposed to none at all: only then do pages say it ended."""
    current()
    return bool(g.get("staff_session_ended", False))


def end() -> None:
    """Sign out: the vault rows go, so a copied cookie is worthless. Commits."""
    _drop(PENDING_KEY)
    _drop(COOKIE_KEY)
    g.pop("staff_session", None)
