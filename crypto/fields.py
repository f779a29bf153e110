"""Symmetric encryption of one database field: report text, a message, a note, an identity.

Who can read: whoever holds the 32-byte key. For case data that is a case key (content,
notes or identity), which only entitled handlers, the organisation recovery key and (for
content) the reporter can unwrap; for a signed-in handler's private key it is the random
per-session key that only the session cookie carries.

AES-256-GCM with a fresh random 96-bit nonce per call. The caller's ``context`` (for example
``("message", case_id, message_id)``) is authenticated as associated data, so a ciphertext
copied into another row, case or column does not open there. Plaintext is padded (Padmé)
before encryption so the stored length reveals only its order of magnitude, not whether a
reply was "yes" or "no".
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto._wire import (
    AEAD_AES256GCM,
    KIND_FIELD,
    NONCE_SIZE,
    TAG_SIZE,
    Context,
    check_key,
    encode_context,
    expect_header,
    header,
)
from crypto.errors import OpenError

__all__ = ["decrypt_field", "derive_record_key", "encrypt_field"]

_HEADER: Final = header(KIND_FIELD, bytes((AEAD_AES256GCM,)))
_MIN_PADDED: Final = 32
_PAD_MARK: Final = 0x80


def _padme(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019): round up so at most O(log log n) bits of the
    length remain, at most about 12 % overhead."""
    if length <= _MIN_PADDED:
        return _MIN_PADDED
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def pad(plaintext: bytes) -> bytes:
    """ISO/IEC 7816-4 padding (0x80 then zeros) up to the Padmé length of ``len + 1``."""
    target = _padme(len(plaintext) + 1)
    return plaintext + bytes((_PAD_MARK,)) + bytes(target - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    # Runs only on authenticated data, so it is no padding oracle.
    end = padded.rstrip(b"\x00")
    if not end or end[-1] != _PAD_MARK:
        raise OpenError()
    return end[:-1]


def _encrypt_field(key: bytes, plaintext: bytes, context: Context, nonce: bytes) -> bytes:
    check_key(key)
    if not isinstance(plaintext, bytes):
        raise TypeError("plaintext must be bytes")
    aad = _HEADER + encode_context(context)
    return _HEADER + nonce + AESGCM(key).encrypt(nonce, pad(plaintext), aad)


def encrypt_field(key: bytes, plaintext: bytes, *, context: Context) -> bytes:
    """Encrypt ``plaintext`` so that only holders of ``key`` can read it, and only as the
    record named by ``context``.

    ``context`` is a non-empty tuple such as ``("report", case_id)`` or
    ``("message", case_id, message_id)``; the same tuple must be given to
    :func:`decrypt_field`. Returns a versioned blob; the nonce is inside it.
    """
    return _encrypt_field(key, plaintext, context, secrets.token_bytes(NONCE_SIZE))


def decrypt_field(key: bytes, blob: bytes, *, context: Context) -> bytes:
    """Open a blob from :func:`encrypt_field`.

    Raises :class:`OpenError` for a wrong key, a different ``context`` (the blob was moved),
    any change to the blob, truncation, or an unknown format version.
    """
    check_key(key)
    aad = _HEADER + encode_context(context)
    expect_header(blob, _HEADER, "encrypted field")
    if len(blob) < len(_HEADER) + NONCE_SIZE + TAG_SIZE:
        raise OpenError("encrypted field is truncated")
    nonce = blob[len(_HEADER) : len(_HEADER) + NONCE_SIZE]
    try:
        padded = AESGCM(key).decrypt(nonce, blob[len(_HEADER) + NONCE_SIZE :], aad)
    except InvalidTag:
        raise OpenError() from None
    return unpad(padded)


_RECORD_KEY_INFO: Final = b"WHS record key v1\x00"


def derive_record_key(case_key: bytes, item_key: bytes, *, context: Context) -> bytes:
    """The key of one record, from its case key and a key of its own (SECRET).

    HKDF-SHA256 over ``case_key || item_key`` with ``info`` = "WHS record key v1" || 00 ||
    encode(``context``), 32 bytes. Opening the record needs both: the case key (held by the
    case's readers) and the item key (kept apart, so that destroying it alone makes this one
    record unreadable everywhere, also in copies of the database made before).
    """
    check_key(case_key, "case key")
    check_key(item_key, "item key")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=_RECORD_KEY_INFO + encode_context(context),
    ).derive(bytes(case_key) + bytes(item_key))
