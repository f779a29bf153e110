"""An invitation link opened in a real browser, on a phone's screen, with and without
JavaScript: the secret after ``#`` reaches the server only in a form's body, never in a
request line or a Referer (whistle/static/fragment.js, whistle/staff/views/invitations.py).
And, in Danish and English, the page the link opens with a guessable password refused: every
reason beside the field, the name kept (screenshots in
test-output/browser/invitation-<language>-<database>/, axe-core on every page)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.availability import TIMEOUT_MS  # noqa: E402
from tests.browser.evidence import Evidence, Visitor, heading, shows, type_into  # noqa: E402
from tests.steps.factories import Unit  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Role  # noqa: E402
from whistle.staff.invitations import invite  # noqa: E402

pytestmark = pytest.mark.browser

PASSWORD = "blaa-hest-danser-tango-i-regnvejr"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
# Refused by zxcvbn (whistle/staff/passwords.py), though it has every "kind" of character.
GUESSABLE = "Summer2025!!"
NAME = "Testa Telefon"
# What the page says, typed out here so that a lost translation fails.
WORDS = {
    "da": {
        "locale": "da-DK",
        "join": "Tilslut dig Testfirma testfirma ApS",
        "accept": "Acceptér invitationen",
        "summary": "Ret venligst følgende",
        "refused": [
            "Denne adgangskode ville være for let at gætte.",
            "Den er, eller ligner, en adgangskode, som mange bruger.",
            "Bedre: fire eller flere almindelige ord, der intet har med hinanden eller med dig "
            "at gøre, med mellemrum eller bindestreger imellem.",
        ],
    },
    "en": {
        "locale": "en-GB",
        "join": "Join Testfirma testfirma ApS",
        "accept": "Accept the invitation",
        "summary": "Please correct the following",
        "refused": [
            "This password would be too easy to guess.",
            "It is, or is close to, a password many people use.",
            "Better: four or more ordinary words that have nothing to do with each other or with "
            "you, with spaces or dashes between them.",
        ],
    },
}


def record_requests(app: Flask) -> list[str]:
    """What a server's access log could see of each request: its line and its Referer."""
    seen: list[str] = []
    wrapped = app.wsgi_app

    def logging_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(
            f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"
            f"?{environ.get('QUERY_STRING', '')} referer={environ.get('HTTP_REFERER', '-')}"
        )

        def started(status: str, headers: Iterable[tuple[str, str]], *args: Any) -> Any:
            headers = list(headers)
            seen.extend(f"location={v}" for k, v in headers if k.lower() == "location")
            return start_response(status, headers, *args)

        return wrapped(environ, started)

    app.wsgi_app = logging_app  # type: ignore[method-assign]
    return seen


def new_invitation(app: Flask, session: Session, clock: FixedClock, unit: Unit, email: str) -> str:
    with app.app_context():
        issued = invite(
            session,
            clock,
            unit.org,
            email=email,
            roles=[Role.AUDITOR],
            invited_by=unit.admin.user.id,
        )
    return issued.token


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_an_invitation_link_opens_on_a_phone_and_its_secret_stays_out_of_every_request_line(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    live_server: str,
    browser: Browser,
    scripts: bool,
) -> None:
    token = new_invitation(app, session, clock, unit, "testa.telefon@example.org")
    seen = record_requests(app)
    context = browser.new_context(java_script_enabled=scripts, locale="en-GB", **PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/staff/invitation#{token}")
    if scripts:
        # The page sends the secret itself, and takes it out of the address bar.
        page.get_by_role("heading", name="Join Testfirma testfirma ApS").wait_for()
        assert token not in page.url
    else:
        # Without script the person pastes the part after "#".
        page.get_by_label("Invitation code").fill(token)
        page.get_by_role("button", name="Open the invitation").click()
        page.get_by_role("heading", name="Join Testfirma testfirma ApS").wait_for()
    page.get_by_label("Your name").fill("Testa Telefon")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Accept the invitation").click()
    page.wait_for_url("**/staff/sign-in/enrol")
    context.close()

    assert any(line.startswith("POST /staff/invitation?") for line in seen), seen
    for line in seen:
        assert token not in line, line


def gaps_between(page: Page, selector: str) -> float:
    """The smallest space (px) between one of the elements and the next."""
    gap: float = page.evaluate(
        """(sel) => {
          const boxes = Array.from(document.querySelectorAll(sel),
                                   (e) => e.getBoundingClientRect());
          return Math.min(...boxes.slice(1).map((b, i) => b.top - boxes[i].bottom));
        }""",
        selector,
    )
    return gap


@pytest.mark.parametrize("language", ["da", "en"])
def test_a_guessable_password_on_the_invitation_page_is_refused_with_its_reasons_and_the_name_kept(
    language: str,
    request: pytest.FixtureRequest,
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    live_server: str,
    browser: Browser,
    checker: Page,
    axe_source: str,
) -> None:
    words = WORDS[language]
    ev = Evidence.for_database(request, f"invitation-{language}", language, axe_source, checker)
    ev.keep_secret(GUESSABLE)
    token = new_invitation(app, session, clock, unit, "testa.telefon@example.org")
    ev.keep_secret(token)
    context = browser.new_context(locale=words["locale"], **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    invited = Visitor(context.new_page(), scripts=True)
    page = invited.page

    # The link's secret after "#" is moved into the form and sent (fragment.js).
    page.goto(f"{live_server}/staff/invitation#{token}")
    page.get_by_role("heading", name=words["join"]).wait_for()
    ev.record_at_widths(invited, "accept-form")
    page.set_viewport_size(PHONE["viewport"])

    page.locator("#display_name").fill(NAME)
    type_into(page.locator("#password"), GUESSABLE, "the password")
    type_into(page.locator("#confirm"), GUESSABLE, "the repeated password")
    page.locator("main").get_by_role("button", name=words["accept"], exact=True).click()
    page.wait_for_load_state()

    # Still the invitation, every reason beside the password and in the summary's link, the
    # name as typed; the passwords are not sent back into the page.
    assert heading(page) == words["join"]
    shows(page, words["refused"], "why the password was refused", where="#password-error")
    shows(page, [words["summary"], words["refused"][0]], "the error summary", where="main")
    assert page.locator("#display_name").input_value() == NAME
    assert page.locator("#password").input_value() == ""
    assert page.locator("#password").get_attribute("aria-invalid") == "true"
    # One reason a line, with space between them: not one block of bold red.
    assert page.locator("#password-error li").count() >= len(words["refused"])
    assert gaps_between(page, "#password-error li") > 0
    ev.record_at_widths(invited, "guessable-password-refused")
    context.close()
    ev.assert_accessible()
