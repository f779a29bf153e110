"""Argon2id key derivation from low-entropy secrets (passwords, case codes).

Only Argon2id (RFC 9106) is used: memory-hard, so an attacker who copies the database pays
for every password or case-code guess in RAM as well as time, which GPUs and ASICs do not
make cheap. The parameters are configuration (:class:`Argon2Params`) and are written into
every blob that uses them, so they can be raised later without breaking old blobs.
"""

from __future__ import annotations

import secrets
import threading
import unicodedata
from dataclasses import dataclass
from typing import Final

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from crypto._wire import KDF_ARGON2ID_V13, KEY_SIZE
from crypto.errors import OpenError

__all__ = ["Argon2Params"]

SALT_SIZE: Final = 16
# Upper bounds apply to parameters read back from a blob as well: a tampered blob must not
# be able to make a sign-in allocate unbounded memory.
_MAX_TIME_COST: Final = 64
_MAX_PARALLELISM: Final = 64
_MAX_MEMORY_KIB: Final = 2 * 1024 * 1024  # 2 GiB, RFC 9106's first recommendation
_ENCODED_SIZE: Final = 1 + 4 + 4 + 4 + SALT_SIZE
# One derivation at a time per process: each takes ``memory_kib`` (64 MiB at the defaults) and,
# with p=4 lanes, every core of a small server, so running two at once in one process only
# doubles its memory without finishing either sooner. A web worker with several threads thus
# peaks at its resting size plus one derivation, however many sign-ins arrive together.
_ONE_AT_A_TIME: Final = threading.Lock()


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters.

    The defaults (for passwords) are RFC 9106 section 4's second recommended option: t=3 passes,
    m=64 MiB, p=4 lanes. The first option (t=1, m=2 GiB) is out of reach of a small self-hosted
    server that may see several sign-ins at once; 64 MiB x 3 passes still costs an attacker about
    192 MiB-passes per guess, and takes about 0.2 s on a 2-core server (docs/benchmarks.md).
    Use :meth:`for_tests` in tests only.
    """

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def __post_init__(self) -> None:
        for name in ("time_cost", "memory_kib", "parallelism"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Argon2Params.{name} must be an int")
        if not 1 <= self.time_cost <= _MAX_TIME_COST:
            raise ValueError(f"time_cost must be between 1 and {_MAX_TIME_COST}")
        if not 1 <= self.parallelism <= _MAX_PARALLELISM:
            raise ValueError(f"parallelism must be between 1 and {_MAX_PARALLELISM}")
        if not 8 * self.parallelism <= self.memory_kib <= _MAX_MEMORY_KIB:
            raise ValueError(
                f"memory_kib must be between 8 x parallelism and {_MAX_MEMORY_KIB} KiB"
            )

    def stronger_than(self, other: Argon2Params) -> bool:
        """Whether a guess under these parameters costs an attacker more than under
        ``other``: at least as many passes and as much memory, and more of one.

        Parallelism is not a strength: the lanes split the same passes over the same memory,
        so they change how fast the server derives a key, not what a guess costs an attacker
        who runs many guesses side by side (RFC 9106 section 3.1). A change of lanes alone is
        therefore neither stronger nor weaker.
        """
        at_least = self.time_cost >= other.time_cost and self.memory_kib >= other.memory_kib
        more = self.time_cost > other.time_cost or self.memory_kib > other.memory_kib
        return at_least and more

    def no_weaker_than(self, other: Argon2Params) -> Argon2Params:
        """These parameters, with passes and memory raised to ``other``'s where those are
        higher: what a password change wraps with, so it never makes a guess cheaper than it
        was. The lanes stay these (they are no strength, see :meth:`stronger_than`)."""
        return Argon2Params(
            time_cost=max(self.time_cost, other.time_cost),
            memory_kib=max(self.memory_kib, other.memory_kib),
            parallelism=self.parallelism,
        )

    @classmethod
    def for_case_codes(cls) -> Argon2Params:
        """The cost for case codes: t=2 passes, m=19 MiB, p=1 lane (the first of OWASP's
        equivalent Argon2id settings for password storage).

        A password is guessable and needs all the memory a server can spare; a case code is
        not: its secret part is 80 random bits from :mod:`secrets`
        (:data:`crypto.case_codes.CASE_CODE_BITS`), so an attacker holding the database and
        the instance folder needs about 2**79 derivations per case whatever each costs
        (each case has its own salt, so no guess serves two cases). The derivation is
        defence in depth on top of that search, not what makes it infeasible. The password
        cost instead would make each guess about 5 times dearer in memory-passes and about 17
        times in memory x time (about 4 bits of the 80) but cost every web worker 64 MiB and
        about 0.25 CPU-seconds per report and per follow-up sign-in, and the reporter's
        browser as much once it derives the key itself (docs/crypto.md, "Rationale"). One
        lane: a derivation this size takes about 22 ms on one core (bench/crypto_bench.py),
        and a browser's WebAssembly runs lanes one after the other anyway.
        """
        return cls(time_cost=2, memory_kib=19 * 1024, parallelism=1)

    @classmethod
    def for_tests(cls) -> Argon2Params:
        """Cheap parameters (t=1, 64 KiB, p=1) for test suites. Never use in production:
        a database copy protected by these falls to a dictionary attack quickly."""
        return cls(time_cost=1, memory_kib=64, parallelism=1)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


def derive_key(secret: bytes, salt: bytes, params: Argon2Params) -> bytes:
    """Argon2id v1.3 of ``secret`` under ``salt``: a 256-bit key. Derivations in one process
    run one after the other (see ``_ONE_AT_A_TIME``)."""
    with _ONE_AT_A_TIME:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=KEY_SIZE,
            type=Type.ID,
            version=ARGON2_VERSION,
        )


def password_bytes(password: str) -> bytes:
    """UTF-8 of the NFC form, so the same password typed on two keyboards (precomposed or
    combining accents) gives the same key."""
    if not isinstance(password, str):
        raise TypeError("password must be str")
    if not password:
        raise ValueError("password must not be empty")
    return unicodedata.normalize("NFC", password).encode("utf-8")


def encode_params(params: Argon2Params, salt: bytes) -> bytes:
    """``kdf id (1) || t (u32) || m KiB (u32) || p (u32) || salt (16)``."""
    return (
        bytes((KDF_ARGON2ID_V13,))
        + params.time_cost.to_bytes(4, "big")
        + params.memory_kib.to_bytes(4, "big")
        + params.parallelism.to_bytes(4, "big")
        + salt
    )


def decode_params(data: bytes) -> tuple[Argon2Params, bytes]:
    """Inverse of :func:`encode_params`; OpenError on an unknown KDF or absurd costs."""
    if len(data) < _ENCODED_SIZE or data[0] != KDF_ARGON2ID_V13:
        raise OpenError("unsupported key derivation")
    try:
        params = Argon2Params(
            time_cost=int.from_bytes(data[1:5], "big"),
            memory_kib=int.from_bytes(data[5:9], "big"),
            parallelism=int.from_bytes(data[9:13], "big"),
        )
    except ValueError:
        raise OpenError("key derivation parameters out of range") from None
    return params, bytes(data[13:_ENCODED_SIZE])


ENCODED_PARAMS_SIZE: Final = _ENCODED_SIZE
