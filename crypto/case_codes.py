"""Case codes: the reporter's only way back to a case, and its only credential.

A code (format 2) is 20 symbols of Crockford's base32 alphabet (``0-9 A-Z`` without I, L,
O, U), each drawn with :mod:`secrets`, shown in five groups: ``7QKM-2XR9-CD4T-WB8N-5GHA``.
The first group is the **lookup part** (20 bits), the other sixteen symbols the **secret
part** (80 bits). It is read back forgivingly: any case, spaces or dashes, O for 0, I or L for
1. There is no check character: every symbol carries entropy, and a mistyped code simply
matches no case (the app rate-limits attempts).

Nothing stored lets anyone recover the code:

* the case is found by a lookup tag: HMAC-SHA256, keyed with the instance pepper (kept in the
  instance folder, not in the database), over the lookup part and a scope the app chooses
  (its organisation), so a database copy alone cannot even test lookup parts;
* the reporter's key is wrapped with AES-256-GCM under Argon2id(whole code, per-case salt),
  bound to the case id. The tag covers only the lookup part, so even someone holding the
  database *and* the pepper learns nothing from it about the secret part: every guess of
  the 80-bit secret costs one Argon2id derivation for one case, never one HMAC for all cases.

Codes of format 1 (16 symbols, 80 bits, the tag an HMAC over the whole code) are still read,
so codes handed out before format 2 keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto import _base32
from crypto._wire import (
    AEAD_AES256GCM,
    KEY_SIZE,
    KIND_REPORTER_CASE_KEY,
    NONCE_SIZE,
    TAG_SIZE,
    check_key,
    encode_context,
    expect_header,
    expect_length,
    header,
)
from crypto.case_keys import CaseId, KeyKind, case_key_context
from crypto.errors import InvalidCaseCode, OpenError
from crypto.kdf import (
    ENCODED_PARAMS_SIZE,
    Argon2Params,
    decode_params,
    derive_key,
    encode_params,
    new_salt,
)

__all__ = [
    "CASE_CODE_BITS",
    "case_code_lookup_tag",
    "format_case_code",
    "generate_case_code",
    "is_legacy_case_code",
    "normalise_case_code",
    "open_case_key_for_reporter",
    "open_reporter_seed",
    "wrap_case_key_for_reporter",
    "wrap_reporter_seed",
]

CASE_CODE_LENGTH: Final = 20
LOOKUP_LENGTH: Final = 4
LEGACY_CASE_CODE_LENGTH: Final = 16
# The secret part: what a guesser holding the database and the pepper must still find.
CASE_CODE_BITS: Final = (CASE_CODE_LENGTH - LOOKUP_LENGTH) * 5
_GROUP: Final = 4
_LOOKUP_LABEL: Final = b"WHS case-code lookup v1\x00"
_LOOKUP_LABEL_V2: Final = b"WHS case-code lookup v2\x00"
_MIN_PEPPER: Final = 16

_HEADER: Final = header(KIND_REPORTER_CASE_KEY, bytes((AEAD_AES256GCM,)))
_AAD_SIZE: Final = len(_HEADER) + ENCODED_PARAMS_SIZE
_WRAPPED_SIZE: Final = _AAD_SIZE + NONCE_SIZE + KEY_SIZE + TAG_SIZE


def generate_case_code() -> str:
    """A new case code (format 2): 100 bits from :mod:`secrets`, a 20-bit lookup part and an
    80-bit secret part, formatted ``XXXX-XXXX-XXXX-XXXX-XXXX``.

    Show it to the reporter once; store only :func:`case_code_lookup_tag` and the key
    wrapped by :func:`wrap_reporter_seed`.
    """
    symbols = "".join(secrets.choice(_base32.ALPHABET) for _ in range(CASE_CODE_LENGTH))
    return format_case_code(symbols)


def normalise_case_code(text: str) -> str:
    """The canonical symbols of a code as typed (any case, spaces, dashes, O/I/L): 20 for a
    code of format 2, 16 for one of format 1.

    Raises :class:`InvalidCaseCode` if the text cannot be a code: a typo caught here never
    reaches the lookup. The message does not repeat the input.
    """
    if not isinstance(text, str):
        raise TypeError("case code must be str")
    try:
        symbols = _base32.normalise(text)
    except ValueError:
        raise InvalidCaseCode("a case code contains only digits and letters") from None
    if len(symbols) not in (CASE_CODE_LENGTH, LEGACY_CASE_CODE_LENGTH):
        raise InvalidCaseCode(f"a case code has {CASE_CODE_LENGTH} characters")
    return symbols


def is_legacy_case_code(text: str) -> bool:
    """Whether ``text`` is a code of format 1 (16 symbols, handed out before format 2).

    Raises :class:`InvalidCaseCode` for text that cannot be a code."""
    return len(normalise_case_code(text)) == LEGACY_CASE_CODE_LENGTH


def format_case_code(text: str) -> str:
    """The display form: canonical symbols in groups of four joined by dashes."""
    symbols = normalise_case_code(text)
    return "-".join(symbols[i : i + _GROUP] for i in range(0, len(symbols), _GROUP))


def case_code_lookup_tag(pepper: bytes, code: str, *, scope: str | int) -> bytes:
    """The 32-byte tag to find a case by its code; unique within ``scope``.

    Format 2: HMAC-SHA256(pepper, label v2 || encode(("lookup", scope)) || lookup part), over
    the first four symbols only, so the tag says nothing about the secret part. The app
    passes its organisation as ``scope`` and gives each new case a lookup part no other case
    of that organisation has. Format 1 (16 symbols): HMAC-SHA256(pepper, label v1 || code),
    as before; ``scope`` is not part of it.

    Deterministic, so it can be a unique database index; keyed, so without the pepper
    (instance folder) a database copy cannot test candidate codes. Raises
    :class:`InvalidCaseCode` for malformed input.
    """
    if not isinstance(pepper, bytes) or len(pepper) < _MIN_PEPPER:
        raise ValueError(f"pepper must be at least {_MIN_PEPPER} bytes")
    symbols = normalise_case_code(code)
    if len(symbols) == LEGACY_CASE_CODE_LENGTH:
        message = _LOOKUP_LABEL + symbols.encode("ascii")
    else:
        message = (
            _LOOKUP_LABEL_V2
            + encode_context(("lookup", scope))
            + symbols[:LOOKUP_LENGTH].encode("ascii")
        )
    return hmac.new(pepper, message, hashlib.sha256).digest()


def _reporter_kek(code: str, salt: bytes, params: Argon2Params) -> bytes:
    return derive_key(normalise_case_code(code).encode("ascii"), salt, params)


def _reporter_seed_context(case_id: CaseId) -> bytes:
    return encode_context(("reporter-seed", case_id))


def _wrap_for_reporter(
    key: bytes,
    code: str,
    context: bytes,
    params: Argon2Params,
    salt: bytes,
    nonce: bytes,
) -> bytes:
    check_key(key, "key")
    prefix = _HEADER + encode_params(params, salt)
    aad = prefix + context
    kek = _reporter_kek(code, salt, params)
    return prefix + nonce + AESGCM(kek).encrypt(nonce, key, aad)


def _open_for_reporter(wrapped: bytes, code: str, context: bytes) -> bytes:
    symbols = normalise_case_code(code)
    expect_header(wrapped, _HEADER, "reporter key")
    expect_length(wrapped, _WRAPPED_SIZE, "reporter key")
    params, salt = decode_params(wrapped[len(_HEADER) : _AAD_SIZE])
    aad = bytes(wrapped[:_AAD_SIZE]) + context
    kek = _reporter_kek(symbols, salt, params)
    nonce = wrapped[_AAD_SIZE : _AAD_SIZE + NONCE_SIZE]
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[_AAD_SIZE + NONCE_SIZE :], aad)
    except InvalidTag:
        raise OpenError() from None


def wrap_case_key_for_reporter(
    case_key: bytes, code: str, *, case_id: CaseId, kind: KeyKind, params: Argon2Params
) -> bytes:
    """Wrap a case key (the content key, in practice) so that whoever knows the case code
    can open it, for this case and kind only.

    AES-256-GCM under Argon2id(normalised code, fresh per-case salt, ``params``); salt and
    parameters are stored in the blob. Raises :class:`InvalidCaseCode` for a malformed code.
    """
    return _wrap_for_reporter(
        case_key,
        code,
        case_key_context(case_id, kind),
        params,
        new_salt(),
        secrets.token_bytes(NONCE_SIZE),
    )


def open_case_key_for_reporter(
    wrapped: bytes, code: str, *, case_id: CaseId, kind: KeyKind
) -> bytes:
    """Open a key from :func:`wrap_case_key_for_reporter` with the reporter's code.

    Raises :class:`OpenError` for a wrong code, another case or kind, any change to the
    blob or an unknown version; :class:`InvalidCaseCode` for text that cannot be a code.
    Costs one Argon2id derivation with the parameters stored in the blob.
    """
    return _open_for_reporter(wrapped, code, case_key_context(case_id, kind))


def wrap_reporter_seed(seed: bytes, code: str, *, case_id: CaseId, params: Argon2Params) -> bytes:
    """Wrap the 32-byte seed of the reporter's key pair (:meth:`PrivateKey.from_seed`) so that
    whoever knows the case code can open it, for this case only.

    The same R format as :func:`wrap_case_key_for_reporter`, bound to
    ``("reporter-seed", case_id)`` instead of a case key's context. Case keys are then sealed
    to the reporter's public key, so keys made later (a new key epoch) reach the reporter
    without anyone knowing the code. Raises :class:`InvalidCaseCode` for a malformed code.
    """
    return _wrap_for_reporter(
        seed,
        code,
        _reporter_seed_context(case_id),
        params,
        new_salt(),
        secrets.token_bytes(NONCE_SIZE),
    )


def open_reporter_seed(wrapped: bytes, code: str, *, case_id: CaseId) -> bytes:
    """Open a seed from :func:`wrap_reporter_seed` with the reporter's code.

    Raises :class:`OpenError` for a wrong code, another case, a wrapped case key, any change
    to the blob or an unknown version; :class:`InvalidCaseCode` for text that cannot be a
    code. Costs one Argon2id derivation with the parameters stored in the blob.
    """
    return _open_for_reporter(wrapped, code, _reporter_seed_context(case_id))
