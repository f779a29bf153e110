"""HPKE key pairs of handlers, leads, counsel and the organisation's recovery key.

KEM: ML-KEM-768 + X25519 (the hybrid "MLKEM768-X25519", HPKE KEM id 0x647A), so a sealed
case key stays secret if either component holds: reports must stay secret for decades, and
"record now, decrypt later" with a future quantum computer is a real threat to X25519 alone.

A private key is stored only wrapped: AES-256-GCM under Argon2id(password, per-user salt).
Who can read it: whoever knows the password. A copy of the database yields the wrapped blob,
so the password's strength and the Argon2 cost are what stand between that copy and the
handler's cases. A password change rewraps the key; no case data is re-encrypted.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import _base32
from crypto._wire import (
    AEAD_AES256GCM,
    HPKE_KEM_MLKEM768_X25519,
    KIND_PRIVATE_KEY,
    KIND_PUBLIC_KEY,
    KIND_WRAPPED_PRIVATE_KEY,
    NONCE_SIZE,
    TAG_SIZE,
    expect_header,
    expect_length,
    header,
    u16,
)
from crypto.errors import OpenError
from crypto.kdf import (
    ENCODED_PARAMS_SIZE,
    Argon2Params,
    decode_params,
    derive_key,
    encode_params,
    new_salt,
    password_bytes,
)

__all__ = [
    "PrivateKey",
    "PublicKey",
    "needs_rewrap",
    "rewrap_private_key",
    "unwrap_private_key",
    "wrap_private_key",
]

MLKEM_SEED_SIZE: Final = 64
MLKEM_PUBLIC_SIZE: Final = 1184
X25519_SIZE: Final = 32
RAW_PRIVATE_SIZE: Final = MLKEM_SEED_SIZE + X25519_SIZE
SEED_SIZE: Final = 32
_SEED_INFO: Final = b"WHS key pair from seed v1"

_PUBLIC_HEADER: Final = header(KIND_PUBLIC_KEY, u16(HPKE_KEM_MLKEM768_X25519))
_PRIVATE_HEADER: Final = header(KIND_PRIVATE_KEY, u16(HPKE_KEM_MLKEM768_X25519))
_WRAPPED_HEADER: Final = header(
    KIND_WRAPPED_PRIVATE_KEY, bytes((AEAD_AES256GCM,)), u16(HPKE_KEM_MLKEM768_X25519)
)
_PUBLIC_SIZE: Final = len(_PUBLIC_HEADER) + MLKEM_PUBLIC_SIZE + X25519_SIZE
PRIVATE_KEY_BLOB_SIZE: Final = len(_PRIVATE_HEADER) + RAW_PRIVATE_SIZE
_WRAPPED_AAD_SIZE: Final = len(_WRAPPED_HEADER) + ENCODED_PARAMS_SIZE
_WRAPPED_SIZE: Final = _WRAPPED_AAD_SIZE + NONCE_SIZE + RAW_PRIVATE_SIZE + TAG_SIZE


class PublicKey:
    """A recipient's public key: anyone may seal case keys to it; only the private half
    opens them. Immutable; compare with ``==``."""

    __slots__ = ("_hpke", "_mlkem", "_x25519")

    def __init__(
        self, mlkem_key: mlkem.MLKEM768PublicKey, x25519_key: x25519.X25519PublicKey
    ) -> None:
        self._mlkem = mlkem_key
        self._x25519 = x25519_key
        self._hpke = hpke.MLKEM768X25519PublicKey(mlkem_key, x25519_key)

    def to_bytes(self) -> bytes:
        """Serialise: ``WHS P 01 | 0x647A | ML-KEM-768 public (1184) | X25519 public (32)``.

        Public, but not self-authenticating: whoever can write the database can swap it.
        Compare :meth:`fingerprint` with the one derived at sign-in from the private key.
        """
        return _PUBLIC_HEADER + self._mlkem.public_bytes_raw() + self._x25519.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Parse :meth:`to_bytes` output; OpenError if it is not a valid public key."""
        expect_header(data, _PUBLIC_HEADER, "public key")
        expect_length(data, _PUBLIC_SIZE, "public key")
        body = data[len(_PUBLIC_HEADER) :]
        try:
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(body[:MLKEM_PUBLIC_SIZE])
            x_key = x25519.X25519PublicKey.from_public_bytes(body[MLKEM_PUBLIC_SIZE:])
        except ValueError:
            raise OpenError("invalid public key") from None
        return cls(mlkem_key, x_key)

    def fingerprint(self) -> str:
        """A short, human-comparable digest (120 bits of SHA-256, 6 groups of 4), to show
        next to a user or the recovery key so substitution can be noticed."""
        digest = hashlib.sha256(self.to_bytes()).digest()[:15]
        text = _base32.encode(digest)
        return "-".join(text[i : i + 4] for i in range(0, len(text), 4))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint()})"


class PrivateKey:
    """A private key (handler, lead, counsel, or the organisation's recovery key).

    Whoever holds it reads every case key sealed to its public half. It exists in clear
    only in memory during a request; at rest it is wrapped (:func:`wrap_private_key`),
    encrypted under a session key (``encrypt_field(session_key, key.to_bytes(), ...)``)
    or printed for a safe (:func:`crypto.export_recovery_key`). ``repr`` shows no secret.
    """

    __slots__ = ("_hpke", "_mlkem", "_x25519")

    def __init__(
        self, mlkem_key: mlkem.MLKEM768PrivateKey, x25519_key: x25519.X25519PrivateKey
    ) -> None:
        self._mlkem = mlkem_key
        self._x25519 = x25519_key
        self._hpke = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key pair from the operating system's CSPRNG."""
        return cls._from_raw(secrets.token_bytes(RAW_PRIVATE_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """The key pair determined by a 32-byte secret ``seed`` (SECRET).

        The 96 raw key bytes are HKDF-SHA256(seed, info "WHS key pair from seed v1"). Used for
        the reporter's key pair, whose seed is wrapped under the case code: whoever opens the
        seed has the private key, so the seed must be as random as any key
        (``secrets.token_bytes(32)``) and kept like one.
        """
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_SIZE:
            raise ValueError(f"a key-pair seed must be {SEED_SIZE} bytes")
        raw = HKDF(
            algorithm=hashes.SHA256(), length=RAW_PRIVATE_SIZE, salt=None, info=_SEED_INFO
        ).derive(bytes(seed))
        return cls._from_raw(raw)

    @classmethod
    def _from_raw(cls, raw: bytes) -> PrivateKey:
        """From 96 bytes: ML-KEM-768 seed (d || z, 64) then X25519 scalar (32)."""
        if len(raw) != RAW_PRIVATE_SIZE:
            raise ValueError("raw private key must be 96 bytes")
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:MLKEM_SEED_SIZE]),
            x25519.X25519PrivateKey.from_private_bytes(raw[MLKEM_SEED_SIZE:]),
        )

    def _raw(self) -> bytes:
        return self._mlkem.private_bytes_raw() + self._x25519.private_bytes_raw()

    def public_key(self) -> PublicKey:
        """The public half, to publish and seal case keys to."""
        return PublicKey(self._mlkem.public_key(), self._x25519.public_key())

    def to_bytes(self) -> bytes:
        """SECRET. ``WHS S 01 | 0x647A | ML-KEM seed (64) | X25519 (32)``, 103 bytes.

        This serialisation has no integrity of its own: store it only inside something that
        authenticates (``encrypt_field`` under a session key, or :func:`wrap_private_key`).
        """
        return _PRIVATE_HEADER + self._raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> PrivateKey:
        """Inverse of :meth:`to_bytes`; OpenError on a wrong header or length."""
        expect_header(data, _PRIVATE_HEADER, "private key")
        expect_length(data, PRIVATE_KEY_BLOB_SIZE, "private key")
        return cls._from_raw(bytes(data[len(_PRIVATE_HEADER) :]))

    def __repr__(self) -> str:
        return "PrivateKey(<secret>)"


def _wrap(key: PrivateKey, password: str, params: Argon2Params, salt: bytes, nonce: bytes) -> bytes:
    aad = _WRAPPED_HEADER + encode_params(params, salt)
    kek = derive_key(password_bytes(password), salt, params)
    return aad + nonce + AESGCM(kek).encrypt(nonce, key._raw(), aad)


def wrap_private_key(key: PrivateKey, password: str, params: Argon2Params) -> bytes:
    """Wrap ``key`` so that only someone who knows ``password`` can unwrap it.

    AES-256-GCM under Argon2id(password, fresh 16-byte salt, ``params``); the salt and the
    parameters are stored (and authenticated) in the blob. Use the production defaults
    ``Argon2Params()`` outside tests.
    """
    return _wrap(key, password, params, new_salt(), secrets.token_bytes(NONCE_SIZE))


def _parse_wrapped(blob: bytes) -> tuple[bytes, Argon2Params, bytes]:
    expect_header(blob, _WRAPPED_HEADER, "wrapped private key")
    expect_length(blob, _WRAPPED_SIZE, "wrapped private key")
    params, salt = decode_params(blob[len(_WRAPPED_HEADER) : _WRAPPED_AAD_SIZE])
    return bytes(blob[:_WRAPPED_AAD_SIZE]), params, salt


def unwrap_private_key(blob: bytes, password: str) -> PrivateKey:
    """Unwrap a key from :func:`wrap_private_key` with the owner's password.

    Raises :class:`OpenError` for a wrong password, any change to the blob, or an unknown
    version. Costs one Argon2id derivation with the parameters stored in the blob.
    """
    aad, params, salt = _parse_wrapped(blob)
    kek = derive_key(password_bytes(password), salt, params)
    nonce = blob[_WRAPPED_AAD_SIZE : _WRAPPED_AAD_SIZE + NONCE_SIZE]
    try:
        raw = AESGCM(kek).decrypt(nonce, blob[_WRAPPED_AAD_SIZE + NONCE_SIZE :], aad)
    except InvalidTag:
        raise OpenError() from None
    return PrivateKey._from_raw(raw)


def rewrap_private_key(
    blob: bytes, old_password: str, new_password: str, params: Argon2Params
) -> bytes:
    """Password change: unwrap with ``old_password``, wrap again under ``new_password``
    with a fresh salt and ``params``, raised to the blob's own passes and memory where those
    are higher (:meth:`Argon2Params.no_weaker_than`), so a lowered configuration never
    makes the key cheaper to guess. The key pair, and so every case key sealed to it, is
    unchanged. OpenError if ``old_password`` is wrong."""
    key = unwrap_private_key(blob, old_password)
    _aad, stored, _salt = _parse_wrapped(blob)
    return wrap_private_key(key, new_password, params.no_weaker_than(stored))


def needs_rewrap(blob: bytes, params: Argon2Params) -> bool:
    """True only if ``params`` are stronger than the parameters ``blob`` was wrapped with
    (:meth:`Argon2Params.stronger_than`: at least as many passes and as much memory, and more
    of one).

    At sign-in the app has the password; if this returns True it can call
    :func:`rewrap_private_key` with the same password to move the key to the current cost.
    Weaker or merely different parameters (a lowered configuration, the test profile, fewer
    passes for more memory, other lanes) never rewrap: a database copy taken afterwards
    would be cheaper to attack than one taken before. OpenError if the blob cannot be
    parsed.
    """
    _aad, stored, _salt = _parse_wrapped(blob)
    return params.stronger_than(stored)
