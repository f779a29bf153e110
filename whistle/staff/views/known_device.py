"""The known-browser cookie: a browser that has signed in to an account in full, once.

Waits after failed sign-ins are counted per account (whistle/staff/sign_in_delay.py), so
someone guessing a colleague's password would make the colleague wait too. A browser that has
completed a sign-in (password and authenticator code) is given this cookie; its later attempts
at that account are counted on their own, and the guesser's failures do not reach them.

The cookie names no one: it holds a keyed hash of the account's address (so it cannot be
tested against an address without the server) and a random browser id, signed so that it
cannot be made up or moved to another account. It is sent only to the staff pages, never to a
script, and only over HTTPS where the deployment says so.

Both the hash and the signature are keyed with a key of the cookie's own, derived from the
instance key under :data:`_KEY_LABEL`, a label no other keyed hash uses (the throttles' is
"WHS throttle keys v1", whistle/core/throttle.py): nothing the deployment computes for another
purpose can stand for this cookie, nor this cookie for anything else
(tests/security/test_security_key_labels.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from whistle.core.runtime import runtime
from whistle.staff.sign_in_delay import account_key

COOKIE = "whistle_known_browser"
MAX_AGE = 180 * 24 * 3600  # half a year: a browser used for work stays known
_SALT = "whistle.known-browser"
_KEY_LABEL = b"WHS known browser v1"


def _key() -> bytes:
    return hmac.new(runtime().settings.instance_key, _KEY_LABEL, hashlib.sha256).digest()


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(_key(), salt=_SALT)


def _account(email: str) -> str:
    return hmac.new(_key(), account_key(email).encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def device_for(email: str) -> str | None:
    """The browser id this request proves for the account ``email``, or None."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        payload = _signer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    account, device = payload.get("a"), payload.get("d")
    if not isinstance(account, str) or not isinstance(device, str):
        return None
    if not hmac.compare_digest(account, _account(email)):
        return None
    return device


def remember(response: Response, email: str) -> Response:
    """After a full sign-in: this browser is known to the account from now on (the id it had
    for this account is kept, a new one made otherwise)."""
    device = device_for(email) or secrets.token_hex(16)
    response.set_cookie(
        COOKIE,
        _signer().dumps({"a": _account(email), "d": device}),
        max_age=MAX_AGE,
        path="/staff",
        httponly=True,
        samesite="Strict",
        secure=runtime().settings.secure_cookies,
    )
    return response
