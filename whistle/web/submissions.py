"""A report form sent twice is recognised: pressing Back after sending (JavaScript off) and
sending again must not make a second case and lose the first case's code.

Two marks, both kept in the browser's own session cookie (signed, so a client cannot forge an
entry; gone when the browser closes), for the last few reports sent from that browser:

- the form's one-time submission token (random, made when the form is shown): the very form
  sent again, as browsers that keep the page in memory (bfcache) send it;
- a fingerprint of what was reported: Chromium fetches a ``no-store`` page anew on Back, so
  the form comes with a fresh token, but it restores what was typed into it. The fingerprint
  is a keyed hash (HMAC under a key derived from the server's secret key) of the organisation,
  the category and the text: nothing in the cookie can be read back or checked against a
  guess without the server's key.

Nothing of this is stored on the server, and the case code never is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app
from flask import session as cookie

COOKIE_KEY = "sent_reports"
KEEP = 20  # marks (two per report) of the last reports sent from this browser
TOKEN_BYTES = 16


def new_token() -> str:
    """A fresh submission token for a report form about to be shown."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def _key() -> bytes:
    secret = current_app.secret_key
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret or b"")
    return hashlib.sha256(b"whistle: sent reports\x00" + raw).digest()


def _mark(kind: str, *parts: str) -> str:
    message = "\x00".join((kind, *parts)).encode("utf-8")
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:32]


def marks(token: str | None, org_id: int, category: object, text: str) -> list[str]:
    """The marks of one report form as sent: its token's (if any), and its content's."""
    found = [_mark("token", token)] if token else []
    words = " ".join(text.split())
    if words:
        found.append(_mark("content", str(org_id), str(category), words))
    return found


def already_taken(sent: list[str]) -> bool:
    """Whether a report with any of these marks was already taken from this browser."""
    seen = cookie.get(COOKIE_KEY)
    return isinstance(seen, list) and any(mark in seen for mark in sent)


def remember(sent: list[str]) -> None:
    """The report with these marks was taken: the same form sent again will be recognised."""
    seen = cookie.get(COOKIE_KEY)
    kept = [m for m in seen if isinstance(m, str)] if isinstance(seen, list) else []
    cookie[COOKIE_KEY] = [*kept, *sent][-KEEP:]
