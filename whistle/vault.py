"""Server-side session secrets that only the browser's cookie can open.

A reporter's case content key, or a handler's private key, must survive between requests
without being stored in clear (DESIGN.md, "Sessions"). The cookie carries a random id and a
random 256-bit key; the database keeps SHA-256 of the id and the secret encrypted under the
key. A database copy alone opens nothing, the cookie alone opens nothing, and ending the
session deletes the row, after which the cookie is worthless too.

Sessions end after ``idle`` without use (15 minutes by default) and are swept by any later
request, so an abandoned one leaves nothing usable behind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field, encrypt_field
from whistle.clock import Clock
from whistle.models import WebSession

_ID_BYTES = 32
_KEY_BYTES = 32


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


def _context(kind: str, token_hash: bytes) -> tuple[str, str, bytes]:
    return ("web-session", kind, token_hash)


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
    session.add(
        WebSession(
            token_hash=token_hash,
            kind=kind,
            case_id=case_id,
            user_id=user_id,
            sealed=encrypt_field(key, secret, context=_context(kind, token_hash)),
            last_seen_at=clock.now(),
        )
    )
    session.flush()
    return base64.urlsafe_b64encode(session_id + key).decode("ascii").rstrip("=")


def open_session(
    session: Session, clock: Clock, token: str, *, kind: str, idle: timedelta
) -> OpenedSession | None:
    """The live session for ``token`` with its secret, touched; None if absent or expired."""
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
    if row.last_seen_at + idle < now:
        session.delete(row)
        session.flush()
        return None
    try:
        secret = decrypt_field(key, row.sealed, context=_context(kind, token_hash))
    except OpenError:
        return None
    row.last_seen_at = now
    session.flush()
    return OpenedSession(row=row, secret=secret)


def replace_secret(session: Session, opened: OpenedSession, token: str, secret: bytes) -> None:
    """Store a new secret in an open session (same cookie). Flushes."""
    parts = _split(token)
    assert parts is not None
    opened.row.sealed = encrypt_field(
        parts[1], secret, context=_context(opened.row.kind, opened.row.token_hash)
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


def sweep(session: Session, clock: Clock, idle: timedelta) -> int:
    """Delete every session idle for longer than ``idle``; return how many. Flushes."""
    result = session.execute(delete(WebSession).where(WebSession.last_seen_at < clock.now() - idle))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
