"""What a person sees in a real browser where things used to go wrong (issue 16): the
authenticator's QR code loads as an image, a report form sent twice (Back, then Send, with
JavaScript off) makes no second case, and a note sent after the idle time comes back on a
page that says why and leads to signing in again. Every page is screenshotted and checked
with axe-core (tests/browser/evidence.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, heading, shows, type_into  # noqa: E402
from tests.steps.cases import submit  # noqa: E402
from tests.steps.factories import TEST_PASSWORD, Unit, add_staff  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Case, Message, Role  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

REPORT_TEXT = "Fake browser report: the fire door on the second floor is chained shut."
NOTE = "Fake note: ask the caretaker who holds the key to the chain."


def evidence(request: pytest.FixtureRequest, name: str, axe_source: str, checker: Page) -> Evidence:
    return Evidence.for_database(request, f"plain-answers-{name}", "en", axe_source, checker)


def click(page: Page, name: str) -> None:
    page.locator("main").get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def test_the_authenticator_qr_code_loads_as_an_image(
    request: pytest.FixtureRequest,
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    ev = evidence(request, "qr", axe_source, checker)
    ev.keep_secret(TEST_PASSWORD)
    newcomer = add_staff(session, clock, unit.org, "Nina Newcomer", [Role.HANDLER])
    session.commit()
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()

    page.goto(f"{live_server}/staff/sign-in")
    page.locator("#email").fill(newcomer.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    click(page, "Continue")
    assert heading(page) == "Set up two-step sign-in"
    qr = page.locator("img.qr")
    qr.wait_for()
    page.wait_for_function("() => document.querySelector('img.qr').complete")
    width = qr.evaluate("img => img.naturalWidth")
    assert width > 0, "the QR code image does not load"
    # The key to type by hand stays for those who cannot scan.
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    ev.keep_secret(secret)
    assert len(secret) == 32
    ev.record(Visitor(page, scripts=True), "enrolment-qr")
    context.close()
    ev.assert_accessible()


def test_a_report_sent_again_after_back_makes_no_second_case(
    request: pytest.FixtureRequest,
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    session: Session,
    unit: Unit,
) -> None:
    ev = evidence(request, "resubmission", axe_source, checker)
    ev.keep_secret(REPORT_TEXT)
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    reporter = Visitor(page, scripts=False)

    page.goto(f"{live_server}/o/{unit.org.slug}/report")
    page.locator("#category").select_option(label="Not sure")
    type_into(page.locator("#what"), REPORT_TEXT, "the report")
    click(page, "Send report")
    assert heading(page) == "Your report has been received"
    code = page.locator(".case-code .code").inner_text().strip()
    ev.keep_secret(code)

    # Back to the form, as it was sent, and Send again: the same report, not a second one.
    page.go_back()
    page.wait_for_load_state()
    assert heading(page) == "Make a report"
    # Chromium fetches the form anew (it is never cached) but restores what was typed.
    if page.locator("#what").input_value() != REPORT_TEXT:
        pytest.fail("the browser did not restore the report typed", pytrace=False)
    click(page, "Send report")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 1, "a second case"
    assert heading(page) == "Your report has been received"
    shows(page, ["it was not sent a second time"], "that the report was not sent twice")
    if page.locator(".case-code .code").inner_text().strip() != code:
        pytest.fail("the code page shows another code than the first", pytrace=False)
    ev.record(reporter, "sent-again-code-shown")

    # Written down; then Back to the form and Send once more: the code is gone, and the
    # page says so.
    page.locator("#written_down").check()
    click(page, "Continue to my case")
    for _ in range(4):
        page.go_back()
        page.wait_for_load_state()
        if heading(page) == "Make a report":
            break
    assert heading(page) == "Make a report"
    if page.locator("#what").input_value() != REPORT_TEXT:
        pytest.fail("the browser did not restore the report typed", pytrace=False)
    click(page, "Send report")
    assert heading(page) == "Your report was already received"
    shows(page, ["It cannot be shown again"], "that the code cannot be shown again")
    ev.record(reporter, "sent-again-code-gone")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 1, "a second case"
    context.close()
    ev.assert_accessible()


def test_a_note_sent_after_the_idle_time_is_shown_back_with_the_way_in(
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
    ev = evidence(request, "timeout", axe_source, checker)
    ev.keep_secret(TEST_PASSWORD, NOTE)
    case = submit(app, session, unit)
    hanne = unit.handlers[0]
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    handler = Visitor(page, scripts=True)

    def sign_in() -> None:
        page.locator("#email").fill(hanne.user.email)
        type_into(page.locator("#password"), TEST_PASSWORD, "the password")
        click(page, "Continue")
        assert hanne.totp_secret is not None
        clock.advance(timedelta(seconds=30))
        code = totp.code_at(hanne.totp_secret, clock.now())
        type_into(page.locator("#code"), code, "the sign-in code")
        click(page, "Sign in")

    page.goto(f"{live_server}/staff/{unit.org.slug}/cases/{case.reference}")
    sign_in()
    assert heading(page) == f"Case {case.reference}"
    messages = session.scalar(select(func.count()).select_from(Message))
    # The note's form is folded away on the case page until the handler opens it.
    page.locator("summary", has_text="Add a note").click()
    type_into(page.locator("#note-body"), NOTE, "the note")
    clock.advance(timedelta(minutes=16))
    page.locator(f"form[action$='/{case.reference}/note']").get_by_role("button").first.click()
    page.wait_for_load_state()
    assert heading(page) == "Your session has ended"
    if page.locator("textarea[readonly]").first.input_value() != NOTE:
        pytest.fail("the note typed is not shown back", pytrace=False)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message)) == messages
    ev.record(handler, "note-after-timeout")

    page.get_by_role("link", name="Sign in again").click()
    page.wait_for_load_state()
    assert heading(page) == "Sign in"
    sign_in()
    assert heading(page) == f"Case {case.reference}", "back on the page the note was for"
    context.close()
    ev.assert_accessible()
