"""Case codes: the reporter's only way back to a case, and its only credential.

A code is 16 symbols of Crockford's base32 alphabet (``0-9 A-Z`` without I, L, O, U), each
drawn with :mod:`secrets`: 16 x 5 = 80 bits. It is shown in four groups,
``7QKM-2XR9-CD4T-WB8N``, and read back forgivingly: any case, spaces or dashes, O for 0, I or
L for 1. There is no check character: every symbol carries entropy, and a mistyped code
simply matches no case (the app rate-limits attempts).

Nothing stored lets anyone recover the code:

* the case is found by a lookup tag, HMAC-SHA256 keyed with the instance pepper (kept in the
  instance folder, not in the database), so a database copy alone cannot test guesses;
* the reporter's copy of the content key is wrapped with AES-256-GCM under
  Argon2id(code, per-case salt), bound to the case id and key kind. Even with the pepper an
  attacker must search 2^80 codes.
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
    "normalise_case_code",
    "open_case_key_for_reporter",
    "wrap_case_key_for_reporter",
]

CASE_CODE_LENGTH: Final = 16
CASE_CODE_BITS: Final = CASE_CODE_LENGTH * 5
_GROUP: Final = 4
_LOOKUP_LABEL: Final = b"WHS case-code lookup v1\x00"
_MIN_PEPPER: Final = 16

_HEADER: Final = header(KIND_REPORTER_CASE_KEY, bytes((AEAD_AES256GCM,)))
_AAD_SIZE: Final = len(_HEADER) + ENCODED_PARAMS_SIZE
_WRAPPED_SIZE: Final = _AAD_SIZE + NONCE_SIZE + KEY_SIZE + TAG_SIZE


def generate_case_code() -> str:
    """A new case code, 80 bits from :mod:`secrets`, formatted ``XXXX-XXXX-XXXX-XXXX``.

    Show it to the reporter once; store only :func:`case_code_lookup_tag` and the key
    wrapped by :func:`wrap_case_key_for_reporter`.
    """
    symbols = "".join(secrets.choice(_base32.ALPHABET) for _ in range(CASE_CODE_LENGTH))
    return format_case_code(symbols)


def normalise_case_code(text: str) -> str:
    """The canonical 16 symbols of a code as typed (any case, spaces, dashes, O/I/L).

    Raises :class:`InvalidCaseCode` if the text cannot be a code: a typo caught here never
    reaches the lookup. The message does not repeat the input.
    """
    if not isinstance(text, str):
        raise TypeError("case code must be str")
    try:
        symbols = _base32.normalise(text)
    except ValueError:
        raise InvalidCaseCode("a case code contains only digits and letters") from None
    if len(symbols) != CASE_CODE_LENGTH:
        raise InvalidCaseCode(f"a case code has {CASE_CODE_LENGTH} characters")
    return symbols


def format_case_code(text: str) -> str:
    """The display form: canonical symbols in groups of four joined by dashes."""
    symbols = normalise_case_code(text)
    return "-".join(symbols[i : i + _GROUP] for i in range(0, CASE_CODE_LENGTH, _GROUP))


def case_code_lookup_tag(pepper: bytes, code: str) -> bytes:
    """The 32-byte tag to find a case by its code: HMAC-SHA256(pepper, label || code).

    Deterministic, so it can be a unique database index; keyed, so without the pepper
    (instance folder) a database copy cannot test candidate codes. Raises
    :class:`InvalidCaseCode` for malformed input.
    """
    if not isinstance(pepper, bytes) or len(pepper) < _MIN_PEPPER:
        raise ValueError(f"pepper must be at least {_MIN_PEPPER} bytes")
    symbols = normalise_case_code(code)
    return hmac.new(pepper, _LOOKUP_LABEL + symbols.encode("ascii"), hashlib.sha256).digest()


def _reporter_kek(code: str, salt: bytes, params: Argon2Params) -> bytes:
    return derive_key(normalise_case_code(code).encode("ascii"), salt, params)


def _wrap_for_reporter(
    case_key: bytes,
    code: str,
    case_id: CaseId,
    kind: KeyKind,
    params: Argon2Params,
    salt: bytes,
    nonce: bytes,
) -> bytes:
    check_key(case_key, "case key")
    prefix = _HEADER + encode_params(params, salt)
    aad = prefix + case_key_context(case_id, kind)
    kek = _reporter_kek(code, salt, params)
    return prefix + nonce + AESGCM(kek).encrypt(nonce, case_key, aad)


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
        case_id,
        kind,
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
    symbols = normalise_case_code(code)
    expect_header(wrapped, _HEADER, "reporter key")
    expect_length(wrapped, _WRAPPED_SIZE, "reporter key")
    params, salt = decode_params(wrapped[len(_HEADER) : _AAD_SIZE])
    aad = bytes(wrapped[:_AAD_SIZE]) + case_key_context(case_id, kind)
    kek = _reporter_kek(symbols, salt, params)
    nonce = wrapped[_AAD_SIZE : _AAD_SIZE + NONCE_SIZE]
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[_AAD_SIZE + NONCE_SIZE :], aad)
    except InvalidTag:
        raise OpenError() from None
