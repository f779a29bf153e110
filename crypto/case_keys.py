"""Per-case keys and sealing them to the people (and the recovery key) entitled to them.

Each case has three independent random 256-bit keys, so that separations are cryptographic
rather than an ``if`` in a view:

* ``CONTENT``: report, messages, attachments. Reporter and entitled handlers.
* ``NOTES``: internal notes. Handlers only; never wrapped for the reporter.
* ``IDENTITY``: a named reporter's identity. Only handlers entitled to know it.

A case key reaches a person by HPKE (RFC 9180, base mode, single shot) to their public key:
suite MLKEM768-X25519 / HKDF-SHA256 / AES-256-GCM. The HPKE ``info`` binds the blob header,
the case id and the key kind, so a sealed key copied to another case or kind fails to open.
Granting access seals one more 32-byte key; no data is re-encrypted.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from crypto._wire import (
    HPKE_AEAD_AES_256_GCM,
    HPKE_KDF_HKDF_SHA256,
    HPKE_KEM_MLKEM768_X25519,
    KEY_SIZE,
    KIND_SEALED_CASE_KEY,
    TAG_SIZE,
    check_key,
    encode_context,
    expect_header,
    expect_length,
    header,
    u16,
)
from crypto.errors import OpenError
from crypto.keypairs import PrivateKey, PublicKey

__all__ = ["CaseId", "CaseKeys", "KeyKind", "open_case_key", "seal_case_key"]

CaseId: TypeAlias = str | int | uuid.UUID
"""A case's stable identifier. ``7`` and ``"7"`` are the same id."""

_SUITE: Final = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_HEADER: Final = header(
    KIND_SEALED_CASE_KEY,
    u16(HPKE_KEM_MLKEM768_X25519),
    u16(HPKE_KDF_HKDF_SHA256),
    u16(HPKE_AEAD_AES_256_GCM),
)
_SEALED_SIZE: Final = len(_HEADER) + hpke.KEM.MLKEM768_X25519.enc_length() + KEY_SIZE + TAG_SIZE


class KeyKind(enum.Enum):
    """Which of a case's three keys. The value is written into what is authenticated."""

    CONTENT = "content"
    NOTES = "notes"
    IDENTITY = "identity"


@dataclass(frozen=True, repr=False)
class CaseKeys:
    """The three keys of one case. Secret; ``repr`` shows none of them."""

    content: bytes
    notes: bytes
    identity: bytes

    def __post_init__(self) -> None:
        for kind in KeyKind:
            check_key(self[kind], f"{kind.value} key")

    @classmethod
    def generate(cls) -> CaseKeys:
        """Three independent keys from the operating system's CSPRNG, made at intake."""
        return cls(
            content=secrets.token_bytes(KEY_SIZE),
            notes=secrets.token_bytes(KEY_SIZE),
            identity=secrets.token_bytes(KEY_SIZE),
        )

    def __getitem__(self, kind: KeyKind) -> bytes:
        """The key of ``kind``."""
        value: bytes = getattr(self, kind.value)
        return value

    def __repr__(self) -> str:
        return "CaseKeys(<secret>)"


def case_key_context(case_id: CaseId, kind: KeyKind, epoch: int = 0) -> bytes:
    """What a wrapped case key is bound to: the case id, the kind and, from the second
    generation on, the key epoch (epoch 0 is written as before epochs existed, so keys sealed
    then still open)."""
    if not isinstance(kind, KeyKind):
        raise TypeError("kind must be a KeyKind")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError("epoch must be a non-negative int")
    if epoch == 0:
        return encode_context(("case-key", case_id, kind.value))
    return encode_context(("case-key", case_id, kind.value, epoch))


def seal_case_key(
    recipient: PublicKey, case_key: bytes, *, case_id: CaseId, kind: KeyKind, epoch: int = 0
) -> bytes:
    """Seal ``case_key`` so that only the holder of ``recipient``'s private key can open it,
    and only as key ``kind`` of case ``case_id`` in key epoch ``epoch``.

    Call once per entitled handler and once for the organisation recovery key. Each call
    uses a fresh encapsulation, so two seals of one key look unrelated. The epoch is bound in,
    so a sealed key copied to another epoch's row does not open: nobody who can only write
    the database can make an old key pass for a new epoch's.
    """
    check_key(case_key, "case key")
    info = _HEADER + case_key_context(case_id, kind, epoch)
    return _HEADER + _SUITE.encrypt(case_key, recipient._hpke, info=info)


def open_case_key(
    private_key: PrivateKey, sealed: bytes, *, case_id: CaseId, kind: KeyKind, epoch: int = 0
) -> bytes:
    """Open a key from :func:`seal_case_key` with the recipient's private key.

    Raises :class:`OpenError` if the key was sealed to someone else, for another case, kind
    or epoch, was changed or truncated, or has an unknown version.
    """
    info = _HEADER + case_key_context(case_id, kind, epoch)
    expect_header(sealed, _HEADER, "sealed case key")
    expect_length(sealed, _SEALED_SIZE, "sealed case key")
    try:
        key = _SUITE.decrypt(sealed[len(_HEADER) :], private_key._hpke, info=info)
    except (InvalidTag, ValueError):
        raise OpenError() from None
    if len(key) != KEY_SIZE:
        raise OpenError()
    return key
