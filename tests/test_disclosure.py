"""Disclosing a named reporter's identity (REQUIREMENTS.md K2; whistle/disclosure.py): consent
asked in the mailbox, a legal ground with notice, a legal ground without notice approved by a
second person, and the identity in the case file for counsel only through one of them."""

from __future__ import annotations

import json
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.factories import Staff, Unit
from tests.pages import csrf_token
from tests.reporter_steps import ReportAnswers, Reporter
from tests.staff_steps import CaseWorker, form_token
from tests.test_cases import field_errors, keys_of, messages_of, newest_case, signed_in
from tests.test_export import counsel, opened
from whistle import disclosure, export, handling
from whistle.clock import FixedClock
from whistle.handling import ActionRefused
from whistle.models import (
    AuditEntry,
    Base,
    Case,
    CaseExport,
    Disclosure,
    IdentityDisclosure,
    OutboxMail,
)
from whistle.runtime import runtime
from whistle.storage import FileStore

NAME = "Rikke DISCLOSEDNAME Testesen"
CONTACT = "rikke.disclosed@example.org"
REASONS = "Fake reasons REASONSMARKER: the police asks for the witness."
WITHHELD = "Fake grounds WITHHELDMARKER: the suspect reads the reporter's mail."


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
    fields: dict[str, object] = {
        "request-counsel": str(to.user.id),
        "request-ground": ground,
        "request-reasons": reasons,
    }
    if withhold:
        fields |= {"request-withhold_notice": "y", "request-withhold_reason": withhold}
    return post_on_page(who, unit, case, "request", fields)


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


def test_a_legal_ground_with_notice_is_ready_at_once(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    assert ask(hanne, unit, case, conny, "authority").status_code == 303
    told = the_disclosure(session, case)
    assert (told.status, told.notice) == ("ready", "sent")
    assert messages_of(session, case)[-1] == "disclosure_notice"
    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox().get_data(as_text=True)
    assert "Notice: your identity will be disclosed" in mailbox and "REASONSMARKER" in mailbox
    assert "/consent/" not in mailbox  # nothing to answer
    assert export_with_identity(hanne, case, conny).status_code == 303
    assert newest_export(session).includes_identity
    assert "Your identity has been disclosed." in reporter.mailbox().get_data(as_text=True)


def test_a_withdrawn_notice_says_so_in_the_mailbox(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask(hanne, unit, case, conny, "authority")
    told = the_disclosure(session, case)
    withdrawn = post_on_page(hanne, unit, case, "withdraw", {"withdraw-disclosure": str(told.id)})
    assert withdrawn.status_code == 303
    assert the_disclosure(session, case).status == "withdrawn"
    assert export_with_identity(hanne, case, conny).status_code == 400
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


def test_without_notice_a_second_person_must_approve(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reporter, code, case = named_report(app, session, unit)
    hanne, lise = worker(app, clock, unit, 0), worker(app, clock, unit, 2)
    kinds_before = messages_of(session, case)
    assert ask(hanne, unit, case, conny, "defence", withhold=WITHHELD).status_code == 303
    pending = the_disclosure(session, case)
    assert (pending.status, pending.notice) == ("awaiting_approval", "withheld")
    # The reporter is told nothing: no message, nothing in the mailbox.
    assert messages_of(session, case) == kinds_before
    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox().get_data(as_text=True)
    assert "REASONSMARKER" not in mailbox and "WITHHELDMARKER" not in mailbox
    # The leads who hold the case are asked, by a mail that names only the case.
    asked = session.scalars(
        select(OutboxMail.user_id).where(OutboxMail.kind == "disclosure_approval")
    ).all()
    assert asked == [unit.handlers[2].user.id]

    # Not ready yet, and the handler who asked cannot approve (nor is she a lead).
    assert export_with_identity(hanne, case, conny).status_code == 400
    assert "Approve: the reporter is not told" not in hanne.get(page_path(unit, case)).get_data(
        as_text=True
    )
    lead_page = lise.get(page_path(unit, case)).get_data(as_text=True)
    assert "WITHHELDMARKER" in lead_page and "REASONSMARKER" in lead_page
    assert (
        post_on_page(
            lise, unit, case, "approve", {"approve-disclosure": str(pending.id)}
        ).status_code
        == 303
    )
    approved = the_disclosure(session, case)
    assert (approved.status, approved.decided_by) == ("ready", unit.handlers[2].user.id)

    assert export_with_identity(hanne, case, conny).status_code == 303
    archive = opened(app, newest_export(session), conny)
    given = json.loads(archive.read("case.json"))["identity"]["disclosure"]
    assert given == {
        "ground": "defence",
        "notice": "withheld",
        "requested_on": approved.requested_on.isoformat(),
        "decided_on": approved.decided_on.isoformat() if approved.decided_on else None,
        "approved_by": "Lise Lead",
    }
    assert actions(session, case) == [
        "identity.disclosure_requested",
        "identity.disclosure_approved",
        "identity.disclosed",
    ]


def test_the_lead_who_asked_cannot_approve_her_own_request(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    lise = worker(app, clock, unit, 2)
    ask(lise, unit, case, conny, "authority", withhold=WITHHELD)
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


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"request-ground": "consent", "request-reasons": ""}, "request-reasons", "reasons"),
        ({"request-ground": "", "request-reasons": REASONS}, "request-ground", "ground"),
        ({"request-ground": "sideways", "request-reasons": REASONS}, "request-ground", "ground"),
        (
            {
                "request-ground": "consent",
                "request-reasons": REASONS,
                "request-withhold_notice": "y",
                "request-withhold_reason": WITHHELD,
            },
            "request-withhold_notice",
            "always told",
        ),
        (
            {
                "request-ground": "authority",
                "request-reasons": REASONS,
                "request-withhold_notice": "y",
            },
            "request-withhold_reason",
            "jeopardise",
        ),
        (
            {"request-ground": "authority", "request-reasons": "x" * (handling.MAX_TEXT + 1)},
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
    sent = post_on_page(
        hanne, unit, case, "request", {"request-counsel": str(conny.user.id), **fields}
    )
    assert sent.status_code == 400
    errors = field_errors(sent, field)
    assert any(message in e for e in errors), errors
    # What was typed is still there (short texts), and nothing was stored or sent.
    if len(fields.get("request-reasons", "")) < 100 and fields.get("request-reasons"):
        assert "REASONSMARKER" in sent.get_data(as_text=True)
    assert session.scalar(select(IdentityDisclosure.id)) is None
    assert messages_of(session, case) == kinds_before


def test_one_disclosure_at_a_time_per_counsel_and_none_for_an_anonymous_case(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask(hanne, unit, case, conny, "consent")
    twice = ask(hanne, unit, case, conny, "authority")
    assert twice.status_code == 400
    assert any("already under way" in e for e in field_errors(twice, "request-counsel"))

    Reporter(app, unit.org.slug).report(ReportAnswers(what="Fake anonymous report."))
    anonymous = newest_case(session)
    staff = unit.handlers[0]
    with app.app_context():
        keys = keys_of(session, anonymous, staff)
        with pytest.raises(ActionRefused) as refused:
            disclosure.request(
                session,
                clock,
                FileStore(runtime(app).settings.file_store),
                anonymous,
                keys,
                staff.user.id,
                counsel_id=conny.user.id,
                ground="consent",
                reasons=REASONS,
            )
        assert refused.value.field == "ground"
        with pytest.raises(ActionRefused):
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
    from whistle.org_keys import signing_key

    return signing_key(session, unit.org.id, runtime(app).settings.instance_key)


def test_the_reasons_are_never_stored_in_clear(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    ask(worker(app, clock, unit, 2), unit, case, conny, "authority", withhold=WITHHELD)
    ask(
        worker(app, clock, unit, 0),
        unit,
        case,
        counsel(app, session, clock, unit, "Cai Counsel"),
        "consent",
    )
    assert session.scalar(select(func.count()).select_from(IdentityDisclosure)) == 2
    raw = b""
    for table in Base.metadata.sorted_tables:
        for row in session.execute(table.select()).all():
            for value in row:
                raw += (
                    bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                )
    for marker in (b"WITHHELDMARKER", b"REASONSMARKER", b"DISCLOSEDNAME"):
        assert marker not in raw


def test_deleting_the_case_leaves_no_disclosure_behind(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    from datetime import timedelta

    from tests.test_retention import close, everything_of, run

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _reporter, _code, case = named_report(app, session, unit)
    hanne = worker(app, clock, unit, 0)
    ask(hanne, unit, case, conny, "authority")
    assert export_with_identity(hanne, case, conny).status_code == 303
    ask(hanne, unit, case, conny, "defence", withhold=WITHHELD)
    case_id = case.id
    assert everything_of(session, case_id)["identity_disclosures"] == 2
    close(app, session, clock, unit, case)
    clock.advance(timedelta(days=400))
    assert run(app, session, clock).deleted == 1
    session.expire_all()
    assert set(everything_of(session, case_id).values()) == {0}
