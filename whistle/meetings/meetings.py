"""Meetings and their minutes (REQUIREMENTS.md C1, C2; Directive art. 9(2) and 18).

A reporter may ask for a physical meeting. The request becomes a task for the handlers with a
due date (14 days by default; the organisation setting ``meeting_due_days``, 1 to 90). Once
the meeting has been held (or an oral report taken), a handler writes minutes; the reporter
reads them in the follow-up mailbox and either approves them or sends a corrected version; a
handler may answer with a new version, and so on. Every version is kept.

Statuses move only forward: ``requested`` becomes ``held`` or ``cancelled``, nothing else.

Who can read what: the minutes are written under the case *content* key, because the
reporter must read them (the reporter holds only that key). The server keeps in clear only
dates, statuses, version numbers and who wrote which version.

Transactions: the steps that add to the exchange between reporter and handler
(:func:`write_minutes`, :func:`correct_minutes`, :func:`approve_minutes`) commit, as
:func:`whistle.casefile.conversation.post_message` does. The task bookkeeping
(:func:`open_meeting_task`,
:func:`mark_held`, :func:`cancel`, :func:`set_meeting_due_days`) only flushes, so the caller
commits it together with its own rows: intake with the new case, handler pages with their
audit entry.
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

from crypto import decrypt_field, encrypt_field
from whistle.casefile.access import KeyRing
from whistle.casefile.holders import holds_clause
from whistle.core.clock import Clock
from whistle.core.contexts import minutes_context
from whistle.core.models import Author, Case, Meeting, MinutesVersion, OrgSetting
from whistle.notify.outbox import queue_case_event

log = logging.getLogger(__name__)

DUE_DAYS_SETTING = "meeting_due_days"
DEFAULT_DUE_DAYS = 14
MIN_DUE_DAYS = 1
MAX_DUE_DAYS = 90
# Minutes of a long meeting run to many pages; this only stops absurd input.
MAX_MINUTES_LENGTH = 50_000


class MeetingStatus(enum.StrEnum):
    REQUESTED = "requested"
    HELD = "held"
    CANCELLED = "cancelled"


class MeetingError(ValueError):
    """A meeting or minutes step that makes no sense now.

    ``reason`` is a stable code for programs and tests; ``message`` is shown to the person,
    in their language.
    """

    def __init__(self, reason: str, message: object) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"meeting step refused: {reason}")


class StaleMinutes(MeetingError):
    """The version acted on is no longer the newest: someone wrote a newer one meanwhile."""

    def __init__(self) -> None:
        super().__init__(
            "stale",
            _l(
                "The minutes have changed since you opened the page. "
                "Please read the newest version."
            ),
        )


@dataclass(frozen=True, repr=False)
class MinutesView:
    """One decrypted version of the minutes. SECRET: never log it."""

    id: int
    uid: str
    version: int
    author: str
    created_on: date
    body: str
    approved_on: date | None


@dataclass(frozen=True, repr=False)
class MeetingView:
    """A meeting with every version of its minutes, oldest first. SECRET: never log it."""

    id: int
    uid: str
    status: str
    requested_on: date
    due_on: date
    held_on: date | None
    versions: list[MinutesView]
    # The handler's newest version, when the reporter has neither approved nor corrected it.
    awaiting_review: MinutesView | None

    @property
    def latest(self) -> MinutesView | None:
        """The newest version, whoever wrote it."""
        return self.versions[-1] if self.versions else None

    @property
    def earlier(self) -> list[MinutesView]:
        """Every version but the newest, oldest first."""
        return self.versions[:-1]


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
        raise MeetingError(
            "due-days-range",
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


def _refuse_unless_requested(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.HELD:
        raise MeetingError("already-held", _l("This meeting has already been held."))
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("cancelled", _l("This meeting was cancelled."))


def mark_held(session: Session, clock: Clock, meeting: Meeting, held_on: date) -> None:
    """Record that the requested meeting took place on ``held_on``. Flushes, does not commit.

    Refused for a day in the future, a day before the request, and a meeting already held or
    cancelled.
    """
    _refuse_unless_requested(meeting)
    if held_on > clock.now().date():
        raise MeetingError(
            "held-in-future", _l("A meeting cannot be recorded as held on a future day.")
        )
    if held_on < meeting.requested_on:
        raise MeetingError(
            "held-before-request",
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
        raise MeetingError("already-held", _l("A meeting that has been held cannot be cancelled."))
    _refuse_unless_requested(meeting)
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


# --- the minutes -----------------------------------------------------------------------------


def _check_same_case(case: Case, meeting: Meeting) -> None:
    if meeting.case_id != case.id:
        raise ValueError("the meeting belongs to another case")


def _lock(session: Session, meeting: Meeting) -> Meeting:
    """Lock the meeting row and reload it, so versions are numbered and judged one at a time.

    (SQLite ignores FOR UPDATE; it serialises writers anyway.)
    """
    locked = session.scalars(
        select(Meeting)
        .where(Meeting.id == meeting.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return locked


def _newest(session: Session, meeting: Meeting) -> MinutesVersion | None:
    return session.scalar(
        select(MinutesVersion)
        .where(MinutesVersion.meeting_id == meeting.id)
        .order_by(MinutesVersion.version.desc())
        .limit(1)
    )


def _clean_body(body: str, *, empty: MeetingError) -> str:
    # Browsers send CRLF from a textarea; store one form so versions compare as people see them.
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise empty
    if len(text) > MAX_MINUTES_LENGTH:
        raise MeetingError(
            "too-long",
            _l("The minutes can be at most %(n)d characters long.", n=MAX_MINUTES_LENGTH),
        )
    return text


def _decrypt(case: Case, meeting: Meeting, content: KeyRing, row: MinutesVersion) -> str:
    return decrypt_field(
        content.at(row.key_epoch),
        row.body,
        context=minutes_context(case.uid, meeting.uid, row.uid, row.version, row.author),
    ).decode()


def _add_version(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    meeting: Meeting,
    text: str,
    *,
    author: Author,
    user_id: int | None,
    newest: MinutesVersion | None,
) -> MinutesVersion:
    uid = str(uuid.uuid4())
    number = newest.version + 1 if newest is not None else 1
    version = MinutesVersion(
        uid=uid,
        org_id=case.org_id,
        case_id=case.id,
        meeting_id=meeting.id,
        version=number,
        author=author.value,
        author_user_id=user_id,
        created_on=clock.now().date(),
        body=encrypt_field(
            content.current,
            text.encode(),
            context=minutes_context(case.uid, meeting.uid, uid, number, author.value),
        ),
        key_epoch=content.epoch,
        approved_on=None,
    )
    try:
        session.add(version)
        if author is Author.REPORTER:
            case.unread_for_handlers = True
            queue_case_event(session, clock, case, "reporter_message")
        else:
            case.unread_for_reporter = True
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return version


def write_minutes(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    meeting: Meeting,
    body: str,
    *,
    user_id: int,
) -> MinutesVersion:
    """A handler's version of the minutes of a held meeting (the next version). Commits.

    The reporter sees it as new in the mailbox and is asked to approve or correct it.
    """
    _check_same_case(case, meeting)
    meeting = _lock(session, meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("cancelled", _l("This meeting was cancelled; it has no minutes."))
    if meeting.status != MeetingStatus.HELD:
        raise MeetingError("not-held", _l("Record the meeting as held before writing its minutes."))
    text = _clean_body(body, empty=MeetingError("empty", _l("Write the minutes.")))
    return _add_version(
        session,
        clock,
        case,
        content,
        meeting,
        text,
        author=Author.HANDLER,
        user_id=user_id,
        newest=_newest(session, meeting),
    )


def _awaiting(newest: MinutesVersion | None) -> bool:
    return newest is not None and newest.author == Author.HANDLER and newest.approved_on is None


def correct_minutes(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    meeting: Meeting,
    body: str,
    *,
    based_on: MinutesVersion | None = None,
) -> MinutesVersion:
    """The reporter's corrected version of the handler's newest, unapproved minutes. Commits.

    ``based_on`` is the version the reporter read: when a newer one exists, the correction is
    refused with :class:`StaleMinutes` rather than answering text the reporter never saw. A
    text identical to the handler's is refused: that is an approval, not a correction.
    """
    _check_same_case(case, meeting)
    meeting = _lock(session, meeting)
    newest = _newest(session, meeting)
    if based_on is not None and (newest is None or newest.id != based_on.id):
        raise StaleMinutes()
    if newest is None or not _awaiting(newest):
        raise MeetingError("nothing-to-review", _l("There are no minutes waiting for your review."))
    text = _clean_body(
        body,
        empty=MeetingError("empty", _l("Write your corrected version of the minutes.")),
    )
    if text == _decrypt(case, meeting, content, newest):
        raise MeetingError(
            "unchanged",
            _l("You have not changed anything. If the minutes are right, approve them instead."),
        )
    return _add_version(
        session,
        clock,
        case,
        content,
        meeting,
        text,
        author=Author.REPORTER,
        user_id=None,
        newest=newest,
    )


def approve_minutes(session: Session, clock: Clock, case: Case, version: MinutesVersion) -> None:
    """The reporter approves ``version``, which must be the handler's newest version. Commits.

    A version with a newer one after it is refused with :class:`StaleMinutes`; the reporter's
    own version cannot be approved (the handler takes it up in a next version). Approving
    the same version twice changes nothing (a double click).
    """
    if version.case_id != case.id:
        raise ValueError("the minutes belong to another case")
    meeting = session.get(Meeting, version.meeting_id)
    assert meeting is not None
    meeting = _lock(session, meeting)
    newest = _newest(session, meeting)
    if newest is None or newest.id != version.id:
        raise StaleMinutes()
    if version.author != Author.HANDLER:
        raise MeetingError(
            "not-handler", _l("Only minutes written by the case handler can be approved.")
        )
    if version.approved_on is not None:
        return
    try:
        version.approved_on = clock.now().date()
        case.unread_for_handlers = True
        queue_case_event(session, clock, case, "reporter_message")
        session.commit()
    except BaseException:
        session.rollback()
        raise


def find_version(session: Session, case: Case, uid: str) -> MinutesVersion | None:
    """The version of the minutes with ``uid`` in ``case`` (None for another case's)."""
    return session.scalar(
        select(MinutesVersion).where(MinutesVersion.case_id == case.id, MinutesVersion.uid == uid)
    )


def minutes_history(session: Session, case: Case, content: KeyRing) -> list[MeetingView]:
    """Every meeting of ``case`` with every version of its minutes decrypted, oldest first."""
    by_meeting: dict[int, list[MinutesVersion]] = {}
    for row in session.scalars(
        select(MinutesVersion)
        .where(MinutesVersion.case_id == case.id)
        .order_by(MinutesVersion.meeting_id, MinutesVersion.version)
    ):
        by_meeting.setdefault(row.meeting_id, []).append(row)
    views = []
    for meeting in case_meetings(session, case):
        rows = by_meeting.get(meeting.id, [])
        versions = [
            MinutesView(
                id=row.id,
                uid=row.uid,
                version=row.version,
                author=row.author,
                created_on=row.created_on,
                body=_decrypt(case, meeting, content, row),
                approved_on=row.approved_on,
            )
            for row in rows
        ]
        awaiting = versions[-1] if rows and _awaiting(rows[-1]) else None
        views.append(
            MeetingView(
                id=meeting.id,
                uid=meeting.uid,
                status=meeting.status,
                requested_on=meeting.requested_on,
                due_on=meeting.due_on,
                held_on=meeting.held_on,
                versions=versions,
                awaiting_review=awaiting,
            )
        )
    return views
