"""The handler's workspace of issue 16: the inbox by urgency with filters that stay, the case
page by stage (open and closed), taking a case, stepping aside with care, "case opened" once per
sign-in, and warnings about files that are programs or not what their name says.

Reporters use the real public pages; handlers sign in with password and code. Case codes stay
in variables and are never printed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import (
    OUTCOME_DONE,
    OUTCOME_WHY,
    field_errors,
    hanne,
    henrik,
    newest_case,
    signed_in,
    staff_file_links,
    submit,
    the_case,
)
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from whistle.cases import filetypes, stages
from whistle.core.clock import FixedClock
from whistle.core.deadlines import (
    ACKNOWLEDGEMENT,
    CLOSED,
    DONE,
    FEEDBACK,
    OK,
    OVERDUE,
    SOON,
    case_deadlines,
    due,
    next_open,
)
from whistle.core.models import AuditEntry, Case

FAKE_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200  # a Windows program's first bytes
FAKE_PDF = b"%PDF-1.4\n% fake minutes of a meeting\n" + b"0" * 200


def audit_actions(session: Session, case: Case, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.case_id == case.id, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
    )


def inbox_order(page: TestResponse) -> list[str]:
    assert page.status_code == 200, page.status_code
    return re.findall(r'<a href="/staff/[^/]+/cases/([0-9-]+)">', page.get_data(as_text=True))


# --- deadlines, stages and file types (no pages) ---------------------------------------------


def test_a_deadline_says_days_left_then_days_overdue() -> None:
    today = date(2027, 3, 10)
    assert due(ACKNOWLEDGEMENT, date(2027, 3, 14), None, False, today).state == OK
    assert due(ACKNOWLEDGEMENT, date(2027, 3, 12), None, False, today).state == SOON
    assert due(FEEDBACK, date(2027, 3, 24), None, False, today).state == SOON  # 14 days
    assert due(FEEDBACK, date(2027, 3, 25), None, False, today).state == OK
    late = due(FEEDBACK, date(2027, 3, 7), None, False, today)
    assert (late.state, late.days_left, late.days_overdue) == (OVERDUE, -3, 3)
    met = due(FEEDBACK, date(2027, 3, 7), date(2027, 3, 1), False, today)
    assert (met.state, met.done_on, met.open) == (DONE, date(2027, 3, 1), False)
    assert due(ACKNOWLEDGEMENT, date(2027, 3, 7), None, True, today).state == CLOSED


def test_the_next_deadline_is_the_first_still_open() -> None:
    today = date(2027, 3, 10)
    ack, feedback = case_deadlines(
        closed=False,
        acknowledge_due=date(2027, 3, 14),
        acknowledged_on=None,
        feedback_due=date(2027, 6, 14),
        feedback_on=None,
        today=today,
    )
    assert next_open((ack, feedback)) == ack
    ack, feedback = case_deadlines(
        closed=False,
        acknowledge_due=date(2027, 3, 14),
        acknowledged_on=date(2027, 3, 9),
        feedback_due=date(2027, 6, 9),
        feedback_on=None,
        today=today,
    )
    assert next_open((ack, feedback)) == feedback
    assert next_open(()) is None


def test_the_stages_follow_the_case(app: Flask, session: Session, unit: Unit) -> None:
    case = submit(app, session, unit)
    today = case.received_on
    new = stages.progress(case, today)
    assert [(s.name, s.state) for s in new.stages] == [
        ("received", "done"),
        ("acknowledged", "current"),
        ("investigating", "todo"),
        ("feedback", "todo"),
        ("closed", "todo"),
    ]
    assert (new.next_step, new.due) == (stages.ACKNOWLEDGE, new.acknowledgement)
    case.acknowledged_on, case.status = today, "open"
    assert stages.progress(case, today).next_step == stages.GIVE_FEEDBACK
    case.feedback_on = today
    assert stages.progress(case, today).next_step == stages.CLOSE
    case.status, case.closed_on = "closed", today
    closed = stages.progress(case, today)
    assert closed.next_step == stages.NONE and closed.due is None
    assert all(s.state == "done" for s in closed.stages)
    session.rollback()


def test_files_are_judged_by_their_first_bytes() -> None:
    assert filetypes.sniff("minutes.pdf", FAKE_PDF) is None
    assert filetypes.sniff("minutes.pdf", FAKE_PROGRAM) == filetypes.EXECUTABLE
    assert filetypes.sniff("minutes.pdf", b"Fake text, not a PDF at all.") == filetypes.MISMATCH
    assert filetypes.sniff("photo.jpg", b"\xff\xd8\xff\xe0rest") is None
    assert filetypes.sniff("photo.jpg", b"GIF89a...") == filetypes.MISMATCH
    assert filetypes.sniff("notes.txt", b"#!/bin/sh\nfake") == filetypes.EXECUTABLE
    assert filetypes.sniff("notes.txt", b"Fake\x00binary") == filetypes.MISMATCH
    assert filetypes.sniff("notes.txt", b"Fake notes.") is None
    assert filetypes.sniff("tool.exe", b"anything") == filetypes.EXECUTABLE
    assert filetypes.sniff("budget.xlsm", b"PK\x03\x04...") == filetypes.MACRO
    assert filetypes.sniff("budget.docx", b"PK\x03\x04..word/vbaProject.bin") == filetypes.MACRO
    assert filetypes.sniff("budget.docx", b"PK\x03\x04..word/document.xml") is None
    assert filetypes.sniff("no-extension", b"Fake") is None
    assert filetypes.expected_type("Minutes.Final.PDF") == "PDF"


# --- the inbox ---------------------------------------------------------------------------------


def test_the_inbox_puts_what_is_due_first_and_shows_badges_with_words(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    clock.set(datetime(2027, 3, 1, 9, tzinfo=UTC))
    old = submit(app, session, unit).reference  # acknowledgement due 8 March
    clock.set(datetime(2027, 3, 5, 9, tzinfo=UTC))
    newer = submit(app, session, unit).reference  # due 12 March
    clock.set(datetime(2027, 3, 10, 9, tzinfo=UTC))
    worker = signed_in(hanne(app, clock, unit))
    page = worker.inbox()
    assert inbox_order(page) == [old, newer]
    html = page.get_data(as_text=True)
    # Words and a glyph, never colour alone; references and dates do not wrap.
    assert '<span class="badge overdue"><span aria-hidden="true">⚠</span> Overdue by 2 days' in html
    assert '<span class="badge soon"><span aria-hidden="true">◔</span> 2 days left' in html
    assert f'<td class="nowrap"><a href="/staff/{unit.org.slug}/cases/{old}">{old}</a></td>' in html
    assert '<td class="nowrap">1 Mar 2027</td>' in html
    assert not re.search(r"\b2027-03-\d\d\b", text_of(page))  # no ISO dates


def test_the_filters_stay_for_the_session_and_mine_lists_my_cases(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    mine = submit(app, session, unit).reference
    other = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    assert worker.case_action(mine, "take").status_code == 303

    listed = worker.inbox(mine="1", filtered="1")
    assert inbox_order(listed) == [mine]
    assert 'name="mine" value="1" checked' in listed.get_data(as_text=True)
    # Back to the inbox from anywhere: the same filters, in the address.
    again = worker.inbox()
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/staff/{unit.org.slug}/cases?mine=1")
    # Cleared on request; all filters off is remembered too.
    assert set(inbox_order(worker.inbox(reset="1"))) == {mine, other}
    assert worker.inbox().status_code == 200
    worker.inbox(mine="1", filtered="1")
    assert set(inbox_order(worker.inbox(filtered="1"))) == {mine, other}
    assert worker.inbox().status_code == 200

    # A new sign-in starts afresh.
    worker.inbox(mine="1", filtered="1")
    worker.sign_out()
    worker.sign_in()
    assert worker.inbox().status_code == 200


# --- the case page -----------------------------------------------------------------------------


def test_a_handler_takes_the_case_himself(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit)
    ref = case.reference
    worker = signed_in(henrik(app, clock, unit))
    assert "Responsible: nobody" in text_of(worker.open_case(ref))
    taken = worker.case_action(ref, "take")
    assert taken.status_code == 303
    page = worker.get(taken.headers["Location"])
    assert "You are now responsible for the case." in text_of(page)
    assert "Responsible: you" in text_of(page)
    assert "Take the case" not in text_of(page)  # done: the button is gone
    assert the_case(session, ref).assigned_user_id == unit.handlers[1].user.id
    (entry,) = audit_actions(session, case, "case.assigned")
    assert entry.actor_user_id == unit.handlers[1].user.id
    # Twice (a page left open): refused with a message, nothing logged again.
    again = worker.post(worker.case_path(ref, "take"), {"take-csrf_token": worker.any_token()})
    assert again.status_code == 400
    assert "You are already responsible for this case." in text_of(again)
    assert len(audit_actions(session, case, "case.assigned")) == 1


def test_the_case_page_prompts_the_next_legal_step(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    clock.set(datetime(2027, 3, 7, 9, tzinfo=UTC))
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(ref)
    html, text = page.get_data(as_text=True), text_of(page)
    assert "Next step: acknowledge receipt by 14 March 2027." in text
    # Acknowledged today, feedback falls due 3 months from today (earlier than the 14 June the
    # case shows until then): the prompt and the suggested text say the same day.
    assert "Acknowledged today, feedback falls due by 7 June 2027" in text
    assert "give you feedback at the latest on 7 June 2027" in text
    assert '<li class="stage current" aria-current="step">' in html
    assert html.index('class="next-step"') < html.index('id="report-h"')
    worker.case_action(ref, "acknowledge", {"ack-body": "Fake acknowledgement."})
    clock.set(datetime(2027, 5, 28, 9, tzinfo=UTC))
    worker = signed_in(hanne(app, clock, unit))
    text = text_of(worker.open_case(ref))
    assert "Next step: feedback to the reporter, due in 10 days." in text  # by 7 June
    clock.set(datetime(2027, 6, 10, 9, tzinfo=UTC))
    worker = signed_in(hanne(app, clock, unit))
    text = text_of(worker.open_case(ref))
    assert "Next step: feedback to the reporter, overdue by 3 days." in text
    assert "Acknowledgement Sent 7 March 2027 ✓ Done" in text


def test_a_closed_case_is_read_only_and_says_so(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    worker.case_action(ref, "acknowledge", {"ack-body": "Fake acknowledgement."})
    worker.case_action(
        ref,
        "feedback",
        {"feedback-done": OUTCOME_DONE, "feedback-why": OUTCOME_WHY, "feedback-final": "y"},
    )
    open_page = worker.open_case(ref).get_data(as_text=True)
    closed = worker.case_action(
        ref,
        "close",
        {"close-outcome": "not_substantiated", "close-reason": "Fake reason: nothing found."},
    )
    assert closed.status_code == 303
    page = worker.open_case(ref)
    html, text = page.get_data(as_text=True), text_of(page)
    assert "This case is closed: it can be read, but no longer changed." in text
    assert "Closed: Not substantiated" in text
    assert "Unit · " in text and "· Final outcome" in text
    for raw in ("closed ·", "not_substantiated", "final_outcome", "handler ·", "reporter ·"):
        assert raw not in text, raw
    form_re = r'<form method="post"[^>]* action="[^"]*/cases/[^/"]+/([a-z/0-9-]+)"'
    posts = set(re.findall(form_re, html))
    assert posts == {"hold", "export"}, posts  # keeping the record and handing it over only
    open_posts = set(
        re.findall(r'<form method="post"[^>]* action="[^"]*/cases/[^/"]+/([a-z]+)', open_page)
    )
    assert {"message", "note", "recuse", "close", "hold", "export"} <= open_posts  # open: all
    assert not re.search(r"\b\d{4}-\d\d-\d\d\b", text)  # dates in words, never ISO


def test_case_opened_is_recorded_once_per_sign_in(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit)
    worker = signed_in(hanne(app, clock, unit))
    for _ in range(4):
        assert worker.open_case(case.reference).status_code == 200
    worker.case_action(case.reference, "note", {"note-body": "Fake note."})  # opens it again
    opened = audit_actions(session, case, "case.opened")
    assert [e.actor_user_id for e in opened] == [unit.handlers[0].user.id]
    # A colleague's opening is his own; a new sign-in is a new entry.
    colleague = signed_in(henrik(app, clock, unit))
    colleague.open_case(case.reference)
    clock.advance(timedelta(hours=1))  # the first session has ended
    worker = signed_in(hanne(app, clock, unit))
    worker.open_case(case.reference)
    worker.open_case(case.reference)
    opened = audit_actions(session, case, "case.opened")
    assert [e.actor_user_id for e in opened] == [
        unit.handlers[0].user.id,
        unit.handlers[1].user.id,
        unit.handlers[0].user.id,
    ]
    # The case history on the page lists each opening once.
    history = text_of(worker.open_case(case.reference))
    assert history.count("Case opened") == 3


def test_step_aside_and_remove_for_good_are_danger_buttons_behind_a_confirmation(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    assert reporter.reply("Fake reply: nothing to add.").status_code == 303
    case = newest_case(session)
    worker = signed_in(hanne(app, clock, unit))
    html = worker.open_case(case.reference).get_data(as_text=True)
    assert '<button type="submit" class="danger">Step aside and destroy my keys</button>' in html
    assert '<button type="submit" class="danger">Remove for good</button>' in html
    recuse = html[html.index('<details class="action recuse"') :]
    recuse = recuse[: recuse.index("</details>")]
    assert "your keys to this case are destroyed" in recuse
    assert 'name="recuse-confirm"' in recuse and 'name="recuse-reason"' in recuse
    assert "Only a unit lead can give it back to you later." in recuse

    message_id = re.search(r"/purge/message/(\d+)", html)
    assert message_id is not None
    prefix = f"purge-message-{message_id.group(1)}"
    unconfirmed = worker.case_action(
        case.reference,
        f"purge/message/{message_id.group(1)}",
        {f"{prefix}-reason": "Fake reason: a greeting only."},
    )
    assert unconfirmed.status_code == 400
    assert field_errors(unconfirmed, f"{prefix}-confirm") == [
        "Confirm that the item is deleted for good."
    ]
    assert "Fake reply: nothing to add." in text_of(worker.open_case(case.reference))


# --- files -------------------------------------------------------------------------------------


def test_a_handler_is_warned_before_downloading_a_program_named_like_a_document(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(
        ReportAnswers(
            files=[Upload("minutes.pdf", FAKE_PROGRAM), Upload("notes.txt", b"Fake notes.\n")]
        )
    )
    case = newest_case(session)
    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(case.reference)
    text = text_of(page)
    assert "minutes.pdf" in text and "Program or script: do not open it" in text
    assert text.count("⚠") == 1  # the honest text file gets no warning
    links = staff_file_links(page)

    warned = worker.get(links["minutes.pdf"])
    assert warned.status_code == 200 and warned.mimetype == "text/html"
    assert "This file is a program or a script." in text_of(warned)
    assert not audit_actions(session, case, "case.file_downloaded")  # nothing downloaded yet
    anyway = worker.get(links["minutes.pdf"] + "?anyway=1")
    assert anyway.data == FAKE_PROGRAM
    assert len(audit_actions(session, case, "case.file_downloaded")) == 1

    plain = worker.get(links["notes.txt"])
    assert plain.data == b"Fake notes.\n"
