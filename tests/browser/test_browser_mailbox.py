"""The reporter's mailbox in a real browser, JavaScript off, in Danish and English: he re-reads
his own report after sending it, and once the case is closed the page says why he can no
longer write (closed on which day, where the outcome is, what to do now). Screenshots in
test-output/browser/mailbox-<language>-<database>/; axe-core on every page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import (  # noqa: E402
    Evidence,
    Visitor,
    does_not_show,
    heading,
    shows,
    type_into,
)
from tests.steps.cases import OUTCOME_DONE  # noqa: E402
from tests.steps.factories import Unit  # noqa: E402
from tests.steps.retention import close  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Case  # noqa: E402

pytestmark = pytest.mark.browser

REPORT_TEXT = "Fake browser report: the fake van is refuelled on the company card at weekends."
WHEN_WHERE = "Fake place: the fake depot, Saturdays."


@dataclass(frozen=True)
class Words:
    browser_locale: str
    not_sure: str
    send_report: str
    continue_to_case: str
    read_report: str
    relation: str
    anonymous: str
    closed: str
    read_outcome: str
    what_now: str
    write: str


WORDS = {
    "da": Words(
        browser_locale="da-DK",
        not_sure="Ved ikke",
        send_report="Send indberetning",
        continue_to_case="Fortsæt til min sag",
        read_report="Læs din indberetning, som du sendte den 2. marts 2026",
        relation="Ansat",
        anonymous="Du indberettede anonymt.",
        closed="Sagsbehandleren afsluttede sagen den 2. marts 2026.",
        read_outcome="Læs resultatet",
        what_now="Hvad du kan gøre nu",
        write="Skriv til sagsbehandleren",
    ),
    "en": Words(
        browser_locale="en-GB",
        not_sure="Not sure",
        send_report="Send report",
        continue_to_case="Continue to my case",
        read_report="Read your report as you sent it on 2 March 2026",
        relation="Employee",
        anonymous="You reported anonymously.",
        closed="The case handler closed this case on 2 March 2026.",
        read_outcome="Read the outcome",
        what_now="What you can do now",
        write="Write to the case handler",
    ),
}


def _click(page: Page, role: str, name: str) -> None:
    page.locator("main").get_by_role(role, name=name, exact=True).click()  # type: ignore[arg-type]
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_reporter_rereads_his_report_and_sees_why_a_closed_case_takes_no_reply(
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
    ev = Evidence.for_database(request, f"mailbox-{language}", language, axe_source, checker)
    ev.keep_secret(REPORT_TEXT, WHEN_WHERE, OUTCOME_DONE)
    context = browser.new_context(java_script_enabled=False, locale=words.browser_locale)
    context.set_default_timeout(TIMEOUT_MS)
    reporter = Visitor(context.new_page(), scripts=False)
    r = reporter.page

    r.goto(f"{live_server}/o/{unit.org.slug}/report")
    r.locator("#category").select_option(label=words.not_sure)
    r.locator("#relation").select_option(value="employee")
    type_into(r.locator("#what"), REPORT_TEXT, "the report")
    type_into(r.locator("#when_where"), WHEN_WHERE, "when and where")
    _click(r, "button", words.send_report)
    code = r.locator(".case-code .code").inner_text().strip()
    ev.keep_secret(code)
    r.locator("#written_down").check()
    _click(r, "button", words.continue_to_case)

    # The report is there to re-read, folded until he opens it (no JavaScript needed).
    does_not_show(r, [REPORT_TEXT], "the report before it is opened")
    r.locator("main details.your-report summary").click()
    shows(r, [words.read_report, REPORT_TEXT, WHEN_WHERE, words.relation, words.anonymous], "it")
    shows(r, [words.write], "the reply box of an open case")
    ev.record(reporter, "mailbox-your-report")

    # The case is closed with a final outcome: the page says when and why, and what now.
    session.expire_all()
    close(app, session, clock, unit, session.scalars(select(Case)).one())
    r.reload()
    r.wait_for_load_state()
    shows(r, [words.closed, words.read_outcome, words.what_now], "why the reply box is gone")
    does_not_show(r, [words.write], "the reply box of a closed case")
    _click(r, "link", words.read_outcome)
    assert r.url.split("#")[1].startswith("message-")
    shows(r, [OUTCOME_DONE], "the outcome")
    ev.record(reporter, "mailbox-closed")
    assert heading(r)
    context.close()
    ev.assert_accessible()
