"""Server-side session secrets that only the browser's cookie can open.

A reporter's case content key, or a handler's private key, must survive between requests
without being stored in clear (DESIGN.md, "Sessions"). The cookie carries a random id and a
random 256-bit key; the database keeps SHA-256 of the id and the secret encrypted under the
key. A database copy alone opens nothing, the cookie alone opens nothing, and ending the
session deletes the row, after which the cookie is worthless too.

A session ends after ``idle`` without use (15 minutes by default) and, however busy, after
an absolute lifetime from its start (a working day for staff, an hour for a reporter, ten
minutes for a half-finished staff sign-in): :class:`Lifetime`. An ended session opens
nothing, and :func:`sweep` deletes its row (``whistle sessions sweep`` on a schedule, and
every staff sign-in and reporter code entry in passing). Once the row is gone, a copied
cookie together with any later copy of the database opens nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crypto import OpenError, decrypt_field, encrypt_field
from whistle.core.clock import Clock
from whistle.core.contexts import vault_context
from whistle.core.models import WebSession
from whistle.core.settings import Settings

_ID_BYTES = 32
_KEY_BYTES = 32

STAFF = "staff"
STAFF_PENDING = "staff-pending"
REPORTER = "reporter"


@dataclass(frozen=True)
class Lifetime:
    """How long a session of one kind lives: ``idle`` after its last request, and at most
    ``absolute`` after it began, however active it is."""

    idle: timedelta
    absolute: timedelta

    def ended(self, row: WebSession, now: datetime) -> bool:
        """Whether ``row`` has ended at ``now``."""
        return row.last_seen_at + self.idle < now or row.created_at + self.absolute < now


def _ended_where(kind: str, lifetime: Lifetime, now: datetime) -> list[ColumnElement[bool]]:
    # Two conditions, each matching one index, (kind, last_seen_at) or (kind, created_at), so
    # the sweep reads only the rows it deletes.
    return [
        and_(WebSession.kind == kind, WebSession.last_seen_at < now - lifetime.idle),
        and_(WebSession.kind == kind, WebSession.created_at < now - lifetime.absolute),
    ]


# Password right, code still due: enough to open the authenticator app, or to enrol it.
PENDING_LIFETIME = Lifetime(idle=timedelta(minutes=10), absolute=timedelta(minutes=10))


def lifetimes(settings: Settings) -> dict[str, Lifetime]:
    """The lifetime of each kind of session under ``settings``."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    return {
        STAFF: Lifetime(idle, timedelta(minutes=settings.staff_session_max_minutes)),
        STAFF_PENDING: PENDING_LIFETIME,
        REPORTER: Lifetime(idle, timedelta(minutes=settings.reporter_session_max_minutes)),
    }


@dataclass(frozen=True, repr=False)
class OpenedSession:
    row: WebSession
    secret: bytes  # SECRET

    def __repr__(self) -> str:
        return f"OpenedSession(kind={self.row.kind!r})"


def _split(token: str) -> tuple[bytes, bytes] | None:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"==")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if len(raw) != _ID_BYTES + _KEY_BYTES:
        return None
    return raw[:_ID_BYTES], raw[_ID_BYTES:]


def create(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    secret: bytes,
    case_id: int | None = None,
    user_id: int | None = None,
) -> str:
    """Store ``secret`` for a new browser session; return the cookie token. Flushes."""
    session_id = secrets.token_bytes(_ID_BYTES)
    key = secrets.token_bytes(_KEY_BYTES)
    token_hash = hashlib.sha256(session_id).digest()
    now = clock.now()
    session.add(
        WebSession(
            token_hash=token_hash,
            kind=kind,
            case_id=case_id,
            user_id=user_id,
            sealed=encrypt_field(key, secret, context=vault_context(kind, token_hash)),
            last_seen_at=now,
            created_at=now,
        )
    )
    session.flush()
    return base64.urlsafe_b64encode(session_id + key).decode("ascii").rstrip("=")


def open_session(
    session: Session, clock: Clock, token: str, *, kind: str, lifetime: Lifetime
) -> OpenedSession | None:
    """The live session for ``token`` with its secret, touched; None if absent or ended
    (idle for longer than ``lifetime.idle``, or begun more than ``lifetime.absolute`` ago:
    its row is then deleted)."""
    parts = _split(token)
    if parts is None:
        return None
    session_id, key = parts
    token_hash = hashlib.sha256(session_id).digest()
    row = session.scalar(
        select(WebSession).where(WebSession.token_hash == token_hash, WebSession.kind == kind)
    )
    if row is None:
        return None
    now = clock.now()
    if lifetime.ended(row, now):
        session.execute(delete(WebSession).where(WebSession.id == row.id))
        session.flush()
        return None
    try:
        secret = decrypt_field(key, row.sealed, context=vault_context(kind, token_hash))
    except OpenError:
        return None
    # Touched only if still live in the database: a sweep elsewhere may have deleted the row
    # since it was read, and then this session has ended too.
    touched = session.execute(
        update(WebSession)
        .where(
            WebSession.id == row.id,
            WebSession.last_seen_at >= now - lifetime.idle,
            WebSession.created_at >= now - lifetime.absolute,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(touched, "rowcount", 0) != 1:
        return None
    set_committed_value(row, "last_seen_at", now)
    return OpenedSession(row=row, secret=secret)


def replace_secret(session: Session, opened: OpenedSession, token: str, secret: bytes) -> None:
    """Store a new secret in an open session (same cookie). Flushes."""
    parts = _split(token)
    assert parts is not None
    opened.row.sealed = encrypt_field(
        parts[1], secret, context=vault_context(opened.row.kind, opened.row.token_hash)
    )
    session.flush()


def destroy(session: Session, token: str) -> None:
    """End the session of ``token`` (sign-out). Flushes."""
    parts = _split(token)
    if parts is None:
        return
    token_hash = hashlib.sha256(parts[0]).digest()
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
    session.flush()


def sweep(session: Session, clock: Clock, kinds: Mapping[str, Lifetime]) -> int:
    """Delete every session that has ended (idle, or past its absolute lifetime), for each
    kind in ``kinds`` (:func:`lifetimes`); return how many. Flushes, never commits.

    Cheap enough to run at every sign-in: the indexes on (kind, last_seen_at) and (kind,
    created_at) mean only the rows deleted are read. Rows another transaction holds (a
    request touching its session, a sweep running at the same time) are skipped on
    PostgreSQL rather than waited for; the next sweep takes them if they have ended.
    """
    now = clock.now()
    ended = [cond for kind, life in kinds.items() for cond in _ended_where(kind, life, now)]
    if not ended:
        return 0
    doomed = select(WebSession.id).where(or_(*ended)).with_for_update(skip_locked=True)
    result = session.execute(
        delete(WebSession)
        .where(WebSession.id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
