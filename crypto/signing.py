"""The organisation's Ed25519 signatures: submission receipts, export manifests and headers.

Who can verify: anyone holding the organisation's verify key (publish it, print its
fingerprint). Who can sign: whoever holds the signing key, which the server keeps
encrypted under the instance key; so a live server, or someone with the database *and*
the instance folder, can sign.

Every signature is domain-separated by a :class:`SignaturePurpose`: the signed bytes are
``signature header || encoded purpose || message``, so a receipt signature can never be
replayed as a manifest or bundle-header signature, or any one of them as another.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto import _base32
from crypto._wire import (
    KIND_SIGNATURE,
    KIND_SIGNING_KEY,
    KIND_VERIFY_KEY,
    SIG_ED25519,
    encode_context,
    expect_header,
    expect_length,
    header,
)
from crypto.errors import OpenError

__all__ = ["SignaturePurpose", "SigningKey", "VerifyKey", "sign", "verify"]

_ALG: Final = bytes((SIG_ED25519,))
_SIGNING_HEADER: Final = header(KIND_SIGNING_KEY, _ALG)
_VERIFY_HEADER: Final = header(KIND_VERIFY_KEY, _ALG)
_SIGNATURE_HEADER: Final = header(KIND_SIGNATURE, _ALG)
_ED25519_KEY: Final = 32
_ED25519_SIG: Final = 64


class SignaturePurpose(enum.Enum):
    """What a signature vouches for. The value is part of the signed bytes."""

    RECEIPT = "submission-receipt"
    EXPORT_MANIFEST = "export-manifest"
    # The header of a case file for counsel (bundle format 2): export id, organisation,
    # sealed bundle key and signer. Its own purpose, so a header signature can never be
    # passed off as a manifest's (both are made over bytes the exporting server chooses).
    EXPORT_HEADER = "export-header"
    # A unit lead vouches that a staff member's public key is theirs
    # (whistle/keys/certification.py).
    KEY_CERTIFICATION = "key-certification"


class VerifyKey:
    """The public half of the organisation's signing key. Immutable; compare with ``==``."""

    __slots__ = ("_key",)

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key

    def to_bytes(self) -> bytes:
        """``WHS V 01 | 0x01 Ed25519 | public key (32)``."""
        return _VERIFY_HEADER + self._key.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> VerifyKey:
        """Inverse of :meth:`to_bytes`; OpenError if malformed."""
        expect_header(data, _VERIFY_HEADER, "verify key")
        expect_length(data, len(_VERIFY_HEADER) + _ED25519_KEY, "verify key")
        try:
            return cls(ed25519.Ed25519PublicKey.from_public_bytes(data[len(_VERIFY_HEADER) :]))
        except ValueError:
            raise OpenError("invalid verify key") from None

    def fingerprint(self) -> str:
        """120 bits of SHA-256 of the key, in 6 groups of 4, to print on receipts and in
        manifests so a reader can check which key signed."""
        text = _base32.encode(hashlib.sha256(self.to_bytes()).digest()[:15])
        return "-".join(text[i : i + 4] for i in range(0, len(text), 4))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"VerifyKey({self.fingerprint()})"


class SigningKey:
    """The organisation's Ed25519 signing key. Secret; ``repr`` shows none of it."""

    __slots__ = ("_key",)

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh signing key (at ``whistle init`` or when an organisation is created)."""
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def _from_seed(cls, seed: bytes) -> SigningKey:
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    def verify_key(self) -> VerifyKey:
        """The public half, to publish."""
        return VerifyKey(self._key.public_key())

    def to_bytes(self) -> bytes:
        """SECRET. ``WHS E 01 | 0x01 Ed25519 | seed (32)``. No integrity of its own: store
        it only encrypted (e.g. ``encrypt_field`` under the instance key)."""
        return _SIGNING_HEADER + self._key.private_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningKey:
        """Inverse of :meth:`to_bytes`; OpenError if malformed."""
        expect_header(data, _SIGNING_HEADER, "signing key")
        expect_length(data, len(_SIGNING_HEADER) + _ED25519_KEY, "signing key")
        return cls._from_seed(bytes(data[len(_SIGNING_HEADER) :]))

    def __repr__(self) -> str:
        return "SigningKey(<secret>)"


def _signed_bytes(message: bytes, purpose: SignaturePurpose) -> bytes:
    if not isinstance(purpose, SignaturePurpose):
        raise TypeError("purpose must be a SignaturePurpose")
    if not isinstance(message, bytes):
        raise TypeError("message must be bytes")
    return _SIGNATURE_HEADER + encode_context((purpose.value,)) + message


def sign(key: SigningKey, message: bytes, *, purpose: SignaturePurpose) -> bytes:
    """Sign ``message`` (canonical bytes chosen by the caller, e.g. of organisation,
    reference and date for a receipt) for ``purpose``. Returns a 70-byte versioned
    signature ``WHS G 01 | 0x01 | Ed25519 signature (64)``. Deterministic (RFC 8032)."""
    return _SIGNATURE_HEADER + key._key.sign(_signed_bytes(message, purpose))


def verify(key: VerifyKey, message: bytes, signature: bytes, *, purpose: SignaturePurpose) -> None:
    """Check that ``signature`` was made by ``key``'s owner over ``message`` for ``purpose``.

    Returns nothing on success; raises :class:`OpenError` for any mismatch (other key,
    changed message, other purpose, malformed or unknown-version signature).
    """
    signed = _signed_bytes(message, purpose)
    expect_header(signature, _SIGNATURE_HEADER, "signature")
    expect_length(signature, len(_SIGNATURE_HEADER) + _ED25519_SIG, "signature")
    try:
        key._key.verify(signature[len(_SIGNATURE_HEADER) :], signed)
    except InvalidSignature:
        raise OpenError("signature does not verify") from None
