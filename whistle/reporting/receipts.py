"""Submission receipts: proof that a report was received on a date, with no identity in it,
and (format 2) a commitment to what the report said, without revealing it (docs/receipts.md).

The organisation's Ed25519 key signs a canonical JSON statement:

- format 1: ``{"d": day, "o": slug, "r": reference}``;
- format 2: the same plus ``"c"``, the hex SHA-256 commitment to the report's content and a
  random 32-byte salt (:func:`commitment`), and ``"v": 2``.

The receipt carries no case code and nothing readable about the report, so it is safe to keep,
print, or show an authority later (PEERS.md: GlobaLeaks #3397). The salt is drawn at intake
and kept only inside the encrypted report (``receipt_salt``), so only those who can open the
report (the reporter with the case code, the entitled handlers) can compute the commitment or
show what it commits to. Together with the *proof* the reporter downloads (the report's
content and the salt), a format-2 receipt proves what was reported: the salt hides the
content from anyone holding only the receipt (no guessing short answers), and SHA-256 binds
the receipt to that one content.

A report stored before format 2 has no salt; its receipt stays format 1 (the reference and the
day, nothing about the content). Both formats verify (:func:`check_receipt`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy.orm import Session

from crypto import OpenError, SignaturePurpose, SigningKey, VerifyKey, sign, verify
from whistle.casefile.access import KeyRing
from whistle.casefile.content import report_of
from whistle.core.models import Case, Organisation
from whistle.core.org_keys import signing_key

STATEMENT_PREFIX = "Statement: "
SIGNATURE_PREFIX = "Signature: "

# The field of the encrypted report document (whistle/reporting/intake.py) that holds the salt, as
# hex.
SALT_FIELD = "receipt_salt"
SALT_SIZE = 32
# What the commitment covers: the fields the reporter typed, in this fixed order. Not the
# identity (its own key), not the excluded handlers, not the category (clear metadata).
COMMITTED_FIELDS = ("relation", "what", "when_where", "who", "how_known")
COMMITMENT_DOMAIN = b"WHS report commitment v1\x00"

PROOF_FORMAT = "whistle-report-proof"
PROOF_VERSION = 1
# Limits on what a verifier reads: a receipt is a few hundred bytes; a proof holds at most
# four 20,000-character answers, under 1 MiB even in the widest UTF-8.
MAX_RECEIPT_BYTES = 64 * 1024
MAX_PROOF_BYTES = 1024 * 1024

_COMMITMENT_HEX = re.compile(r"[0-9a-f]{64}")
_STATEMENT_LINE = re.compile(rf"^{STATEMENT_PREFIX}(\{{.*\}})[ \t\r]*$", re.M)
_SIGNATURE_LINE = re.compile(rf"^{SIGNATURE_PREFIX}([A-Za-z0-9+/=]+)[ \t\r]*$", re.M)

Reason = Literal[
    "too-large", "not-text", "not-found", "malformed", "unknown-format", "signature", "other-org"
]


class InvalidReceipt(Exception):
    """The receipt is malformed or its signature does not verify.

    ``reason`` says which, for a message in the reader's language; the text is English for
    the command line. Neither quotes the input.
    """

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason: Reason = reason
        super().__init__(message)


class InvalidProof(ValueError):
    """A proof file that cannot be read; the text names what is wrong, never its content."""


def new_salt() -> str:
    """A fresh commitment salt for a new report, as stored in the encrypted report (hex)."""
    return secrets.token_bytes(SALT_SIZE).hex()


def _text(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("a committed field must be text or null")
    return value.encode("utf-8")


def commitment_input(salt: bytes, report: Mapping[str, object]) -> bytes:
    """The canonical bytes the commitment hashes (docs/receipts.md, byte by byte).

    ``COMMITMENT_DOMAIN || salt (32) ||`` for each field of COMMITTED_FIELDS in order:
    ``u16 length || field name || 00`` (absent or null) or ``01 || u32 length || UTF-8 text``.
    Length prefixes make it injective: no two contents give the same bytes.
    """
    if len(salt) != SALT_SIZE:
        raise ValueError("the salt must be 32 bytes")
    parts = [COMMITMENT_DOMAIN, salt]
    for name in COMMITTED_FIELDS:
        label = name.encode("ascii")
        parts.append(struct.pack(">H", len(label)) + label)
        value = _text(report.get(name))
        if value is None:
            parts.append(b"\x00")
        else:
            parts.append(b"\x01" + struct.pack(">I", len(value)) + value)
    return b"".join(parts)


def commitment(salt: bytes, report: Mapping[str, object]) -> bytes:
    """SHA-256 of :func:`commitment_input`: what a format-2 receipt signs as ``c``."""
    return hashlib.sha256(commitment_input(salt, report)).digest()


@dataclass(frozen=True)
class ReceiptStatement:
    organisation: str  # the organisation's slug
    reference: str
    received_on: str  # ISO day
    commitment: str | None = None  # hex SHA-256; None in a format-1 receipt

    @property
    def format(self) -> int:
        return 1 if self.commitment is None else 2

    @property
    def day(self) -> date:
        return date.fromisoformat(self.received_on)

    def canonical(self) -> bytes:
        data: dict[str, object] = {
            "o": self.organisation,
            "r": self.reference,
            "d": self.received_on,
        }
        if self.commitment is not None:
            data |= {"c": self.commitment, "v": 2}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def receipt_salt(report: Mapping[str, Any]) -> bytes | None:
    """The commitment salt kept in a decrypted report, or None (stored before format 2)."""
    value = report.get(SALT_FIELD)
    if not isinstance(value, str):
        return None
    try:
        salt = bytes.fromhex(value)
    except ValueError:
        return None
    return salt if len(salt) == SALT_SIZE else None


def statement_for(
    organisation: str, reference: str, received_on: date, report: Mapping[str, Any]
) -> ReceiptStatement:
    """The statement to sign for a case, from its decrypted report: format 2 when the report
    has a salt, format 1 for a report stored before there was one."""
    salt = receipt_salt(report)
    return ReceiptStatement(
        organisation,
        reference,
        received_on.isoformat(),
        commitment(salt, report).hex() if salt is not None else None,
    )


def sign_receipt(key: SigningKey, statement: ReceiptStatement) -> str:
    """The base64 signature over ``statement``."""
    return base64.b64encode(
        sign(key, statement.canonical(), purpose=SignaturePurpose.RECEIPT)
    ).decode("ascii")


@dataclass(frozen=True, repr=False)
class IssuedReceipt:
    """A receipt as the reporter gets it, and the proof that goes with it (None: format 1)."""

    statement: ReceiptStatement
    signature: str  # base64
    verify_key: VerifyKey
    proof: ReportProof | None

    def __repr__(self) -> str:
        return f"IssuedReceipt(reference={self.statement.reference!r})"


def issue_receipt(
    session: Session, org: Organisation, case: Case, content: KeyRing, instance_key: bytes
) -> IssuedReceipt:
    """Sign the receipt of ``case`` for its reporter, who holds its content keys (SECRET).

    Signed anew each time it is shown, so nothing about it is stored: the commitment is
    computed from the decrypted report, which only the key holders can read.
    """
    report = report_of(case, content)
    statement = statement_for(org.slug, case.reference, case.received_on, report)
    key = signing_key(session, org.id, instance_key)
    return IssuedReceipt(
        statement, sign_receipt(key, statement), key.verify_key(), proof_for(statement, report)
    )


# --- the proof of what was reported ---------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ReportProof:
    """The report's committed content and its salt. SECRET: it is the report in clear."""

    salt: bytes
    report: dict[str, str | None]
    organisation: str = ""
    reference: str = ""
    received_on: str = ""

    def commitment(self) -> bytes:
        return commitment(self.salt, self.report)

    def to_json(self, *, about: str, warning: str) -> bytes:
        """The proof file: explanation and warning first, then what a verifier reads."""
        return (
            json.dumps(
                {
                    "format": PROOF_FORMAT,
                    "version": PROOF_VERSION,
                    "about": about,
                    "warning": warning,
                    "organisation": self.organisation,
                    "reference": self.reference,
                    "received_on": self.received_on,
                    "commitment": self.commitment().hex(),
                    "salt": self.salt.hex(),
                    "report": {name: self.report[name] for name in COMMITTED_FIELDS},
                },
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        ).encode("utf-8")

    def __repr__(self) -> str:
        return f"ReportProof(reference={self.reference!r})"


def proof_for(statement: ReceiptStatement, report: Mapping[str, Any]) -> ReportProof | None:
    """The proof that goes with ``statement`` (None for a format-1 receipt: no salt)."""
    salt = receipt_salt(report)
    if salt is None:
        return None
    committed: dict[str, str | None] = {}
    for name in COMMITTED_FIELDS:
        value = report.get(name)
        committed[name] = value if isinstance(value, str) else None
    return ReportProof(
        salt, committed, statement.organisation, statement.reference, statement.received_on
    )


def parse_proof(data: bytes) -> ReportProof:
    """A proof file as :meth:`ReportProof.to_json` writes it; InvalidProof otherwise."""
    if len(data) > MAX_PROOF_BYTES:
        raise InvalidProof("the proof file is too large")
    try:
        found = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidProof("not a proof file (no JSON)") from None
    if not isinstance(found, dict) or found.get("format") != PROOF_FORMAT:
        raise InvalidProof("not a Whistle proof file")
    if found.get("version") != PROOF_VERSION:
        raise InvalidProof("a proof file of an unknown version")
    salt_text, report = found.get("salt"), found.get("report")
    if not isinstance(salt_text, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", salt_text):
        raise InvalidProof("the proof file's salt is damaged")
    if not isinstance(report, dict) or set(report) != set(COMMITTED_FIELDS):
        raise InvalidProof("the proof file's report is damaged")
    if not all(v is None or isinstance(v, str) for v in report.values()):
        raise InvalidProof("the proof file's report is damaged")
    labels = [found.get(k, "") for k in ("organisation", "reference", "received_on")]
    return ReportProof(
        bytes.fromhex(salt_text), dict(report), *[v if isinstance(v, str) else "" for v in labels]
    )


# --- reading and checking a receipt ---------------------------------------------------------


def receipt_text(data: bytes) -> str:
    """An uploaded receipt as text; InvalidReceipt when too large or not text."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt("too-large", "the file is too large to be a receipt")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidReceipt("not-text", "the file is not text") from None


def _statement_from(data: object) -> ReceiptStatement:
    if not isinstance(data, dict):
        raise InvalidReceipt("malformed", "the statement or signature is malformed")
    version = data.get("v", 1)
    if version not in (1, 2) or isinstance(version, bool):
        raise InvalidReceipt("unknown-format", "a receipt format this version does not know")
    expected = {"o", "r", "d"} | ({"c", "v"} if version == 2 else set())
    if set(data) != expected or not all(isinstance(data[k], str) for k in expected - {"v"}):
        raise InvalidReceipt("malformed", "the statement or signature is malformed")
    try:
        date.fromisoformat(data["d"])
    except ValueError:
        raise InvalidReceipt("malformed", "the statement or signature is malformed") from None
    if version == 2 and not _COMMITMENT_HEX.fullmatch(data["c"]):
        raise InvalidReceipt("malformed", "the statement or signature is malformed")
    return ReceiptStatement(data["o"], data["r"], data["d"], data["c"] if version == 2 else None)


def parse_receipt(text: str) -> tuple[ReceiptStatement, bytes]:
    """The signed statement and signature found in a receipt's text."""
    if len(text) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt("too-large", "the text is too long to be a receipt")
    statements = _STATEMENT_LINE.findall(text)
    signatures = _SIGNATURE_LINE.findall(text)
    if not statements or not signatures:
        raise InvalidReceipt("not-found", "no statement and signature found")
    if len(statements) > 1 or len(signatures) > 1:
        raise InvalidReceipt("malformed", "more than one statement or signature")
    try:
        data = json.loads(statements[0])
        signature = base64.b64decode(signatures[0], validate=True)
    except (ValueError, RecursionError, binascii.Error):
        raise InvalidReceipt("malformed", "the statement or signature is malformed") from None
    return _statement_from(data), signature


def verify_receipt(text: str, key: VerifyKey | Sequence[VerifyKey]) -> ReceiptStatement:
    """The statement of a receipt whose signature ``key`` (or one of ``key``) verifies;
    InvalidReceipt otherwise."""
    statement, signature = parse_receipt(text)
    _signer(statement, signature, [key] if isinstance(key, VerifyKey) else key)
    return statement


def _signer(statement: ReceiptStatement, signature: bytes, keys: Sequence[VerifyKey]) -> VerifyKey:
    for candidate in keys:
        try:
            verify(candidate, statement.canonical(), signature, purpose=SignaturePurpose.RECEIPT)
        except OpenError:
            continue
        return candidate
    raise InvalidReceipt("signature", "the signature does not match")


ProofStatus = Literal["matches", "differs", "no-commitment", "unreadable"]


@dataclass(frozen=True, repr=False)
class ProofCheck:
    status: ProofStatus
    problem: str = ""  # for "unreadable": what is wrong, in English, never the content
    proof: ReportProof | None = None  # for "matches": what the receipt commits to

    def __repr__(self) -> str:
        return f"ProofCheck({self.status})"


@dataclass(frozen=True)
class ReceiptCheck:
    """A receipt that verified, the key that signed it, and the proof's outcome if one came."""

    statement: ReceiptStatement
    signed_by: VerifyKey
    proof: ProofCheck | None


def check_proof(statement: ReceiptStatement, proof_data: bytes) -> ProofCheck:
    """Whether ``proof_data`` holds exactly the content ``statement`` commits to."""
    if statement.commitment is None:
        return ProofCheck("no-commitment")
    try:
        proof = parse_proof(proof_data)
    except InvalidProof as exc:
        return ProofCheck("unreadable", str(exc))
    if not secrets.compare_digest(proof.commitment().hex(), statement.commitment):
        return ProofCheck("differs")
    return ProofCheck("matches", proof=proof)


def check_receipt(
    text: str,
    keys: Sequence[VerifyKey],
    *,
    organisation: str | None = None,
    proof: bytes | None = None,
) -> ReceiptCheck:
    """Verify a receipt's text against ``keys`` (an organisation's, current first) and, given
    ``proof``, whether the proof matches its commitment. With ``organisation``, a receipt of
    another organisation is refused as such (InvalidReceipt "other-org"), not as forged."""
    statement, signature = parse_receipt(text)
    if organisation is not None and statement.organisation != organisation:
        raise InvalidReceipt("other-org", "the receipt is from another organisation")
    signer = _signer(statement, signature, keys)
    return ReceiptCheck(
        statement, signer, check_proof(statement, proof) if proof is not None else None
    )
