"""Meetings and minutes (REQUIREMENTS.md C1, C2): the task, the versions, the reporter's review.

The domain functions are used as the handler side will use them; the reporter's side is used
through the real pages, as a person would: ask for a meeting on the report form, read the
minutes in the mailbox, suggest corrections, approve.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from crypto import OpenError, PrivateKey, decrypt_field
from tests.steps.factories import Unit, make_unit
from tests.steps.meeting_forms import form_with_button, press, textarea_of
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, read_as_handler, reporter_ring
from whistle.casefile.access import open_reporter_keys
from whistle.core.clock import FixedClock
from whistle.core.contexts import minutes_context
from whistle.core.models import Base, Case, Category, Meeting, MinutesVersion, OrgSetting
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.meetings.minutes import (
    MAX_MINUTES_LENGTH,
    StaleMinutes,
    approve_minutes,
    correct_minutes,
    minutes_history,
    write_minutes,
)
from whistle.meetings.tasks import (
    cancel,
    mark_held,
    meetings_due,
    open_meeting_task,
    set_meeting_due_days,
)
from whistle.reporting.followup import open_with_code
from whistle.reporting.intake import ReportInput, Submission, submit_report

FIRST_MINUTES = "Fake minutes v1: Testa Testesen met the unit on 2 March and described the pallets."
CORRECTED = "Fake minutes v2: Testa Testesen met the unit on 2 March and described the pallets."
SECOND_MINUTES = "Fake minutes v3: Testa Testesen met the unit on 2 March, corrected."


def submit(
    app: Flask,
    session: Session,
    unit: Unit,
    *,
    excluded: frozenset[int] = frozenset(),
    meeting: bool = True,
) -> Submission:
    """A fake report (by default with a meeting request), straight through intake."""
    rt = runtime(app)
    category = session.scalars(
        select(Category.id).where(Category.org_id == unit.org.id, Category.code == "not-sure")
    ).one()
    with app.app_context():
        return submit_report(
            session,
            rt.clock,
            unit.org,
            ReportInput(
                category_id=category,
                what="Fake report: pallets leave the warehouse at night.",
                meeting_requested=meeting,
                excluded_handler_ids=excluded,
            ),
            [],
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=FileStore(rt.settings.file_store),
        )


def set_due_days_raw(session: Session, unit: Unit, value: str) -> None:
    """What an admin page (or a hand-edited database) may have stored."""
    session.add(OrgSetting(org_id=unit.org.id, key="meeting_due_days", value=value))
    session.commit()


def held_meeting(session: Session, clock: FixedClock, case: Case) -> Meeting:
    meeting = open_meeting_task(session, clock, case)
    mark_held(session, clock, meeting, clock.now().date())
    session.commit()
    return meeting


# --- the task and its due date ---------------------------------------------------------------


def test_a_request_is_due_14_days_later_by_default(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit).case
    meeting = open_meeting_task(session, clock, case)
    session.commit()
    assert (meeting.status, meeting.requested_on, meeting.due_on) == (
        "requested",
        date(2026, 3, 2),
        date(2026, 3, 16),
    )
    # A meeting asked for later (not on the form), across a month end, counted in days.
    later = open_meeting_task(
        session,
        clock,
        submit(app, session, unit, meeting=False).case,
        requested_on=date(2026, 3, 25),
    )
    assert later.due_on == date(2026, 4, 8)


def test_the_organisation_chooses_the_due_period(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    set_meeting_due_days(session, unit.org.id, 10)
    session.commit()
    clock.set(datetime(2026, 2, 25, 12, 0, tzinfo=UTC))
    meeting = open_meeting_task(session, clock, submit(app, session, unit).case)
    assert meeting.due_on == date(2026, 3, 7)  # over the end of a 28-day February

    set_meeting_due_days(session, unit.org.id, 90)
    session.commit()
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    meeting = open_meeting_task(session, clock, submit(app, session, unit).case)
    assert meeting.due_on == date(2027, 2, 28)


@pytest.mark.parametrize("days", [0, 91, -3, True])
def test_the_due_period_must_be_1_to_90_days(session: Session, unit: Unit, days: int) -> None:
    with refused("meeting_due_days", "Choose a number of days from 1 to 90"):
        set_meeting_due_days(session, unit.org.id, days)
    assert session.get(OrgSetting, (unit.org.id, "meeting_due_days")) is None


@pytest.mark.parametrize("stored", ["0", "91", '"ten"', "true", "14.5", "not json"])
def test_a_broken_setting_falls_back_to_14_days(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, stored: str
) -> None:
    set_due_days_raw(session, unit, stored)
    meeting = open_meeting_task(session, clock, submit(app, session, unit).case)
    assert meeting.due_on == date(2026, 3, 16)


def test_the_task_is_opened_once_per_open_request(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit).case
    first = open_meeting_task(session, clock, case)
    clock.advance(timedelta(days=3))
    again = open_meeting_task(session, clock, case)
    assert again.id == first.id and again.due_on == date(2026, 3, 16)
    cancel(session, clock, first)
    session.commit()
    # After a cancellation, a new request is a new task; the old one stays, cancelled.
    second = open_meeting_task(session, clock, case)
    session.commit()
    assert second.id != first.id and second.due_on == date(2026, 3, 19)
    statuses = session.scalars(select(Meeting.status).order_by(Meeting.id)).all()
    assert statuses == ["cancelled", "requested"]


def test_open_requests_are_listed_for_the_handlers_inbox(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne, henrik, _lise = unit.handlers
    early = submit(app, session, unit).case
    open_meeting_task(session, clock, early)
    clock.advance(timedelta(days=5))
    late = submit(app, session, unit, excluded=frozenset({henrik.user.id})).case
    open_meeting_task(session, clock, late)
    done = submit(app, session, unit).case
    held_meeting(session, clock, done)  # no longer a task
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andenfirma")
    other_case = submit(app, session, other).case
    open_meeting_task(session, clock, other_case)
    session.commit()

    tasks = meetings_due(session, unit.org.id, date(2026, 3, 17))
    assert [(t.case_reference, t.due_on, t.overdue) for t in tasks] == [
        (early.reference, date(2026, 3, 16), True),
        (late.reference, date(2026, 3, 21), False),
    ]
    # A handler left out of a case does not see its task either.
    assert [
        t.case_id
        for t in meetings_due(session, unit.org.id, date(2026, 3, 17), user_id=henrik.user.id)
    ] == [early.id]
    assert len(meetings_due(session, unit.org.id, date(2026, 3, 17), user_id=hanne.user.id)) == 2


# --- the minutes -----------------------------------------------------------------------------


def raw_cells(session: Session) -> list[bytes]:
    """Every cell of every table, as the database hands it out (no decryption anywhere)."""
    cells: list[bytes] = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f"SELECT * FROM {table.name}")):
            for value in row:
                if isinstance(value, (bytes, bytearray, memoryview)):
                    cells.append(bytes(value))
                elif value is not None:
                    cells.append(str(value).encode())
    return cells


def test_minutes_go_back_and_forth_and_every_version_is_kept_encrypted(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    submission = submit(app, session, unit)
    case = submission.case
    hanne = unit.handlers[0]
    handler_key = read_as_handler(session, case, hanne).content
    canary = "CNRYMINUTES" + "7d41c09e"

    meeting = open_meeting_task(session, clock, case)
    clock.advance(timedelta(days=4))
    mark_held(session, clock, meeting, date(2026, 3, 5))
    session.commit()
    v1 = write_minutes(
        session,
        clock,
        case,
        handler_key,
        meeting,
        f"{FIRST_MINUTES} {canary}-1",
        user_id=hanne.user.id,
    )
    assert (v1.version, v1.author, v1.author_user_id) == (1, "handler", hanne.user.id)
    assert case.unread_for_reporter is True

    # The reporter, holding the content key through the case code, corrects it.
    rt = runtime(app)
    _, seed = open_with_code(
        session, rt.clock, unit.org.id, submission.code, rt.settings.pepper, argon2=rt.argon2
    )
    reporter_key = open_reporter_keys(session, case, PrivateKey.from_seed(seed))
    case.unread_for_handlers = False
    session.commit()
    clock.advance(timedelta(days=1))
    v2 = correct_minutes(
        session, clock, case, reporter_key, meeting, f"{CORRECTED} {canary}-2\r\n", based_on=v1
    )
    assert (v2.version, v2.author, v2.author_user_id) == (2, "reporter", None)
    assert case.unread_for_handlers is True

    v3 = write_minutes(
        session,
        clock,
        case,
        handler_key,
        meeting,
        f"{SECOND_MINUTES} {canary}-3",
        user_id=hanne.user.id,
    )
    [view] = minutes_history(session, case, reporter_key)
    assert view.awaiting_review is not None and view.awaiting_review.uid == v3.uid

    approve_minutes(session, clock, case, v3)
    session.expire_all()
    assert session.get(MinutesVersion, v3.id).approved_on == date(2026, 3, 7)
    assert session.get(MinutesVersion, v1.id).approved_on is None

    [view] = minutes_history(session, case, handler_key)
    assert (view.status, view.held_on) == ("held", date(2026, 3, 5))
    assert [(v.version, v.author, v.body) for v in view.versions] == [
        (1, "handler", f"{FIRST_MINUTES} {canary}-1"),
        (2, "reporter", f"{CORRECTED} {canary}-2"),
        (3, "handler", f"{SECOND_MINUTES} {canary}-3"),
    ]
    assert view.awaiting_review is None
    # Each version opens with the case content key, and only as itself.
    for row in session.scalars(select(MinutesVersion).order_by(MinutesVersion.version)):
        context = minutes_context(case.uid, meeting.uid, row.uid, row.version, row.author)
        assert canary.encode() in decrypt_field(reporter_key.at(0), row.body, context=context)
    # Nothing of it rests in clear anywhere in the database.
    cells = raw_cells(session)
    assert any(len(c) > 40 for c in cells)  # the scan really sees the ciphertexts
    assert not [c for c in cells if canary.encode() in c]
    assert not [c for c in cells if b"Testa Testesen" in c]


def test_a_version_relabelled_in_the_database_no_longer_opens(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    submission = submit(app, session, unit)
    meeting = held_meeting(session, clock, submission.case)
    write_minutes(
        session,
        clock,
        submission.case,
        reporter_ring(session, submission),
        meeting,
        FIRST_MINUTES,
        user_id=unit.handlers[0].user.id,
    )
    correct_minutes(
        session, clock, submission.case, reporter_ring(session, submission), meeting, CORRECTED
    )
    # Someone with database access presents the reporter's text as the handler's.
    session.execute(
        update(MinutesVersion).where(MinutesVersion.version == 2).values(author="handler")
    )
    session.commit()
    with pytest.raises(OpenError):
        minutes_history(session, submission.case, reporter_ring(session, submission))


@contextmanager
def refused(field: str, words: str) -> Iterator[None]:
    """The step in the block is refused, under the field given, for the reason these words
    of its message say."""
    with pytest.raises(Refused) as caught:
        yield
    assert caught.value.field == field
    assert words in str(caught.value.message)


def test_nonsense_steps_are_refused(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    submission = submit(app, session, unit)
    case, key = submission.case, reporter_ring(session, submission)
    handler = unit.handlers[0].user.id
    meeting = open_meeting_task(session, clock, case)
    session.commit()

    with refused("body", "Record the meeting as held before"):
        write_minutes(session, clock, case, key, meeting, FIRST_MINUTES, user_id=handler)
    with refused("held_on", "held on a future day"):
        mark_held(session, clock, meeting, date(2026, 3, 3))
    with refused("held_on", "held before it was requested"):
        mark_held(session, clock, meeting, date(2026, 3, 1))
    assert (meeting.status, meeting.held_on) == ("requested", None)

    mark_held(session, clock, meeting, date(2026, 3, 2))
    session.commit()
    with refused("held_on", "This meeting has already been held"):
        mark_held(session, clock, meeting, date(2026, 3, 2))
    with refused("meeting", "has been held cannot be cancelled"):
        cancel(session, clock, meeting)
    with refused("body", "Write the minutes."):
        write_minutes(session, clock, case, key, meeting, " \r\n ", user_id=handler)
    with refused("body", "at most 50000 characters"):
        write_minutes(
            session, clock, case, key, meeting, "x" * (MAX_MINUTES_LENGTH + 1), user_id=handler
        )

    other = open_meeting_task(session, clock, case)
    cancel(session, clock, other)
    session.commit()
    with refused("meeting", "This meeting was cancelled."):
        cancel(session, clock, other)
    with refused("held_on", "This meeting was cancelled."):
        mark_held(session, clock, other, date(2026, 3, 2))
    with refused("body", "This meeting was cancelled; it has no minutes."):
        write_minutes(session, clock, case, key, other, FIRST_MINUTES, user_id=handler)
    assert session.scalars(select(MinutesVersion)).all() == []

    # Another case's meeting is a programming error, not a person's mistake.
    stranger = submit(app, session, unit)
    with pytest.raises(ValueError, match="another case"):
        write_minutes(
            session,
            clock,
            stranger.case,
            reporter_ring(session, stranger),
            meeting,
            "x",
            user_id=handler,
        )


def test_the_reporter_answers_only_the_newest_handler_version(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    submission = submit(app, session, unit)
    case, key = submission.case, reporter_ring(session, submission)
    handler = unit.handlers[0].user.id
    meeting = held_meeting(session, clock, case)
    with refused("body", "no minutes waiting for your review"):
        correct_minutes(session, clock, case, key, meeting, CORRECTED)

    v1 = write_minutes(session, clock, case, key, meeting, FIRST_MINUTES, user_id=handler)
    with refused("body", "You have not changed anything"):
        correct_minutes(session, clock, case, key, meeting, f"  {FIRST_MINUTES}\r\n")
    with refused("body", "Write your corrected version"):
        correct_minutes(session, clock, case, key, meeting, "   ")
    v2 = correct_minutes(session, clock, case, key, meeting, CORRECTED)
    with refused("body", "no minutes waiting for your review"):  # the handler's turn now
        correct_minutes(session, clock, case, key, meeting, CORRECTED + " again")
    with pytest.raises(StaleMinutes):
        approve_minutes(session, clock, case, v1)
    with refused("minutes", "Only minutes written by the case handler"):
        approve_minutes(session, clock, case, v2)

    v3 = write_minutes(session, clock, case, key, meeting, SECOND_MINUTES, user_id=handler)
    with pytest.raises(StaleMinutes):  # the reporter read v1, v3 is newer
        correct_minutes(session, clock, case, key, meeting, CORRECTED + " later", based_on=v1)
    approve_minutes(session, clock, case, v3)
    approve_minutes(session, clock, case, v3)  # a double click changes nothing
    with refused("body", "no minutes waiting for your review"):
        correct_minutes(session, clock, case, key, meeting, CORRECTED + " after approval")
    session.expire_all()
    assert [
        (v.version, v.approved_on)
        for v in session.scalars(select(MinutesVersion).order_by(MinutesVersion.version))
    ] == [
        (1, None),
        (2, None),
        (3, date(2026, 3, 2)),
    ]


# --- the reporter's side, through the pages --------------------------------------------------


class Handler:
    """The handler side, through the domain functions it will call."""

    def __init__(self, session: Session, clock: FixedClock, unit: Unit) -> None:
        self.session, self.clock, self.unit = session, clock, unit

    def the_case(self) -> Case:
        self.session.expire_all()
        return self.session.scalars(select(Case)).one()

    def hold_meeting(self) -> Meeting:
        case = self.the_case()
        meeting = open_meeting_task(self.session, self.clock, case)
        mark_held(self.session, self.clock, meeting, self.clock.now().date())
        self.session.commit()
        return meeting

    def write(self, meeting: Meeting, body: str) -> MinutesVersion:
        case = self.the_case()
        key = read_as_handler(self.session, case, self.unit.handlers[0]).content
        return write_minutes(
            self.session,
            self.clock,
            case,
            key,
            meeting,
            body,
            user_id=self.unit.handlers[0].user.id,
        )

    def versions(self) -> list[tuple[int, str, date | None]]:
        self.session.expire_all()
        return [
            (v.version, v.author, v.approved_on)
            for v in self.session.scalars(select(MinutesVersion).order_by(MinutesVersion.version))
        ]


@pytest.fixture
def reporter(app: Flask, unit: Unit) -> Reporter:
    return Reporter(app, unit.org.slug)


@pytest.fixture
def handler(session: Session, clock: FixedClock, unit: Unit) -> Handler:
    return Handler(session, clock, unit)


def test_the_reporter_asks_for_a_meeting_corrects_and_approves_the_minutes(
    reporter: Reporter, handler: Handler, session: Session, clock: FixedClock
) -> None:
    code = reporter.report(ReportAnswers(meeting=True))
    reporter.confirm_written_down()
    case = handler.the_case()
    assert case.meeting_requested is True
    # The request becomes one task (intake opens it; opening it again changes nothing), and
    # the reporter sees it with its due date.
    open_meeting_task(session, clock, case)
    session.commit()
    assert len(session.scalars(select(Meeting)).all()) == 1
    shown = text_of(reporter.mailbox())
    assert "Meeting Status Requested on 2 March 2026 To be held by 16 March 2026" in shown
    assert "will write to you here to agree a time and place" in shown

    # Days later the meeting takes place; the reporter comes back with the code.
    clock.advance(timedelta(days=3))
    meeting = handler.hold_meeting()
    assert reporter.open_case(code).status_code == 303
    assert "has not written the minutes yet" in text_of(reporter.mailbox())
    handler.write(meeting, FIRST_MINUTES)

    page = reporter.mailbox()
    shown = text_of(page)
    assert "Version 1 by the case handler, 5 March 2026" in shown
    assert FIRST_MINUTES in shown
    assert "Earlier versions" not in shown
    # The correction box starts with the handler's text, to be edited rather than retyped.
    assert (
        form_with_button(page, "Suggest corrections").values[
            textarea_of(form_with_button(page, "Suggest corrections"))
        ]
        == FIRST_MINUTES
    )

    sent = press(
        reporter, page, "Suggest corrections", body=CORRECTED + "\r\nAlso: it was at night."
    )
    assert sent.status_code == 303
    after = reporter.get(sent.headers["Location"])
    shown = text_of(after)
    assert "Your corrections have been sent to the case handler." in shown
    assert "Your corrections, version 2, 5 March 2026" in shown
    assert "Also: it was at night." in shown
    assert "Approve the minutes" not in shown  # the handler's turn
    assert handler.the_case().unread_for_handlers is True

    handler.write(meeting, SECOND_MINUTES)
    page = reporter.mailbox()
    shown = text_of(page)
    assert "Version 3 by the case handler" in shown and SECOND_MINUTES in shown
    # Earlier versions are kept and folded away (a <details> element: no JavaScript needed).
    html = page.get_data(as_text=True)
    start = html.index("<details", html.index("</details>"))  # after the report's
    folded = html[start : html.index("</details>", start)]
    assert "Earlier versions (2)" in folded
    assert FIRST_MINUTES in folded and "Also: it was at night." in folded
    assert SECOND_MINUTES not in folded

    approved = press(reporter, page, "Approve the minutes")
    assert approved.status_code == 303
    shown = text_of(reporter.get(approved.headers["Location"]))
    assert "Thank you. You have approved the minutes." in shown
    assert "You approved these minutes on 5 March 2026." in shown
    assert "Suggest corrections" not in shown
    assert handler.versions() == [
        (1, "handler", None),
        (2, "reporter", None),
        (3, "handler", date(2026, 3, 5)),
    ]


def test_an_empty_or_unchanged_correction_is_refused_and_nothing_typed_is_lost(
    reporter: Reporter, handler: Handler
) -> None:
    reporter.report(ReportAnswers(meeting=True))
    reporter.confirm_written_down()
    handler.write(handler.hold_meeting(), FIRST_MINUTES)
    page = reporter.mailbox()

    empty = press(reporter, page, "Suggest corrections", body="  ")
    assert empty.status_code == 200
    html = empty.get_data(as_text=True)
    assert re.search(
        r'<ul class="errors" id="[^"]*body-error">\s*'
        r"<li>Write your corrected version of the minutes.",
        html,
    )
    assert "aria-invalid" in html

    long_text = "Fake correction. " * (MAX_MINUTES_LENGTH // 17 + 1)
    too_long = press(reporter, page, "Suggest corrections", body=long_text)
    assert too_long.status_code == 200
    form = form_with_button(too_long, "Suggest corrections")
    assert form.values[textarea_of(form)] == long_text  # kept, to be shortened
    assert "Please correct the following" in text_of(too_long)

    unchanged = press(reporter, page, "Suggest corrections", body=FIRST_MINUTES)
    assert (
        "You have not changed anything. If the minutes are right, approve them instead."
        in text_of(unchanged)
    )
    # The refused page still works: its own forms send to the right places.
    assert form_with_button(unchanged, "Send").action.endswith("/case/")
    assert handler.versions() == [(1, "handler", None)]


def test_a_page_left_open_cannot_answer_newer_minutes(reporter: Reporter, handler: Handler) -> None:
    reporter.report(ReportAnswers(meeting=True))
    reporter.confirm_written_down()
    meeting = handler.hold_meeting()
    handler.write(meeting, FIRST_MINUTES)
    old_page = reporter.mailbox()
    handler.write(meeting, SECOND_MINUTES)  # the handler revises before the reporter acts

    stale = press(reporter, old_page, "Approve the minutes")
    assert stale.status_code == 303
    assert "The minutes have changed since you opened the page." in text_of(
        reporter.get(stale.headers["Location"])
    )
    assert handler.versions() == [(1, "handler", None), (2, "handler", None)]

    typed = CORRECTED + " Typed against the old page."
    answered = press(reporter, old_page, "Suggest corrections", body=typed)
    assert answered.status_code == 200
    shown = text_of(answered)
    assert "The minutes have changed since you opened the page." in shown
    assert SECOND_MINUTES in shown
    # The typed text is kept, now in the form for the newest version.
    form = form_with_button(answered, "Suggest corrections")
    assert form.values[textarea_of(form)] == typed
    assert handler.versions()[-1][0] == 2
    assert press(reporter, answered, "Suggest corrections", body=typed).status_code == 303
    assert handler.versions()[-1] == (3, "reporter", None)


def test_only_the_reporter_of_the_case_can_approve_or_correct(
    app: Flask, reporter: Reporter, handler: Handler, unit: Unit
) -> None:
    reporter.report(ReportAnswers(meeting=True))
    reporter.confirm_written_down()
    handler.write(handler.hold_meeting(), FIRST_MINUTES)
    page = reporter.mailbox()
    approve = form_with_button(page, "Approve the minutes")
    correct = form_with_button(page, "Suggest corrections")

    # A browser without the reporter's session is refused and led to the code page (issue 16:
    # a form sent without a session says why, and where to go).
    stranger = Reporter(app, unit.org.slug, address="192.0.2.30")
    own_token = csrf_token(stranger.get(f"/o/{unit.org.slug}/case/open"))
    for form in (approve, correct):
        refused_page = stranger.post(form.action, {"csrf_token": own_token})
        assert refused_page.status_code == 403
        assert f'href="/o/{unit.org.slug}/case/open"' in refused_page.get_data(as_text=True)
    # Another reporter, signed in to a case of their own, finds nothing at these addresses.
    stranger.report(ReportAnswers())
    stranger.confirm_written_down()
    token = form_with_button(stranger.mailbox(), "Send").values["csrf_token"]
    assert stranger.post(approve.action, {"csrf_token": token}).status_code == 404
    assert (
        stranger.post(correct.action, {"csrf_token": token, textarea_of(correct): "x"}).status_code
        == 404
    )
    # And the reporter's own browser needs the form's token (CSRF).
    assert reporter.post(approve.action, {}).status_code == 400
    assert handler.versions() == [(1, "handler", None)]
    assert press(reporter, page, "Approve the minutes").status_code == 303
    assert handler.versions() == [(1, "handler", date(2026, 3, 2))]
