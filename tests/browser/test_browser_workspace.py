"""The handler's workspace of issue 16 in a real browser, in Danish and in English: the inbox
by urgency with its badges and a filter that stays, the case page by stage with the next legal
step, taking a case, a warned file, a closed case that is read-only, and stepping aside behind
a confirmation. Every step is screenshotted at 1,280 px and the main pages also at 360 px
(tests/browser/evidence.py), and checked with axe-core.

Cases are made through intake and the handling functions, as the reporter's and a colleague's
pages would make them; the handler does the rest in the browser. Case codes and what people
write stay in variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import (  # noqa: E402
    Evidence,
    Visitor,
    heading,
    shows,
    text_of,
    type_into,
)
from tests.steps.cases import keys_of, newest_case, submit  # noqa: E402
from tests.steps.factories import TEST_PASSWORD, Staff, Unit  # noqa: E402
from tests.steps.reporter import ReportAnswers, Reporter, Upload  # noqa: E402
from whistle.cases import handling  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.runtime import runtime  # noqa: E402
from whistle.core.storage import FileStore  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

FAKE_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
REPORT = "Fake browser report: the cash box of the canteen is never counted."
WIDE, PHONE = {"width": 1280, "height": 900}, {"width": 360, "height": 800}


@dataclass(frozen=True)
class Words:
    browser_locale: str
    continue_: str
    sign_in: str
    cases: str
    show: str
    mine: str
    overdue_by_2: str
    days_left_2: str
    next_ack: str
    take: str
    taken: str
    program: str
    care: str
    close: str
    closed_notice: str
    read_only: str
    step_aside: str
    confirm_missing: str
    destroy: str
    stepped_aside: str


WORDS = {
    "da": Words(
        browser_locale="da-DK",
        continue_="Fortsæt",
        sign_in="Log ind",
        cases="Sager",
        show="Vis",
        mine="Kun sager, jeg er ansvarlig for",
        overdue_by_2="2 dage over fristen",
        days_left_2="2 dage tilbage",
        next_ack="Næste skridt: kvittér for modtagelsen senest 8. marts 2027.",
        take="Tag sagen",
        taken="Du er nu ansvarlig for sagen.",
        program="Program eller script: åbn den ikke",
        care="Åbn denne fil med forsigtighed",
        close="Afslut sagen",
        closed_notice="Sagen er afsluttet.",
        read_only="Sagen er afsluttet: den kan læses, men ikke længere ændres.",
        step_aside="Træd til side i denne sag",
        confirm_missing="Bekræft, at du forstår, at du ikke længere kan læse sagen.",
        destroy="Træd til side, og slet mine nøgler",
        stepped_aside="Du er trådt til side i sagen.",
    ),
    "en": Words(
        browser_locale="en-GB",
        continue_="Continue",
        sign_in="Sign in",
        cases="Cases",
        show="Show",
        mine="Only cases I am responsible for",
        overdue_by_2="Overdue by 2 days",
        days_left_2="2 days left",
        next_ack="Next step: acknowledge receipt by 8 March 2027.",
        take="Take the case",
        taken="You are now responsible for the case.",
        program="Program or script: do not open it",
        care="Open this file with care",
        close="Close the case",
        closed_notice="The case is closed.",
        read_only="This case is closed: it can be read, but no longer changed.",
        step_aside="Step aside from this case",
        confirm_missing="Confirm that you understand you will no longer be able to read the case.",
        destroy="Step aside and destroy my keys",
        stepped_aside="You have stepped aside from the case.",
    ),
}


def click(page: Page, role: str, name: str, within: str = "main") -> None:
    page.locator(within).get_by_role(role, name=name, exact=True).first.click()  # type: ignore[arg-type]
    page.wait_for_load_state()


def both_widths(ev: Evidence, visitor: Visitor, step: str) -> None:
    """The page at 1,280 px, then at 360 px (a phone), then back."""
    ev.record(visitor, step)
    visitor.page.set_viewport_size(PHONE)
    ev.record(visitor, f"{step}-360")
    visitor.page.set_viewport_size(WIDE)


def sign_in(page: Page, words: Words, staff: Staff, clock: FixedClock) -> None:
    page.locator("#email").fill(staff.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    click(page, "button", words.continue_)
    assert staff.totp_secret is not None
    clock.advance(timedelta(seconds=30))
    type_into(
        page.locator("#code"), totp.code_at(staff.totp_secret, clock.now()), "the sign-in code"
    )
    click(page, "button", words.sign_in)


def make_cases(app: Flask, session: Session, unit: Unit, clock: FixedClock) -> dict[str, str]:
    """Four cases of the spring of 2027, seen on 10 March: name -> reference."""
    store = FileStore(runtime(app).settings.file_store)
    hanne = unit.handlers[0]
    clock.set(datetime(2027, 1, 4, 9, tzinfo=UTC))
    answered = submit(app, session, unit)
    clock.set(datetime(2027, 1, 6, 9, tzinfo=UTC))
    with app.app_context():
        handling.acknowledge(
            session,
            clock,
            store,
            answered,
            keys_of(session, answered, hanne),
            hanne.user.id,
            "Fake acknowledgement.",
        )
    clock.set(datetime(2027, 3, 1, 9, tzinfo=UTC))
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(what=REPORT, files=[Upload("minutes.pdf", FAKE_PROGRAM)]))
    warned = newest_case(session)
    clock.set(datetime(2027, 3, 5, 9, tzinfo=UTC))
    soon = submit(app, session, unit)
    clock.set(datetime(2027, 3, 9, 9, tzinfo=UTC))
    fresh = submit(app, session, unit)
    clock.set(datetime(2027, 3, 10, 9, tzinfo=UTC))
    return {
        "answered": answered.reference,
        "warned": warned.reference,
        "soon": soon.reference,
        "fresh": fresh.reference,
    }


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_workspace_by_urgency_and_by_stage(
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
    ev = Evidence.for_database(request, f"workspace-{language}", language, axe_source, checker)
    ev.keep_secret(TEST_PASSWORD, REPORT)
    refs = make_cases(app, session, unit, clock)
    slug = unit.org.slug

    context = browser.new_context(locale=words.browser_locale, viewport=WIDE)
    context.set_default_timeout(TIMEOUT_MS)
    handler = Visitor(context.new_page(), scripts=True)
    h = handler.page
    h.goto(f"{live_server}/staff/sign-in")
    sign_in(h, words, unit.handlers[0], clock)

    # --- the inbox: what is due first, badges in words, no wrapping ------------------------
    h.goto(f"{live_server}/staff/{slug}/cases")
    assert heading(h) == f"{words.cases} · {unit.org.name}"
    rows = [" ".join(r.split()) for r in h.locator("table.inbox tbody tr").all_inner_texts()]
    order = [r.split(" ")[0] for r in rows]
    assert order == [refs["warned"], refs["soon"], refs["fresh"], refs["answered"]], "order"
    assert words.overdue_by_2 in rows[0] and words.days_left_2 in rows[1]
    # References and dates sit in cells marked not to wrap (styled by whistle.css).
    first = h.locator("table.inbox tbody tr").first.locator("td")
    assert first.nth(0).get_attribute("class") == first.nth(1).get_attribute("class") == "nowrap"
    both_widths(ev, handler, "inbox")

    # --- the case page of a new case: stages, the next step, a warned file, take it --------
    h.locator("table.inbox").get_by_role("link", name=refs["warned"], exact=True).click()
    h.wait_for_load_state()
    shows(h, [words.next_ack], "the next legal step")
    assert h.locator("ol.stages li.stage.current").count() == 1
    shows(h, ["minutes.pdf", words.program], "the warning next to the file")
    both_widths(ev, handler, "case-new")
    h.locator("main ul.files a", has_text="minutes.pdf").click()
    h.wait_for_load_state()
    assert heading(h) == words.care
    ev.record(handler, "file-warning")
    h.go_back()
    click(h, "button", words.take)
    shows(h, [words.taken], "that the handler took the case")
    ev.record(handler, "case-taken")

    # The filter "mine" stays when the handler comes back to the inbox.
    h.goto(f"{live_server}/staff/{slug}/cases")
    h.get_by_label(words.mine).check()
    click(h, "button", words.show)
    h.goto(f"{live_server}/staff/{slug}/cases")
    assert h.get_by_label(words.mine).is_checked()
    assert h.locator("table.inbox tbody tr").count() == 1
    ev.record(handler, "inbox-mine")

    # --- an answered case is closed through its page, and then read-only -------------------
    h.goto(f"{live_server}/staff/{slug}/cases/{refs['answered']}")
    h.locator("#feedback-done").fill("Fake outcome: the cash box is now counted daily.")
    h.locator("#feedback-why").fill("Fake reasons: two people now sign the count.")
    h.locator("#feedback-final").check()
    h.locator("form[action$='/feedback'] button").click()
    h.wait_for_load_state()
    h.locator("#close-outcome").select_option("not_substantiated")
    h.locator("#close-reason").fill("Fake closing reason: nothing missing.")
    h.locator("form[action$='/close'] button").click()
    h.wait_for_load_state()
    shows(h, [words.closed_notice, words.read_only], "that the case is closed and read-only")
    assert h.locator("main form[action$='/message'], main form[action$='/note']").count() == 0
    both_widths(ev, handler, "case-closed")

    # --- stepping aside needs a reason and a confirmation -----------------------------------
    h.goto(f"{live_server}/staff/{slug}/cases/{refs['fresh']}")
    h.locator("details.recuse summary").click()
    type_into(h.locator("#recuse-reason"), "Fake reason: I know the people.", "the reason")
    click(h, "button", words.destroy)
    shows(h, [words.confirm_missing], "that the confirmation is asked for")
    ev.record(handler, "step-aside-unconfirmed")
    h.locator("#recuse-confirm").check()
    click(h, "button", words.destroy)
    shows(h, [words.stepped_aside], "that the handler stepped aside")
    assert refs["fresh"] not in text_of(h)  # no key any more: not in the inbox

    context.close()
    ev.assert_accessible()
