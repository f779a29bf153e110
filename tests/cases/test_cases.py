"""The whistleblower unit's workspace, as the unit uses it (REQUIREMENTS.md D1-D5, K1-K3, S6).

Reporters use the real public pages; handlers and leads sign in with password and code and use
the case pages the way a person does: open the inbox, open the case, fill in a form, send it.
Case codes are kept in variables and never printed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import (
    OUTCOME_DONE,
    OUTCOME_WHY,
    REPORT_TEXT,
    field_errors,
    hanne,
    henrik,
    keys_of,
    messages_of,
    newest_case,
    signed_in,
    staff_file_links,
    submit,
    the_case,
)
from tests.steps.factories import Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload, file_links
from tests.steps.staff import CaseWorker, form_token
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import NoAccess
from whistle.cases import closing, handling
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, Case, CaseKey, CaseNote, Category, Role
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore

QUESTION = "Fake question: on which days did you see the pallets leave?"
QUESTION_FILE = Upload("floor-plan.txt", b"Fake floor plan of the warehouse.\n" * 50)
ANSWER = "Fake answer: on Mondays and Thursdays, after closing time."
ANSWER_FILE = Upload("photo-notes.txt", b"Fake notes about the photos.\n" * 80)
RECUSAL_REASON = "Fake reason: I know the people in the warehouse team."
DONE = "Fake follow-up: we interviewed the warehouse staff and checked the stock lists."
WHY = "Fake reasons: the stock lists are the only record of what left the warehouse."


def lise(app: Flask, clock: FixedClock, unit: Unit) -> CaseWorker:
    return CaseWorker(app, clock, unit.handlers[2], slug=unit.org.slug)


def case_actions(session: Session, case: Case) -> list[tuple[int | None, str]]:
    """The case's audit trail as (who, what)."""
    session.expire_all()
    return [
        (actor, action)
        for actor, action in session.execute(
            select(AuditEntry.actor_user_id, AuditEntry.action)
            .where(AuditEntry.case_id == case.id)
            .order_by(AuditEntry.seq)
        )
    ]


def inbox_rows(page: TestResponse) -> dict[str, str]:
    """The inbox table as shown: case reference -> the row's text."""
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    rows = {}
    for row in re.findall(r'<tr class="deadline-[a-z_]+">(.*?)</tr>', html, re.S):
        text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        rows[text.split(" ")[0]] = text
    return rows


def linked_cases(page: TestResponse) -> set[str]:
    """The references in the inbox that are links to a case page."""
    return set(re.findall(r'<a href="/staff/[^/]+/cases/([0-9-]+)">', page.get_data(as_text=True)))


def readers(page: TestResponse) -> list[str]:
    """The names under "Who can read this case"."""
    found = re.search(
        r'<h2 id="access-h">.*?</h2>\s*<ul>(.*?)</ul>', page.get_data(as_text=True), re.S
    )
    assert found, "the case page does not say who can read it"
    return [unescape(n) for n in re.findall(r"<li>([^<]*)</li>", found.group(1))]


# --- the journey -----------------------------------------------------------------------------


def test_a_report_from_intake_to_closure(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers(what=REPORT_TEXT))
    case = newest_case(session)
    ref = case.reference

    # The case waits in the inbox with its acknowledgement deadline: received + 7 days.
    worker = signed_in(hanne(app, clock, unit))
    row = inbox_rows(worker.inbox())[ref]
    assert "7 days left 9 Mar 2026" in row  # received on 2 March
    assert "99 days left 9 Jun 2026" in row  # feedback, 3 months after the 7 days

    # Opening it shows the report, and the opening is logged.
    page = worker.open_case(ref)
    assert page.status_code == 200
    assert REPORT_TEXT in text_of(page)
    assert (worker.staff.user.id, "case.opened") in case_actions(session, case)

    # Acknowledge: the suggested text names the feedback deadline; the 3 months start now.
    clock.advance(timedelta(days=2))
    worker = signed_in(hanne(app, clock, unit))  # two days later: a new sign-in
    assert "give you feedback at the latest on 4 June 2026" in text_of(worker.open_case(ref))
    sent = worker.case_action(
        ref, "acknowledge", {"ack-body": "Fake acknowledgement: thank you, we have your report."}
    )
    assert sent.status_code == 303
    case = the_case(session, ref)
    assert (case.status, case.acknowledged_on, case.feedback_due) == (
        "open",
        date(2026, 3, 4),
        date(2026, 6, 4),
    )
    page = text_of(worker.open_case(ref))
    assert "The acknowledgement has been sent." not in page  # only right after sending
    assert "Sent 4 March 2026" in page and "Due by 4 June 2026" in page
    assert "Send the acknowledgement" not in page  # once is enough
    assert "✓ Done 4 Mar 2026" in inbox_rows(worker.inbox())[ref]
    assert "92 days left 4 Jun 2026" in inbox_rows(worker.inbox())[ref]

    assert reporter.open_case(code).status_code == 303
    mailbox = text_of(reporter.mailbox())
    assert "Fake acknowledgement: thank you, we have your report." in mailbox
    assert "Acknowledgement of receipt" in mailbox

    # A question with a file; the reporter reads both.
    sent = worker.case_action(
        ref,
        "message",
        {
            "msg-body": QUESTION,
            "msg-question": "y",
            "msg-attachments": [QUESTION_FILE.as_form_value()],
        },
    )
    assert sent.status_code == 303
    mailbox_page = reporter.mailbox()
    assert QUESTION in text_of(mailbox_page)
    links = file_links(mailbox_page)
    assert list(links) == [QUESTION_FILE.name]
    assert reporter.get(links[QUESTION_FILE.name]).data == QUESTION_FILE.data

    # The reporter answers with a file: the inbox flags it until a handler opens the case.
    assert reporter.reply(ANSWER, [ANSWER_FILE]).status_code == 303
    assert ref in inbox_rows(worker.inbox(unread="1"))
    case_page = worker.open_case(ref)
    assert ANSWER in text_of(case_page)
    answer_file = staff_file_links(case_page)[ANSWER_FILE.name]
    assert worker.get(answer_file).data == ANSWER_FILE.data
    assert ref not in inbox_rows(worker.inbox(unread="1"))
    assert ref in inbox_rows(worker.inbox(reset="1"))

    # Feedback needs both what is done and why (D3): a missing part is sent back, nothing goes.
    before = messages_of(session, case)
    missing_why = worker.case_action(ref, "feedback", {"feedback-done": DONE, "feedback-why": ""})
    assert missing_why.status_code == 400
    assert field_errors(missing_why, "feedback-why") == ["Say why."]
    assert DONE in missing_why.get_data(as_text=True)  # what was typed is kept
    missing_done = worker.case_action(ref, "feedback", {"feedback-done": " ", "feedback-why": WHY})
    assert missing_done.status_code == 400
    assert field_errors(missing_done, "feedback-done") == [
        "Say what has been done or will be done."
    ]
    assert messages_of(session, case) == before
    assert the_case(session, ref).feedback_on is None

    clock.advance(timedelta(days=20))
    worker = signed_in(hanne(app, clock, unit))
    sent = worker.case_action(ref, "feedback", {"feedback-done": DONE, "feedback-why": WHY})
    assert sent.status_code == 303
    assert messages_of(session, case)[-1] == "interim_feedback"
    assert the_case(session, ref).feedback_on == date(2026, 3, 24)
    assert "✓ Done 24 Mar 2026" in inbox_rows(worker.inbox())[ref]

    # Closing before the reporter has the final outcome is refused, with the reason shown.
    early = worker.case_action(
        ref,
        "close",
        {"close-outcome": "not_substantiated", "close-reason": "Fake reason: nothing missing."},
    )
    assert early.status_code == 400
    assert field_errors(early, "close-outcome") == [
        "Send the final outcome to the reporter before closing the case."
    ]
    assert the_case(session, ref).status == "open"

    sent = worker.case_action(
        ref,
        "feedback",
        {"feedback-done": OUTCOME_DONE, "feedback-why": OUTCOME_WHY, "feedback-final": "y"},
    )
    assert sent.status_code == 303
    assert the_case(session, ref).feedback_on == date(2026, 3, 24)  # the first one counts

    closed = worker.case_action(
        ref,
        "close",
        {"close-outcome": "not_substantiated", "close-reason": "Fake reason: nothing missing."},
    )
    assert closed.status_code == 303
    case = the_case(session, ref)
    assert (case.status, case.outcome, case.closed_on) == (
        "closed",
        "not_substantiated",
        date(2026, 3, 24),
    )
    page = text_of(worker.open_case(ref))
    assert "Closed: Not substantiated" in page
    assert "Close the case" not in page  # no actions on a closed case
    assert "Fake reason: nothing missing." in page  # the closure note, for the unit

    assert reporter.open_case(code).status_code == 303  # weeks later: the code again
    mailbox = text_of(reporter.mailbox())
    for text in (DONE, WHY, OUTCOME_DONE, OUTCOME_WHY):
        assert text in mailbox
    assert "Final outcome" in mailbox and "Closed" in mailbox
    assert "Fake reason: nothing missing." not in mailbox  # the internal reason stays inside
    hanne_id = worker.staff.user.id
    assert [a for who, a in case_actions(session, case) if who == hanne_id][:1] == ["case.opened"]
    assert [
        a for who, a in case_actions(session, case) if who == hanne_id and a != "case.opened"
    ] == [
        "case.acknowledged",
        "case.message_sent",
        "case.file_downloaded",
        "case.interim_feedback",
        "case.final_outcome",
        "case.closed",
    ]


def test_substantiated_needs_the_hearing_of_the_person_concerned_first(
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
    close = {"close-outcome": "substantiated", "close-reason": "Fake reason: proven."}
    refused = worker.case_action(ref, "close", close)
    assert refused.status_code == 400
    assert field_errors(refused, "close-outcome") == [
        "Record the hearing of the person concerned (or why none is needed) first."
    ]
    assert the_case(session, ref).status == "open"

    no_choice = worker.case_action(ref, "hearing", {"hearing-account": "Fake hearing."})
    assert no_choice.status_code == 400
    assert field_errors(no_choice, "hearing-hearing") == [
        "Choose whether the person concerned was heard."
    ]
    heard = worker.case_action(
        ref,
        "hearing",
        {"hearing-hearing": "held", "hearing-account": "Fake hearing: the manager was heard."},
    )
    assert heard.status_code == 303
    page = text_of(worker.open_case(ref))
    assert "The person concerned has been heard" in page
    assert "Fake hearing: the manager was heard." in page

    # Substantiated cases go on to follow-up: the organisation's preset asks for a date.
    no_date = worker.case_action(ref, "close", close)
    assert no_date.status_code == 400
    assert field_errors(no_date, "close-keep_until") == [
        "Choose the date until which the case is kept (for example, the end of the "
        "disciplinary or legal follow-up)."
    ]
    keep = {**close, "close-keep_until": "2027-06-30"}
    assert worker.case_action(ref, "close", keep).status_code == 303
    closed = the_case(session, ref)
    assert (closed.status, closed.outcome) == ("closed", "substantiated")
    assert (closed.delete_on, closed.retention_rule) == (date(2027, 6, 30), "substantiated:date")


def test_outside_the_scope_needs_a_referral_which_the_reporter_receives(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers(what="Fake report: the canteen coffee is too weak."))
    ref = newest_case(session).reference
    worker = signed_in(hanne(app, clock, unit))

    unchosen = worker.case_action(ref, "scope", {"scope-reason": "Fake reason."})
    assert unchosen.status_code == 400
    assert field_errors(unchosen, "scope-scope") == ["Choose an assessment."]
    scoped = worker.case_action(
        ref,
        "scope",
        {"scope-scope": "outside_scope", "scope-reason": "Fake reason: a matter of taste."},
    )
    assert scoped.status_code == 303
    assert "Outside the scope of the scheme" in text_of(worker.open_case(ref))
    assert ref in inbox_rows(worker.inbox(scope="outside_scope"))
    assert ref not in inbox_rows(worker.inbox(scope="unassessed"))

    close = {"close-outcome": "outside_scope", "close-reason": "Fake reason: taste."}
    refused = worker.case_action(ref, "close", close)
    assert refused.status_code == 400
    assert field_errors(refused, "close-referral") == [
        "Tell the reporter where else they can turn."
    ]
    case = the_case(session, ref)
    assert case.status == "new" and messages_of(session, case) == []

    referral = "Fake referral: you can write to Datatilsynet's scheme at whistleblower.dk."
    closed = worker.case_action(ref, "close", {**close, "close-referral": referral})
    assert closed.status_code == 303
    case = the_case(session, ref)
    assert (case.status, case.outcome, case.scope) == ("closed", "outside_scope", "outside_scope")
    assert messages_of(session, case) == ["final_outcome"]

    reporter.open_case(code)
    mailbox = text_of(reporter.mailbox())
    assert referral in mailbox
    assert "Fake reason: taste." not in mailbox


def test_a_closed_case_takes_no_more_messages(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    form_page = worker.open_case(ref)
    worker.case_action(
        ref,
        "close",
        {
            "close-outcome": "outside_scope",
            "close-reason": "Fake reason.",
            "close-referral": "Fake referral.",
        },
    )
    # A page left open from before the closing still posts; the case refuses it, and says why.
    name, token = form_token(form_page, worker.case_path(ref, "message"))
    late = worker.post(worker.case_path(ref, "message"), {name: token, "msg-body": "Fake late."})
    assert late.status_code == 400
    assert "The case is closed." in text_of(late)
    assert messages_of(session, the_case(session, ref)) == ["final_outcome"]


def test_a_second_acknowledgement_from_a_page_left_open_is_refused(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    other_tab = worker.open_case(ref)
    sent = worker.case_action(ref, "acknowledge", {"ack-body": "Fake acknowledgement."})
    assert sent.status_code == 303
    name, token = form_token(other_tab, worker.case_path(ref, "acknowledge"))
    again = worker.post(
        worker.case_path(ref, "acknowledge"), {name: token, "ack-body": "Fake second one."}
    )
    assert again.status_code == 400
    assert "Receipt has already been acknowledged." in text_of(again)
    assert messages_of(session, the_case(session, ref)) == ["acknowledgement"]


def test_notes_stay_inside_the_unit(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers())
    ref = newest_case(session).reference
    worker = signed_in(hanne(app, clock, unit))
    empty = worker.case_action(ref, "note", {"note-body": "  "})
    assert empty.status_code == 400
    assert field_errors(empty, "note-body") == ["Write the note."]
    assert worker.case_action(ref, "note", {"note-body": "Fake note: call IT."}).status_code == 303
    colleague = signed_in(henrik(app, clock, unit))
    assert "Fake note: call IT." in text_of(colleague.open_case(ref))
    reporter.open_case(code)
    assert "Fake note: call IT." not in reporter.mailbox().get_data(as_text=True)


# --- deadlines -------------------------------------------------------------------------------


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "acknowledged", "feedback_due"),
    [
        (date(2026, 11, 25), date(2026, 11, 30), date(2027, 2, 28)),
        (date(2027, 1, 26), date(2027, 1, 31), date(2027, 4, 30)),
        (date(2027, 11, 24), date(2027, 11, 30), date(2028, 2, 29)),  # a leap year
        (date(2026, 8, 28), date(2026, 8, 31), date(2026, 11, 30)),
    ],
)
def test_feedback_is_due_three_months_after_the_acknowledgement_across_month_ends(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    received: date,
    acknowledged: date,
    feedback_due: date,
) -> None:
    clock.set(at(received))
    ref = submit(app, session, unit).reference
    clock.set(at(acknowledged))
    worker = signed_in(hanne(app, clock, unit))
    suggested = text_of(worker.open_case(ref))
    in_words = f"{feedback_due.day} {feedback_due:%B %Y}"
    assert f"give you feedback at the latest on {in_words}." in suggested
    worker.case_action(ref, "acknowledge", {"ack-body": "Fake acknowledgement."})
    case = the_case(session, ref)
    assert (case.acknowledged_on, case.feedback_due) == (acknowledged, feedback_due)
    assert f"left {feedback_due.day} {feedback_due:%b %Y}" in inbox_rows(worker.inbox())[ref]


def test_without_an_acknowledgement_feedback_counts_from_the_end_of_the_seven_days(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    clock.set(at(date(2026, 11, 23)))
    ref = submit(app, session, unit).reference  # 7 days run out on 30 November
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.open_case(ref))
    assert "Due by 30 November 2026" in page and "Due by 28 February 2027" in page


# Received and acknowledged dates of cases seen in the inbox on 30 June 2026, with the state
# each must show that day: the acknowledgement is due soon within 2 days, feedback within 14,
# and a deadline is overdue only after its day.
TODAY = date(2026, 6, 30)
DEADLINE_CASES: dict[str, tuple[str, str | None, str | None, str]] = {
    # name: (received, acknowledged, feedback given (2026-MM-DD), the row's deadline and state)
    "feedback overdue": ("03-25", "03-29", None, "⚠ Overdue by 1 day 29 Jun 2026"),
    "feedback due today": ("03-26", "03-31", None, "◔ Due today 30 Jun 2026"),
    "feedback met": ("04-01", "04-02", "04-20", "✓ Done 2 Apr 2026 ✓ Done 20 Apr 2026"),
    "feedback in 14 days": ("04-10", "04-14", None, "◔ 14 days left 14 Jul 2026"),
    "feedback in 15 days": ("04-10", "04-15", None, "○ 15 days left 15 Jul 2026"),
    "ack overdue": ("06-20", None, None, "⚠ Overdue by 3 days 27 Jun 2026"),
    "ack due today": ("06-23", None, None, "◔ Due today 30 Jun 2026"),
    "ack in 2 days": ("06-25", None, None, "◔ 2 days left 2 Jul 2026"),
    "ack in 3 days": ("06-26", None, None, "○ 3 days left 3 Jul 2026"),
}


def day_of_2026(month_day: str) -> date:
    return date.fromisoformat(f"2026-{month_day}")


def build_deadline_cases(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> dict[str, str]:
    """The cases above, made by moving the clock through the spring; name -> reference."""
    staff = unit.handlers[0]
    steps: list[tuple[date, str, str]] = []
    for name, (received, acknowledged, given, _) in DEADLINE_CASES.items():
        steps.append((day_of_2026(received), "receive", name))
        if acknowledged:
            steps.append((day_of_2026(acknowledged), "acknowledge", name))
        if given:
            steps.append((day_of_2026(given), "feedback", name))
    refs: dict[str, str] = {}
    store = FileStore(runtime(app).settings.file_store)
    order = {"receive": 0, "acknowledge": 1, "feedback": 2}
    for day, step, name in sorted(steps, key=lambda s: (s[0], order[s[1]])):
        clock.set(at(day))
        if step == "receive":
            refs[name] = submit(app, session, unit).reference
            continue
        case = the_case(session, refs[name])
        keys = keys_of(session, case, staff)
        with app.app_context():
            if step == "acknowledge":
                handling.acknowledge(
                    session, clock, store, case, keys, staff.user.id, "Fake acknowledgement."
                )
            else:
                handling.give_feedback(
                    session,
                    clock,
                    store,
                    case,
                    keys,
                    staff.user.id,
                    done=DONE,
                    why=WHY,
                    final=False,
                )
    clock.set(at(TODAY))
    return refs


def test_the_inbox_warns_before_deadlines_and_flags_them_overdue(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    refs = build_deadline_cases(app, session, unit, clock)
    worker = signed_in(hanne(app, clock, unit))
    rows = inbox_rows(worker.inbox())
    for name, (_, _, _, shown) in DEADLINE_CASES.items():
        assert shown in rows[refs[name]], name

    def listed(deadline: str) -> set[str]:
        names = {ref: name for name, ref in refs.items()}
        return {names[ref] for ref in inbox_rows(worker.inbox(deadline=deadline))}

    assert listed("overdue") == {"feedback overdue", "ack overdue"}
    assert listed("due_soon") == {
        "feedback due today",
        "feedback in 14 days",
        "ack due today",
        "ack in 2 days",
    }
    # "On time" lists the cases with a deadline still ahead, not those whose deadlines are met.
    assert listed("on_time") == {"feedback in 15 days", "ack in 3 days"}

    # A day later, what was due today is overdue.
    clock.advance(timedelta(days=1))
    worker = signed_in(hanne(app, clock, unit))
    assert listed("overdue") == {
        "feedback overdue",
        "feedback due today",
        "ack overdue",
        "ack due today",
    }
    page = text_of(worker.open_case(refs["ack due today"]))
    assert "Next step: acknowledge receipt by 30 June 2026. ⚠ Overdue by 1 day" in page


def test_the_inbox_sorts_by_received_date_and_by_deadlines(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    refs = build_deadline_cases(app, session, unit, clock)
    names = {ref: name for name, ref in refs.items()}
    worker = signed_in(hanne(app, clock, unit))

    def order(sort: str) -> list[str]:
        return [names[ref] for ref in inbox_rows(worker.inbox(sort=sort))]

    by_received = sorted(DEADLINE_CASES, key=lambda n: (DEADLINE_CASES[n][0], refs[n]))
    assert order("received_asc") == by_received
    assert order("received_desc") == list(reversed(by_received))
    assert order("ack_due")[:3] == ["feedback overdue", "feedback due today", "feedback met"]
    assert order("ack_due")[-1] == "ack in 3 days"
    assert order("feedback_due")[:2] == ["feedback overdue", "feedback due today"]
    # By default, what is due first comes first: the open deadline's day (on the same day, the
    # case that came in first), then the cases whose deadlines are all met, newest first.
    assert order("due") == [
        "ack overdue",
        "feedback overdue",
        "feedback due today",
        "ack due today",
        "ack in 2 days",
        "ack in 3 days",
        "feedback in 14 days",
        "feedback in 15 days",
        "feedback met",
    ]
    assert order("nonsense") == order("due")
    assert [names[ref] for ref in inbox_rows(worker.inbox(reset="1"))] == order("due")


def test_the_inbox_filters_by_status_category_scope_and_unread(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    staff = unit.handlers[0]
    harassment = submit(app, session, unit, category="harassment").reference
    unsure = submit(app, session, unit).reference
    closed = submit(app, session, unit).reference
    store = FileStore(runtime(app).settings.file_store)
    with app.app_context():
        case = the_case(session, unsure)
        keys = keys_of(session, case, staff)
        handling.acknowledge(session, clock, store, case, keys, staff.user.id, "Fake ack.")
        handling.assess_scope(
            session, clock, case, keys, staff.user.id, scope="in_scope", reason="Fake reason."
        )
        case = the_case(session, closed)
        closing.close_case(
            session,
            clock,
            store,
            case,
            keys_of(session, case, staff),
            staff.user.id,
            outcome="outside_scope",
            reason="Fake reason.",
            referral="Fake referral.",
        )
    worker = signed_in(hanne(app, clock, unit))
    harassment_id = str(
        session.scalars(
            select(Category.id).where(Category.org_id == unit.org.id, Category.code == "harassment")
        ).one()
    )

    def listed(**query: str) -> set[str]:
        return set(inbox_rows(worker.inbox(**query)))

    assert listed() == {harassment, unsure, closed}
    assert listed(status="new") == {harassment}
    assert listed(status="open") == {unsure}
    assert listed(status="closed") == {closed}
    assert listed(category=harassment_id) == {harassment}
    assert listed(scope="in_scope") == {unsure}
    assert listed(scope="outside_scope") == {closed}
    assert listed(scope="unassessed") == {harassment}
    assert listed(status="new", category=harassment_id, scope="unassessed") == {harassment}
    # New reports are unread until someone opens them.
    assert listed(unread="1") == {harassment, unsure, closed}
    worker.open_case(harassment)
    assert listed(unread="1") == {unsure, closed}
    # The page keeps the chosen filters.
    page = worker.inbox(status="new", scope="unassessed").get_data(as_text=True)
    assert '<option value="new" selected>' in page
    assert '<option value="unassessed" selected>' in page


def test_the_inbox_is_paginated_on_the_server(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    made = [submit(app, session, unit).reference for _ in range(53)]
    worker = signed_in(hanne(app, clock, unit))
    first = worker.inbox(sort="received_asc")
    assert "53 cases" in text_of(first)
    assert "Page 1 of 2" in text_of(first)
    assert list(inbox_rows(first)) == made[:50]
    nxt = re.search(r'<a href="([^"]+)" rel="next">', first.get_data(as_text=True))
    assert nxt, "page 1 has no link to the next page"
    second = worker.get(unescape(nxt.group(1)))
    assert "Page 2 of 2" in text_of(second)
    assert list(inbox_rows(second)) == made[50:]  # the sort order is kept across pages
    assert 'rel="next"' not in second.get_data(as_text=True)
    # A page beyond the end shows the last one, not an error.
    assert list(inbox_rows(worker.inbox(sort="received_asc", page="9"))) == made[50:]


def test_a_long_inbox_counts_only_up_to_a_cap_and_still_pages(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counting stops at the cap (so a page costs the same with 100 or 100,000 cases); the
    list still pages to its end, and a page past the end is empty with a way back."""
    monkeypatch.setattr("whistle.cases.inbox.COUNT_CAP", 20)
    made = [submit(app, session, unit).reference for _ in range(53)]
    worker = signed_in(hanne(app, clock, unit))
    first = worker.inbox(sort="received_asc")
    shown = text_of(first)
    assert "More than 20 cases" in shown and "53 cases" not in shown
    assert "Page 1" in shown and "Page 1 of" not in shown
    assert list(inbox_rows(first)) == made[:50]
    nxt = re.search(r'<a href="([^"]+)" rel="next">', first.get_data(as_text=True))
    assert nxt, "page 1 has no link to the next page"
    second = worker.get(unescape(nxt.group(1)))
    assert list(inbox_rows(second)) == made[50:]
    assert 'rel="next"' not in second.get_data(as_text=True)
    assert 'rel="prev"' in second.get_data(as_text=True)
    beyond = worker.inbox(sort="received_asc", page="9")
    assert list(inbox_rows(beyond)) == []
    assert 'rel="prev"' in beyond.get_data(as_text=True)


# --- identity --------------------------------------------------------------------------------


def test_the_identity_is_revealed_only_for_a_reason_and_the_reveal_is_recorded(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(named=True, name="Testa Testesen", contact="testa@example.org"))
    case = newest_case(session)
    ref = case.reference
    worker = signed_in(hanne(app, clock, unit))

    page = worker.open_case(ref)
    assert "Named (identity protected)" in text_of(page)
    assert "Testa Testesen" not in page.get_data(as_text=True)

    no_reason = worker.case_action(ref, "reveal", {"reveal-reason": ""})
    assert no_reason.status_code == 400
    assert field_errors(no_reason, "reveal-reason") == ["Say why you need to see the identity."]
    assert "Testa Testesen" not in no_reason.get_data(as_text=True)

    reason = "Fake reason: the police asked for the reporter as a witness."
    shown = worker.case_action(ref, "reveal", {"reveal-reason": reason})
    assert shown.status_code == 200
    text = text_of(shown)
    assert "Name Testa Testesen" in text and "Contact testa@example.org" in text
    assert "Shown once, on this page only." in text
    assert "Cache-Control" in shown.headers and "no-store" in shown.headers["Cache-Control"]

    # Once: the next visit to the case shows the reason, never the name again.
    again = worker.open_case(ref)
    assert "Testa Testesen" not in again.get_data(as_text=True)
    assert reason in text_of(again)
    assert "Identity revealed, reason" in text_of(again)

    session.expire_all()
    notes = session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).all()
    assert [n.kind for n in notes] == ["identity_reveal"]
    reveal = session.scalars(
        select(AuditEntry).where(
            AuditEntry.case_id == case.id, AuditEntry.action == "identity.revealed"
        )
    ).one()
    assert reveal.actor_user_id == worker.staff.user.id
    assert "Testa" not in reveal.detail and "testa@" not in reveal.detail
    assert "police" not in reveal.detail


def test_a_handler_without_the_identity_key_cannot_reveal(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit, name="Testa Testesen")
    staff = unit.handlers[1]
    # Henrik holds the report but not the identity (as when access was given without it).
    session.execute(
        CaseKey.__table__.delete().where(
            CaseKey.case_id == case.id, CaseKey.user_id == staff.user.id, CaseKey.kind == "identity"
        )
    )
    session.commit()
    worker = signed_in(henrik(app, clock, unit))
    page = worker.open_case(case.reference)
    assert page.status_code == 200
    assert "You hold no key to the reporter's identity." in text_of(page)
    assert "Reveal the identity" not in text_of(page)

    forged = worker.post(
        worker.case_path(case.reference, "reveal"),
        {"reveal-csrf_token": worker.any_token(), "reveal-reason": "Fake reason."},
    )
    assert forged.status_code == 403
    assert "Testa Testesen" not in forged.get_data(as_text=True)
    with pytest.raises(NoAccess), app.app_context():
        handling.reveal_identity(
            session, clock, case, keys_of(session, case, staff), staff.user.id, "Fake reason."
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CaseNote)) == 0


# --- access ----------------------------------------------------------------------------------


def test_an_excluded_handler_can_never_read_the_case(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    henrik_staff, lise_staff = unit.handlers[1], unit.handlers[2]
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(exclude=[henrik_staff.user.id, lise_staff.user.id]))
    case = newest_case(session)
    ref = case.reference

    excluded = signed_in(henrik(app, clock, unit))
    assert ref not in inbox_rows(excluded.inbox())
    denied = excluded.open_case(ref)
    assert denied.status_code == 403
    assert REPORT_TEXT not in denied.get_data(as_text=True)
    with pytest.raises(NoAccess):
        keys_of(session, case, henrik_staff)

    # The lead sees that the case exists (metadata, to share out work), but no link and no key.
    lead = signed_in(lise(app, clock, unit))
    assert ref not in inbox_rows(lead.inbox())
    everything = lead.inbox(all="1")
    assert "(no key)" in inbox_rows(everything)[ref]
    assert ref not in linked_cases(everything)
    assert lead.open_case(ref).status_code == 403
    # "All cases" is for leads only: a handler asking for it gets their own list.
    assert ref not in inbox_rows(excluded.inbox(all="1"))

    # The excluded are never offered, and a forged grant is refused.
    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(ref)
    assert "Give access" not in text_of(page)  # nobody else may be given this case
    for staff in (henrik_staff, lise_staff):
        forged = worker.post(
            worker.case_path(ref, "grant"),
            {"grant-csrf_token": worker.any_token(), "grant-grantee": str(staff.user.id)},
        )
        assert forged.status_code == 400
        assert "Choose a colleague who may handle this case." in text_of(forged)
        session.expire_all()
        assert session.scalars(select(CaseKey).where(CaseKey.user_id == staff.user.id)).all() == []
    with pytest.raises(Refused), app.app_context():
        case_sharing.grant_access(
            session, clock, case, keys_of(session, case, unit.handlers[0]),
            unit.handlers[0].user.id, henrik_staff.user.id,
        )  # fmt: skip
    session.rollback()
    assert excluded.open_case(ref).status_code == 403


def test_a_handler_gives_the_case_to_a_new_colleague(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit, name="Testa Testesen")
    ref = case.reference
    with app.app_context():
        newcomer = add_staff(
            session,
            clock,
            unit.org,
            "Helle Handler",
            [Role.HANDLER],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, newcomer)  # a lead checked her key
    colleague = signed_in(CaseWorker(app, clock, newcomer, slug=unit.org.slug))
    assert colleague.open_case(ref).status_code == 403  # joined after the report came in
    assert ref not in inbox_rows(colleague.inbox())

    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(ref)
    offered = re.findall(
        r'<option value="(\d+)">([^<]+)</option>',
        page.get_data(as_text=True).split('id="grant-grantee"')[1].split("</select>")[0],
    )
    assert offered == [(str(newcomer.user.id), "Helle Handler")]
    granted = worker.case_action(ref, "grant", {"grant-grantee": str(newcomer.user.id)})
    assert granted.status_code == 303
    assert "Your colleague now has access to the case." in text_of(worker.get(granted.location))
    session.expire_all()
    assert sorted(
        session.scalars(select(CaseKey.kind).where(CaseKey.user_id == newcomer.user.id))
    ) == ["content", "identity", "notes"]
    assert (worker.staff.user.id, "case.access_granted") in case_actions(session, case)

    assert ref in linked_cases(colleague.inbox())
    page = colleague.open_case(ref)
    assert page.status_code == 200 and REPORT_TEXT in text_of(page)
    assert "Reveal the identity" in text_of(page)  # the identity key came along


def test_a_handler_who_steps_aside_loses_the_keys(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit)
    ref = case.reference
    henrik_staff = unit.handlers[1]
    worker = signed_in(henrik(app, clock, unit))
    assert worker.open_case(ref).status_code == 200

    # One click is not enough: the reason and the confirmation are asked for, and nothing
    # happens without them.
    bare = worker.case_action(ref, "recuse")
    assert bare.status_code == 400
    assert field_errors(bare, "recuse-reason") == ["Say why you step aside."]
    unconfirmed = worker.case_action(ref, "recuse", {"recuse-reason": RECUSAL_REASON})
    assert unconfirmed.status_code == 400
    assert field_errors(unconfirmed, "recuse-confirm") == [
        "Confirm that you understand you will no longer be able to read the case."
    ]
    assert RECUSAL_REASON in unconfirmed.get_data(as_text=True)  # what was typed is kept
    assert (henrik_staff.user.id, "case.recused") not in case_actions(session, case)
    assert keys_of(session, case, henrik_staff).notes is not None

    left = worker.case_action(
        ref, "recuse", {"recuse-reason": RECUSAL_REASON, "recuse-confirm": "y"}
    )
    assert left.status_code == 303
    assert "Your keys to it have been destroyed." in text_of(worker.get(left.location))
    session.expire_all()
    assert (
        session.scalars(select(CaseKey).where(CaseKey.user_id == henrik_staff.user.id)).all() == []
    )
    assert (henrik_staff.user.id, "case.recused") in case_actions(session, case)
    assert worker.open_case(ref).status_code == 403
    assert ref not in inbox_rows(worker.inbox())
    with pytest.raises(NoAccess):
        keys_of(session, case, henrik_staff)

    # The others still hold the case, and may give it back to him later.
    colleague = signed_in(hanne(app, clock, unit))
    colleague_page = colleague.open_case(ref)
    assert readers(colleague_page) == ["Hanne Handler", "Lise Lead"]
    # His reason is an internal note the colleagues read.
    assert "Handler stepped aside, reason · Henrik Handler" in text_of(colleague_page)
    assert RECUSAL_REASON in text_of(colleague_page)
    assert (
        colleague.case_action(
            ref, "grant", {"grant-grantee": str(henrik_staff.user.id)}
        ).status_code
        == 303
    )
    assert worker.open_case(ref).status_code == 200


def test_only_the_lead_assigns_and_only_to_a_holder(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    henrik_staff = unit.handlers[1]
    case = submit(app, session, unit, excluded=frozenset({henrik_staff.user.id}))
    ref = case.reference
    hanne_staff = unit.handlers[0]

    worker = signed_in(hanne(app, clock, unit))
    assert "Responsible handler" not in text_of(worker.open_case(ref))  # no form for her
    forged = worker.post(
        worker.case_path(ref, "assign"),
        {"assign-csrf_token": worker.any_token(), "assign-assignee": str(hanne_staff.user.id)},
    )
    assert forged.status_code == 403
    assert the_case(session, ref).assigned_user_id is None

    lead = signed_in(lise(app, clock, unit))
    not_holder = lead.case_action(ref, "assign", {"assign-assignee": str(henrik_staff.user.id)})
    assert not_holder.status_code == 400
    assert field_errors(not_holder, "assign-assignee") == [
        "Give the case to this colleague first: they hold no key to it."
    ]
    assert the_case(session, ref).assigned_user_id is None

    assigned = lead.case_action(ref, "assign", {"assign-assignee": str(hanne_staff.user.id)})
    assert assigned.status_code == 303
    assert the_case(session, ref).assigned_user_id == hanne_staff.user.id
    assert "Responsible: you" in text_of(worker.open_case(ref))
    assert "Responsible: Hanne Handler" in text_of(lead.open_case(ref))
    assert (lead.staff.user.id, "case.assigned") in case_actions(session, case)

    # Stepping aside also gives up the assignment.
    worker.case_action(ref, "recuse", {"recuse-reason": RECUSAL_REASON, "recuse-confirm": "y"})
    assert the_case(session, ref).assigned_user_id is None


def test_the_page_links_keep_only_the_filters(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    for _ in range(51):
        submit(app, session, unit)
    worker = signed_in(hanne(app, clock, unit))
    for odd in ({"slug": "andetfirma"}, {"_scheme": "javascript"}, {"_anchor": "x", "zz": "1"}):
        page = worker.inbox(status="new", **odd)
        assert page.status_code == 200, odd
        nxt = re.search(r'<a href="([^"]+)" rel="next">', page.get_data(as_text=True))
        assert nxt is not None
        assert unescape(nxt.group(1)) == f"/staff/{unit.org.slug}/cases?page=2&status=new"
