"""``whistle receipt verify``: check a submission receipt, and optionally a proof, offline.

With ``--verify-key`` (the hex the organisation publishes on its receipt page) nothing else is
needed: no instance, no database. Without it, the organisation's keys are looked up in this
server's database by the slug the receipt names. Every failure is one line and a non-zero
exit; no input is echoed back (a proof file holds a report in clear).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask
from flask.cli import NoAppException, ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from crypto import OpenError, VerifyKey
from whistle.core import dates
from whistle.core.settings import SettingsError
from whistle.reporting.receipts import (
    MAX_PROOF_BYTES,
    MAX_RECEIPT_BYTES,
    InvalidReceipt,
    ReceiptStatement,
    check_receipt,
    parse_receipt,
    receipt_text,
)

receipt_cli = click.Group("receipt", help="Submission receipts: check one, offline.")

WHY = {
    "too-large": "the file is too large to be a receipt",
    "not-text": "the file is not text, so it is not a receipt",
    "not-found": "no receipt found (no 'Statement:' and 'Signature:' lines)",
    "malformed": "the receipt is damaged: its statement or signature cannot be read",
    "unknown-format": "a receipt format this version of Whistle does not know",
    "signature": "the signature does not match: the receipt was changed, or another key signed it",
    "other-org": "the receipt is from another organisation",
}
PROOF = {
    "matches": "PROOF MATCHES: the proof file holds exactly the report this receipt commits to",
    "differs": "PROOF DOES NOT MATCH: the proof file belongs to another report, or was changed",
    "no-commitment": "NO PROOF POSSIBLE: a format-1 receipt commits to no content",
}


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _read(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` + 1 bytes of ``path``: enough to tell that a file is too large."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        _fail(f"{what}: {path}: {exc.strerror or type(exc).__name__}")


def _given_key(text: str) -> VerifyKey:
    try:
        return VerifyKey.from_bytes(bytes.fromhex(text.strip()))
    except (ValueError, OpenError):
        _fail(
            "--verify-key: not a verify key (give the hex shown on the organisation's receipt "
            "page, starting 57485356)"
        )


def _load_app() -> Flask:
    # The ``whistle`` command (whistle/cli.py) always passes its app factory along.
    info = click.get_current_context().find_object(ScriptInfo)
    if info is None:
        raise NoAppException("not run from the whistle command")
    return info.load_app()


def _server_keys(statement: ReceiptStatement) -> list[VerifyKey]:
    """The keys of the organisation the receipt names, from this server's database."""
    from whistle.core.org_keys import all_verify_keys
    from whistle.core.organisations import find_by_slug
    from whistle.core.runtime import runtime

    try:
        app = _load_app()
        with runtime(app).sessions() as session:
            org = find_by_slug(session, statement.organisation)
            keys = all_verify_keys(session, org.id) if org is not None else []
    except (NoAppException, SettingsError):
        _fail(
            "No Whistle instance here to look the organisation's key up in: give --verify-key "
            "with the key shown on the organisation's receipt page."
        )
    except SQLAlchemyError as exc:
        _fail(f"The database cannot be read ({type(exc).__name__}): give --verify-key instead.")
    if not keys:
        _fail(
            f"NOT VALID: organisation {statement.organisation!r} has no receipt key on this "
            "server; check the receipt where it was issued, or give --verify-key."
        )
    return keys


@receipt_cli.command("verify")
@click.argument("receipt_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--verify-key",
    "verify_key",
    default=None,
    help="The organisation's receipt-verifying key (hex, from its receipt page). Without it, "
    "this server's database is asked.",
)
@click.option(
    "--proof",
    "proof_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The proof file from the reporter's case: checked against the receipt's commitment.",
)
def verify_command(receipt_file: Path, verify_key: str | None, proof_file: Path | None) -> None:
    """Check RECEIPT_FILE: who signed it, for which case and day, and (with --proof) whether
    the proof file holds exactly what the receipt commits to. Exit 0 only if all holds."""
    given = _given_key(verify_key) if verify_key is not None else None
    data = _read(receipt_file, MAX_RECEIPT_BYTES, "receipt")
    proof = _read(proof_file, MAX_PROOF_BYTES, "proof") if proof_file is not None else None
    try:
        text = receipt_text(data)
        statement, _signature = parse_receipt(text)
        keys = [given] if given is not None else _server_keys(statement)
        checked = check_receipt(text, keys, proof=proof)
    except InvalidReceipt as exc:
        _fail(f"NOT VALID: {WHY[exc.reason]}")
    statement = checked.statement
    click.echo(
        f"VALID: receipt of organisation {statement.organisation!r}, case {statement.reference}, "
        f"received {dates.day(statement.day, 'en')} (format {statement.format})"
    )
    click.echo(f"signed with the key with fingerprint {checked.signed_by.fingerprint()}")
    if statement.format == 1:
        click.echo("format 1: it proves the reference and the day, not what was reported")
    if checked.proof is None:
        return
    if checked.proof.status == "unreadable":
        _fail(f"PROOF NOT READABLE: {checked.proof.problem}")
    if checked.proof.status != "matches":
        _fail(PROOF[checked.proof.status])
    click.echo(PROOF["matches"])
