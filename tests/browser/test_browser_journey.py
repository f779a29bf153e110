"""The whole life of a case in a real browser, in Danish and in English (issue 8).

An anonymous reporter with JavaScript off chooses the language, reports with a file and writes
down the case code; a handler signs in with password and authenticator code, acknowledges
receipt and asks a question; the reporter comes back with the code and answers; the handler
gives the final outcome and closes the case; on its retention day the deletion run removes it:
the handler's inbox no longer lists it and the code opens nothing. Every page is screenshotted
(tests/browser/evidence.py) and checked with axe-core for serious and critical violations.

Each language runs on SQLite and on PostgreSQL. Case codes, the password and what the people
write stay in variables: never printed, never in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, FilePayload, Page  # noqa: E402

from tests.browser.evidence import (  # noqa: E402
    Evidence,
    Visitor,
    does_not_show,
    heading,
    shows,
    text_of,
    type_into,
)
from tests.steps.factories import TEST_PASSWORD, Staff, Unit  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Case  # noqa: E402
from whistle.core.runtime import runtime  # noqa: E402
from whistle.core.storage import FileStore  # noqa: E402
from whistle.retention import deletion  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

REPORT_TEXT = "Fake browser report: the forklift keys hang unguarded by the loading bay."
EVIDENCE_NAME = "fake-forklift-log.txt"
EVIDENCE = b"Fake forklift log, one line per shift.\n" * 60
QUESTION = "Fake question: since when have the keys hung there?"
ANSWER = "Fake answer: since the new rota in January."
OUTCOME_DONE = "Fake outcome: a key cabinet with a log has been put up."
OUTCOME_WHY = "Fake reasons: nobody took a forklift without leave; the keys are now locked."
CLOSING_REASON = "Fake closing reason: no misuse found."

CODE_FORMAT = re.compile(r"[A-Z0-9]{4}(?:-[A-Z0-9]{4}){4}")  # a lookup group, then 80 bits


@dataclass(frozen=True)
class Words:
    """What the pages say in one language, typed out here so a lost translation fails."""

    browser_locale: str
    switch_to: str  # the language switch's link to this language
    scheme: str
    make_report: str
    not_sure: str
    send_report: str
    received: str
    continue_to_case: str
    case: str
    files_with_your_report: str
    leave: str
    left: str
    follow_up: str
    follow_up_title: str
    open_case: str
    acknowledgement: str
    question: str
    send: str
    message_sent: str
    final_outcome: str
    closed: str
    unknown_code: str
    sign_in: str
    continue_: str
    sign_in_code: str
    session_ended: str
    welcome: str
    cases: str
    anonymous: str
    files_with_the_report: str
    send_ack: str
    ack_sent: str
    sent: str
    reporter: str
    send_feedback: str
    feedback_sent: str
    close: str
    case_closed: str
    not_substantiated: str
    no_cases: str
    keep_out: str
    keep_out_button: str
    kept_out: str
    back_to_case: str


WORDS = {
    "da": Words(
        browser_locale="da-DK",
        switch_to="Dansk",
        scheme="Whistleblowerordning hos {org}",
        make_report="Indberet",
        not_sure="Ved ikke",
        send_report="Send indberetning",
        received="Din indberetning er modtaget",
        continue_to_case="Fortsæt til min sag",
        case="Sag {ref}",
        files_with_your_report="Filer sendt med din indberetning",
        leave="Forlad sagen",
        left="Du har forladt din sag.",
        follow_up="Følg op på en indberetning med din sagskode",
        follow_up_title="Følg op på din indberetning",
        open_case="Åbn min sag",
        acknowledgement="Kvittering for modtagelse",
        question="Spørgsmål",
        send="Send",
        message_sent="Din besked er sendt.",
        final_outcome="Endeligt resultat",
        closed="Afsluttet",
        unknown_code="Der kunne ikke åbnes en sag med denne kode.",
        sign_in="Log ind",
        continue_="Fortsæt",
        sign_in_code="Loginkode",
        session_ended="Din session er udløbet",
        welcome="Velkommen, {name}",
        cases="Sager",
        anonymous="Anonym",
        files_with_the_report="Filer sendt med indberetningen",
        send_ack="Send kvitteringen",
        ack_sent="Kvitteringen for modtagelse er sendt.",
        sent="Beskeden er sendt.",
        reporter="Indberetter",
        send_feedback="Send tilbagemeldingen",
        feedback_sent="Tilbagemeldingen er sendt.",
        close="Afslut sagen",
        case_closed="Sagen er afsluttet.",
        not_substantiated="Ikke bekræftet",
        no_cases="Ingen sager passer til filteret.",
        keep_out="Hold en person ude af din sag",
        keep_out_button="Hold denne person ude",
        kept_out="Gjort. Den person kan ikke længere læse noget i din sag.",
        back_to_case="Tilbage til din sag",
    ),
    "en": Words(
        browser_locale="en-GB",
        switch_to="English",
        scheme="Whistleblower scheme of {org}",
        make_report="Make a report",
        not_sure="Not sure",
        send_report="Send report",
        received="Your report has been received",
        continue_to_case="Continue to my case",
        case="Case {ref}",
        files_with_your_report="Files sent with your report",
        leave="Leave the case",
        left="You have left your case.",
        follow_up="Follow up on a report with your case code",
        follow_up_title="Follow up on your report",
        open_case="Open my case",
        acknowledgement="Acknowledgement of receipt",
        question="Question",
        send="Send",
        message_sent="Your message has been sent.",
        final_outcome="Final outcome",
        closed="Closed",
        unknown_code="No case could be opened with this code.",
        sign_in="Sign in",
        continue_="Continue",
        sign_in_code="Sign-in code",
        session_ended="Your session has ended",
        welcome="Welcome, {name}",
        cases="Cases",
        anonymous="Anonymous",
        files_with_the_report="Files sent with the report",
        send_ack="Send the acknowledgement",
        ack_sent="The acknowledgement has been sent.",
        sent="The message has been sent.",
        reporter="Reporter",
        send_feedback="Send the feedback",
        feedback_sent="The feedback has been sent.",
        close="Close the case",
        case_closed="The case is closed.",
        not_substantiated="Not substantiated",
        no_cases="No cases match.",
        keep_out="Keep someone out of your case",
        keep_out_button="Keep this person out",
        kept_out="Done. That person can no longer read anything of your case.",
        back_to_case="Back to your case",
    ),
}
OTHER = {"da": "en", "en": "da"}


def click_button(page: Page, name: str, *, within: str = "main") -> None:
    page.locator(within).get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def click_link(page: Page, name: str, *, within: str = "body") -> None:
    page.locator(within).get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()


def notice(page: Page) -> str:
    return " ".join(page.locator("main .notice").first.inner_text().split())


def sign_in(handler: Visitor, words: Words, staff: Staff, clock: FixedClock, ev: Evidence) -> None:
    """Password, then the authenticator's code, as on the staff sign-in pages."""
    page = handler.page
    assert heading(page) == words.sign_in
    page.locator("#email").fill(staff.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    ev.record(handler, "staff-sign-in")
    click_button(page, words.continue_)
    assert heading(page) == words.sign_in_code
    assert staff.totp_secret is not None
    clock.advance(timedelta(seconds=30))  # each code works once: the app shows the next one
    type_into(
        page.locator("#code"), totp.code_at(staff.totp_secret, clock.now()), "the sign-in code"
    )
    ev.record(handler, "staff-sign-in-code")
    click_button(page, words.sign_in)


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_life_of_a_case_in_a_browser(
    language: str,
    request: pytest.FixtureRequest,
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    words = WORDS[language]
    ev = Evidence.for_database(request, language, language, axe_source, checker)
    ev.keep_secret(TEST_PASSWORD, REPORT_TEXT, QUESTION, ANSWER, OUTCOME_DONE, OUTCOME_WHY)
    org = unit.org
    hanne = unit.handlers[0]

    # The reporter's browser asks for the other language and runs no JavaScript.
    reporter_context = browser.new_context(
        java_script_enabled=False, locale=WORDS[OTHER[language]].browser_locale
    )
    reporter_context.set_default_timeout(TIMEOUT_MS)
    reporter = Visitor(reporter_context.new_page(), scripts=False)
    handler_context = browser.new_context(locale=words.browser_locale)
    handler_context.set_default_timeout(TIMEOUT_MS)
    handler = Visitor(handler_context.new_page(), scripts=True)
    r, h = reporter.page, handler.page

    # --- the reporter chooses the language and reports, with a file ---------------------------
    r.goto(f"{live_server}/o/{org.slug}/")
    assert r.get_attribute("html", "lang") == OTHER[language]
    click_link(r, words.switch_to, within="nav.lang")
    assert heading(r) == words.scheme.format(org=org.name)
    ev.record(reporter, "start")

    click_link(r, words.make_report, within="main")
    assert heading(r) == words.make_report
    r.locator("#category").select_option(label=words.not_sure)
    type_into(r.locator("#what"), REPORT_TEXT, "the report")
    attachment = FilePayload(name=EVIDENCE_NAME, mimeType="text/plain", buffer=EVIDENCE)
    r.locator("#attachments").set_input_files(files=[attachment])
    ev.record(reporter, "report-form")
    click_button(r, words.send_report)

    assert heading(r) == words.received
    code = r.locator(".case-code .code").inner_text().strip()
    ev.keep_secret(code)
    if not CODE_FORMAT.fullmatch(code):
        pytest.fail("the code page shows no case code", pytrace=False)
    session.expire_all()
    case = session.scalars(select(Case)).one()
    reference = case.reference
    shows(r, [reference], "the case reference")
    ev.record(reporter, "case-code")

    # Written down: on to the case, which lists the file; then the reporter leaves.
    r.locator("#written_down").check()
    click_button(r, words.continue_to_case)
    assert heading(r) == words.case.format(ref=reference)
    shows(r, [words.files_with_your_report, EVIDENCE_NAME], "the file sent with the report")
    ev.record(reporter, "mailbox")
    click_button(r, words.leave)
    assert heading(r) == words.follow_up_title
    assert notice(r).startswith(words.left)
    ev.record(reporter, "left-the-case")

    # --- the handler signs in, opens the case, acknowledges and asks -------------------------
    h.goto(f"{live_server}/staff/sign-in")
    sign_in(handler, words, hanne, clock, ev)
    assert heading(h) == words.welcome.format(name=hanne.user.display_name)
    ev.record(handler, "staff-home")

    click_link(h, words.cases, within="main")
    assert heading(h) == f"{words.cases} · {org.name}"
    ev.record(handler, "inbox")
    click_link(h, reference, within="main table.inbox")
    case_url = h.url
    assert heading(h) == words.case.format(ref=reference)
    shows(h, [REPORT_TEXT], "the report")
    shows(h, [words.anonymous, words.files_with_the_report, EVIDENCE_NAME], "the report's file")
    file_link = h.locator("main .report ~ ul.files a", has_text=EVIDENCE_NAME)
    download = handler_context.request.get(f"{live_server}{file_link.get_attribute('href')}")
    if download.body() != EVIDENCE:
        pytest.fail("the handler's download is not the file the reporter sent", pytrace=False)
    ev.record(handler, "case")

    click_button(h, words.send_ack, within="form[action$='/acknowledge']")
    assert notice(h) == words.ack_sent
    ev.record(handler, "acknowledged")

    type_into(h.locator("#msg-body"), QUESTION, "the question")
    h.locator("#msg-question").check()
    click_button(h, words.send, within="form[action$='/message']")
    assert notice(h) == words.sent
    ev.record(handler, "question-sent")

    # --- the reporter comes back with the code and answers -----------------------------------
    r.goto(f"{live_server}/o/{org.slug}/")
    click_link(r, words.follow_up, within="main")
    assert heading(r) == words.follow_up_title
    type_into(r.locator("#code"), code, "the case code")
    ev.record(reporter, "follow-up")
    click_button(r, words.open_case)
    assert heading(r) == words.case.format(ref=reference)
    shows(r, [words.acknowledgement, words.question, QUESTION], "the acknowledgement and question")
    ev.record(reporter, "mailbox-question")

    type_into(r.locator("#body"), ANSWER, "the answer")
    click_button(r, words.send, within="form[enctype='multipart/form-data']")
    assert notice(r) == words.message_sent
    shows(r, [ANSWER], "the answer just sent")
    ev.record(reporter, "answer-sent")

    # The reporter keeps a handler who turned out to be involved out of the case (issue 14):
    # the case gets new keys without him; the handler who stays reads on.
    click_link(r, words.keep_out, within="main")
    assert heading(r) == words.keep_out
    ev.record(reporter, "keep-out")
    r.get_by_label("Henrik Handler").check()
    click_button(r, words.keep_out_button)
    assert notice(r) == words.kept_out
    shows(r, ["Henrik Handler"], "the person kept out")
    ev.record(reporter, "kept-out")
    click_link(r, words.back_to_case, within="main")
    click_button(r, words.leave)

    # --- the handler reads the answer, gives the final outcome and closes --------------------
    h.goto(case_url)
    shows(h, [words.reporter, ANSWER], "the reporter's answer")
    ev.record(handler, "case-answer")

    type_into(h.locator("#feedback-done"), OUTCOME_DONE, "the outcome")
    type_into(h.locator("#feedback-why"), OUTCOME_WHY, "the reasons")
    h.locator("#feedback-final").check()
    click_button(h, words.send_feedback, within="form[action$='/feedback']")
    assert notice(h) == words.feedback_sent
    ev.record(handler, "final-outcome-sent")

    h.locator("#close-outcome").select_option("not_substantiated")
    type_into(h.locator("#close-reason"), CLOSING_REASON, "the closing reason")
    click_button(h, words.close, within="form[action$='/close']")
    assert notice(h) == words.case_closed
    assert f"{words.closed}: {words.not_substantiated}" in text_of(h, "dl.status")
    ev.record(handler, "closed")

    # The reporter reads the outcome (and never the internal closing reason).
    r.goto(f"{live_server}/o/{org.slug}/case/open")
    type_into(r.locator("#code"), code, "the case code")
    click_button(r, words.open_case)
    shows(r, [words.final_outcome, OUTCOME_DONE, OUTCOME_WHY], "the final outcome")
    shows(r, [words.closed], "that the case is closed", where="dl.status")
    does_not_show(r, [CLOSING_REASON], "the internal closing reason")
    ev.record(reporter, "mailbox-closed")
    click_button(r, words.leave)

    # --- retention: on the day after the deletion day, the run deletes the case --------------
    session.expire_all()
    case = session.scalars(select(Case).where(Case.reference == reference)).one()
    assert case.delete_on is not None
    clock.set(datetime.combine(case.delete_on + timedelta(days=1), time(6, 0), tzinfo=UTC))
    with app.app_context():
        run = deletion.run(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            keystore=runtime(app).keystore,
        )
    assert (run.deleted, run.files) == (1, 1)

    # Months later the handler's session has ended; signed in again, the inbox is empty.
    h.goto(f"{live_server}/staff/{org.slug}/cases")
    assert words.session_ended in notice(h)
    sign_in(handler, words, hanne, clock, ev)
    h.goto(f"{live_server}/staff/{org.slug}/cases")
    assert heading(h) == f"{words.cases} · {org.name}"
    shows(h, [words.no_cases], "an empty inbox")
    does_not_show(h, [reference], "the deleted case")
    ev.record(handler, "inbox-after-deletion")

    # And the code opens nothing any more.
    r.goto(f"{live_server}/o/{org.slug}/case/open")
    type_into(r.locator("#code"), code, "the case code")
    click_button(r, words.open_case)
    assert heading(r) == words.follow_up_title
    shows(r, [words.unknown_code], "that the code opens no case")
    ev.record(reporter, "code-refused")

    reporter_context.close()
    handler_context.close()
    ev.assert_accessible()
