"""The main pages at a phone's, a tablet's and a desktop's width, in Danish and English (issue 16).

Each role signs in through the real pages and opens its main pages; the reporter (JavaScript
off) reports, sees the case code and opens the mailbox. At 360, 768 and 1,280 px every page is
screenshotted to ``test-output/browser/widths/<language>/`` and checked: the document never
scrolls sideways (``scrollWidth <= innerWidth``: a wide table scrolls in its own container),
no heading is clipped or runs out of the window, and axe-core finds no serious or critical
violation. The code page and a case page are also printed (print media): no footer,
navigation or forms on paper, the code and the case still there. Markup validity is
tests/browser/test_markup.py's.

The pages are the same markup on either database: this runs on SQLite only.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, BrowserContext, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, type_into  # noqa: E402
from tests.steps.factories import TEST_PASSWORD, Staff, Unit  # noqa: E402
from tests.steps.tour import TourWorld, tour_world  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

WIDTHS = (360, 768, 1280)
# Pages whose templates another branch of issue 16 may still be restructuring: their overflow
# is reported as a warning, not a failure. Empty now that templates/cases/ has landed; keep it
# for the next such period.
RESTRUCTURED_ELSEWHERE: frozenset[str] = frozenset()
HEIGHT = 800
LOCALES = {"da": "da-DK", "en": "en-GB"}
REPORT_TEXT = "Fake width-test report: the visitors' book at the gate is left open overnight."

# What the page's own layout says about itself at the current width.
MEASURE = r"""() => {
  const doc = document.documentElement;
  const clipped = [];
  for (const h of document.querySelectorAll('h1, h2, h3')) {
    const r = h.getBoundingClientRect();
    if (r.width === 0) continue;
    if (h.scrollWidth > h.clientWidth + 1 || r.right > window.innerWidth + 1 || r.left < -1) {
      clipped.push(h.tagName.toLowerCase() + ' "' + h.textContent.trim().slice(0, 60) + '"');
    }
  }
  // The innermost elements that stick out of the window (not those in a scroll container).
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.table-scroll, pre')) continue;
    if (el.getBoundingClientRect().right <= window.innerWidth + 1) continue;
    const inner = Array.from(el.children).some(
      (c) => c.getBoundingClientRect().right > window.innerWidth + 1);
    if (!inner && culprits.length < 3) {
      const classes = typeof el.className === 'string' ? el.className.trim() : '';
      culprits.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (classes ? '.' + classes.split(/\s+/).join('.') : ''));
    }
  }
  return {scroll: doc.scrollWidth, inner: window.innerWidth, clipped: clipped, culprits: culprits};
}"""


class WidthCheck:
    """Screenshots, axe and the two layout checks of each page at each width."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.problems: list[str] = []
        self.elsewhere: list[str] = []

    def page(self, visitor: Visitor, name: str) -> None:
        page = visitor.page
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            self.evidence.checker.set_viewport_size({"width": width, "height": HEIGHT})
            measured = page.evaluate(MEASURE)
            where = f"{name} at {width} px"
            problems = self.elsewhere if name in RESTRUCTURED_ELSEWHERE else self.problems
            if measured["scroll"] > measured["inner"]:
                problems.append(
                    f"{where}: the page scrolls sideways "
                    f"({measured['scroll']} px wide in a {measured['inner']} px window; "
                    f"sticking out: {', '.join(measured['culprits']) or '?'})"
                )
            for heading in measured["clipped"]:
                problems.append(f"{where}: heading clipped: {heading}")
            self.evidence.record(visitor, f"{name}-{width}")

    def printed(self, visitor: Visitor, name: str, keeps: str) -> None:
        """The page on paper: no navigation, footer or forms; ``keeps`` still shown."""
        page = visitor.page
        page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
        page.emulate_media(media="print")
        hidden = "header.site nav, footer.site, main form, main nav"
        shown = page.evaluate(
            "(sel) => Array.from(document.querySelectorAll(sel))"
            ".filter((e) => e.getClientRects().length > 0).map((e) => e.tagName.toLowerCase())",
            hidden,
        )
        if shown:
            self.problems.append(f"{name} printed: still prints {', '.join(shown)}")
        if not page.locator(keeps).first.is_visible():
            self.problems.append(f"{name} printed: {keeps} is not printed")
        page.screenshot(path=self.evidence.folder / f"print-{name}.png", full_page=True)
        page.emulate_media(media="screen")

    def assert_clean(self) -> None:
        self.evidence.assert_accessible()
        if self.elsewhere:
            listed = "\n".join(self.elsewhere)
            warnings.warn(
                self.evidence.redacted(f"pages being restructured do not fit yet:\n{listed}"),
                stacklevel=2,
            )
        if self.problems:
            listed = "\n".join(self.problems)
            pytest.fail(self.evidence.redacted(f"pages that do not fit:\n{listed}"), pytrace=False)


def new_tab(browser: Browser, language: str, *, scripts: bool) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        java_script_enabled=scripts,
        locale=LOCALES[language],
        viewport={"width": WIDTHS[-1], "height": HEIGHT},
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def sign_in(page: Page, base: str, staff: Staff, clock: FixedClock) -> None:
    """Password, then the authenticator's code, through the sign-in pages."""
    page.goto(f"{base}/staff/sign-in")
    page.locator("#email").fill(staff.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/staff/sign-in/code**")
    assert staff.totp_secret is not None
    clock.advance(timedelta(seconds=30))  # each code works once
    code = totp.code_at(staff.totp_secret, clock.now())
    type_into(page.locator("#code"), code, "the sign-in code")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    if "/staff/sign-in" in page.url:
        pytest.fail(f"{staff.user.display_name} could not sign in", pytrace=False)


def report_and_open_mailbox(
    check: WidthCheck, reporter: Visitor, base: str, world: TourWorld
) -> None:
    """The reporter's pages that need a report: the code page and the mailbox."""
    page = reporter.page
    page.goto(f"{base}/o/{world.slug}/report")
    last = page.locator("#category option").last.get_attribute("value")
    assert last is not None
    page.locator("#category").select_option(last)
    type_into(page.locator("#what"), REPORT_TEXT, "the report")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/report/code")
    code = page.locator(".case-code .code").inner_text().strip()
    check.evidence.keep_secret(code)
    check.page(reporter, "case-code")
    check.printed(reporter, "case-code", ".case-code .code")
    page.locator("#written_down").check()
    page.locator("form:has(#written_down) button[type=submit]").click()
    page.wait_for_url("**/case/")
    check.page(reporter, "mailbox")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("language", ["da", "en"])
def test_the_main_pages_fit_every_width(
    language: str,
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    world = tour_world(app, session, clock, unit)
    evidence = Evidence.start(
        f"widths/{language}", language, axe_source, checker, accessibility=True
    )
    evidence.keep_secret(TEST_PASSWORD, REPORT_TEXT)
    check = WidthCheck(evidence)

    context, page = new_tab(browser, language, scripts=False)
    reporter = Visitor(page, scripts=False)
    for stop in world.reporter_stops():
        page.goto(f"{live_server}{stop.path}")
        check.page(reporter, stop.name)
    report_and_open_mailbox(check, reporter, live_server, world)
    page.goto(f"{live_server}/staff/sign-in")
    check.page(reporter, "staff-sign-in")
    context.close()

    for role, stops in world.staff_stops().items():
        context, page = new_tab(browser, language, scripts=True)
        sign_in(page, live_server, world.staff_member(role), clock)
        visitor = Visitor(page, scripts=True)
        for stop in stops:
            page.goto(f"{live_server}{stop.path}")
            check.page(visitor, stop.name)
            if stop.name == "case":
                check.printed(visitor, "case", "main h1")
        context.close()

    check.assert_clean()
