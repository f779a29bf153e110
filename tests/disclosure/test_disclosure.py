"""Disclosing a named reporter's identity (REQUIREMENTS.md K2; Act § 26;
whistle/disclosure/).

Without the reporter's consent the identity goes only to a named public authority: the notice
with reasons in the mailbox, or no notice with a second person's approval, and then a handover
page with a document addressed to the authority, recorded once in the register. With consent
it may also go to counsel in a case file. A legal ground never puts it in a case file, however
the export form is posted.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import field_errors, keys_of, messages_of, newest_case, signed_in
from tests.steps.counsel import counsel, opened
from tests.steps.factories import Staff, Unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import CaseWorker, form_token
from whistle.casefile import content
from whistle.core.clock import FixedClock
from whistle.core.models import (
    AuditEntry,
    Base,
    Case,
    CaseExport,
    CaseNote,
    Disclosure,
    IdentityDisclosure,
    OutboxMail,
)
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import export
from whistle.disclosure import asking

NAME = "Rikke DISCLOSEDNAME Testesen"
CONTACT = "rikke.disclosed@example.org"
REASONS = "Fake reasons REASONSMARKER: the police asks for the witness."
WITHHELD = "Fake grounds WITHHELDMARKER: the suspect reads the reporter's mail."
AUTHORITY = "Fake Politi AUTHORITYMARKER"


def named_report(app: Flask, session: Session, unit: Unit) -> tuple[Reporter, str, Case]:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(
        ReportAnswers(
            what="Fake report: invoices are doubled.", named=True, name=NAME, contact=CONTACT
        )
    )
    return reporter, code, newest_case(session)


def worker(app: Flask, clock: FixedClock, unit: Unit, index: int) -> CaseWorker:
    return signed_in(CaseWorker(app, clock, unit.handlers[index], slug=unit.org.slug))


def page_path(unit: Unit, case: Case, action: str = "") -> str:
    base = f"/staff/{unit.org.slug}/cases/{case.reference}/disclosure/"
    return base + action if action else base


def post_on_page(
    who: CaseWorker, unit: Unit, case: Case, action: str, fields: dict[str, object]
) -> TestResponse:
    page = who.get(page_path(unit, case))
    assert page.status_code == 200, page.status_code
    path = page_path(unit, case, action)
    name, token = form_token(page, path)
    return who.post(path, {name: token, **fields})


def ask(
    who: CaseWorker,
    unit: Unit,
    case: Case,
    to: Staff,
    ground: str,
    *,
    withhold: str = "",
    reasons: str = REASONS,
) -> TestResponse:
    """Ask to disclose the identity to counsel ``to``."""
    fields: dict[str, object] = {
        "request-recipient": "counsel",
        "request-counsel": str(to.user.id),
        "request-ground": ground,
        "request-reasons": reasons,
    }
    if withhold:
        fields |= {"request-withhold_notice": "y", "request-withhold_reason": withhold}
    return post_on_page(who, unit, case, "request", fields)


def ask_authority(
    who: CaseWorker,
    unit: Unit,
    case: Case,
    ground: str,
    *,
    authority: str = AUTHORITY,
    withhold: str = "",
) -> TestResponse:
    """Ask to disclose the identity to the public authority ``authority``."""
    fields: dict[str, object] = {
        "request-recipient": "authority",
        "request-authority": authority,
        "request-ground": ground,
        "request-reasons": REASONS,
    }
    if withhold:
        fields |= {"request-withhold_notice": "y", "request-withhold_reason": withhold}
    return post_on_page(who, unit, case, "request", fields)


def handover_path(unit: Unit, case: Case, disclosure_id: int) -> str:
    return page_path(unit, case, f"handover/{disclosure_id}")


def hand_over(
    who: CaseWorker, unit: Unit, case: Case, disclosure_id: int, *, language: str = "en"
) -> tuple[TestResponse, TestResponse]:
    """Follow the disclosure page's link to the handover page and go ahead; returns both
    pages (the one that asks, and the answer)."""
    listing = who.get(page_path(unit, case)).get_data(as_text=True)
    assert handover_path(unit, case, disclosure_id) in listing
    headers = {"Accept-Language": language}
    asking = who.get(handover_path(unit, case, disclosure_id), headers=headers)
    assert asking.status_code == 200, asking.status_code
    path = page_path(unit, case, "handover")
    name, token = form_token(asking, path)
    answer = who.post(
        path, {name: token, "handover-disclosure": str(disclosure_id)}, headers=headers
    )
    return asking, answer


def document_pdf_text(answer: TestResponse) -> str:
    """The text of the PDF the handover page offers for download."""
    from io import BytesIO

    from pypdf import PdfReader

    found = re.search(
        r'href="data:application/pdf;base64,([A-Za-z0-9+/=]+)"', answer.get_data(as_text=True)
    )
    assert found, "the page offers no PDF"
    pdf = PdfReader(BytesIO(base64.b64decode(found.group(1))))
    return " ".join(page.extract_text() for page in pdf.pages)


def register_rows(page: TestResponse) -> list[str]:
    """The disclosure register's rows as text, oldest first."""
    html = page.get_data(as_text=True)
    table = re.search(
        r'<table class="register" aria-labelledby="register-h">(.*?)</table>', html, re.S
    )
    assert table, "the page shows no disclosure register"
    body = table.group(1).split("</thead>", 1)[1]
    return [
        re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def export_with_identity(who: CaseWorker, case: Case, to: Staff) -> TestResponse:
    return who.case_action(
        case.reference,
        "export",
        {"export-counsel": str(to.user.id), "export-include_identity": "y"},
    )


def the_disclosure(session: Session, case: Case) -> IdentityDisclosure:
    session.expire_all()
    return session.scalars(
        select(IdentityDisclosure)
        .where(IdentityDisclosure.case_id == case.id)
        .order_by(IdentityDisclosure.id.desc())
        .limit(1)
    ).one()


def actions(session: Session, case: Case) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.case_id == case.id, AuditEntry.action.like("identity.%"))
            .order_by(AuditEntry.id)
        )
    )


def answer_consent(reporter: Reporter, unit: Unit, uid: str, verb: str) -> TestResponse:
    page = reporter.mailbox()
    return reporter.post(
        f"/o/{unit.org.slug}/case/consent/{uid}/{verb}", {"csrf_token": csrf_token(page)}
    )


def newest_export(session: Session) -> CaseExport:
    session.expire_all()
    return session.scalars(select(CaseExport).order_by(CaseExport.id.desc()).limit(1)).one()


def test_with_the_reporters_consent_the_identity_reaches_counsel_once(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)

    assert ask(hanne, unit, case, conny, "consent").status_code == 303
    asked = the_disclosure(session, case)
    assert (asked.status, asked.notice, asked.recipient_user_id) == (
        "awaiting_consent",
        "consent",
        conny.user.id,
    )
    assert messages_of(session, case)[-1] == "consent_request"

    # Before the reporter answers, the identity cannot go out.
    refused = export_with_identity(hanne, case, conny)
    assert refused.status_code == 400
    assert any("disclosure" in e for e in field_errors(refused, "export-include_identity"))
    assert session.scalar(select(CaseExport.id)) is None

    # The reporter reads the request, with the reasons and the recipient, and consents.
    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox().get_data(as_text=True)
    assert "REASONSMARKER" in mailbox and "Conny Counsel" in mailbox
    assert f"/consent/{asked.uid}/give" in mailbox
    given = answer_consent(reporter, unit, asked.uid, "give")
    assert given.status_code == 303 and "consent_given" in given.headers["Location"]
    assert the_disclosure(session, case).status == "ready"
    assert "Withdraw my consent" in reporter.mailbox().get_data(as_text=True)
    # The handlers hear of it as of any reporter activity, content-free (K5).
    assert (
        session.scalar(select(OutboxMail.id).where(OutboxMail.kind == "reporter_message"))
        is not None
    )

    assert export_with_identity(hanne, case, conny).status_code == 303
    made = newest_export(session)
    assert made.includes_identity
    archive = opened(app, made, conny)
    document = json.loads(archive.read("case.json"))
    assert document["identity"]["name"] == NAME
    assert document["identity"]["contact"] == CONTACT
    assert document["identity"]["disclosure"]["ground"] == "consent"
    assert json.loads(archive.read("manifest.json"))["includes_identity"] is True
    from pypdf import PdfReader

    pdf = PdfReader(archive.open("case.pdf"))
    assert "DISCLOSEDNAME" in " ".join(p.extract_text() for p in pdf.pages)

    used = the_disclosure(session, case)
    assert (used.status, used.export_id) == ("used", made.id)
    register = session.scalars(select(Disclosure).where(Disclosure.export_id == made.id)).one()
    assert register.includes_identity
    assert actions(session, case) == [
        "identity.disclosure_requested",
        "identity.consent_given",
        "identity.disclosed",
    ]
    # The disclosure is used up: a second case file needs a new one.
    again = export_with_identity(hanne, case, conny)
    assert again.status_code == 400
    assert field_errors(again, "export-include_identity")
    # Once used, consent can no longer be withdrawn, and the mailbox says what happened.
    mailbox = reporter.mailbox().get_data(as_text=True)
    assert "your identity has been disclosed" in mailbox
    assert f"/consent/{asked.uid}/refuse" not in mailbox


def test_the_reporter_may_refuse_or_withdraw_consent(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    assert reporter.open_case(code).status_code == 303

    ask(hanne, unit, case, conny, "consent")
    first = the_disclosure(session, case)
    refused = answer_consent(reporter, unit, first.uid, "refuse")
    assert "consent_refused" in refused.headers["Location"]
    assert the_disclosure(session, case).status == "declined"
    # Answering again changes nothing, and says so.
    late = answer_consent(reporter, unit, first.uid, "give")
    assert "consent_unchanged" in late.headers["Location"]
    assert the_disclosure(session, case).status == "declined"

    # A new request may follow; consent given and then withdrawn before use stops the export.
    assert ask(hanne, unit, case, conny, "consent").status_code == 303
    second = the_disclosure(session, case)
    answer_consent(reporter, unit, second.uid, "give")
    answer_consent(reporter, unit, second.uid, "refuse")
    assert the_disclosure(session, case).status == "declined"
    assert export_with_identity(hanne, case, conny).status_code == 400
    assert actions(session, case) == [
        "identity.disclosure_requested",
        "identity.consent_refused",
        "identity.disclosure_requested",
        "identity.consent_given",
        "identity.consent_refused",
    ]


def test_a_reporter_cannot_answer_for_another_case(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    ask(worker(app, clock, unit, 0), unit, case, conny, "consent")
    uid = the_disclosure(session, case).uid
    stranger, other_code, _other = named_report(app, session, unit)
    assert stranger.open_case(other_code).status_code == 303
    assert answer_consent(stranger, unit, uid, "give").status_code == 404
    assert the_disclosure(session, case).status == "awaiting_consent"


def test_with_consent_the_identity_may_also_go_to_a_named_authority(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    assert ask_authority(hanne, unit, case, "consent").status_code == 303
    asked = the_disclosure(session, case)
    assert (asked.status, asked.recipient) == ("awaiting_consent", "authority")
    # Nothing to hand over before the reporter agrees.
    assert hanne.get(handover_path(unit, case, asked.id)).status_code == 400
    assert reporter.open_case(code).status_code == 303
    mailbox = text_of(reporter.mailbox())
    assert "asks for your consent to disclose your name and contact details to a public" in mailbox
    assert "AUTHORITYMARKER" in mailbox
    answer_consent(reporter, unit, asked.uid, "give")
    _asking, answer = hand_over(hanne, unit, case, asked.id)
    assert answer.status_code == 200
    document = text_of(answer)
    assert NAME in document and "The reporter's explicit consent" in document
    assert "Consent given" in document
    assert actions(session, case) == [
        "identity.disclosure_requested",
        "identity.consent_given",
        "identity.handed_over",
    ]
    assert "You gave your consent, and your identity has been disclosed." in text_of(
        reporter.mailbox()
    )


def test_to_an_authority_with_notice_the_identity_is_handed_over_once(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    assert ask_authority(hanne, unit, case, "authority").status_code == 303
    told = the_disclosure(session, case)
    assert (told.status, told.notice, told.recipient) == ("ready", "sent", "authority")
    assert told.recipient_user_id is None  # no counsel account is involved
    assert messages_of(session, case)[-1] == "disclosure_notice"

    # The reporter is told beforehand: to which authority, and why. Nothing to answer.
    assert reporter.open_case(code).status_code == 303
    mailbox = text_of(reporter.mailbox())
    assert "Notice: your identity will be disclosed" in mailbox
    assert "disclosed to a public authority" in mailbox
    assert "AUTHORITYMARKER" in mailbox and "REASONSMARKER" in mailbox
    assert "/consent/" not in reporter.mailbox().get_data(as_text=True)

    # The page that asks for the go-ahead names the authority, the ground and the case, and
    # does not show the identity yet.
    asking, answer = hand_over(hanne, unit, case, told.id)
    before = text_of(asking)
    assert "AUTHORITYMARKER" in before and case.reference in before
    assert "Necessary to counter violations" in before
    assert "DISCLOSEDNAME" not in asking.get_data(as_text=True)

    # The answer shows the identity once, in a document addressed to the authority, with
    # the case reference, the ground and the date in the reader's language; and its PDF.
    assert answer.status_code == 200, answer.status_code
    document = text_of(answer)
    assert NAME in document and CONTACT in document
    assert f"To {AUTHORITY} From Testfirma testfirma ApS, whistleblower unit" in document
    assert case.reference in document
    assert "Necessary to counter violations" in document
    today = clock.now().date()
    assert f"Date {today.day} {today.strftime('%B')} {today.year}" in document  # not US order
    assert "Told beforehand in writing, with the reasons" in document
    assert "Handed over by Hanne Handler" in document
    pdf = document_pdf_text(answer)
    assert "DISCLOSEDNAME" in pdf and "AUTHORITYMARKER" in pdf and case.reference in pdf

    # Recorded, once: used, by whom and when; a register entry; an audit entry of ids.
    used = the_disclosure(session, case)
    assert (used.status, used.handed_over_by, used.handed_over_on) == (
        "used",
        unit.handlers[0].user.id,
        today,
    )
    entry = session.scalars(select(Disclosure).where(Disclosure.case_id == case.id)).one()
    assert (entry.kind, entry.identity_disclosure_id, entry.includes_identity) == (
        "authority",
        used.id,
        True,
    )
    assert (entry.by_user_id, entry.disclosed_on, entry.recipient_user_id) == (
        unit.handlers[0].user.id,
        today,
        None,
    )
    assert actions(session, case) == ["identity.disclosure_requested", "identity.handed_over"]
    handed = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "identity.handed_over")
    ).one()
    assert json.loads(handed.detail) == {
        "disclosure": used.id,
        "register": entry.id,
        "ground": "authority",
    }
    assert session.scalar(select(CaseExport.id)) is None

    # The register, where the case shows it, names the authority, the date, who, the ground.
    [row] = register_rows(hanne.open_case(case.reference))
    assert row == (
        f"{today.day} {today.strftime('%B')} {today.year} Public authority: {AUTHORITY} "
        "Hanne Handler with the reporter's identity Necessary to counter violations"
    )
    assert register_rows(hanne.get(page_path(unit, case))) == [row]

    # Used once: sent again, it is refused with a reason and nothing more is recorded.
    listing = hanne.get(page_path(unit, case))
    assert handover_path(unit, case, used.id) not in listing.get_data(as_text=True)
    token_name, token = form_token(listing, page_path(unit, case, "request"))
    again = hanne.post(
        page_path(unit, case, "handover"),
        {token_name.replace("request", "handover"): token, "handover-disclosure": str(used.id)},
    )
    assert again.status_code == 400
    assert "already been handed over" in unescape(again.get_data(as_text=True))
    assert "DISCLOSEDNAME" not in again.get_data(as_text=True)
    assert hanne.get(handover_path(unit, case, used.id)).status_code == 400
    assert session.scalar(select(func.count()).select_from(Disclosure)) == 1
    assert "Your identity has been disclosed." in reporter.mailbox().get_data(as_text=True)


def test_a_withdrawn_notice_says_so_in_the_mailbox(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask_authority(hanne, unit, case, "authority")
    told = the_disclosure(session, case)
    withdrawn = post_on_page(hanne, unit, case, "withdraw", {"withdraw-disclosure": str(told.id)})
    assert withdrawn.status_code == 303
    assert the_disclosure(session, case).status == "withdrawn"
    assert hanne.get(handover_path(unit, case, told.id)).status_code == 400
    assert reporter.open_case(code).status_code == 303
    assert "has withdrawn this disclosure" in reporter.mailbox().get_data(as_text=True)
    # Withdrawn is final: the page offers no withdrawal, and a forged one is refused.
    page = hanne.get(page_path(unit, case))
    assert page_path(unit, case, "withdraw") not in page.get_data(as_text=True)
    token_name, token = form_token(page, page_path(unit, case, "request"))
    again = hanne.post(
        page_path(unit, case, "withdraw"),
        {token_name.replace("request", "withdraw"): token, "withdraw-disclosure": str(told.id)},
    )
    assert again.status_code == 400
    assert "can no longer be withdrawn" in unescape(again.get_data(as_text=True))


def test_to_an_authority_without_notice_a_second_person_must_approve(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    reporter, code, case = named_report(app, session, unit)
    hanne, lise = worker(app, clock, unit, 0), worker(app, clock, unit, 2)
    kinds_before = messages_of(session, case)
    assert ask_authority(hanne, unit, case, "defence", withhold=WITHHELD).status_code == 303
    pending = the_disclosure(session, case)
    assert (pending.status, pending.notice) == ("awaiting_approval", "withheld")
    # The reporter is told nothing: no message, nothing in the mailbox.
    assert messages_of(session, case) == kinds_before
    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox().get_data(as_text=True)
    for marker in ("REASONSMARKER", "WITHHELDMARKER", "AUTHORITYMARKER"):
        assert marker not in mailbox
    # The leads who hold the case are asked, by a mail that names only the case.
    asked = session.scalars(
        select(OutboxMail.user_id).where(OutboxMail.kind == "disclosure_approval")
    ).all()
    assert asked == [unit.handlers[2].user.id]

    # Not ready: nothing to hand over, and the handler who asked cannot approve.
    assert handover_path(unit, case, pending.id) not in hanne.get(page_path(unit, case)).get_data(
        as_text=True
    )
    early = hanne.get(handover_path(unit, case, pending.id))
    assert early.status_code == 400
    assert "not ready to be handed over" in unescape(early.get_data(as_text=True))
    assert "Approve: the reporter is not told" not in hanne.get(page_path(unit, case)).get_data(
        as_text=True
    )
    lead_page = lise.get(page_path(unit, case)).get_data(as_text=True)
    for marker in ("WITHHELDMARKER", "REASONSMARKER", "AUTHORITYMARKER"):
        assert marker in lead_page
    assert (
        post_on_page(
            lise, unit, case, "approve", {"approve-disclosure": str(pending.id)}
        ).status_code
        == 303
    )
    approved = the_disclosure(session, case)
    assert (approved.status, approved.decided_by) == ("ready", unit.handlers[2].user.id)

    # Handed over by the handler who asked, reading in Danish: the document speaks Danish
    # and gives the day the Danish way, says the reporter was not told and who approved.
    _asking, answer = hand_over(hanne, unit, case, approved.id, language="da")
    assert answer.status_code == 200
    document = text_of(answer)
    assert "Videregivelse af en whistleblowers identitet" in document
    assert NAME in document and AUTHORITY in document
    today = clock.now().date()
    assert format_danish(today) in document
    assert "art. 16, stk. 3" in document and "Lise Lead, enhedsleder" in document
    pdf = document_pdf_text(answer)
    assert "Lise Lead" in pdf and format_danish(today) in pdf
    assert actions(session, case) == [
        "identity.disclosure_requested",
        "identity.disclosure_approved",
        "identity.handed_over",
    ]
    rows = register_rows(hanne.open_case(case.reference))
    assert len(rows) == 1 and AUTHORITY in rows[0] and "rights of defence" in rows[0]


def format_danish(day: date) -> str:
    months = "januar februar marts april maj juni juli august september oktober november december"
    return f"{day.day}. {months.split()[day.month - 1]} {day.year}"


def test_the_lead_who_asked_cannot_approve_her_own_request(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    _reporter, _code, case = named_report(app, session, unit)
    lise = worker(app, clock, unit, 2)
    ask_authority(lise, unit, case, "authority", withhold=WITHHELD)
    pending = the_disclosure(session, case)
    page = lise.get(page_path(unit, case))
    assert "Approve: the reporter is not told" not in page.get_data(as_text=True)
    # Forged past the page: refused with a reason, nothing changes.
    token_name, token = form_token(page, page_path(unit, case, "withdraw"))
    forged = lise.post(
        page_path(unit, case, "approve"),
        {token_name.replace("withdraw", "approve"): token, "approve-disclosure": str(pending.id)},
    )
    assert forged.status_code == 400
    assert "A second person must decide" in unescape(forged.get_data(as_text=True))
    assert the_disclosure(session, case).status == "awaiting_approval"
    # Nor can she hand it over unapproved.
    handed = lise.post(
        page_path(unit, case, "handover"),
        {token_name.replace("withdraw", "handover"): token, "handover-disclosure": str(pending.id)},
    )
    assert handed.status_code == 400
    assert "DISCLOSEDNAME" not in handed.get_data(as_text=True)
    # A handler who is not a lead is refused too.
    hanne = worker(app, clock, unit, 0)
    page = hanne.get(page_path(unit, case))
    token_name, token = form_token(page, page_path(unit, case, "withdraw"))
    by_handler = hanne.post(
        page_path(unit, case, "approve"),
        {token_name.replace("withdraw", "approve"): token, "approve-disclosure": str(pending.id)},
    )
    assert by_handler.status_code == 400
    assert "Only a unit lead" in unescape(by_handler.get_data(as_text=True))
    # Refused by the lead who did not ask... there is none here but Lise; withdrawn instead.
    assert (
        post_on_page(
            lise, unit, case, "withdraw", {"withdraw-disclosure": str(pending.id)}
        ).status_code
        == 303
    )
    assert the_disclosure(session, case).status == "withdrawn"
    assert session.scalar(select(Disclosure.id)) is None


@pytest.mark.parametrize("ground", ["authority", "defence"])
def test_a_legal_ground_never_goes_to_counsel(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, ground: str
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    kinds_before = messages_of(session, case)
    hanne = worker(app, clock, unit, 0)
    refused = ask(hanne, unit, case, conny, ground)
    assert refused.status_code == 400
    assert any(
        "only to a public authority, never to counsel" in e
        for e in field_errors(refused, "request-ground")
    )
    assert "REASONSMARKER" in refused.get_data(as_text=True)  # what was typed is kept
    assert session.scalar(select(IdentityDisclosure.id)) is None
    assert messages_of(session, case) == kinds_before
    # Nor in the domain, past the form.
    with app.app_context(), pytest.raises(Refused) as stopped:
        asking.request(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            case,
            keys_of(session, case, unit.handlers[0]),
            unit.handlers[0].user.id,
            recipient="counsel",
            counsel_id=conny.user.id,
            ground=ground,
            reasons=REASONS,
        )
    assert stopped.value.field == "ground"


def old_rule_disclosure(
    session: Session, case: Case, to: Staff, ground: str, status: str
) -> IdentityDisclosure:
    """A disclosure to counsel on a legal ground, as Whistle made them before migration 0018
    (or as someone with write access to the database would forge one)."""
    row = IdentityDisclosure(
        uid=f"00000000-0000-4000-8000-{len(status):04d}{ground[:4]:0>4}{status[:4]:0>4}",
        org_id=case.org_id,
        case_id=case.id,
        recipient="counsel",
        recipient_user_id=to.user.id,
        ground=ground,
        notice="sent",
        status=status,
        requested_by=None,
        requested_on=date(2026, 2, 1),
    )
    session.add(row)
    session.commit()
    return row


def test_a_case_file_never_carries_the_identity_on_a_legal_ground(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    # A ready disclosure to an authority, and a ready one to counsel on a legal ground (made
    # under the old rule, or forged in the database).
    ask_authority(hanne, unit, case, "authority")
    to_authority = the_disclosure(session, case)
    forged = old_rule_disclosure(session, case, conny, "defence", "ready")

    refused = export_with_identity(hanne, case, conny)
    assert refused.status_code == 400
    assert any("consented" in e for e in field_errors(refused, "export-include_identity"))
    # The export form posted by hand with fields the page never offers changes nothing.
    for extra in (
        {"export-disclosure": str(forged.id)},
        {"export-disclosure": str(to_authority.id), "export-ground": "consent"},
        {"export-include_identity": "true", "export-recipient": "authority"},
    ):
        posted = hanne.case_action(
            case.reference,
            "export",
            {"export-counsel": str(conny.user.id), "export-include_identity": "y", **extra},
        )
        assert posted.status_code == 400
    assert session.scalar(select(CaseExport.id)) is None
    session.expire_all()
    assert session.get(IdentityDisclosure, forged.id).status == "ready"  # type: ignore[union-attr]
    assert the_disclosure(session, case).status == "ready"

    # A case file without the identity still goes out, and holds none of it.
    plain = hanne.case_action(case.reference, "export", {"export-counsel": str(conny.user.id)})
    assert plain.status_code == 303
    made = newest_export(session)
    archive = opened(app, made, conny)
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert b"DISCLOSEDNAME" not in everything and CONTACT.encode() not in everything
    assert json.loads(archive.read("case.json"))["identity"] is None


def test_old_rule_disclosures_are_withdrawn_when_next_touched_and_used_ones_stay_as_history(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    # A case file that carried the identity to counsel on a legal ground, as the old rule
    # allowed: the register entry and its used disclosure.
    plain = hanne.case_action(case.reference, "export", {"export-counsel": str(conny.user.id)})
    assert plain.status_code == 303
    made = newest_export(session)
    used = old_rule_disclosure(session, case, conny, "authority", "used")
    used.export_id = made.id
    register = session.scalars(select(Disclosure).where(Disclosure.export_id == made.id)).one()
    register.includes_identity = True
    session.commit()
    waiting = old_rule_disclosure(session, case, conny, "defence", "awaiting_approval")
    ready = old_rule_disclosure(session, case, conny, "authority", "ready")
    consent = old_rule_disclosure(session, case, conny, "consent", "awaiting_consent")

    page = hanne.get(page_path(unit, case))
    assert page.status_code == 200
    session.expire_all()
    status = {r.id: r.status for r in session.scalars(select(IdentityDisclosure))}
    assert status == {
        used.id: "used",
        waiting.id: "withdrawn_old_rule",
        ready.id: "withdrawn_old_rule",
        consent.id: "awaiting_consent",
    }
    withdrawn = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "identity.disclosure_withdrawn_old_rule")
        .order_by(AuditEntry.id)
    ).all()
    assert [json.loads(e.detail) for e in withdrawn] == [
        {"disclosure": waiting.id},
        {"disclosure": ready.id},
    ]
    text = text_of(page)
    assert text.count("Withdrawn by Whistle: without the reporter's consent") == 2
    assert "Made under the rule before this version of Whistle" in text
    # Seen again, nothing more happens.
    hanne.get(page_path(unit, case))
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "identity.disclosure_withdrawn_old_rule")
        )
        == 2
    )
    # The register keeps the old export, marked; the case page and the mailbox still render.
    [row] = register_rows(hanne.open_case(case.reference))
    assert "case file to Conny Counsel" in row and "with the reporter's identity" in row
    assert "Made under the old rule" in row
    assert reporter.open_case(code).status_code == 303
    assert reporter.mailbox().status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"request-ground": "consent", "request-reasons": ""}, "request-reasons", "reasons"),
        ({"request-ground": "", "request-reasons": REASONS}, "request-ground", "ground"),
        ({"request-ground": "sideways", "request-reasons": REASONS}, "request-ground", "ground"),
        (
            {"request-recipient": "sideways", "request-ground": "authority"},
            "request-recipient",
            "to whom",
        ),
        (
            {"request-authority": " \n ", "request-ground": "authority"},
            "request-authority",
            "Name the public authority",
        ),
        (
            {"request-authority": "x" * 201, "request-ground": "defence"},
            "request-authority",
            "longer than",
        ),
        (
            {"request-recipient": "counsel", "request-ground": "authority"},
            "request-ground",
            "never to counsel",
        ),
        (
            {"request-recipient": "counsel", "request-counsel": "", "request-ground": "consent"},
            "request-counsel",
            "Choose counsel",
        ),
        (
            {
                "request-ground": "consent",
                "request-withhold_notice": "y",
                "request-withhold_reason": WITHHELD,
            },
            "request-withhold_notice",
            "always told",
        ),
        (
            {"request-ground": "authority", "request-withhold_notice": "y"},
            "request-withhold_reason",
            "jeopardise",
        ),
        (
            {"request-ground": "authority", "request-reasons": "x" * (content.MAX_TEXT + 1)},
            "request-reasons",
            "longer than",
        ),
    ],
)
def test_a_request_with_a_problem_is_refused_and_kept(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    kinds_before = messages_of(session, case)
    hanne = worker(app, clock, unit, 0)
    typed = {
        "request-recipient": "authority",
        "request-authority": AUTHORITY,
        "request-counsel": str(conny.user.id),
        "request-reasons": REASONS,
        **fields,
    }
    sent = post_on_page(hanne, unit, case, "request", typed)
    assert sent.status_code == 400
    errors = field_errors(sent, field)
    assert any(message in e for e in errors), errors
    # What was typed is still there (short texts), and nothing was stored or sent.
    page = sent.get_data(as_text=True)
    if typed["request-reasons"] == REASONS:
        assert "REASONSMARKER" in page
    if typed["request-authority"] == AUTHORITY:
        assert "AUTHORITYMARKER" in page
    assert session.scalar(select(IdentityDisclosure.id)) is None
    assert session.scalar(select(func.count()).select_from(CaseNote)) == 0
    assert messages_of(session, case) == kinds_before


def test_one_disclosure_at_a_time_per_counsel_and_none_for_an_anonymous_case(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask(hanne, unit, case, conny, "consent")
    twice = ask(hanne, unit, case, conny, "consent")
    assert twice.status_code == 400
    assert any("already under way" in e for e in field_errors(twice, "request-counsel"))
    # To one authority, one at a time too: its name is compared however it is written.
    assert ask_authority(hanne, unit, case, "authority").status_code == 303
    again = ask_authority(hanne, unit, case, "defence", authority=AUTHORITY.upper() + "  ")
    assert again.status_code == 400
    assert any("already under way" in e for e in field_errors(again, "request-authority"))
    assert ask_authority(hanne, unit, case, "defence", authority="Fake Byret").status_code == 303

    Reporter(app, unit.org.slug).report(ReportAnswers(what="Fake anonymous report."))
    anonymous = newest_case(session)
    staff = unit.handlers[0]
    with app.app_context():
        keys = keys_of(session, anonymous, staff)
        with pytest.raises(Refused) as refused:
            asking.request(
                session,
                clock,
                FileStore(runtime(app).settings.file_store),
                anonymous,
                keys,
                staff.user.id,
                recipient="counsel",
                counsel_id=conny.user.id,
                ground="consent",
                reasons=REASONS,
            )
        assert refused.value.field == "ground"
        with pytest.raises(Refused):
            export.export_case(
                session,
                clock,
                FileStore(runtime(app).settings.file_store),
                unit.org,
                anonymous,
                keys,
                staff.user.id,
                counsel_id=conny.user.id,
                include_notes=False,
                include_identity=True,
                signing_key=_signing_key(app, session, unit),
            )
    page = hanne.get(page_path(unit, anonymous)).get_data(as_text=True)
    assert "there is no identity to disclose" in page
    assert 'name="request-reasons"' not in page


def _signing_key(app: Flask, session: Session, unit: Unit):  # type: ignore[no-untyped-def]
    from whistle.core.org_keys import signing_key

    return signing_key(session, unit.org.id, runtime(app).settings.instance_key)


def test_the_reasons_are_never_stored_in_clear(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    _reporter, _code, case = named_report(app, session, unit)
    lise, hanne = worker(app, clock, unit, 2), worker(app, clock, unit, 0)
    ask_authority(lise, unit, case, "authority", withhold=WITHHELD)
    ask(hanne, unit, case, counsel(app, session, clock, unit, "Cai Counsel"), "consent")
    ask_authority(hanne, unit, case, "defence", authority="Fake Byret OTHERAUTHORITYMARKER")
    hand_over(hanne, unit, case, the_disclosure(session, case).id)
    assert session.scalar(select(func.count()).select_from(IdentityDisclosure)) == 3
    raw = b""
    for table in Base.metadata.sorted_tables:
        for row in session.execute(table.select()).all():
            for value in row:
                raw += (
                    bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                )
    for marker in (
        b"WITHHELDMARKER",
        b"REASONSMARKER",
        b"DISCLOSEDNAME",
        b"AUTHORITYMARKER",
        b"OTHERAUTHORITYMARKER",
    ):
        assert marker not in raw


def test_deleting_the_case_leaves_no_disclosure_behind(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    from datetime import timedelta

    from tests.steps.retention import close, everything_of, run

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask(hanne, unit, case, conny, "consent")
    assert reporter.open_case(code).status_code == 303
    answer_consent(reporter, unit, the_disclosure(session, case).uid, "give")
    assert export_with_identity(hanne, case, conny).status_code == 303
    ask_authority(hanne, unit, case, "authority")
    assert hand_over(hanne, unit, case, the_disclosure(session, case).id)[1].status_code == 200
    ask_authority(hanne, unit, case, "defence", authority="Fake Byret", withhold=WITHHELD)
    case_id = case.id
    assert everything_of(session, case_id)["identity_disclosures"] == 3
    assert everything_of(session, case_id)["disclosures"] == 2
    close(app, session, clock, unit, case)
    clock.advance(timedelta(days=400))
    assert run(app, session, clock).deleted == 1
    session.expire_all()
    assert set(everything_of(session, case_id).values()) == {0}


def test_a_document_that_cannot_be_drawn_hands_nothing_over(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from whistle.disclosure import document as disclosure_document
    from whistle.pdf.process import PdfFailed

    def broken(_letter: object) -> bytes:
        raise PdfFailed("TimeoutExpired")

    _reporter, _code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask_authority(hanne, unit, case, "authority")
    ready = the_disclosure(session, case)
    monkeypatch.setattr(disclosure_document, "letter_pdf", broken)
    _asking, answer = hand_over(hanne, unit, case, ready.id)
    assert answer.status_code == 400
    page = unescape(answer.get_data(as_text=True))
    assert "could not be drawn, so nothing was handed over" in page
    assert "DISCLOSEDNAME" not in page
    assert the_disclosure(session, case).status == "ready"
    assert session.scalar(select(Disclosure.id)) is None
    assert actions(session, case) == ["identity.disclosure_requested"]
