"""What the writer (whistle/counsel/export.py) and the reader (whistle/counsel/bundle_reader.py) of
a case file
for counsel must agree on, in one place (docs/export-format.md): the header, the manifest, the
contexts, and counsel's key file.

The contexts are authenticated with the sealed bundle key and the encrypted archive, so a key
or archive moved to another export's header fails to open. Since format 2 the header is also
signed by the organisation (purpose ``export-header``), so its export id, organisation and
sealed key cannot be swapped or edited, and who made the file is known before anything is
decrypted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from crypto import OpenError, SignaturePurpose, SigningKey, VerifyKey, sign

FORMAT = "whistle-export"
VERSION = 1  # of case.json and manifest.json; the bundle's own format is in its magic
MAGIC_PREFIX = b"WHISTLE-EXPORT\x00"
MAGIC_V1 = MAGIC_PREFIX + b"\x01"  # header not signed; still read
MAGIC = MAGIC_PREFIX + b"\x02"  # written since issue 14: signed header
HEADER_VERSION = 2

# The first line of counsel's key file (their wrapped private key), written by the counsel
# pages and read by `whistle export open`. Version 2 also carries the organisation's signing
# key, so the file counsel downloads over their authenticated session pins who may sign.
KEY_FILE_HEADER_V1 = "WHISTLE COUNSEL KEY FILE v1"
KEY_FILE_HEADER = "WHISTLE COUNSEL KEY FILE v2"
KEY_FILE_ORGANISATION = "Organisation: "
KEY_FILE_SIGNING_KEY = "Organisation signing key: "
KEY_FILE_FINGERPRINT = "Organisation key fingerprint: "


def field(value: bytes) -> bytes:
    """A header field: big-endian u16 length, then the bytes."""
    if len(value) > 0xFFFF:
        raise ValueError("a header field is at most 65535 bytes")
    return struct.pack(">H", len(value)) + value


def signed_header_part(
    export_id: str, organisation: str, sealed_key: bytes, verify_key: VerifyKey
) -> bytes:
    """The bytes of a format-2 header that its signature covers: everything before it."""
    return (
        MAGIC
        + field(export_id.encode("ascii"))
        + field(organisation.encode("utf-8"))
        + field(sealed_key)
        + field(verify_key.to_bytes())
    )


def header(export_id: str, organisation: str, sealed_key: bytes, signing_key: SigningKey) -> bytes:
    """A format-2 bundle header, signed by the organisation (purpose ``export-header``)."""
    signed = signed_header_part(export_id, organisation, sealed_key, signing_key.verify_key())
    return signed + field(sign(signing_key, signed, purpose=SignaturePurpose.EXPORT_HEADER))


def manifest_bytes(
    *,
    export_id: str,
    organisation: str,
    case: str,
    exported_on: str,
    includes_notes: bool,
    includes_identity: bool,
    verify_key: VerifyKey,
    parts: list[dict[str, Any]],
) -> bytes:
    """``manifest.json`` as the organisation signs it (purpose ``export-manifest``)."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "export_id": export_id,
            "organisation": organisation,
            "case": case,
            "exported_on": exported_on,
            "includes_notes": includes_notes,
            "includes_identity": includes_identity,
            "verify_key": verify_key.to_bytes().hex(),
            "parts": parts,
        },
        indent=1,
    ).encode()


# --- counsel's key file ------------------------------------------------------------------------


class KeyFileError(ValueError):
    """Not a counsel key file, or a damaged one; the text says which, never the content."""


@dataclass(frozen=True, repr=False)
class KeyFile:
    """Counsel's key file: their private key wrapped under their password and, since
    version 2, the organisation whose signing key it pins."""

    version: int
    wrapped_private_key: bytes  # useless without counsel's password
    organisation: str | None = None
    verify_key: VerifyKey | None = None

    def __repr__(self) -> str:
        return f"KeyFile(v{self.version}, {self.organisation!r})"


def key_file_text(wrapped_private_key: bytes, organisation: str, verify_key: VerifyKey) -> str:
    """Counsel's key file, version 2, for ``organisation`` (its slug)."""
    return (
        f"{KEY_FILE_HEADER}\n"
        f"{KEY_FILE_ORGANISATION}{organisation}\n"
        f"{KEY_FILE_SIGNING_KEY}{verify_key.to_bytes().hex()}\n"
        f"{KEY_FILE_FINGERPRINT}{verify_key.fingerprint()}\n"
        f"{base64.b64encode(wrapped_private_key).decode()}\n"
    )


def _labelled(lines: list[str], label: str) -> str:
    found = [line[len(label) :].strip() for line in lines if line.startswith(label)]
    if len(found) != 1 or not found[0]:
        raise KeyFileError(f"the key file lacks its line '{label.strip()}'")
    return found[0]


def parse_key_file(text: str) -> KeyFile:
    """A key file of version 1 or 2; KeyFileError when it is neither or damaged."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = re.sub(r"\s+", " ", lines[0]) if lines else ""
    if first not in (KEY_FILE_HEADER_V1, KEY_FILE_HEADER) or len(lines) < 2:
        raise KeyFileError("not a Whistle counsel key file")
    try:
        wrapped = base64.b64decode(lines[-1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError("the key file is damaged") from None
    if first == KEY_FILE_HEADER_V1:
        return KeyFile(1, wrapped)
    organisation = _labelled(lines, KEY_FILE_ORGANISATION)
    try:
        verify_key = VerifyKey.from_bytes(bytes.fromhex(_labelled(lines, KEY_FILE_SIGNING_KEY)))
    except (ValueError, OpenError):
        raise KeyFileError("the key file's organisation signing key is damaged") from None
    # The fingerprint line is for people; a file whose two disagree was edited by hand.
    if _labelled(lines, KEY_FILE_FINGERPRINT) != verify_key.fingerprint():
        raise KeyFileError("the key file's fingerprint does not match its signing key")
    return KeyFile(2, wrapped, organisation, verify_key)
