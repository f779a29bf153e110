"""The admin console's texts and categories in a real browser (issue 16), in Danish and English.

An administrator signs in, writes a text in Markdown, previews it (nothing saved), saves it and
sees it on the reporting page; adds a category, which lands before "Not sure", and moves it up
with its button (a small form: no JavaScript needed). Each page is screenshotted at 1,280, 768
and 360 px (tests/browser/evidence.py) and checked with axe-core.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, shows, type_into  # noqa: E402
from tests.steps.factories import TEST_PASSWORD, Unit  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

WIDTHS = (1280, 768, 360)
TEXT = (
    "Our unit is **two fake lawyers**.\n\n"
    "## How to reach us\n\n"
    "- by the [fake unit's page](https://example.org/unit)\n"
    "- here, *anonymously*\n\n"
    '<script>alert(1)</script><img src=x onerror="alert(1)">'
)
WORDS = {
    "da": {
        "locale": "da-DK",
        "sign_in": "Log ind",
        "continue": "Fortsæt",
        "preview": "Forhåndsvis",
        "save_texts": "Gem teksterne",
        "previewing": "Dette er en forhåndsvisning",
        "saved": "Gemt.",
        "add": "Tilføj kategorien",
        "up": "Flyt “{name}” op",
        "not_sure": "Ved ikke",
        "help": "Eksempler",
    },
    "en": {
        "locale": "en-GB",
        "sign_in": "Sign in",
        "continue": "Continue",
        "preview": "Preview",
        "save_texts": "Save the texts",
        "previewing": "This is a preview",
        "saved": "Saved.",
        "add": "Add the category",
        "up": "Move “{name}” up",
        "not_sure": "Not sure",
        "help": "Examples",
    },
}


def click(page: Page, name: str, within: str = "main") -> None:
    page.locator(within).get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def at_every_width(ev: Evidence, visitor: Visitor, step: str) -> None:
    for width in WIDTHS:
        visitor.page.set_viewport_size({"width": width, "height": 900})
        ev.record(visitor, f"{step}-{width}")
    visitor.page.set_viewport_size({"width": WIDTHS[0], "height": 900})


@pytest.mark.parametrize("language", ["da", "en"])
def test_texts_and_categories_at_the_console(
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
    ev = Evidence.for_database(request, f"admin-{language}", language, axe_source, checker)
    ev.keep_secret(TEST_PASSWORD)
    context = browser.new_context(locale=words["locale"])
    context.set_default_timeout(TIMEOUT_MS)
    visitor = Visitor(context.new_page(), scripts=True)
    page = visitor.page
    slug = unit.org.slug
    admin = unit.admin

    page.goto(f"{live_server}/staff/sign-in")
    page.locator("#email").fill(admin.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    click(page, words["continue"])
    assert admin.totp_secret is not None
    clock.advance(timedelta(seconds=30))
    code = totp.code_at(admin.totp_secret, clock.now())
    type_into(page.locator("#code"), code, "the sign-in code")
    click(page, words["sign_in"])

    # --- texts: Markdown, a preview that saves nothing, then saved and shown ------------------
    page.goto(f"{live_server}/staff/{slug}/admin/texts")
    page.get_by_text(words["help"], exact=True).click()  # the syntax help opens
    at_every_width(ev, visitor, "texts")
    box = page.locator(f"#who_handles_{language}")
    assert int(box.get_attribute("rows") or 0) >= 12
    box.fill(TEXT)
    click(page, words["preview"])
    shows(page, [words["previewing"]], "the preview notice")
    preview = page.locator(f"#text-who_handles section.preview[lang={language}]")
    assert preview.locator("strong").inner_text() == "two fake lawyers"
    assert preview.locator("h3").inner_text() == (
        "How to reach us"  # a text's "##" sits under the page's own headings
    )
    assert preview.locator("img, script").count() == 0
    assert page.locator(f"#who_handles_{language}").input_value() == TEXT  # kept as typed
    at_every_width(ev, visitor, "texts-preview")
    click(page, words["save_texts"])
    shows(page, [words["saved"]], "that the texts were saved")

    page.goto(f"{live_server}/o/{slug}/")
    section = page.locator("section[aria-labelledby=who]")
    assert section.locator("strong").inner_text() == "two fake lawyers"
    link = section.get_by_role("link", name="fake unit's page")
    assert link.get_attribute("href") == "https://example.org/unit"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert section.locator("img, script").count() == 0
    ev.record(visitor, "reporting-page-with-the-text")

    # --- categories: one row each; a new one lands before "Not sure" and moves up ---------------
    page.goto(f"{live_server}/staff/{slug}/admin/categories")
    page.locator("#add-label_da").fill("Snyd med timer")
    page.locator("#add-label_en").fill("Fake time fraud")
    click(page, words["add"])
    rows = page.locator("table.categories tbody tr")
    name = "Snyd med timer" if language == "da" else "Fake time fraud"
    assert rows.nth(rows.count() - 1).locator("strong").inner_text() == words["not_sure"]
    assert rows.nth(rows.count() - 2).locator("strong").inner_text() == name
    rows.nth(rows.count() - 2).get_by_role(
        "button", name=words["up"].format(name=name), exact=True
    ).click()
    page.wait_for_load_state()
    assert rows.nth(rows.count() - 3).locator("strong").inner_text() == name
    # On a phone only the table is wider than the screen, inside its scrolling box
    # (.table-scroll, styled by the design system): the page around it is not.
    page.set_viewport_size({"width": 360, "height": 900})
    outside = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter((e) => e.getBoundingClientRect().right > 361 && !e.closest('.table-scroll'))
            .map((e) => e.tagName)"""
    )
    assert outside == []
    page.set_viewport_size({"width": 1280, "height": 900})
    at_every_width(ev, visitor, "categories")

    page.goto(f"{live_server}/o/{slug}/report")
    options = page.locator("#category option").all_inner_texts()
    assert options[-1] == words["not_sure"] and options[-3] == name
    context.close()
    ev.assert_accessible()
