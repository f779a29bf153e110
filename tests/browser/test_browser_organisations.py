"""Several organisations in a real browser (issue 18): the operator's pages, and a person who
handles cases for two organisations switching between them from the header and reading the
combined case list. Screenshotted at 1,280 and 360 px (tests/browser/evidence.py) and checked
with axe-core, in Danish and in English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, heading, type_into  # noqa: E402
from tests.steps.factories import (  # noqa: E402
    TEST_PASSWORD,
    Staff,
    Unit,
    add_staff,
    certify,
    make_unit,
)
from tests.steps.reporter import ReportAnswers, Reporter  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Membership, Role  # noqa: E402
from whistle.core.runtime import runtime  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

WORDS = {
    "da": {
        "locale": "da-DK",
        "continue": "Fortsæt",
        "sign_in": "Log ind",
        "switch": "Organisationer",
        "all": "Sager i alle dine organisationer",
        "operator": "Organisationer på denne tjeneste",
    },
    "en": {
        "locale": "en-GB",
        "continue": "Continue",
        "sign_in": "Sign in",
        "switch": "Organisations",
        "all": "Cases in all your organisations",
        "operator": "Organisations on this service",
    },
}


def sign_in(page: Page, words: dict[str, str], staff: Staff, clock: FixedClock) -> None:
    page.locator("#email").fill(staff.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    page.get_by_role("button", name=words["continue"], exact=True).click()
    assert staff.totp_secret is not None
    clock.advance(timedelta(seconds=30))
    type_into(
        page.locator("#code"), totp.code_at(staff.totp_secret, clock.now()), "the sign-in code"
    )
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_operator_and_a_handler_of_two_organisations_in_the_browser(
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
    ev = Evidence.for_database(request, f"organisations-{language}", language, axe_source, checker)
    ev.keep_secret(TEST_PASSWORD)
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        other = make_unit(session, clock, instance_key, slug="andetfirma")
        olga = add_staff(session, clock, unit.org, "Olga Operator", [], instance_key=instance_key)
        olga.user.is_operator = True
        hanne = unit.handlers[0]
        session.add(
            Membership(
                org_id=other.org.id,
                user_id=hanne.user.id,
                role=Role.HANDLER,
                created_at=clock.now(),
            )
        )
        session.commit()
        certify(session, clock, other, hanne)
    Reporter(app, "andetfirma").report(ReportAnswers(what="Fake report of the first firm."))
    clock.advance(timedelta(days=2))
    Reporter(app, "testfirma").report(ReportAnswers(what="Fake report of the second firm."))

    context = browser.new_context(locale=words["locale"], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    handler = Visitor(context.new_page(), scripts=True)
    h = handler.page
    h.goto(f"{live_server}/staff/sign-in")
    sign_in(h, words, hanne, clock)
    h.locator("details.switch summary").click()
    switch = h.locator("details.switch ul")
    assert switch.is_visible()
    assert words["all"] in switch.inner_text()
    ev.record(handler, "switch-open")
    switch.get_by_role("link", name=words["all"], exact=True).click()
    h.wait_for_load_state()
    assert heading(h) == words["all"]
    rows = h.locator("table.inbox tbody tr").all_inner_texts()
    assert [r.split("\t")[0].strip() for r in rows] == [other.org.name, unit.org.name]
    ev.record_at_widths(handler, "combined")

    operator = Visitor(context.new_page(), scripts=True)
    context.clear_cookies()
    o = operator.page
    o.goto(f"{live_server}/staff/sign-in")
    sign_in(o, words, olga, clock)
    o.goto(f"{live_server}/operator/")
    assert heading(o) == words["operator"]
    ev.record_at_widths(operator, "operator-index")
    o.goto(f"{live_server}/operator/andetfirma/")
    ev.record_at_widths(operator, "operator-organisation")
    context.close()
    ev.assert_accessible()
