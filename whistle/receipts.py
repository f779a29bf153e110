"""Submission receipts: proof that a report was received on a date, with no identity in it.

The organisation's Ed25519 key signs ``{"o": slug, "r": reference, "d": received day}`` in a
canonical JSON form. The receipt carries no case code and nothing about the report, so it is
safe to keep, print, or show an authority later (PEERS.md: GlobaLeaks #3397).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from crypto import OpenError, SignaturePurpose, SigningKey, VerifyKey, sign, verify

STATEMENT_PREFIX = "Statement: "
SIGNATURE_PREFIX = "Signature: "


@dataclass(frozen=True)
class ReceiptStatement:
    organisation: str  # the organisation's slug
    reference: str
    received_on: str  # ISO day

    def canonical(self) -> bytes:
        return json.dumps(
            {"o": self.organisation, "r": self.reference, "d": self.received_on},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")


def sign_receipt(key: SigningKey, statement: ReceiptStatement) -> str:
    """The base64 signature over ``statement``."""
    return base64.b64encode(
        sign(key, statement.canonical(), purpose=SignaturePurpose.RECEIPT)
    ).decode("ascii")


class InvalidReceipt(Exception):
    """The receipt is malformed or its signature does not verify."""


def parse_receipt(text: str) -> tuple[ReceiptStatement, bytes]:
    """The signed statement and signature found in a receipt's text."""
    statement_match = re.search(rf"^{STATEMENT_PREFIX}(\{{.*\}})\s*$", text, re.M)
    signature_match = re.search(rf"^{SIGNATURE_PREFIX}([A-Za-z0-9+/=]+)\s*$", text, re.M)
    if not statement_match or not signature_match:
        raise InvalidReceipt("no statement and signature found")
    try:
        data = json.loads(statement_match.group(1))
        statement = ReceiptStatement(str(data["o"]), str(data["r"]), str(data["d"]))
        signature = base64.b64decode(signature_match.group(1), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidReceipt("the statement or signature is malformed") from None
    return statement, signature


def verify_receipt(text: str, key: VerifyKey) -> ReceiptStatement:
    """The statement of a receipt whose signature ``key`` verifies; InvalidReceipt otherwise."""
    statement, signature = parse_receipt(text)
    try:
        verify(key, statement.canonical(), signature, purpose=SignaturePurpose.RECEIPT)
    except OpenError:
        raise InvalidReceipt("the signature does not match") from None
    return statement
