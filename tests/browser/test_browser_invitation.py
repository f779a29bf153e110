"""An invitation link opened in a real browser, on a phone's screen, with and without
JavaScript: the secret after ``#`` reaches the server only in a form's body, never in a
request line or a Referer (whistle/static/fragment.js, whistle/staff/views/invitations.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import require_playwright

require_playwright()

from playwright.sync_api import Browser  # noqa: E402

from tests.steps.factories import Unit  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.core.models import Role  # noqa: E402
from whistle.staff.invitations import invite  # noqa: E402

pytestmark = pytest.mark.browser

PASSWORD = "blaa-hest-danser-tango-i-regnvejr"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


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
