"""Persons concerned and their art. 14 notice (REQUIREMENTS.md S4; whistle/notices/notices.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.cases import field_errors, hanne, henrik, signed_in
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import CaseWorker, form_token
from whistle.core.clock import FixedClock
from whistle.core.dates import day
from whistle.core.models import AuditEntry, Case, CaseNote, OutboxMail, PersonConcerned
from whistle.notify.reminders import queue_notice_reviews

REPORTER = "Rikke NOTICEREPORTERMARKER"
PERSON = "Per Påstand, lagerchef"


def named_case(app: Flask, session: Session, unit: Unit) -> Case:
    Reporter(app, unit.org.slug).report(
        ReportAnswers(
            what="Fake report: the warehouse manager sells pallets.",
            named=True,
            name=REPORTER,
            contact="rikke.marker@example.org",
        )
    )
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


def persons_path(worker: CaseWorker, reference: str, action: str = "") -> str:
    return f"/staff/{worker.slug}/cases/{reference}/persons/{action}"


def post(worker: CaseWorker, reference: str, action: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    page = worker.get(persons_path(worker, reference))
    name, token = form_token(page, persons_path(worker, reference, action))
    return worker.post(persons_path(worker, reference, action), {name: token, **fields})


def test_a_person_concerned_is_told_or_deferred_with_a_basis_and_a_review(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = named_case(app, session, unit)
    worker = signed_in(hanne(app, clock, unit))
    ref = case.reference
    assert post(worker, ref, "add", {"add-label": " "}).status_code == 400
    assert post(worker, ref, "add", {"add-label": PERSON}).status_code == 303
    person = session.scalars(select(PersonConcerned)).one()
    assert PERSON.encode() not in person.label  # encrypted with the case
    page = text_of(worker.get(persons_path(worker, ref)))
    assert PERSON in page
    today = clock.now().date()
    assert f"to be told by {day(today + timedelta(days=30), 'en')}" in page

    pid = str(person.id)
    no_basis = post(
        worker,
        ref,
        "defer",
        {"defer-person": pid, "defer-basis": "", "defer-review_on": "", "defer-reason": ""},
    )
    assert no_basis.status_code == 400
    assert field_errors(no_basis, "defer-basis") == ["Choose the basis for deferring the notice."]
    too_far = (today + timedelta(days=200)).isoformat()
    far = post(
        worker,
        ref,
        "defer",
        {
            "defer-person": pid,
            "defer-basis": "dpa_22",
            "defer-review_on": too_far,
            "defer-reason": "Fake reason.",
        },
    )
    assert far.status_code == 400
    review = (today + timedelta(days=60)).isoformat()
    deferred = post(
        worker,
        ref,
        "defer",
        {
            "defer-person": pid,
            "defer-basis": "gdpr_14_5_b",
            "defer-review_on": review,
            "defer-reason": "Fake reason: the stock count is not finished.",
        },
    )
    assert deferred.status_code == 303
    session.expire_all()
    person = session.scalars(select(PersonConcerned)).one()
    assert (person.notice_status, person.deferral_basis, person.review_on) == (
        "deferred",
        "gdpr_14_5_b",
        today + timedelta(days=60),
    )
    assert "notice_deferral" in session.scalars(select(CaseNote.kind)).all()
    assert "person.notice_deferred" in session.scalars(select(AuditEntry.action)).all()

    # Not before the review date; then once to each handler holding the case.
    assert queue_notice_reviews(session, clock) == 0
    clock.advance(timedelta(days=60))
    assert queue_notice_reviews(session, clock) == 3
    assert queue_notice_reviews(session, clock) == 0
    session.commit()
    assert (
        session.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "notice_review")
        )
        == 3
    )
    worker = signed_in(henrik(app, clock, unit))
    assert "Notices to review" in text_of(worker.inbox())

    worker = signed_in(hanne(app, clock, unit))
    future = (clock.now().date() + timedelta(days=1)).isoformat()
    wrong = post(worker, ref, "notified", {"notified-person": pid, "notified-notified_on": future})
    assert wrong.status_code == 400
    done = post(
        worker,
        ref,
        "notified",
        {"notified-person": pid, "notified-notified_on": clock.now().date().isoformat()},
    )
    assert done.status_code == 303
    session.expire_all()
    person = session.scalars(select(PersonConcerned)).one()
    assert (person.notice_status, person.review_on) == ("notified", None)
    assert "Notices to review" not in text_of(signed_in(henrik(app, clock, unit)).inbox())


def test_the_notice_never_names_the_reporter(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = named_case(app, session, unit)
    worker = signed_in(hanne(app, clock, unit))
    page = worker.get(persons_path(worker, case.reference, "notice"))
    assert page.status_code == 200
    text = text_of(page)
    assert unit.org.name in text and case.reference in text
    assert "Datatilsynet" in text and "presumed innocent" in text
    for secret in ("NOTICEREPORTERMARKER", "rikke.marker@example.org", "pallets"):
        assert secret not in text


@pytest.mark.parametrize("person", ["999999", "", "abc"])
def test_actions_on_an_unknown_person_are_refused(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, person: str
) -> None:
    case = named_case(app, session, unit)
    worker = signed_in(hanne(app, clock, unit))
    assert post(worker, case.reference, "add", {"add-label": PERSON}).status_code == 303
    answer = post(
        worker,
        case.reference,
        "notified",
        {"notified-person": person, "notified-notified_on": date(2026, 3, 2).isoformat()},
    )
    assert answer.status_code == 400
    session.expire_all()
    assert session.scalars(select(PersonConcerned.notice_status)).all() == ["pending"]
