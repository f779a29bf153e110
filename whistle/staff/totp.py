"""Time-based one-time passwords (RFC 6238) for staff sign-in, on pyca/cryptography's TOTP.

Six digits, SHA-1 and 30-second steps: what every authenticator app understands. The secret
is 160 random bits (RFC 4226's recommendation), stored sealed under the instance key so that a
copy of the database alone cannot mint codes. A code is accepted one step either side of now
(clock drift), and never twice: the last accepted step is remembered, so a code seen over a
shoulder or in a proxy log cannot be replayed.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from crypto import OpenError, decrypt_field, encrypt_field
from whistle.core.contexts import totp_secret_context

DIGITS = 6
STEP_SECONDS = 30
SECRET_BYTES = 20
DRIFT_STEPS = 1


def new_secret() -> bytes:
    """A fresh TOTP secret."""
    return secrets.token_bytes(SECRET_BYTES)


def seal_secret(secret: bytes, instance_key: bytes, user_id: int) -> bytes:
    """The secret sealed under the instance key, bound to the user."""
    return encrypt_field(instance_key, secret, context=totp_secret_context(user_id))


def open_secret(sealed: bytes, instance_key: bytes, user_id: int) -> bytes | None:
    """The secret, or None when the sealed value does not open (wrong user or instance)."""
    try:
        return decrypt_field(instance_key, sealed, context=totp_secret_context(user_id))
    except OpenError:
        return None


def secret_text(secret: bytes) -> str:
    """The secret in base32, grouped by four, for typing into an app by hand."""
    text = base64.b32encode(secret).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account}", safe="@:")
    encoded = base64.b32encode(secret).decode("ascii").rstrip("=")
    return (
        f"otpauth://totp/{label}?secret={encoded}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def normalise_code(code: str) -> str:
    """Digits only: people type spaces, and some apps show "123 456"."""
    return "".join(ch for ch in code if not ch.isspace())


@dataclass(frozen=True)
class Accepted:
    step: int


def _totp(secret: bytes) -> TOTP:
    # SHA-1 inside HMAC, as RFC 6238 and every authenticator app use it: HMAC-SHA-1 is not
    # affected by SHA-1's collision weakness.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)  # noqa: S303  # nosec B303


def check_code(
    secret: bytes, code: str, now: datetime, *, last_step: int | None
) -> Accepted | None:
    """The time step ``code`` is valid for (within the drift window, after ``last_step``)."""
    code = normalise_code(code)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = _totp(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        try:
            totp.verify(code.encode("ascii"), step * STEP_SECONDS)
        except InvalidToken:
            continue
        return Accepted(step)
    return None


def code_at(secret: bytes, moment: datetime) -> str:
    """The code an authenticator app shows at ``moment`` (for tests and the CLI)."""
    totp = _totp(secret)
    return totp.generate(int(moment.timestamp())).decode("ascii")
