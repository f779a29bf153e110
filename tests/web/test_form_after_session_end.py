"""A form sent after its session ended is not lost (issue 16): the answer says why, shows back
what was typed in its free-text fields (never a password, code or token), stores nothing, and
leads to signing in again: staff back to the page the form was on, reporters to the code page.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.cases import hanne, signed_in, submit
from tests.steps.factories import TEST_PASSWORD, Unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import form_token
from whistle.core.clock import FixedClock
from whistle.core.models import Message

IDLE = timedelta(minutes=16)  # past the 15 idle minutes of either session
NOTE = "Fake note: the warehouse manager was on leave that week, check the rota."
REPLY = "Fake reply: the pallets left on Friday evenings, after the last shift."
NEW_PASSWORD = "fake-new-password-that-is-long"


def sign_in_link(html: str) -> str:
    found = re.search(r'<a class="button" href="([^"]+)">Sign in again</a>', html)
    assert found, "the page offers no way to sign in again"
    return unescape(found.group(1))


def test_a_staff_note_sent_after_the_idle_time_comes_back_with_a_way_in(
    app: Flask,
    clock: FixedClock,
    unit: Unit,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = submit(app, session, unit)
    messages = session.scalar(select(func.count()).select_from(Message))
    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(case.reference)
    name, token = form_token(page, worker.case_path(case.reference, "note"))

    clock.advance(IDLE)
    with caplog.at_level(logging.DEBUG):
        late = worker.post(
            worker.case_path(case.reference, "note"), {name: token, "note-body": NOTE}
        )
    assert late.status_code == 403
    shown = text_of(late)
    assert "Your session has ended" in shown
    assert "signed out after a while without activity" in shown
    assert NOTE in shown, "the note typed is shown back to be copied"
    assert NOTE not in caplog.text, "what was typed is never logged"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message)) == messages, "none stored"

    # Signing in again through the page's link leads back to the case page.
    link = sign_in_link(late.get_data(as_text=True))
    assert link == f"/staff/sign-in?next=/staff/{unit.org.slug}/cases/{case.reference}"
    first = worker.submit(link, {"email": worker.staff.user.email, "password": TEST_PASSWORD})
    back = worker.submit(first.headers["Location"], {"code": worker.current_code()})
    assert back.headers["Location"] == worker.case_path(case.reference)


def test_a_staff_form_without_a_session_never_shows_a_password_back(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    worker = signed_in(hanne(app, clock, unit))
    page = worker.get("/staff/account/password")
    token = csrf_token(page)
    clock.advance(IDLE)
    late = worker.post(
        "/staff/account/password",
        {
            "csrf_token": token,
            "current": TEST_PASSWORD,
            "new": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert late.status_code == 403
    html = late.get_data(as_text=True)
    assert "Your session has ended" in text_of(late)
    for secret in (TEST_PASSWORD, NEW_PASSWORD, token):
        assert secret not in html
    assert sign_in_link(html) == "/staff/sign-in?next=/staff/account/password"


def test_a_form_from_a_browser_that_never_signed_in_is_not_told_a_session_ended(
    app: Flask, unit: Unit
) -> None:
    stranger = app.test_client()
    token_page = stranger.get("/staff/sign-in", headers={"Accept-Language": "en"})
    sent = stranger.post(
        f"/staff/{unit.org.slug}/cases/X-1/note",
        data={"csrf_token": csrf_token(token_page), "note-body": NOTE},
        headers={"Accept-Language": "en"},
    )
    assert sent.status_code == 403
    shown = text_of(sent)
    assert "You are not signed in" in shown
    assert "Your session has ended" not in shown
    assert NOTE in shown


def test_a_reporters_reply_after_the_idle_time_is_shown_back_with_the_way_in(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    token = csrf_token(reporter.mailbox())
    before = session.scalar(select(func.count()).select_from(Message))

    clock.advance(IDLE)
    late = reporter.post(
        f"/o/{unit.org.slug}/case/",
        {"csrf_token": token, "body": REPLY},
        content_type="multipart/form-data",
    )
    assert late.status_code == 403
    shown = text_of(late)
    assert "Your session has ended" in shown
    assert "you have left your case" in shown
    assert REPLY in shown, "the reply typed is shown back to be copied"
    assert code not in late.get_data(as_text=True)
    assert f'href="/o/{unit.org.slug}/case/open"' in late.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message)) == before


def test_a_form_whose_session_cookie_is_gone_gets_the_text_back(app: Flask, unit: Unit) -> None:
    """A CSRF token of an ended browser session (the cookie is gone: the browser was
    closed, or cookies cleared): the form is not taken, and its text is shown back."""
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())
    token = csrf_token(reporter.mailbox())
    reporter.client.delete_cookie("whistle_session")
    late = reporter.post(
        f"/o/{unit.org.slug}/case/",
        {"csrf_token": token, "body": REPLY},
        content_type="multipart/form-data",
    )
    assert late.status_code == 400
    shown = text_of(late)
    assert "The form has expired" in shown
    assert REPLY in shown
    assert f'href="/o/{unit.org.slug}/case/open"' in late.get_data(as_text=True)
