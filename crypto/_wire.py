"""Byte-level framing shared by every blob: magic, kind, version, algorithm ids, context.

Every blob starts ``b"WHS" || kind || version``; the bytes after that name the algorithms
(see docs/crypto.md). The header is always authenticated (as AEAD associated data, HPKE
``info`` or signed bytes), so nobody can change a version or algorithm byte to steer a
reader onto another code path.
"""

from __future__ import annotations

import uuid
from typing import Final, TypeAlias

from crypto.errors import OpenError

MAGIC: Final = b"WHS"
VERSION_1: Final = 0x01

# Kind bytes are printable ASCII so a hex dump shows what a blob is.
KIND_FIELD: Final = ord("F")
KIND_PUBLIC_KEY: Final = ord("P")
KIND_PRIVATE_KEY: Final = ord("S")
KIND_WRAPPED_PRIVATE_KEY: Final = ord("K")
KIND_SEALED_CASE_KEY: Final = ord("W")
KIND_REPORTER_CASE_KEY: Final = ord("R")
KIND_STREAM: Final = ord("A")
KIND_SIGNING_KEY: Final = ord("E")
KIND_VERIFY_KEY: Final = ord("V")
KIND_SIGNATURE: Final = ord("G")

# Algorithm ids. One byte for our own AEAD/KDF/signature choices; the HPKE suite is written
# with its IANA code points (RFC 9180 registry) as 16-bit values.
AEAD_AES256GCM: Final = 0x01
KDF_ARGON2ID_V13: Final = 0x01
SIG_ED25519: Final = 0x01
HPKE_KEM_MLKEM768_X25519: Final = 0x647A
HPKE_KDF_HKDF_SHA256: Final = 0x0001
HPKE_AEAD_AES_256_GCM: Final = 0x0002

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16

ContextPart: TypeAlias = str | int | uuid.UUID | bytes
Context: TypeAlias = tuple[ContextPart, ...]
"""What a ciphertext is bound to, e.g. ``("message", case_id, message_id)``.

Parts are encoded without ambiguity: an int or UUID is written as its canonical text (so
``7`` and ``"7"`` are the same part), text as UTF-8, bytes as raw bytes with a different tag.
"""


def header(kind: int, *algorithm_bytes: bytes) -> bytes:
    """The common prefix ``WHS || kind || version 1 || algorithm bytes``."""
    return MAGIC + bytes((kind, VERSION_1)) + b"".join(algorithm_bytes)


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def expect_header(blob: bytes, expected: bytes, what: str) -> None:
    """Raise OpenError unless ``blob`` starts with exactly ``expected``.

    The messages name only public facts (which kind was expected, which version was seen).
    """
    if len(blob) < len(expected) or blob[:3] != MAGIC:
        raise OpenError(f"not a Whistle {what}")
    if blob[3] != expected[3]:
        raise OpenError(f"not a Whistle {what} (kind byte 0x{blob[3]:02x})")
    if blob[4] != expected[4]:
        raise OpenError(f"unsupported {what} version {blob[4]}")
    if blob[: len(expected)] != expected:
        raise OpenError(f"unsupported {what} algorithms")


def expect_length(blob: bytes, length: int, what: str) -> None:
    if len(blob) != length:
        raise OpenError(f"{what} has the wrong length")


def check_key(key: bytes, what: str = "key") -> None:
    """Programming errors (not failures to open): a key must be 32 bytes."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes")
    if len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")


def _part_bytes(part: ContextPart) -> tuple[bytes, bytes]:
    if isinstance(part, bool):
        raise TypeError("a context part may not be a bool")
    if isinstance(part, bytes):
        return b"b", part
    if isinstance(part, str):
        return b"s", part.encode("utf-8")
    if isinstance(part, int | uuid.UUID):
        return b"s", str(part).encode("ascii")
    raise TypeError(f"a context part must be str, int, UUID or bytes, not {type(part).__name__}")


def encode_context(context: Context) -> bytes:
    """Encode a non-empty tuple of parts injectively: ``tag || u32 length || bytes`` each.

    An empty context is refused: every ciphertext must say what it belongs to.
    """
    if not isinstance(context, tuple):
        raise TypeError("context must be a tuple, e.g. ('message', case_id, message_id)")
    if not context:
        raise ValueError("context must not be empty")
    out = bytearray()
    for part in context:
        tag, data = _part_bytes(part)
        out += tag + len(data).to_bytes(4, "big") + data
    return bytes(out)
