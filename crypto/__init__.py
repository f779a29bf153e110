"""Whistle's cryptography: a small recipe layer over pyca/cryptography and argon2-cffi.

Bytes in, bytes out; callers never see a nonce. Every failure to open anything raises
:class:`OpenError`. Every blob starts with ``b"WHS"``, a kind byte, a version byte and
algorithm ids (docs/crypto.md has each format byte by byte, and the threat model).

No Flask, no SQLAlchemy, no global mutable state, no I/O beyond file-like objects passed in.
"""

from crypto._wire import Context, ContextPart
from crypto.case_codes import (
    CASE_CODE_BITS,
    case_code_lookup_tag,
    format_case_code,
    generate_case_code,
    is_legacy_case_code,
    normalise_case_code,
    open_case_key_for_reporter,
    open_reporter_seed,
    wrap_case_key_for_reporter,
    wrap_reporter_seed,
)
from crypto.case_keys import CaseId, CaseKeys, KeyKind, open_case_key, seal_case_key
from crypto.errors import InvalidCaseCode, InvalidRecoveryKey, OpenError
from crypto.fields import decrypt_field, derive_record_key, encrypt_field
from crypto.instance_secrets import generate_pepper, generate_symmetric_key
from crypto.kdf import Argon2Params
from crypto.keypairs import (
    PrivateKey,
    PublicKey,
    needs_rewrap,
    rewrap_private_key,
    unwrap_private_key,
    wrap_private_key,
)
from crypto.recovery import export_recovery_key, import_recovery_key
from crypto.signing import SignaturePurpose, SigningKey, VerifyKey, sign, verify
from crypto.stream_reader import SeekableDecryptor
from crypto.streams import (
    DEFAULT_SEGMENT_SIZE,
    StreamEncryptor,
    decrypt_stream,
    decrypt_stream_to,
    encrypt_stream,
    stream_plaintext_size,
)
from crypto.streams import HEADER_SIZE as STREAM_HEADER_SIZE

__all__ = [
    "CASE_CODE_BITS",
    "DEFAULT_SEGMENT_SIZE",
    "STREAM_HEADER_SIZE",
    "Argon2Params",
    "CaseId",
    "CaseKeys",
    "Context",
    "ContextPart",
    "InvalidCaseCode",
    "InvalidRecoveryKey",
    "KeyKind",
    "OpenError",
    "PrivateKey",
    "PublicKey",
    "SeekableDecryptor",
    "SignaturePurpose",
    "SigningKey",
    "StreamEncryptor",
    "VerifyKey",
    "case_code_lookup_tag",
    "decrypt_field",
    "decrypt_stream",
    "decrypt_stream_to",
    "derive_record_key",
    "encrypt_field",
    "encrypt_stream",
    "export_recovery_key",
    "format_case_code",
    "generate_case_code",
    "generate_pepper",
    "generate_symmetric_key",
    "import_recovery_key",
    "is_legacy_case_code",
    "needs_rewrap",
    "normalise_case_code",
    "open_case_key",
    "open_case_key_for_reporter",
    "open_reporter_seed",
    "rewrap_private_key",
    "seal_case_key",
    "sign",
    "stream_plaintext_size",
    "unwrap_private_key",
    "verify",
    "wrap_case_key_for_reporter",
    "wrap_private_key",
    "wrap_reporter_seed",
]
