"""Random secrets an instance or a session needs. No file I/O: the caller stores them."""

from __future__ import annotations

import secrets
from typing import Final

from crypto._wire import KEY_SIZE

__all__ = ["generate_pepper", "generate_symmetric_key"]

PEPPER_SIZE: Final = 32


def generate_pepper() -> bytes:
    """A 256-bit pepper for :func:`crypto.case_code_lookup_tag`.

    Keep it in the instance folder, never in the database: with it, a database copy lets an
    attacker test case-code guesses against the lookup tags. Replacing it orphans every
    existing case code, so create it once.
    """
    return secrets.token_bytes(PEPPER_SIZE)


def generate_symmetric_key() -> bytes:
    """A fresh random 256-bit key for :func:`crypto.encrypt_field`, e.g. the per-session key
    that protects a signed-in handler's private key (carried only by the session cookie,
    so neither the database nor the cookie alone opens it)."""
    return secrets.token_bytes(KEY_SIZE)
