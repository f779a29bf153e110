"""Staff password hashing (Argon2id via argon2-cffi) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules, a block-list of the most
common passwords, no forced rotation. Private keys are wrapped under a separate Argon2id
derivation (crypto/), so the login hash and the key-wrapping key are independent.

Passwords are hashed in their NFC form (NIST SP 800-63B 5.1.1.2), as the key wrap derives
from it too (crypto/kdf.py): "å" typed as one character or as "a" and a combining ring is
the same password. Hashes made before this, from a typed form that was not NFC, still verify
(:func:`check_password_hash` tries the typed form second) and are then replaced.
"""

from __future__ import annotations

import enum
import unicodedata

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l
from markupsafe import escape

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
    """The password does not meet the policy; ``message`` is shown to the person (every
    problem found, one after the other), ``problems`` lists them one by one."""

    def __init__(self, problems: list[object]) -> None:
        self.problems = problems
        self.message = LazyJoined(problems)
        super().__init__("password rejected by policy")


class LazyJoined:
    """Messages shown as one, each translated when shown (in the reader's language)."""

    def __init__(self, parts: list[object]) -> None:
        self.parts = parts

    def __str__(self) -> str:
        return " ".join(str(part) for part in self.parts)

    def __html__(self) -> str:
        return str(escape(str(self)))


def nfc(password: str) -> str:
    """The password as it is hashed and as the key wrap uses it."""
    return unicodedata.normalize("NFC", password)


def policy_problems(password: str, *, email: str = "", name: str = "") -> list[object]:
    """Every reason ``password`` may not be used (judged in NFC), all at once, so a person
    fixes them in one go; empty when it may."""
    password = nfc(password)
    problems: list[object] = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        problems.append(_l("This password is too common or too simple. Choose another."))
    local = email.split("@", 1)[0].lower()
    if (local and len(local) >= 4 and local in lowered) or (
        name and len(name) >= 4 and name.lower() in lowered
    ):
        problems.append(_l("The password must not contain your name or e-mail address."))
    return problems


def check_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Raise :class:`PasswordRejected`, naming every problem, if ``password`` may not be
    used."""
    problems = policy_problems(password, email=email, name=name)
    if problems:
        raise PasswordRejected(problems)


def hash_password(password: str, params: Argon2Params) -> str:
    """An Argon2id hash of the NFC form of ``password`` in PHC format (parameters and salt
    inside, so they can change)."""
    hasher = PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism
    )
    return hasher.hash(nfc(password))


def rehash_password(stored_hash: str, password: str, params: Argon2Params) -> str:
    """A new hash of ``password`` to replace ``stored_hash``, at ``params`` raised to the
    stored hash's passes and memory where those are higher: replacing a hash never makes a
    guess at it cheaper (a lowered configuration, the test profile)."""
    try:
        found = extract_parameters(stored_hash)
        stored = Argon2Params(
            time_cost=found.time_cost,
            memory_kib=found.memory_cost,
            parallelism=found.parallelism,
        )
    except (InvalidHashError, ValueError, TypeError):
        return hash_password(password, params)
    return hash_password(password, params.no_weaker_than(stored))


class PasswordMatch(enum.Enum):
    """The answer of :func:`check_password_hash`."""

    WRONG = "wrong"
    RIGHT = "right"
    # Right as typed, but the hash was made before passwords were normalised: replace it
    # (rehash_password) while the password is at hand.
    RIGHT_REHASH = "right, rehash in NFC"


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_hash(stored_hash: str, password: str) -> PasswordMatch:
    """Check ``password`` against a stored hash: its NFC form first, then (only if that
    differs) the form typed. Never raises for a wrong password."""
    normal = nfc(password)
    if _verify(stored_hash, normal):
        return PasswordMatch.RIGHT
    if normal != password and _verify(stored_hash, password):
        return PasswordMatch.RIGHT_REHASH
    return PasswordMatch.WRONG


def verify_password(stored_hash: str, password: str) -> bool:
    """Check ``password`` against a stored hash (:func:`check_password_hash`); never raises
    for a wrong password."""
    return check_password_hash(stored_hash, password) is not PasswordMatch.WRONG
