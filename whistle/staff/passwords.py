"""Staff password hashing (Argon2id via argon2-cffi) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules, no forced rotation, and
candidates checked against what guessers try first. A password also wraps its owner's
private key (crypto/, a separate Argon2id derivation), and a copy of the database lets anyone
try guesses at that key offline, with no throttle. So the policy asks for a password that
resists that: at least :data:`MIN_LENGTH` characters, and zxcvbn's top score
(:data:`MIN_SCORE` = 4: an estimated 10^10 guesses or more, with common passwords, words,
names, keyboard rows, sequences, repeats, dates and the person's own name, e-mail address and
organisation all counted as guessable). A 13-word block list used to let ``Password123!``,
``Summer2025!!`` and ``qwerty123456`` through. zxcvbn explains in English only, so the
reasons shown here are our own words, chosen by the kind of weakness zxcvbn found
(:func:`whistle.staff.password_estimate.weakness_kinds`), in Danish and English. zxcvbn runs
in a short-lived process of its own (:mod:`whistle.staff.password_estimate`), so its 12 MiB
of dictionaries never stay in a web worker.

Passwords are hashed in their NFC form (NIST SP 800-63B 5.1.1.2), as the key wrap derives
from it too (crypto/kdf.py): "å" typed as one character or as "a" and a combining ring is
the same password. Hashes made before this, from a typed form that was not NFC, still verify
(:func:`check_password_hash` tries the typed form second) and are then replaced.
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from collections.abc import Sequence

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from crypto import Argon2Params
from whistle.staff.password_estimate import EstimateUnavailable, estimate

_log = logging.getLogger(__name__)

MIN_LENGTH = 12
MAX_LENGTH = 256

MIN_SCORE = 4

TOO_GUESSABLE = _l(
    "This password would be too easy to guess. It also protects your key to the cases: "
    "someone with a copy of the database could try guesses at it without any limit."
)
NOT_JUDGED = _l(
    "The password could not be checked just now, so it has not been saved. "
    "Please try again in a moment."
)
BETTER = _l(
    "Better: four or more ordinary words that have nothing to do with each other or with you, "
    "with spaces or dashes between them."
)
_WEAKNESS = {
    "common_password": _l("It is, or is close to, a password many people use."),
    "own_words": _l("It is built on your name, your e-mail address or your organisation's name."),
    "words": _l("Common words and names are easy to guess, even with digits or symbols added."),
    "keyboard": _l("Rows and patterns of keys on the keyboard are easy to guess."),
    "repeat": _l("Repeated characters and words make it only a little harder to guess."),
    "sequence": _l("Sequences such as abc or 6543 are easy to guess."),
    "date": _l("Years and dates are easy to guess."),
    "lookalike": _l("Look-alike symbols in place of letters (@ for a) do not help much."),
}


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


def policy_problems(
    password: str, *, email: str = "", name: str = "", organisation: str | Sequence[str] = ""
) -> list[object]:
    """Every reason ``password`` may not be used (judged in NFC), all at once, so a person
    fixes them in one go, with what would be better; empty when it may. ``email``, ``name``
    and ``organisation`` (a name, or several) are the person's own words: guessable."""
    password = nfc(password)
    problems: list[object] = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if (local and len(local) >= 4 and local in lowered) or (
        name and len(name) >= 4 and name.lower() in lowered
    ):
        problems.append(_l("The password must not contain your name or e-mail address."))
    organisations = [organisation] if isinstance(organisation, str) else list(organisation)
    words = [email, local, *email.split("@", 1)[1:], name, *name.split()]
    for org in organisations:
        words += [org, *org.split()]
    own = [w for w in words if len(w) >= 3]
    try:
        judged = estimate(password, own)
    except EstimateUnavailable:
        _log.warning("password strength could not be judged", exc_info=True)
        problems.append(NOT_JUDGED)
        return problems
    if judged.score < MIN_SCORE:
        problems.append(TOO_GUESSABLE)
        problems.extend(_WEAKNESS[kind] for kind in judged.kinds)
        problems.append(BETTER)
    return problems


def check_policy(
    password: str, *, email: str = "", name: str = "", organisation: str | Sequence[str] = ""
) -> None:
    """Raise :class:`PasswordRejected`, naming every problem, if ``password`` may not be
    used."""
    problems = policy_problems(password, email=email, name=name, organisation=organisation)
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
