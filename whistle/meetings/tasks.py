"""The meeting task (REQUIREMENTS.md C1; Directive art. 9(2)): a reporter's request for a
physical meeting, its due date, and the handler recording it held or cancelled.

A reporter may ask for a physical meeting. The request becomes a task for the handlers with a
due date (14 days by default; the organisation setting ``meeting_due_days``, 1 to 90).
Statuses move only forward: ``requested`` becomes ``held`` or ``cancelled``, nothing else. The
server keeps these in clear (dates and statuses only); the minutes are in
whistle/meetings/minutes.py.

Transactions (the commit rule): the task steps (:func:`open_meeting_task`, :func:`mark_held`,
:func:`cancel`, :func:`set_meeting_due_days`) only flush, so intake commits a request with
its new case; what a handler's page asks for is a whole unit of work with its audit entry
(:func:`record_opened`, :func:`record_held`, :func:`record_cancelled`), which commits.
"""

from __future__ import annotations

import enum
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile.holders import holds_clause
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, Meeting, OrgSetting
from whistle.core.refusals import Refused

log = logging.getLogger(__name__)

DUE_DAYS_SETTING = "meeting_due_days"
DEFAULT_DUE_DAYS = 14
MIN_DUE_DAYS = 1
MAX_DUE_DAYS = 90


class MeetingStatus(enum.StrEnum):
    REQUESTED = "requested"
    HELD = "held"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class MeetingTask:
    """An open meeting request for the handlers' inbox: clear-text metadata only."""

    meeting_id: int
    meeting_uid: str
    case_id: int
    case_reference: str
    requested_on: date
    due_on: date
    overdue: bool


# --- the organisation's due period -----------------------------------------------------------


def _valid_due_days(value: object) -> bool:
    # bool is an int in Python (and JSON true would load as True): not a number of days.
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_DUE_DAYS <= value <= MAX_DUE_DAYS
    )


def meeting_due_days(session: Session, org_id: int) -> int:
    """Days from a meeting request to its due date for ``org_id`` (setting, default 14).

    A stored value outside 1..90 or not a whole number is ignored with a warning rather than
    refused: a broken setting must never make a report fail at intake.
    """
    stored = session.scalar(
        select(OrgSetting.value).where(
            OrgSetting.org_id == org_id, OrgSetting.key == DUE_DAYS_SETTING
        )
    )
    if stored is None:
        return DEFAULT_DUE_DAYS
    try:
        value = json.loads(stored)
    except ValueError:
        value = None
    if not _valid_due_days(value):
        log.warning(
            "organisation %d: setting %s is invalid; using %d days",
            org_id,
            DUE_DAYS_SETTING,
            DEFAULT_DUE_DAYS,
        )
        return DEFAULT_DUE_DAYS
    assert isinstance(value, int)
    return value


def set_meeting_due_days(session: Session, org_id: int, days: int) -> None:
    """Store the organisation's due period for meeting requests (1 to 90 days). Flushes."""
    if not _valid_due_days(days):
        raise Refused(
            DUE_DAYS_SETTING,
            _l(
                "Choose a number of days from %(low)d to %(high)d.",
                low=MIN_DUE_DAYS,
                high=MAX_DUE_DAYS,
            ),
        )
    row = session.get(OrgSetting, (org_id, DUE_DAYS_SETTING))
    if row is None:
        session.add(OrgSetting(org_id=org_id, key=DUE_DAYS_SETTING, value=json.dumps(days)))
    else:
        row.value = json.dumps(days)
    session.flush()


# --- the task --------------------------------------------------------------------------------


def open_request(session: Session, case: Case) -> Meeting | None:
    """The case's meeting request that is neither held nor cancelled, if any."""
    return session.scalar(
        select(Meeting)
        .where(Meeting.case_id == case.id, Meeting.status == MeetingStatus.REQUESTED.value)
        .order_by(Meeting.id)
        .limit(1)
    )


def case_meetings(session: Session, case: Case) -> list[Meeting]:
    """Every meeting of ``case``, oldest first (clear-text metadata only)."""
    return list(
        session.scalars(select(Meeting).where(Meeting.case_id == case.id).order_by(Meeting.id))
    )


def open_meeting_task(
    session: Session, clock: Clock, case: Case, *, requested_on: date | None = None
) -> Meeting:
    """The task for the reporter's meeting request, due after the organisation's period.

    Idempotent: while the case has an open request, that request is returned unchanged. A
    request after an earlier meeting was held or cancelled opens a new task. ``requested_on``
    defaults to today. Flushes, does not commit (intake commits it with the case).
    """
    existing = open_request(session, case)
    if existing is not None:
        return existing
    day = requested_on if requested_on is not None else clock.now().date()
    meeting = Meeting(
        uid=str(uuid.uuid4()),
        org_id=case.org_id,
        case_id=case.id,
        status=MeetingStatus.REQUESTED.value,
        requested_on=day,
        due_on=day + timedelta(days=meeting_due_days(session, case.org_id)),
        held_on=None,
    )
    session.add(meeting)
    session.flush()
    return meeting


def _refuse_unless_requested(meeting: Meeting, field: str) -> None:
    if meeting.status == MeetingStatus.HELD:
        raise Refused(field, _l("This meeting has already been held."))
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused(field, _l("This meeting was cancelled."))


def mark_held(session: Session, clock: Clock, meeting: Meeting, held_on: date) -> None:
    """Record that the requested meeting took place on ``held_on``. Flushes, does not commit.

    Refused for a day in the future, a day before the request, and a meeting already held or
    cancelled.
    """
    _refuse_unless_requested(meeting, "held_on")
    if held_on > clock.now().date():
        raise Refused("held_on", _l("A meeting cannot be recorded as held on a future day."))
    if held_on < meeting.requested_on:
        raise Refused(
            "held_on",
            _l("A meeting cannot have been held before it was requested."),
        )
    meeting.status = MeetingStatus.HELD.value
    meeting.held_on = held_on
    session.flush()


def cancel(session: Session, clock: Clock, meeting: Meeting) -> None:
    """Cancel a requested meeting (it stays listed, as cancelled). Flushes, does not commit.

    ``clock`` keeps every task step the same shape; no date is stored for a cancellation. A
    meeting that was held cannot be cancelled: its minutes are a record.
    """
    if meeting.status == MeetingStatus.HELD:
        raise Refused("meeting", _l("A meeting that has been held cannot be cancelled."))
    _refuse_unless_requested(meeting, "meeting")
    meeting.status = MeetingStatus.CANCELLED.value
    session.flush()


def meetings_due(
    session: Session, org_id: int, today: date, *, user_id: int | None = None
) -> list[MeetingTask]:
    """Open meeting requests of ``org_id``, soonest due first (for the handlers' inbox).

    With ``user_id``, only cases that user holds a key to: a handler left out of a case
    (K3) does not see its tasks either.
    """
    query = (
        select(Meeting, Case.reference)
        .join(Case, Case.id == Meeting.case_id)
        .where(Meeting.org_id == org_id, Meeting.status == MeetingStatus.REQUESTED.value)
        .order_by(Meeting.due_on, Case.reference, Meeting.id)
    )
    if user_id is not None:
        query = query.where(holds_clause(Meeting.case_id, user_id))
    return [
        MeetingTask(
            meeting_id=meeting.id,
            meeting_uid=meeting.uid,
            case_id=meeting.case_id,
            case_reference=reference,
            requested_on=meeting.requested_on,
            due_on=meeting.due_on,
            overdue=meeting.due_on < today,
        )
        for meeting, reference in session.execute(query)
    ]


# --- the handler's steps, each a whole unit of work -------------------------------------------


def audit_meeting(
    session: Session, clock: Clock, case: Case, meeting: Meeting, user_id: int, action: str
) -> None:
    """The audit entry of a handler's step on ``meeting`` (ids only). Flushes."""
    audit.record(
        session,
        clock,
        action=action,
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={"meeting": meeting.id},
    )


def record_opened(session: Session, clock: Clock, case: Case, user_id: int) -> Meeting:
    """Open a meeting task at the handler's hand (an oral report, or a meeting the handler
    offers; the case's open request if it has one), record it in the audit log, and commit."""
    with unit_of_work(session):
        meeting = open_meeting_task(session, clock, case)
        audit_meeting(session, clock, case, meeting, user_id, "meeting.opened")
    return meeting


def record_held(
    session: Session, clock: Clock, case: Case, meeting: Meeting, user_id: int, held_on: date
) -> None:
    """Record the requested meeting as held on ``held_on`` (refused as :func:`mark_held`
    refuses), with its audit entry, and commit."""
    with unit_of_work(session):
        mark_held(session, clock, meeting, held_on)
        audit_meeting(session, clock, case, meeting, user_id, "meeting.held")


def record_cancelled(
    session: Session, clock: Clock, case: Case, meeting: Meeting, user_id: int
) -> None:
    """Cancel the requested meeting (refused as :func:`cancel` refuses), with its audit entry,
    and commit."""
    with unit_of_work(session):
        cancel(session, clock, meeting)
        audit_meeting(session, clock, case, meeting, user_id, "meeting.cancelled")
