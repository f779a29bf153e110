"""Verifiable receipts (issue 14 item 5; whistle/reporting/receipts.py, docs/receipts.md).

A reporter gets a signed receipt that commits to a salted hash of what they reported, and a
proof file (the report and the salt) to keep. Anyone checks a receipt, with or without the
proof, on the organisation's public receipt page or offline with ``whistle receipt verify``.
Receipts of reports stored before the commitment (format 1) still verify.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from crypto import SignaturePurpose, SigningKey, encrypt_field, sign
from tests.steps.factories import Unit, make_unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, read_as_handler
from whistle.cli import cli
from whistle.core.contexts import report_context
from whistle.core.models import Base, Case
from whistle.core.org_keys import signing_key, verify_key
from whistle.core.runtime import runtime
from whistle.reporting.receipts import (
    SALT_FIELD,
    InvalidReceipt,
    ReceiptStatement,
    commitment,
    parse_proof,
    sign_receipt,
    verify_receipt,
)

WHAT = "Fake report RECEIPTMARKER: the forklift logs are edited every Friday."
ANSWERS = ReportAnswers(
    what=WHAT,
    when_where="Fake: the warehouse office, since January",
    who="Fake Person Doe",
    how_known="Fake: I saw the edits myself",
    relation="employee",
)


class Checker:
    """Anyone's browser on an organisation's public receipt page (no session of their own
    beyond the one its form's CSRF token needs)."""

    def __init__(self, app: Flask, slug: str, *, language: str = "en") -> None:
        self.client = app.test_client()
        self.path = f"/o/{slug}/receipt-check/"
        self.headers = {"Accept-Language": language}

    def open(self) -> TestResponse:
        return self.client.get(self.path, headers=self.headers)

    def check(
        self,
        *,
        pasted: str = "",
        receipt_file: bytes | None = None,
        proof_file: bytes | None = None,
    ) -> TestResponse:
        data: dict[str, Any] = {"csrf_token": csrf_token(self.open()), "receipt": pasted}
        if receipt_file is not None:
            data["receipt_file"] = (io.BytesIO(receipt_file), "receipt.txt")
        if proof_file is not None:
            data["proof_file"] = (io.BytesIO(proof_file), "report-proof.json")
        return self.client.post(
            self.path, data=data, headers=self.headers, content_type="multipart/form-data"
        )


def receipt_and_proof(reporter: Reporter) -> tuple[str, bytes]:
    receipt = reporter.get(f"/o/{reporter.slug}/case/receipt.txt")
    assert receipt.status_code == 200
    proof = reporter.get(f"/o/{reporter.slug}/case/receipt-proof.json")
    assert proof.status_code == 200, proof.status_code
    assert proof.headers["Content-Disposition"].startswith("attachment")
    return receipt.get_data(as_text=True), proof.get_data()


def statement_of(receipt: str) -> dict[str, Any]:
    found = re.search(r"^Statement: (\{.*\})$", receipt, re.M)
    assert found, "no statement line"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def receipt_text_of(statement: ReceiptStatement, key: SigningKey) -> str:
    """A receipt's two machine lines, signed with ``key`` (the rest of the text is prose)."""
    return (
        f"Statement: {statement.canonical().decode()}\nSignature: {sign_receipt(key, statement)}\n"
    )


def newest_case(session: Session) -> Case:
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


# --- the reporter's receipt and proof --------------------------------------------------------


def test_a_receipt_commits_to_the_report_without_revealing_it(
    app: Flask, session: Session, unit: Unit
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ANSWERS)
    receipt, proof_bytes = receipt_and_proof(reporter)

    # Format 2: the commitment is signed with the organisation, reference and day.
    statement = statement_of(receipt)
    assert set(statement) == {"o", "r", "d", "c", "v"} and statement["v"] == 2
    checked = verify_receipt(receipt, verify_key(session, unit.org.id))
    assert (checked.reference, checked.received_on) == ("2026-0001", "2026-03-02")
    assert checked.format == 2
    # Nothing of the report, and no code, in the receipt.
    for secret in ("RECEIPTMARKER", "forklift", "Fake Person Doe", code, code.replace("-", "")):
        assert secret not in receipt

    # The proof holds the report and the salt kept inside the encrypted report, and they give
    # the signed commitment.
    proof = parse_proof(proof_bytes)
    stored = read_as_handler(session, newest_case(session), unit.handlers[0]).report
    assert proof.salt.hex() == stored[SALT_FIELD] and len(proof.salt) == 32
    assert proof.report == {
        "relation": "employee",
        "what": WHAT,
        "when_where": ANSWERS.when_where,
        "who": ANSWERS.who,
        "how_known": ANSWERS.how_known,
    }
    assert commitment(proof.salt, proof.report).hex() == statement["c"]
    document = json.loads(proof_bytes)
    assert "in clear text" in document["warning"]
    assert "/o/testfirma/receipt-check/" in document["about"]

    # The receipt page explains the proof and links to it and to the public check.
    page = reporter.get(f"/o/{unit.org.slug}/case/receipt")
    shown = text_of(page)
    assert "Proof of what you reported" in shown and "contains your report in clear text" in shown
    assert "Receipt format 2" in shown and "2 March 2026" in shown
    assert f'href="/o/{unit.org.slug}/receipt-check/"' in page.get_data(as_text=True)
    assert f"http://localhost/o/{unit.org.slug}/receipt-check/" in receipt


def test_the_commitment_is_salted_so_equal_reports_look_different(
    app: Flask, session: Session, unit: Unit
) -> None:
    """Without the salt, anyone holding a receipt could test guesses of a short report
    ("yes", a name) against its commitment."""
    first, second = Reporter(app, unit.org.slug), Reporter(app, unit.org.slug, address="192.0.2.11")
    first.report(ANSWERS)
    second.report(ANSWERS)
    one, one_proof = receipt_and_proof(first)
    two, two_proof = receipt_and_proof(second)
    assert parse_proof(one_proof).report == parse_proof(two_proof).report
    assert statement_of(one)["c"] != statement_of(two)["c"]
    # And the salt is really in what is hashed: the same report under another salt differs.
    proof = parse_proof(one_proof)
    assert commitment(bytes(32), proof.report) != commitment(proof.salt, proof.report)


def make_it_an_old_report(app: Flask, session: Session, unit: Unit) -> Case:
    """The newest case as a report stored before receipts committed to content: no salt."""
    case = newest_case(session)
    view = read_as_handler(session, case, unit.handlers[0])
    old = {k: v for k, v in view.report.items() if k != SALT_FIELD}
    case.report = encrypt_field(
        view.content_key, json.dumps(old).encode(), context=report_context(case.uid)
    )
    session.commit()
    return case


def test_a_report_stored_before_the_commitment_keeps_a_format_1_receipt(
    app: Flask, session: Session, unit: Unit
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    make_it_an_old_report(app, session, unit)
    receipt = reporter.get(f"/o/{unit.org.slug}/case/receipt.txt").get_data(as_text=True)
    assert set(statement_of(receipt)) == {"o", "r", "d"}
    assert verify_receipt(receipt, verify_key(session, unit.org.id)).format == 1
    assert "format 1" in receipt
    page = text_of(reporter.get(f"/o/{unit.org.slug}/case/receipt"))
    assert "This receipt is format 1" in page and "Download the proof" not in page
    missing = reporter.get(f"/o/{unit.org.slug}/case/receipt-proof.json")
    assert missing.status_code == 404 and "No proof for this report" in text_of(missing)

    # It verifies on the public page, which says what it proves and what it cannot.
    checked = text_of(Checker(app, unit.org.slug).check(pasted=receipt, proof_file=b"{}"))
    assert "Valid receipt" in checked and "Receipt format 1" in checked
    assert "commits to no content, so no proof can be checked" in checked


def test_a_format_1_receipt_issued_before_the_change_still_verifies(
    app: Flask, session: Session, unit: Unit
) -> None:
    with app.app_context():
        key = signing_key(session, unit.org.id, runtime(app).settings.instance_key)
    old = ReceiptStatement(unit.org.slug, "2025-0042", "2025-11-30")
    # Byte for byte what the format-1 code signed (tests/app_vectors pins the encoding too).
    assert old.canonical() == b'{"d":"2025-11-30","o":"testfirma","r":"2025-0042"}'
    text = receipt_text_of(old, key)
    shown = text_of(Checker(app, unit.org.slug, language="da").check(pasted=text))
    assert "Gyldig kvittering" in shown and "2025-0042" in shown and "30. november 2025" in shown


# --- the public receipt page -----------------------------------------------------------------


def test_the_receipt_page_shows_the_key_and_checks_a_receipt_with_its_proof(
    app: Flask, session: Session, unit: Unit
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    receipt, proof = receipt_and_proof(reporter)
    start = reporter.get(f"/o/{unit.org.slug}/")
    assert f'href="/o/{unit.org.slug}/receipt-check/"' in start.get_data(as_text=True)

    checker = Checker(app, unit.org.slug)
    page = text_of(checker.open())
    published = verify_key(session, unit.org.id)
    assert published.to_bytes().hex() in page and published.fingerprint() in page
    assert published.fingerprint() in receipt  # the receipt names the key that the page shows

    uploaded = text_of(checker.check(receipt_file=receipt.encode(), proof_file=proof))
    assert "Valid receipt" in uploaded and "2026-0001" in uploaded and "2 March 2026" in uploaded
    assert "The proof file matches" in uploaded and "RECEIPTMARKER" in uploaded
    assert "Employee" in uploaded  # the relation, in words

    danish = text_of(Checker(app, unit.org.slug, language="da").check(pasted=receipt))
    assert "Gyldig kvittering" in danish and "2. marts 2026" in danish


def test_a_proof_of_another_report_or_a_changed_proof_does_not_match(
    app: Flask, session: Session, unit: Unit
) -> None:
    first, second = Reporter(app, unit.org.slug), Reporter(app, unit.org.slug, address="192.0.2.11")
    first.report(ANSWERS)
    second.report(ReportAnswers(what="Fake other report about the canteen."))
    receipt, proof = receipt_and_proof(first)
    _other_receipt, other_proof = receipt_and_proof(second)
    checker = Checker(app, unit.org.slug)
    changed = json.loads(proof)
    changed["report"]["what"] = WHAT.replace("Friday", "Monday")
    edited_salt = json.loads(proof)
    edited_salt["salt"] = "00" * 32
    for bad in (other_proof, json.dumps(changed).encode(), json.dumps(edited_salt).encode()):
        shown = text_of(checker.check(pasted=receipt, proof_file=bad))
        assert "Valid receipt" in shown  # the receipt itself is fine
        assert "The proof file does not match this receipt" in shown
        assert "Friday" not in shown and "canteen" not in shown
    unreadable = text_of(checker.check(pasted=receipt, proof_file=b"\xff\x00 not json"))
    assert "The proof file cannot be read" in unreadable


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ("Not a valid receipt", "No receipt was found", "The signature does not match")),
        ("da", ("Ikke en gyldig kvittering", "Der blev ikke fundet", "Signaturen passer ikke")),
    ],
)
def test_bad_input_gets_a_clear_message_never_a_server_error(
    app: Flask, session: Session, unit: Unit, language: str, expected: tuple[str, str, str]
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    receipt, _proof = receipt_and_proof(reporter)
    checker = Checker(app, unit.org.slug, language=language)
    invalid, not_found, bad_signature = expected

    garbage = checker.check(pasted="Fake garbage, not a receipt at all")
    assert garbage.status_code == 200
    assert invalid in text_of(garbage) and not_found in text_of(garbage)
    # What was pasted stays in the box.
    assert "Fake garbage, not a receipt at all" in garbage.get_data(as_text=True)

    forged = checker.check(pasted=receipt.replace("2026-03-02", "2026-02-01"))
    assert invalid in text_of(forged) and bad_signature in text_of(forged)

    binary = checker.check(receipt_file=b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert invalid in text_of(binary)

    big_file = checker.check(receipt_file=b"Statement: {}\n" * 10_000)
    assert big_file.status_code == 200 and invalid in text_of(big_file)

    huge = checker.check(receipt_file=b"x" * (6 * 1024 * 1024))
    assert huge.status_code == 413 and invalid in text_of(huge)
    assert 'name="receipt"' in huge.get_data(as_text=True)  # the check page, not a bare error

    nothing = checker.check()
    assert nothing.status_code == 200 and (
        "Paste a receipt or choose its file." in text_of(nothing)
        or "Indsæt en kvittering" in text_of(nothing)
    )


def test_a_receipt_of_another_organisation_is_named_as_such(
    app: Flask, session: Session, unit: Unit, clock: Any
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    reporter = Reporter(app, other.org.slug)
    reporter.report(ANSWERS)
    receipt, _proof = receipt_and_proof(reporter)
    here = text_of(Checker(app, unit.org.slug).check(pasted=receipt))
    assert "Not a valid receipt" in here and "issued by another organisation" in here
    there = text_of(Checker(app, other.org.slug).check(pasted=receipt))
    assert "Valid receipt" in there
    # A receipt edited to name this organisation is forged: the signature says so.
    moved = receipt.replace('"o":"andetfirma"', f'"o":"{unit.org.slug}"')
    refused = text_of(Checker(app, unit.org.slug).check(pasted=moved))
    assert "The signature does not match" in refused


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def test_checking_a_receipt_stores_and_logs_nothing_about_the_visitor(
    app: Flask, session: Session, unit: Unit, caplog: pytest.LogCaptureFixture
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    receipt, proof = receipt_and_proof(reporter)
    before = row_counts(runtime(app).engine)
    checker = Checker(app, unit.org.slug)
    checker.client.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    with caplog.at_level(logging.DEBUG):
        assert "Valid receipt" in text_of(checker.check(pasted=receipt, proof_file=proof))
        checker.check(pasted="Fake garbage")
    assert row_counts(runtime(app).engine) == before
    logged = " ".join(r.getMessage() for r in caplog.records)
    for trace in ("198.51.100.77", "RECEIPTMARKER", "Fake garbage", "receipt-check"):
        assert trace not in logged


# --- whistle receipt verify ------------------------------------------------------------------


def run(*arguments: str) -> Result:
    return CliRunner().invoke(cli, ["receipt", "verify", *arguments], catch_exceptions=True)


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def test_receipt_verify_works_offline_with_the_published_key(
    app: Flask,
    session: Session,
    unit: Unit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    receipt, proof = receipt_and_proof(reporter)
    key = verify_key(session, unit.org.id).to_bytes().hex()
    (tmp_path / "receipt.txt").write_text(receipt)
    (tmp_path / "proof.json").write_bytes(proof)
    # Offline: no instance folder and no database anywhere.
    monkeypatch.setenv("WHISTLE_INSTANCE", str(tmp_path / "no-instance-here"))
    monkeypatch.delenv("WHISTLE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    done = run("receipt.txt", "--verify-key", key, "--proof", "proof.json")
    assert done.exit_code == 0, done.output
    assert "VALID: receipt of organisation 'testfirma', case 2026-0001, received 2 March 2026" in (
        done.output
    )
    assert "PROOF MATCHES" in done.output and "RECEIPTMARKER" not in done.output

    changed = json.loads(proof)
    changed["report"]["who"] = "Fake Someone Else"
    Path("changed.json").write_text(json.dumps(changed))
    Path("forged.txt").write_text(receipt.replace("2026-0001", "2026-0002"))
    Path("garbage.txt").write_bytes(b"\x00\xff garbage")
    stranger = SigningKey.generate().verify_key().to_bytes().hex()
    refusals = {
        ("receipt.txt", "--verify-key", key, "--proof", "changed.json"): "PROOF DOES NOT MATCH",
        ("receipt.txt", "--verify-key", key, "--proof", "receipt.txt"): "PROOF NOT READABLE",
        ("forged.txt", "--verify-key", key): "NOT VALID: the signature does not match",
        ("receipt.txt", "--verify-key", stranger): "NOT VALID: the signature does not match",
        ("garbage.txt", "--verify-key", key): "NOT VALID: the file is not text",
        ("receipt.txt", "--verify-key", "57485356"): "--verify-key: not a verify key",
        ("receipt.txt", "--verify-key", "zz"): "--verify-key: not a verify key",
        ("missing.txt", "--verify-key", key): "receipt: missing.txt:",
        ("receipt.txt",): "No Whistle instance here",
    }
    for arguments, message in refusals.items():
        refused = run(*arguments)
        assert refused.exit_code == 1, (arguments, refused.output)
        assert message in refused.output, (arguments, refused.output)
        no_traceback(refused)


def test_receipt_verify_asks_the_servers_database_without_a_key(
    app: Flask,
    session: Session,
    unit: Unit,
    database_url: str,
    instance_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Any,
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ANSWERS)
    receipt, _proof = receipt_and_proof(reporter)
    make_it_an_old_report(app, session, unit)
    old_receipt = reporter.get(f"/o/{unit.org.slug}/case/receipt.txt").get_data(as_text=True)
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
        foreign_key = signing_key(session, other.org.id, runtime(app).settings.instance_key)
    monkeypatch.setenv("WHISTLE_INSTANCE", str(instance_path))
    monkeypatch.setenv("WHISTLE_DATABASE_URL", database_url)
    monkeypatch.setenv("WHISTLE_ARGON2_PROFILE", "test")
    monkeypatch.chdir(tmp_path)
    Path("receipt.txt").write_text(receipt)
    Path("old.txt").write_text(old_receipt)
    done = run("receipt.txt")
    assert done.exit_code == 0, done.output
    assert "case 2026-0001" in done.output and "(format 2)" in done.output
    old = run("old.txt")
    assert old.exit_code == 0 and "(format 1)" in old.output
    assert "proves the reference and the day, not what was reported" in old.output
    with_proof = run("old.txt", "--proof", "receipt.txt")
    assert with_proof.exit_code == 1 and "NO PROOF POSSIBLE" in with_proof.output

    # A receipt naming this organisation but signed by another organisation's key is forged.
    forged = ReceiptStatement(unit.org.slug, "2026-0001", "2026-03-02")
    Path("forged.txt").write_text(receipt_text_of(forged, foreign_key))
    refused = run("forged.txt")
    assert refused.exit_code == 1 and "signature does not match" in refused.output
    unknown = ReceiptStatement("nobody-here", "2026-0001", "2026-03-02")
    Path("unknown.txt").write_text(receipt_text_of(unknown, foreign_key))
    nobody = run("unknown.txt")
    assert nobody.exit_code == 1 and "has no receipt key on this server" in nobody.output


def test_a_receipt_signature_is_not_valid_for_another_purpose(
    app: Flask, session: Session, unit: Unit
) -> None:
    """A manifest or bundle-header signature by the same key never passes as a receipt."""
    with app.app_context():
        key = signing_key(session, unit.org.id, runtime(app).settings.instance_key)
    statement = ReceiptStatement(unit.org.slug, "2026-0001", "2026-03-02")
    for purpose in (SignaturePurpose.EXPORT_MANIFEST, SignaturePurpose.EXPORT_HEADER):
        import base64

        signature = base64.b64encode(sign(key, statement.canonical(), purpose=purpose)).decode()
        text = f"Statement: {statement.canonical().decode()}\nSignature: {signature}\n"
        with pytest.raises(InvalidReceipt, match="does not match"):
            verify_receipt(text, key.verify_key())
