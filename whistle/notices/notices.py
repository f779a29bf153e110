"""Persons concerned and the notice they are owed (GDPR art. 14; REQUIREMENTS.md S4).

A person a report is about must be told that data about them is processed, within a
reasonable time and at the latest within a month, unless telling them would seriously impair
the investigation (art. 14(5)(b)) or the Data Protection Act § 22 allows deferring it to
protect the reporter or the investigation. A deferral needs a recorded basis, a reason (an
internal note) and a review date; when the review date comes the handlers are reminded in the
inbox and by mail, and decide again.

Who the person is stays under the case notes key. The notice text is drawn from the
organisation alone: it is given nothing about the case, so it cannot name the reporter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import decrypt_field, encrypt_field
from whistle.casefile import content
from whistle.casefile.access import KeyRing, NoAccess, OpenedKeys
from whistle.casefile.holders import holds_clause
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import person_context
from whistle.core.dates import ShownDay
from whistle.core.db import unit_of_work
from whistle.core.deadlines import add_months
from whistle.core.models import Case, PersonConcerned
from whistle.core.refusals import Refused

DEFERRAL_BASES = (
    "gdpr_14_5_b",  # notice would seriously impair the investigation (art. 14(5)(b))
    "dpa_22",  # Data Protection Act § 22: to protect the reporter or the investigation
)
MAX_DEFERRAL_MONTHS = 6  # a deferral is reviewed at least this often
NOTICE_DAYS = 30  # art. 14(3)(a): within a reasonable period, at the latest one month


@dataclass(frozen=True, repr=False)
class PersonView:
    id: int
    label: str  # SECRET: who the person is
    status: str  # "pending", "notified", "deferred"
    notified_on: date | None
    deferral_basis: str | None
    review_on: date | None
    notice_due: date  # when the notice is due at the latest, if not deferred

    def __repr__(self) -> str:
        return f"PersonView(id={self.id}, status={self.status!r})"


def _notes_key(keys: OpenedKeys) -> KeyRing:
    if keys.notes is None:
        raise NoAccess
    return keys.notes


def add_person(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, label: str
) -> PersonConcerned:
    """Record a person the report is about (name, role), with its audit entry, and commit."""
    text = content.required_text(label, "label", _l("Say who the person concerned is."))
    if len(text) > 500:
        raise Refused("label", _l("Use at most %(n)d characters.", n=500))
    uid = str(uuid.uuid4())
    ring = _notes_key(keys)
    person = PersonConcerned(
        uid=uid,
        org_id=case.org_id,
        case_id=case.id,
        label=encrypt_field(ring.current, text.encode(), context=person_context(case.uid, uid)),
        key_epoch=ring.epoch,
        notice_status="pending",
        created_on=clock.now().date(),
    )
    with unit_of_work(session):
        session.add(person)
        session.flush()
        audit.record(
            session,
            clock,
            action="person.added",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"person": person.id},
        )
    return person


def persons(session: Session, case: Case, keys: OpenedKeys) -> list[PersonView]:
    rows = session.scalars(
        select(PersonConcerned)
        .where(PersonConcerned.case_id == case.id)
        .order_by(PersonConcerned.id)
    )
    ring = _notes_key(keys)
    return [
        PersonView(
            row.id,
            decrypt_field(
                ring.at(row.key_epoch), row.label, context=person_context(case.uid, row.uid)
            ).decode(),
            row.notice_status,
            row.notified_on,
            row.deferral_basis,
            row.review_on,
            row.created_on + timedelta(days=NOTICE_DAYS),
        )
        for row in rows
    ]


def _person(session: Session, case: Case, person_id: int) -> PersonConcerned:
    person = session.get(PersonConcerned, person_id)
    if person is None or person.case_id != case.id:
        raise Refused("person", _l("Choose a person of this case."))
    return person


def mark_notified(
    session: Session,
    clock: Clock,
    case: Case,
    user_id: int,
    person_id: int,
    notified_on: date | None,
) -> None:
    """Record that the person was given the notice on ``notified_on``, with its audit entry,
    and commit."""
    person = _person(session, case, person_id)
    today = clock.now().date()
    if notified_on is None or not case.received_on <= notified_on <= today:
        raise Refused(
            "notified_on",
            _l("Give the day the notice was given: not before the report, not in the future."),
        )
    with unit_of_work(session):
        person.notice_status = "notified"
        person.notified_on = notified_on
        person.deferral_basis = None
        person.review_on = None
        audit.record(
            session,
            clock,
            action="person.notified",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"person": person.id, "on": notified_on.isoformat()},
        )


def defer(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    person_id: int,
    *,
    basis: str,
    review_on: date | None,
    reason: str,
) -> None:
    """Defer the notice, with its basis, a reason (internal note) and a review date, with its
    audit entry, and commit."""
    person = _person(session, case, person_id)
    if person.notice_status == "notified":
        raise Refused("basis", _l("The person has already been given the notice."))
    if basis not in DEFERRAL_BASES:
        raise Refused("basis", _l("Choose the basis for deferring the notice."))
    today = clock.now().date()
    latest = add_months(today, MAX_DEFERRAL_MONTHS)
    if review_on is None or not today < review_on <= latest:
        raise Refused(
            "review_on",
            _l(
                "Choose a review date after today and no later than %(latest)s.",
                latest=ShownDay(latest),
            ),
        )
    text = content.required_text(reason, "reason", _l("Give the reason for deferring."))
    with unit_of_work(session):
        note = content.write_note(session, clock, case, keys, user_id, "notice_deferral", text)
        person.notice_status = "deferred"
        person.deferral_basis = basis
        person.review_on = review_on
        audit.record(
            session,
            clock,
            action="person.notice_deferred",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={
                "person": person.id,
                "basis": basis,
                "review_on": review_on.isoformat(),
                "note": note.id,
            },
        )


@dataclass(frozen=True)
class ReviewDue:
    reference: str
    review_on: date


def reviews_due(session: Session, org_id: int, user_id: int, today: date) -> list[ReviewDue]:
    """Deferred notices whose review date has come, in cases ``user_id`` holds a key to."""
    rows = session.execute(
        select(Case.reference, PersonConcerned.review_on)
        .join(Case, Case.id == PersonConcerned.case_id)
        .where(
            PersonConcerned.org_id == org_id,
            PersonConcerned.notice_status == "deferred",
            PersonConcerned.review_on <= today,
            holds_clause(Case.id, user_id),
        )
        .order_by(PersonConcerned.review_on, Case.reference)
        .limit(100)
    )
    return [ReviewDue(reference, day) for reference, day in rows if day is not None]
