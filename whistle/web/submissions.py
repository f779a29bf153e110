"""A report form sent twice is recognised: pressing Back after sending (JavaScript off) and
sending again must not make a second case and lose the first case's code.

Each report form carries a one-time submission token (random, made when the form is shown).
Once a report is taken, the browser's session cookie remembers a digest of its token, for the
last few reports sent from that browser; the same token sent again is recognised and takes
nothing. The cookie is signed (a client cannot forge an entry) and lives until the browser
closes; nothing of this is stored on the server, and the case code never is.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import session as cookie

COOKIE_KEY = "sent_reports"
KEEP = 10  # digests of the last reports sent from this browser
TOKEN_BYTES = 16


def new_token() -> str:
    """A fresh submission token for a report form about to be shown."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def already_taken(token: str | None) -> bool:
    """Whether a report with this submission token was already taken from this browser."""
    if not token:
        return False
    seen = cookie.get(COOKIE_KEY)
    return isinstance(seen, list) and _digest(token) in seen


def remember(token: str | None) -> None:
    """The report carrying ``token`` was taken: the same form sent again will be recognised."""
    if not token:
        return
    seen = cookie.get(COOKIE_KEY)
    kept = [d for d in seen if isinstance(d, str)] if isinstance(seen, list) else []
    cookie[COOKIE_KEY] = [*kept, _digest(token)][-KEEP:]
