"""Staff password hashing (Argon2id via argon2-cffi) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules, a block-list of the most
common passwords, no forced rotation. Private keys are wrapped under a separate Argon2id
derivation (crypto/), so the login hash and the key-wrapping key are independent.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l

from crypto import Argon2Params

MIN_LENGTH = 12
MAX_LENGTH = 256

_COMMON = frozenset(
    {
        "123456789012",
        "password1234",
        "passwordpassword",
        "qwertyuiopas",
        "adgangskode1",
        "adgangskode123",
        "sommer2024!!",
        "velkommen123",
        "iloveyou1234",
        "111111111111",
        "abcdefghijkl",
        "whistleblower",
        "whistle123456",
    }
)


class PasswordRejected(ValueError):
    """The password does not meet the policy; ``message`` is shown to the person."""

    def __init__(self, message: object) -> None:
        self.message = message
        super().__init__("password rejected by policy")


def check_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Raise :class:`PasswordRejected` if ``password`` may not be used."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        raise PasswordRejected(_l("This password is too common or too simple. Choose another."))
    local = email.split("@", 1)[0].lower()
    if (local and len(local) >= 4 and local in lowered) or (
        name and len(name) >= 4 and name.lower() in lowered
    ):
        raise PasswordRejected(_l("The password must not contain your name or e-mail address."))


def hash_password(password: str, params: Argon2Params) -> str:
    """An Argon2id hash in PHC format (parameters and salt inside, so they can change)."""
    hasher = PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism
    )
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Check ``password`` against a stored hash; never raises for a wrong password."""
    try:
        return PasswordHasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
