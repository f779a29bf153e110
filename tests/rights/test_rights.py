"""Data-subject requests: deadlines, search, the access export, decisions and what they do
(REQUIREMENTS.md S1-S5; whistle/rights/).

People are fake. The reporter's name and the texts marked for redaction are unique markers, so
"never in the export" is a search for bytes that must fail.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import field_errors, hanne, keys_of, signed_in, submit, the_case
from tests.steps.factories import Staff, Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.retention import close, run
from tests.steps.staff import CaseWorker, form_token
from whistle.casefile import request_keys
from whistle.casefile.access import NoAccess
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.models import (
    AuditEntry,
    Case,
    CaseNote,
    ItemRestriction,
    Message,
    RightsRequest,
    RightsRequestKey,
)
from whistle.core.refusals import Refused
from whistle.rights import access_export, decisions, linked_cases, requests

PERSON = "Preben Påstand"  # the person concerned who asks
REPORTER = "Rikke REPORTERNAMEMARKER"
REPORT = (
    f"Fake report: {PERSON} takes pallets home on Fridays. I saw it from the ramp; "
    "my colleague Karl KOLLEGAMARKER saw it too."
)
REPLY = f"Fake answer: {PERSON} did it again last Friday."


def request_of(session: Session, request_id: int) -> RightsRequest:
    session.expire_all()
    found = session.get(RightsRequest, request_id)
    assert found is not None
    return found


def key_for(session: Session, request: RightsRequest, staff: Staff) -> bytes:
    assert staff.private_key is not None
    return request_keys.open_key(session, request, staff.user.id, staff.private_key)


def register(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, kind: str = "access"
) -> RightsRequest:
    with app.app_context():
        return requests.register(
            session,
            clock,
            unit.org.id,
            unit.handlers[0].user.id,
            kind=kind,
            subject=f"{PERSON}, preben@example.org",
            received_on=clock.now().date(),
        )


def act(worker: CaseWorker, path: str, fields: dict[str, str], page_path: str) -> TestResponse:
    page = worker.get(page_path)
    name, token = form_token(page, path)
    return worker.post(path, {name: token, **fields})


def rights_path(worker: CaseWorker, request_id: int, action: str = "") -> str:
    base = f"/staff/{worker.slug}/rights/{request_id}"
    return f"{base}/{action}" if action else base


# --- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 3, 2), date(2026, 4, 2)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 12, 15), date(2027, 1, 15)),
    ],
)
def test_an_answer_is_due_one_month_after_receipt(received: date, due: date) -> None:
    assert requests.due_on(received) == due


def test_registering_through_the_page(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    worker = signed_in(hanne(app, clock, unit))
    path = f"/staff/{unit.org.slug}/rights/"
    empty = act(worker, path, {"new-kind": "", "new-subject": "", "new-received_on": ""}, path)
    assert empty.status_code == 400
    assert field_errors(empty, "new-kind") == ["Choose what the person asks for."]
    future = (clock.now().date() + timedelta(days=1)).isoformat()
    ahead = act(
        worker,
        path,
        {"new-kind": "access", "new-subject": PERSON, "new-received_on": future},
        path,
    )
    assert field_errors(ahead, "new-received_on") == ["The day of receipt cannot be in the future."]
    assert session.scalar(select(func.count()).select_from(RightsRequest)) == 0

    done = act(
        worker,
        path,
        {"new-kind": "erasure", "new-subject": PERSON, "new-received_on": "2026-02-27"},
        path,
    )
    assert done.status_code == 303
    made = session.scalars(select(RightsRequest)).one()
    assert (made.kind, made.received_on, made.due_on) == (
        "erasure",
        date(2026, 2, 27),
        date(2026, 3, 27),
    )
    assert PERSON.encode() not in made.subject  # who asked is encrypted
    # sealed to the unit's three key holders and the recovery key
    assert (
        session.scalar(
            select(func.count())
            .select_from(RightsRequestKey)
            .where(RightsRequestKey.request_id == made.id)
        )
        == 4
    )
    listing = text_of(worker.get(path))
    assert f"Request {made.id}" in listing and "27 March 2026" in listing
    assert PERSON not in listing  # the list shows no names
    assert PERSON in text_of(worker.get(rights_path(worker, made.id)))


def test_the_deadline_extends_by_two_months_at_most_within_the_first(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    request = register(app, session, clock, unit)
    staff = unit.handlers[0]
    key = key_for(session, request, staff)
    today = clock.now().date()

    def extend(until: date | None, notice: date | None, reason: str = "Fake: many cases.") -> None:
        with app.app_context():
            requests.extend(
                session,
                clock,
                request,
                key,
                staff.user.id,
                until=until,
                reason=reason,
                notice_on=notice,
            )

    for too_far in (request.due_on, date(2026, 6, 3)):
        with pytest.raises(Refused):
            extend(too_far, today)
        session.rollback()
    with pytest.raises(Refused):
        extend(date(2026, 6, 2), today, reason="")
    session.rollback()
    with pytest.raises(Refused):
        extend(date(2026, 6, 2), None)
    session.rollback()
    extend(date(2026, 6, 2), today)  # 2 March + 1 month = 2 April, + 2 months = 2 June
    found = request_of(session, request.id)
    assert (found.extended_to, found.extension_notice_on) == (date(2026, 6, 2), today)
    assert requests.answer_due(found) == date(2026, 6, 2)
    with pytest.raises(Refused):
        extend(date(2026, 5, 1), today)  # only once
    session.rollback()

    late = register(app, session, clock, unit)
    clock.advance(timedelta(days=32))
    with app.app_context(), pytest.raises(Refused) as refused:
        requests.extend(
            session,
            clock,
            late,
            key_for(session, late, staff),
            staff.user.id,
            until=late.due_on + timedelta(days=10),
            reason="Fake.",
            notice_on=late.due_on,
        )
    assert "within" in str(refused.value.message)


# --- search, export, decision ------------------------------------------------------------------


def named_report(
    app: Flask, session: Session, unit: Unit, *, exclude: list[int] | None = None
) -> Case:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(
        ReportAnswers(
            what=REPORT,
            named=True,
            name=REPORTER,
            contact="rikke@example.org",
            exclude=exclude or [],
        )
    )
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


def test_the_search_finds_the_person_in_what_the_handler_can_read(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    mentioned = named_report(app, session, unit)
    unrelated = submit(app, session, unit, what="Fake report about the canteen prices.")
    hidden = named_report(app, session, unit, exclude=[unit.handlers[0].user.id])
    request = register(app, session, clock, unit)
    worker = signed_in(hanne(app, clock, unit))
    path = rights_path(worker, request.id, "search")
    page = act(worker, path, {"search-term": "preben  PÅSTAND"}, rights_path(worker, request.id))
    assert page.status_code == 200
    found = re.findall(r'<ul class="matches">(.*?)</ul>', page.get_data(as_text=True), re.S)
    assert found and mentioned.reference in found[0]
    assert unrelated.reference not in found[0]
    assert hidden.reference not in found[0]  # excluded from that case: cannot search it
    assert "found in the report" in unescape(found[0])

    short = act(worker, path, {"search-term": "pr"}, rights_path(worker, request.id))
    assert short.status_code == 400
    assert field_errors(short, "search-term") == ["Search for at least 3 characters of the name."]


def test_the_access_export_never_holds_the_reporter_or_redacted_text(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = named_report(app, session, unit)
    request = register(app, session, clock, unit)
    worker = signed_in(hanne(app, clock, unit))
    show = rights_path(worker, request.id)
    results = act(worker, rights_path(worker, request.id, "search"), {"search-term": PERSON}, show)
    link_path = rights_path(worker, request.id, "link")
    name, token = form_token(results, link_path)
    bad = worker.post(link_path, {name: token, "link-case_id": "999999"})
    assert bad.status_code == 400
    linked = worker.post(link_path, {name: token, "link-case_id": str(case.id)})
    assert linked.status_code == 303

    # The preview shows the account, never the identity; nothing can be downloaded yet.
    preview = text_of(worker.get(show))
    assert "Fake report:" in preview
    assert "rikke@example.org" not in preview and "REPORTERNAMEMARKER" not in preview
    assert worker.get(rights_path(worker, request.id, "export.txt")).status_code == 404

    terms = act(
        worker,
        rights_path(worker, request.id, "redactions"),
        {"redactions-terms": "karl kollegamarker\nI saw it from the ramp"},
        show,
    )
    assert terms.status_code == 303
    shown = worker.get(show).get_data(as_text=True)
    export_part = re.search(r'<div class="export-preview">(.*?)</div>', shown, re.S)
    assert export_part is not None
    assert "takes pallets home on Fridays" in unescape(export_part.group(1))
    assert "KOLLEGAMARKER" not in export_part.group(1)
    assert "from the ramp" not in export_part.group(1)

    no_assessment = act(
        worker,
        rights_path(worker, request.id, "decide"),
        {
            "decide-decision": "partly_granted",
            "decide-legal_basis": "dpa_22",
            "decide-assessment": "",
        },
        show,
    )
    assert no_assessment.status_code == 400
    assert field_errors(no_assessment, "decide-assessment") == [
        "Write down the assessment behind the decision."
    ]
    decided = act(
        worker,
        rights_path(worker, request.id, "decide"),
        {
            "decide-decision": "partly_granted",
            "decide-legal_basis": "dpa_22",
            "decide-assessment": "Fake assessment: the witness and the reporter are blanked.",
        },
        show,
    )
    assert decided.status_code == 303
    download = worker.get(rights_path(worker, request.id, "export.txt"))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    body = download.get_data(as_text=True)
    assert PERSON in body and "takes pallets home on Fridays" in body
    for secret in ("REPORTERNAMEMARKER", "rikke@example.org", "KOLLEGAMARKER", "from the ramp"):
        assert secret.lower() not in body.lower()
    assert "Datatilsynet" in body
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("rights.%")))
    )
    assert {
        "rights.registered",
        "rights.case_linked",
        "rights.redactions_set",
        "rights.decided",
        "rights.export_released",
    } <= actions
    assert audit.verify(session).ok

    answered = act(worker, rights_path(worker, request.id, "answer"), {}, show)
    assert answered.status_code == 303
    assert request_of(session, request.id).answered_on == clock.now().date()
    assert f"Request {request.id}" not in text_of(worker.get(f"/staff/{unit.org.slug}/rights/"))


def test_restricted_items_stay_out_of_the_export(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = named_report(app, session, unit)
    staff = unit.handlers[0]
    from whistle.casefile.conversation import post_message
    from whistle.core.models import Author
    from whistle.core.runtime import runtime
    from whistle.core.storage import FileStore

    with app.app_context():
        keys = keys_of(session, case, staff)
        post_message(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            case,
            keys.content,
            author=Author.REPORTER,
            body=REPLY,
        )
    message_id = session.scalars(select(Message.id).where(Message.case_id == case.id)).one()
    restriction = register(app, session, clock, unit, kind="restriction")
    access = register(app, session, clock, unit, kind="access")
    with app.app_context():
        for request in (restriction, access):
            linked_cases.link_case(session, clock, request, case, staff.user.id)
        with pytest.raises(Refused):
            linked_cases.restrict(
                session, clock, access, case, staff.user.id, item_kind="report", item_id=0
            )
        session.rollback()
        linked_cases.restrict(
            session,
            clock,
            restriction,
            case,
            staff.user.id,
            item_kind="message",
            item_id=message_id,
        )
        assert staff.private_key is not None
        made = access_export.access_export(
            session, access, key_for(session, access, staff), staff.user.id, staff.private_key
        )
    texts = [i.text for s in made.sections for i in s.items]
    assert any("takes pallets home" in t for t in texts)
    assert not any("did it again" in t for t in texts)
    assert made.sections[0].left_out == 1
    assert session.scalar(select(func.count()).select_from(ItemRestriction)) == 1


def test_rectification_adds_the_statement_and_keeps_the_report(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = named_report(app, session, unit)
    before = bytes(case.report)
    request = register(app, session, clock, unit, kind="rectification")
    staff = unit.handlers[0]
    assert staff.private_key is not None
    with app.app_context():
        linked_cases.link_case(session, clock, request, case, staff.user.id)
        key = key_for(session, request, staff)
        with pytest.raises(Refused):
            decisions.decide(
                session,
                clock,
                request,
                key,
                staff.user.id,
                staff.private_key,
                decision="granted",
                legal_basis="gdpr_16",
                assessment="Fake.",
                statement="",
            )
        session.rollback()
        decisions.decide(
            session,
            clock,
            request,
            key,
            staff.user.id,
            staff.private_key,
            decision="granted",
            legal_basis="gdpr_16",
            assessment="Fake assessment.",
            statement="Fake statement: I took only broken pallets, with permission.",
        )
    found = the_case(session, case.reference)
    assert bytes(found.report) == before
    kinds = session.scalars(select(CaseNote.kind).where(CaseNote.case_id == case.id)).all()
    assert "rectification_statement" in kinds
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.open_case(case.reference))
    assert "I took only broken pallets, with permission." in page


def test_granted_erasure_feeds_the_retention_run(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    open_case = submit(app, session, unit, what=REPORT)
    closed_case = close(app, session, clock, unit, submit(app, session, unit, what=REPORT))
    request = register(app, session, clock, unit, kind="erasure")
    staff = unit.handlers[0]
    assert staff.private_key is not None
    with app.app_context():
        key = key_for(session, request, staff)
        linked_cases.link_case(session, clock, request, open_case, staff.user.id)
        linked_cases.link_case(session, clock, request, closed_case, staff.user.id)
        with pytest.raises(Refused) as refused:
            decisions.decide(
                session,
                clock,
                request,
                key,
                staff.user.id,
                staff.private_key,
                decision="granted",
                legal_basis="gdpr_17",
                assessment="Fake assessment.",
            )
        refusal = refused.value.message
        session.rollback()
        linked_cases.unlink_case(session, clock, request, open_case.id, staff.user.id)
        decisions.decide(
            session,
            clock,
            request,
            key,
            staff.user.id,
            staff.private_key,
            decision="granted",
            legal_basis="gdpr_17",
            assessment="Fake assessment.",
        )
    assert "Close the cases first" in str(refusal)
    found = the_case(session, closed_case.reference)
    assert (found.delete_on, found.retention_rule) == (clock.now().date(), "erasure_request")
    assert run(app, session, clock).deleted == 1
    session.expire_all()
    assert {c.reference for c in session.scalars(select(Case))} == {open_case.reference}


def test_a_refusal_names_the_right_to_complain_and_a_handler_outside_gets_nothing(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    request = register(app, session, clock, unit, kind="objection")
    staff = unit.handlers[0]
    assert staff.private_key is not None
    with app.app_context():
        decisions.decide(
            session,
            clock,
            request,
            key_for(session, request, staff),
            staff.user.id,
            staff.private_key,
            decision="refused",
            legal_basis="act_22",
            assessment="Fake assessment: the processing is needed to handle the report.",
        )
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.get(rights_path(worker, request.id)))
    assert "complain to Datatilsynet" in page
    assert "Refused" in page

    # The admin is no handler: no key to the request, no page.
    admin = CaseWorker(app, clock, unit.admin, slug=unit.org.slug)
    assert admin.sign_in().status_code == 303
    assert admin.get(rights_path(admin, request.id)).status_code == 403
    with pytest.raises(NoAccess):
        request_keys.open_key(session, request, unit.admin.user.id, None)


def test_the_auditor_sees_open_requests_and_their_deadlines_never_who(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    from tests.steps.factories import add_staff
    from whistle.core.models import Role
    from whistle.core.runtime import runtime

    first = register(app, session, clock, unit, kind="erasure")
    clock.advance(timedelta(days=40))
    second = register(app, session, clock, unit, kind="access")
    with app.app_context():
        auditor = add_staff(
            session,
            clock,
            unit.org,
            "Aud Auditor",
            [Role.AUDITOR],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
    reader = CaseWorker(app, clock, auditor, slug=unit.org.slug)
    assert reader.sign_in().status_code == 303
    page = reader.get(f"/staff/{unit.org.slug}/registers/rights")
    assert page.status_code == 200
    text = text_of(page)
    assert PERSON not in text and "preben@example.org" not in text
    csv_text = reader.get(f"/staff/{unit.org.slug}/registers/rights.csv").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert (
        lines[0]
        == "request_id,kind,received_on,due_on,extended,status,decision,legal_basis,days_left"
    )
    # the overdue one first: received 2 March, due 2 April, today is 11 April
    assert lines[1] == f"{first.id},erasure,2026-03-02,2026-04-02,false,open,,,-9"
    assert lines[2] == f"{second.id},access,2026-04-11,2026-05-11,false,open,,,30"
    assert PERSON not in csv_text
