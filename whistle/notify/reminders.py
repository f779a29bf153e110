"""Deadline reminders and reviews of deferred notices, queued into the outbox of
whistle/notify/outbox.py.

``whistle notify deadlines`` (run daily) queues a mail to each entitled handler of a case whose
acknowledgement or feedback is due soon or overdue, of a closed case to be deleted soon, and of
a case with a deferred notice to a person concerned whose review date has come
(whistle/notices/notices.py). Each row's ``dedup_key`` names the deadline (or person and review
date)
and the handler, so running it daily, or twice, queues each reminder once.

The rows are ordinary staff rows of the outbox, sent by ``whistle notify send``: they name the
organisation, the case reference and the due date, nothing else. When a row is sent, notify.py
asks :func:`holds_at_sending` whether it still holds (not met, closed, decided or moved since
it was queued); the rules for queueing and for that check live side by side here.

This module builds on notify.py (the outbox table, its entitlement condition, the ``notify``
command group) and imports it; notify.py imports this module only inside its sending code, so
neither needs the other half-loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, exists, func, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import InstrumentedAttribute, Session

from whistle.core.clock import Clock
from whistle.core.db import unit_of_work, upsert_insert
from whistle.core.joblock import lock_transaction
from whistle.core.models import (
    Case,
    CaseKey,
    CaseStatus,
    IdentityDisclosure,
    Organisation,
    OutboxMail,
    PersonConcerned,
    User,
    UTCDateTime,
)
from whistle.notify.outbox import OUTBOX, MailKind, insert_once, may_hear
from whistle.retention.schedule import WARNING_DAYS

# Warn this many days before a deadline (the last day on time counts as "within").
ACK_WARNING_DAYS = 2
FEEDBACK_WARNING_DAYS = 14
DELETION_WARNING_DAYS = WARNING_DAYS  # whistle/retention/schedule.py: the inbox warns as far ahead


# --- Deadline reminders --------------------------------------------------------------------


@dataclass(frozen=True)
class _Reminder:
    kind: MailKind
    key_prefix: str
    due: InstrumentedAttribute[Any]
    done: InstrumentedAttribute[Any] | None  # the act that meets the deadline
    warning_days: int | None  # None: the deadline has passed
    # False: a deadline of a case being handled. True: the deletion warning, for closed cases
    # that are not on legal hold.
    closed_cases: bool = False

    def condition(self, today: date) -> ColumnElement[bool]:
        if self.warning_days is None:
            window = self.due < today
        else:
            window = self.due.between(today, today + timedelta(days=self.warning_days))
        if self.closed_cases:
            return and_(Case.status == CaseStatus.CLOSED.value, Case.hold_since.is_(None), window)
        assert self.done is not None
        return and_(Case.status != CaseStatus.CLOSED.value, self.done.is_(None), window)

    def still_due(self, case: Case, today: date) -> bool:
        """Whether the reminder still holds at sending time (not met, not closed meanwhile;
        for a deletion warning: still closed, not held, the day still ahead)."""
        due: date | None = getattr(case, self.due.key)
        if due is None:
            return False
        if self.closed_cases:
            assert self.warning_days is not None
            return (
                case.status == CaseStatus.CLOSED
                and case.hold_since is None
                and today <= due <= today + timedelta(days=self.warning_days)
            )
        assert self.done is not None
        if case.status == CaseStatus.CLOSED or getattr(case, self.done.key) is not None:
            return False
        if self.warning_days is None:
            return due < today
        return due >= today  # once overdue, the overdue reminder says so instead


REMINDERS = {
    r.kind: r
    for r in (
        _Reminder(
            MailKind.ACK_SOON,
            "ack-soon",
            Case.acknowledge_due,
            Case.acknowledged_on,
            ACK_WARNING_DAYS,
        ),
        _Reminder(
            MailKind.ACK_OVERDUE, "ack-overdue", Case.acknowledge_due, Case.acknowledged_on, None
        ),
        _Reminder(
            MailKind.FEEDBACK_SOON,
            "feedback-soon",
            Case.feedback_due,
            Case.feedback_on,
            FEEDBACK_WARNING_DAYS,
        ),
        _Reminder(
            MailKind.FEEDBACK_OVERDUE, "feedback-overdue", Case.feedback_due, Case.feedback_on, None
        ),
        _Reminder(
            MailKind.DELETION_SOON,
            "deletion-soon",
            Case.delete_on,
            None,
            DELETION_WARNING_DAYS,
            closed_cases=True,
        ),
    )
}


def reminder_dedup_key(prefix: str, case_id: int, due: date, user_id: int) -> str:
    """``"ack-soon:<case id>:<due day>:<user id>"``: one reminder per case, deadline, state,
    due day and handler. The due day is part of it because the feedback deadline moves when a
    late acknowledgement is sent, and the new date deserves its own reminder."""
    return f"{prefix}:{case_id}:{due.isoformat()}:{user_id}"


def _sql_dedup_key(prefix: str, due: InstrumentedAttribute[date], dialect: str) -> Any:
    """:func:`reminder_dedup_key` computed by the database, for the insert below."""
    day: Any = (
        func.to_char(due, "YYYY-MM-DD")
        if dialect == "postgresql"
        else sql_cast(due, String)  # SQLite stores dates as ISO text already
    )
    return (
        literal(f"{prefix}:", String)
        + sql_cast(Case.id, String)
        + literal(":", String)
        + day
        + literal(":", String)
        + sql_cast(CaseKey.user_id, String)
    )


def queue_deadline_reminders(session: Session, clock: Clock) -> int:
    """Queue reminders of acknowledgements and feedback due soon or overdue, and warnings of
    deletions within 7 days; return how many.

    Acknowledgement: warned from 2 days before ``acknowledge_due`` while not acknowledged, and
    once more when overdue; feedback likewise from 14 days before ``feedback_due`` while none
    was given; closed cases get none of these, but a warning 7 days before their retention
    date unless they are on legal hold. Cases of deactivated organisations get none. Each
    goes once to each entitled handler: ``dedup_key`` makes running this daily (or twice)
    queue nothing new.

    One ``INSERT ... SELECT`` per kind does the work in the database, reading only clear-text
    columns, so it stays fast with a hundred thousand cases. Flushes, never commits.
    """
    session.flush()
    now = clock.now()
    today = now.date()
    dialect = session.get_bind().dialect.name
    queued = 0
    for reminder in REMINDERS.values():
        key = _sql_dedup_key(reminder.key_prefix, reminder.due, dialect)
        rows = (
            select(
                Case.org_id,
                literal(reminder.kind.value, String),
                CaseKey.user_id,
                Case.reference,
                key,
                literal(now, UTCDateTime()),
                literal(0),
            )
            .select_from(Case)
            .join(Organisation, Organisation.id == Case.org_id)
            .join(CaseKey, CaseKey.case_id == Case.id)
            .join(User, User.id == CaseKey.user_id)
            .where(
                Organisation.is_active.is_(True),
                reminder.condition(today),
                may_hear(Case.id, Case.org_id),
                ~exists().where(OutboxMail.dedup_key == key),
            )
        )
        insert = (
            upsert_insert(session)(OUTBOX)
            .from_select(
                [
                    "org_id",
                    "kind",
                    "user_id",
                    "case_reference",
                    "dedup_key",
                    "created_at",
                    "attempts",
                ],
                rows,
            )
            .on_conflict_do_nothing()  # a second run at the same moment
        )
        queued += insert_once(session, insert)
    return queued


# --- Reviews of deferred notices -----------------------------------------------------------


def notice_review_key(person_id: int, review_on: date, user_id: int) -> str:
    return f"notice-review:{person_id}:{review_on.isoformat()}:{user_id}"


def queue_notice_reviews(session: Session, clock: Clock) -> int:
    """Queue a mail to each entitled handler of a case with a deferred notice to a person
    concerned (whistle/notices/notices.py) whose review date has come: once per person, review date
    and handler. Flushes, never commits."""
    session.flush()
    now = clock.now()
    today = now.date()
    due = session.execute(
        select(PersonConcerned.id, PersonConcerned.review_on, Case.id, Case.org_id, Case.reference)
        .join(Case, Case.id == PersonConcerned.case_id)
        .join(Organisation, Organisation.id == Case.org_id)
        .where(
            PersonConcerned.notice_status == "deferred",
            PersonConcerned.review_on <= today,
            Organisation.is_active.is_(True),
        )
    ).all()
    rows: list[dict[str, Any]] = []
    for person_id, review_on, case_id, org_id, reference in due:
        if review_on is None:
            continue
        handlers = session.scalars(
            select(User.id)
            .select_from(CaseKey)
            .join(User, User.id == CaseKey.user_id)
            .where(may_hear(case_id, org_id))
        ).all()
        rows += [
            {
                "org_id": org_id,
                "kind": MailKind.NOTICE_REVIEW.value,
                "user_id": user_id,
                "case_reference": reference,
                "dedup_key": notice_review_key(person_id, review_on, user_id),
                "created_at": now,
                "attempts": 0,
            }
            for user_id in handlers
        ]
    if not rows:
        return 0
    taken = set(
        session.scalars(
            select(OutboxMail.dedup_key).where(
                OutboxMail.dedup_key.in_([r["dedup_key"] for r in rows])
            )
        )
    )
    fresh = [r for r in rows if r["dedup_key"] not in taken]
    if not fresh:
        return 0
    return insert_once(
        session, upsert_insert(session)(OUTBOX).values(fresh).on_conflict_do_nothing()
    )


def _review_still_due(session: Session, case: Case, today: date) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    PersonConcerned.case_id == case.id,
                    PersonConcerned.notice_status == "deferred",
                    PersonConcerned.review_on <= today,
                )
            )
        )
    )


# --- At sending time ---------------------------------------------------------------------------


def holds_at_sending(
    session: Session,
    kind: MailKind,
    case: Case,
    *,
    dedup_key: str | None,
    user_id: int,
    today: date,
) -> tuple[bool, date | None]:
    """Whether a queued mail of ``kind`` to ``user_id`` about ``case`` is still to be sent
    ``today``, and the due date it names.

    A deadline reminder no longer holds once the deadline is met or the case closed (a deletion
    warning: once the case is reopened or put on hold), nor when the deadline moved since it was
    queued (the new one has a reminder of its own); a notice review no longer holds once the
    notice was decided or deferred again to a later review; a request for approval of a
    disclosure, once decided or withdrawn. Mails of other kinds always hold
    and name no date.
    """
    reminder = REMINDERS.get(kind)
    if reminder is not None:
        due = getattr(case, reminder.due.key)
        if not reminder.still_due(case, today):
            return False, due
        return dedup_key == reminder_dedup_key(reminder.key_prefix, case.id, due, user_id), due
    if kind is MailKind.NOTICE_REVIEW:
        return _review_still_due(session, case, today), None
    if kind is MailKind.DISCLOSURE_APPROVAL:
        # "disclosure-approval:<disclosure id>:<user id>": not sent once decided or withdrawn.
        parts = (dedup_key or "").split(":")
        if len(parts) != 3 or not parts[1].isdigit():
            return False, None
        status = session.scalar(
            select(IdentityDisclosure.status).where(
                IdentityDisclosure.id == int(parts[1]), IdentityDisclosure.case_id == case.id
            )
        )
        return status == "awaiting_approval", None
    return True, None


# --- Command line --------------------------------------------------------------------------


def queue_daily_reminders(session: Session, clock: Clock) -> int:
    """The daily run of ``whistle notify deadlines``: queue the deadline reminders, then the
    notice reviews, and commit; return how many were queued.

    Safe on every machine at once: the run is one transaction under the job's lock
    (whistle/core/joblock.py), so a second run waits for the first to commit and then finds
    every reminder queued (its ``dedup_key``, unique, would refuse a second copy anyway; the
    lock also keeps two runs' inserts from waiting on each other in opposite orders)."""
    with unit_of_work(session):
        lock_transaction(session, "notify deadlines")
        queued = queue_deadline_reminders(session, clock)
        queued += queue_notice_reviews(session, clock)
    return queued
