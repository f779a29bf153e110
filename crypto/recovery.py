"""The organisation recovery key as printable text, for a safe.

Every case key is also sealed to the organisation's recovery public key, so a handler who
leaves or forgets a password does not take cases with them. Who can read with it: whoever
holds the printed private key can open *every* case key of the organisation. Keep the paper
offline (a safe, two envelopes in two places); never store it on the server.

Text format 1 (see docs/crypto.md): a title line, the public-key fingerprint, then numbered
lines ``NN  XXXX XXXX XXXX XXXX XXXX  C`` of Crockford base32 (no I, L, O, U; case and
spacing do not matter). Each line ends with a check character over its number and symbols,
so a typo is reported with its line; a 32-bit checksum over the whole key catches anything
the line checks miss (a missing line, two typos that cancel).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from crypto import _base32
from crypto.errors import InvalidRecoveryKey
from crypto.keypairs import PRIVATE_KEY_BLOB_SIZE, PrivateKey

__all__ = ["export_recovery_key", "import_recovery_key"]

_TITLE: Final = "WHISTLE ORGANISATION RECOVERY KEY (format 1)"
_CHECKSUM_SIZE: Final = 4
_PAYLOAD_SIZE: Final = PRIVATE_KEY_BLOB_SIZE + _CHECKSUM_SIZE
_SYMBOLS: Final = _base32.encoded_length(_PAYLOAD_SIZE)
_PER_LINE: Final = 20
_GROUP: Final = 4
_LINES: Final = -(-_SYMBOLS // _PER_LINE)
_LINE_LABEL: Final = b"WHS recovery line v1\x00"
_LINE_PATTERN: Final = re.compile(r"^\s*(\d{1,2})[\s.:)]+(\S.*)$")


def _checksum(blob: bytes) -> bytes:
    return hashlib.sha256(b"WHS recovery checksum v1\x00" + blob).digest()[:_CHECKSUM_SIZE]


def _line_check(number: int, symbols: str) -> str:
    digest = hashlib.sha256(_LINE_LABEL + bytes((number,)) + symbols.encode("ascii")).digest()
    return _base32.ALPHABET[digest[0] & 31]


def export_recovery_key(key: PrivateKey) -> str:
    """The private ``key`` as text to print and keep offline. SECRET: whoever has the text
    can open every case key sealed to the organisation's recovery key.

    Deterministic for a given key. :func:`import_recovery_key` reads it back.
    """
    blob = key.to_bytes()
    symbols = _base32.encode(blob + _checksum(blob))
    lines = [_TITLE, f"Public key fingerprint: {key.public_key().fingerprint()}", ""]
    for index in range(_LINES):
        number = index + 1
        chunk = symbols[index * _PER_LINE : (index + 1) * _PER_LINE]
        groups = " ".join(chunk[i : i + _GROUP] for i in range(0, len(chunk), _GROUP))
        lines.append(f"{number:02d}  {groups}  {_line_check(number, chunk)}")
    return "\n".join(lines) + "\n"


def import_recovery_key(text: str) -> PrivateKey:
    """Read a recovery key typed or scanned back from :func:`export_recovery_key`.

    Forgiving about case, spacing, dashes and O/0, I/L/1; lines without a leading line
    number (title, fingerprint) are ignored. Raises :class:`InvalidRecoveryKey` (with
    ``line`` set where possible) for a missing line or a typo; :class:`OpenError` if the key
    inside has an unknown format. Compare the result's ``public_key()`` with the stored
    recovery public key before relying on it.
    """
    found: dict[int, str] = {}
    for raw_line in text.splitlines():
        match = _LINE_PATTERN.match(raw_line)
        if not match:
            continue
        number = int(match.group(1))
        if not 1 <= number <= _LINES or number in found:
            raise InvalidRecoveryKey(f"unexpected line number {number}", line=number)
        try:
            found[number] = _base32.normalise(match.group(2))
        except ValueError:
            raise InvalidRecoveryKey(
                f"line {number} contains a character that is not in the key", line=number
            ) from None
    missing = [n for n in range(1, _LINES + 1) if n not in found]
    if missing:
        raise InvalidRecoveryKey(f"line {missing[0]} is missing", line=missing[0])
    parts = []
    for number in range(1, _LINES + 1):
        line = found[number]
        if len(line) < 2 or _line_check(number, line[:-1]) != line[-1]:
            raise InvalidRecoveryKey(f"line {number} has a typo", line=number)
        parts.append(line[:-1])
    try:
        payload = _base32.decode("".join(parts), _PAYLOAD_SIZE)
    except ValueError:
        raise InvalidRecoveryKey("the key has the wrong number of characters") from None
    blob, checksum = payload[:-_CHECKSUM_SIZE], payload[-_CHECKSUM_SIZE:]
    if _checksum(blob) != checksum:
        raise InvalidRecoveryKey("the key's checksum does not match; look for a typo")
    return PrivateKey.from_bytes(blob)
