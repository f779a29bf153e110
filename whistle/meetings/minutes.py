"""The minutes of a meeting (REQUIREMENTS.md C2; Directive art. 18): every version, the
reporter's corrections and approval.

Once the meeting has been held (or an oral report taken; the task is in
whistle/meetings/tasks.py), a handler writes minutes; the reporter reads them in the follow-up
mailbox and either approves them or sends a corrected version; a handler may answer with a new
version, and so on. Every version is kept.

Who can read what: the minutes are written under the case *content* key, because the
reporter must read them (the reporter holds only that key). The server keeps in clear only
dates, version numbers and who wrote which version.

Transactions: each step (:func:`write_minutes`, :func:`correct_minutes`,
:func:`approve_minutes`) adds to the exchange between reporter and handler and is a whole unit
of work: it commits, as :func:`whistle.casefile.conversation.post_message` does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import decrypt_field, encrypt_field
from whistle.casefile.access import KeyRing
from whistle.core.clock import Clock
from whistle.core.contexts import minutes_context
from whistle.core.db import unit_of_work
from whistle.core.models import Author, Case, Meeting, MinutesVersion
from whistle.core.refusals import Refused
from whistle.meetings.tasks import MeetingStatus, audit_meeting, case_meetings
from whistle.notify.outbox import queue_case_event

# Minutes of a long meeting run to many pages; this only stops absurd input.
MAX_MINUTES_LENGTH = 50_000

STALE = _l("The minutes have changed since you opened the page. Please read the newest version.")


class StaleMinutes(Refused):
    """The minutes moved on since the page was read: the version acted on is no longer the
    newest (someone wrote a newer one meanwhile), or none waits for the reporter's review any
    more (approved or corrected in another window). Told apart from other refusals so the
    reporter is shown the minutes as they are now."""

    def __init__(self, message: object = STALE) -> None:
        super().__init__("body", message)


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


def _clean_body(body: str, *, empty: object) -> str:
    # Browsers send CRLF from a textarea; store one form so versions compare as people see them.
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise Refused("body", empty)
    if len(text) > MAX_MINUTES_LENGTH:
        raise Refused(
            "body",
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
    session.add(version)
    if author is Author.REPORTER:
        case.unread_for_handlers = True
        queue_case_event(session, clock, case, "reporter_message")
    else:
        case.unread_for_reporter = True
    session.flush()
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
    """A handler's version of the minutes of a held meeting (the next version), with its
    audit entry, and commit.

    The reporter sees it as new in the mailbox and is asked to approve or correct it.
    """
    with unit_of_work(session):
        audit_meeting(session, clock, case, meeting, user_id, "meeting.minutes_written")
        return _handler_version(session, clock, case, content, meeting, body, user_id=user_id)


def _handler_version(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    meeting: Meeting,
    body: str,
    *,
    user_id: int,
) -> MinutesVersion:
    _check_same_case(case, meeting)
    meeting = _lock(session, meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused("body", _l("This meeting was cancelled; it has no minutes."))
    if meeting.status != MeetingStatus.HELD:
        raise Refused("body", _l("Record the meeting as held before writing its minutes."))
    text = _clean_body(body, empty=_l("Write the minutes."))
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
    """The reporter's corrected version of the handler's newest, unapproved minutes, and
    commit.

    ``based_on`` is the version the reporter read: when a newer one exists, or none waits for
    review, the correction is refused with :class:`StaleMinutes` rather than answering text
    the reporter never saw. A text identical to the handler's is refused: that is an
    approval, not a correction.
    """
    with unit_of_work(session):
        return _reporter_version(session, clock, case, content, meeting, body, based_on)


def _reporter_version(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    meeting: Meeting,
    body: str,
    based_on: MinutesVersion | None,
) -> MinutesVersion:
    _check_same_case(case, meeting)
    meeting = _lock(session, meeting)
    newest = _newest(session, meeting)
    if based_on is not None and (newest is None or newest.id != based_on.id):
        raise StaleMinutes()
    if newest is None or not _awaiting(newest):
        raise StaleMinutes(_l("There are no minutes waiting for your review."))
    text = _clean_body(body, empty=_l("Write your corrected version of the minutes."))
    if text == _decrypt(case, meeting, content, newest):
        raise Refused(
            "body",
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
    """The reporter approves ``version``, which must be the handler's newest version, and
    commit.

    A version with a newer one after it is refused with :class:`StaleMinutes`; the reporter's
    own version cannot be approved (the handler takes it up in a next version). Approving
    the same version twice changes nothing (a double click).
    """
    with unit_of_work(session):
        _approve(session, clock, case, version)


def _approve(session: Session, clock: Clock, case: Case, version: MinutesVersion) -> None:
    if version.case_id != case.id:
        raise ValueError("the minutes belong to another case")
    meeting = session.get(Meeting, version.meeting_id)
    assert meeting is not None
    meeting = _lock(session, meeting)
    newest = _newest(session, meeting)
    if newest is None or newest.id != version.id:
        raise StaleMinutes()
    if version.author != Author.HANDLER:
        raise Refused("minutes", _l("Only minutes written by the case handler can be approved."))
    if version.approved_on is not None:
        return
    version.approved_on = clock.now().date()
    case.unread_for_handlers = True
    queue_case_event(session, clock, case, "reporter_message")


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
    return [
        _meeting_view(case, meeting, content, by_meeting.get(meeting.id, []))
        for meeting in case_meetings(session, case)
    ]


def _meeting_view(
    case: Case, meeting: Meeting, content: KeyRing, rows: list[MinutesVersion]
) -> MeetingView:
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
    return MeetingView(
        id=meeting.id,
        uid=meeting.uid,
        status=meeting.status,
        requested_on=meeting.requested_on,
        due_on=meeting.due_on,
        held_on=meeting.held_on,
        versions=versions,
        awaiting_review=versions[-1] if rows and _awaiting(rows[-1]) else None,
    )
