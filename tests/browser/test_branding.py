"""The organisation's colour and logo as a browser draws them, and Whistle's favicon (issue 16).

A dark colour becomes the accent of the organisation's pages (the line above the page, links,
buttons); a colour too light to read falls back to Whistle's blue. The logo shows in the
header. Screenshots: ``test-output/browser/branding/``.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor  # noqa: E402
from tests.steps.factories import Unit  # noqa: E402
from whistle.admin.accent import set_accent  # noqa: E402
from whistle.admin.logo import set_logo  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402

pytestmark = pytest.mark.browser

WHISTLE_BLUE = "rgb(11, 92, 173)"  # --accent in whistle.css
DARK_GREEN = ("#1a6b3c", "rgb(26, 107, 60)")
AMBER = "#f2b600"  # too light: not used

STYLES = """() => ({
  line: getComputedStyle(document.querySelector('header.site')).borderTopColor,
  button: getComputedStyle(document.querySelector('main a.button')).backgroundColor,
  logo: (document.querySelector('header.site .brand img') || {naturalWidth: 0}).naturalWidth,
})"""


def a_logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 80), (26, 107, 60)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_organisations_colour_and_logo_on_its_pages(
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    org, admin = unit.org, unit.admin.user.id
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    visitor = Visitor(context.new_page(), scripts=False)
    page = visitor.page
    evidence = Evidence.start("branding", "en", axe_source, checker, accessibility=True)
    start = f"{live_server}/o/{org.slug}/"

    page.goto(start)
    assert page.evaluate(STYLES) == {"line": WHISTLE_BLUE, "button": WHISTLE_BLUE, "logo": 0}
    icon = page.get_attribute("link[rel=icon]", "href")
    assert icon is not None
    served = context.request.get(f"{live_server}{icon}")
    assert served.ok and served.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in served.body()

    with app.app_context():
        set_accent(session, clock, org.id, admin, DARK_GREEN[0])
        set_logo(session, clock, org.id, admin, a_logo())
    page.goto(start)
    shown = page.evaluate(STYLES)
    assert (shown["line"], shown["button"]) == (DARK_GREEN[1], DARK_GREEN[1])
    assert shown["logo"] > 0
    evidence.record(visitor, "dark-green")

    with app.app_context():
        set_accent(session, clock, org.id, admin, AMBER)
    page.goto(start)
    assert page.evaluate(STYLES)["line"] == WHISTLE_BLUE
    evidence.record(visitor, "too-light-falls-back")

    context.close()
    evidence.assert_accessible()
