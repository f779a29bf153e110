"""An invitation leaks nothing: its secret is in no request line, Referer, redirect or log, and
the inviting administrator learns nothing about accounts in other organisations.

The access log here records what gunicorn's ``%(r)s`` does (method, path, query string,
protocol), and the Referer and Location headers besides: a stricter log than the README's
``%(m)s %(U)s``. The secret travels after ``#`` in the link (never sent by a browser) and in
form bodies only (whistle/staff/views/invitations.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.factories import Unit, make_unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.sign_in import INVITEE, accept_link, invite, link_on, newcomer, open_link
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.models import Invitation
from whistle.core.runtime import runtime

NEW_PASSWORD = "blaa-hest-danser-tango-i-regnvejr"
JOIN = {"display_name": "Testa Testesen", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}


class AccessLog:
    """Every request line as gunicorn's ``%(r)s`` writes it, with its Referer and the
    response's Location: wraps the app's WSGI callable, as a server's logger sees it."""

    def __init__(self, app: Flask) -> None:
        self.lines: list[str] = []
        self.wrapped = app.wsgi_app
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = environ.get("QUERY_STRING", "")
        path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        self.lines.append(
            f"{environ['REQUEST_METHOD']} {path}{'?' + query if query else ''} "
            f"{environ.get('SERVER_PROTOCOL', '')} referer={environ.get('HTTP_REFERER', '-')}"
        )

        def logged(status: str, headers: Iterable[tuple[str, str]], *args: Any) -> Any:
            headers = list(headers)
            where = [v for k, v in headers if k.lower() == "location"]
            self.lines.append(f"{status} location={where[0] if where else '-'}")
            return start_response(status, headers, *args)

        return self.wrapped(environ, logged)


def mailed_link(smtp_server: SmtpReceiver) -> str:
    found = re.search(
        r"(http://localhost/staff/invitation\S*)", smtp_server.received[-1].message.get_content()
    )
    assert found
    return found.group(1)


def test_an_invitation_secret_is_in_no_request_line_referer_redirect_or_log(
    mail_app: Flask,
    clock: FixedClock,
    smtp_server: SmtpReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = runtime(mail_app)
    with mail_app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
    log = AccessLog(mail_app)
    caplog.set_level(logging.DEBUG)
    admin = StaffMember(mail_app, clock, unit.admin)
    admin.sign_in()
    invite(admin, INVITEE, "handler")
    link = urlsplit(mailed_link(smtp_server))
    secret = link.fragment
    assert len(secret) >= 40
    # The e-mailed address carries the secret after "#" only: the path and query have none.
    assert secret not in link.path + link.query and not link.query

    # The person opens it on any device: the page moves the secret into a form's body.
    testa = newcomer(mail_app, clock)
    joined = accept_link(testa, f"{link.path}#{secret}", JOIN)
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/staff/sign-in/enrol"
    assert testa.get("/staff/sign-in/enrol").status_code == 200

    assert any(line.startswith("POST /staff/invitation ") for line in log.lines)
    for line in log.lines:
        assert secret not in line, line
    assert secret not in caplog.text


def test_an_invitation_secret_in_the_address_is_refused_unread(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    admin = StaffMember(app, clock, unit.admin)
    admin.sign_in()
    link = link_on(invite(admin, INVITEE, "handler"))
    secret = link.partition("#")[2]
    testa = newcomer(app, clock)
    page = testa.get("/staff/invitation")
    for address in (
        f"/staff/invitation?token={secret}",
        f"/staff/invitation?{secret}",
        f"/staff/invitation/{secret}",
    ):
        for answer in (
            testa.get(address),
            testa.post(address, {"csrf_token": csrf_token(page), "token": secret, **JOIN}),
        ):
            assert answer.status_code == 410, address
            assert "This link is of an older kind" in text_of(answer)
    session.expire_all()
    assert session.scalars(select(Invitation.used_at)).one() is None
    # The same secret in a form's body opens the invitation.
    assert "Join Testfirma testfirma ApS" in text_of(open_link(testa, link))


# --- What the inviting administrator learns about other organisations' accounts -------------


def normalised(page: TestResponse, *variable: str) -> str:
    """A page with what differs by design taken out: the address typed, CSRF tokens, link
    secrets and row ids."""
    html = page.get_data(as_text=True)
    for value in variable:
        html = html.replace(value, "ADDRESS")
    # CSRF tokens (signed, with a time) and link secrets: opaque values, different each time.
    html = re.sub(r'value="[A-Za-z0-9_.-]{40,}"', 'value="OPAQUE"', html)
    html = re.sub(r"invitation#[A-Za-z0-9_-]+", "invitation#SECRET", html)
    return re.sub(r'(name="invitation" type="hidden" value=")\d+', r"\1ID", html)


def withdraw(admin: StaffMember, answer: TestResponse) -> None:
    """Withdraw the invitation just made, so the next one meets the same page."""
    found = re.search(
        r'name="invitation" type="hidden" value="(\d+)"', answer.get_data(as_text=True)
    )
    assert found
    gone = admin.post(
        "/staff/testfirma/admin/users/invitations/withdraw",
        {"csrf_token": csrf_token(answer), "invitation": found.group(1)},
    )
    assert gone.status_code == 303


def invite_and_withdraw(admin: StaffMember, email: str) -> tuple[TestResponse, TestResponse]:
    """Invite ``email``: the answer, and the page a stranger opens with its link."""
    answer = invite(admin, email, "handler")
    assert answer.status_code == 200
    shown = open_link(newcomer(admin.app, admin.clock), link_on(answer))
    withdraw(admin, answer)
    return answer, shown


@pytest.fixture
def other_unit(app: Flask, clock: FixedClock, unit: Unit) -> Unit:
    with app.app_context(), runtime(app).sessions() as session:
        return make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")


def test_the_inviting_admin_gets_the_same_answers_for_an_address_known_elsewhere(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit
) -> None:
    known = other_unit.handlers[0].user.email
    admin = StaffMember(app, clock, unit.admin)
    admin.sign_in()
    new_answer, new_link_page = invite_and_withdraw(admin, INVITEE)
    known_answer, known_link_page = invite_and_withdraw(admin, known)

    assert known_answer.status_code == new_answer.status_code == 200
    assert normalised(known_answer, known) == normalised(new_answer, INVITEE)
    # The link the administrator holds opens the same page too.
    assert known_link_page.status_code == new_link_page.status_code == 200
    assert normalised(known_link_page, known) == normalised(new_link_page, INVITEE)
    assert "already have an account" not in text_of(known_link_page)
    # And so does the People page afterwards.
    people = admin.get("/staff/testfirma/admin/users")
    assert known not in text_of(people)


def test_with_mail_the_admin_and_the_mail_say_the_same_for_an_address_known_elsewhere(
    mail_app: Flask, clock: FixedClock, smtp_server: SmtpReceiver
) -> None:
    rt = runtime(mail_app)
    with mail_app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        other = make_unit(s, clock, rt.settings.instance_key, slug="andetfirma")
    known = other.handlers[0].user.email
    admin = StaffMember(mail_app, clock, unit.admin)
    admin.sign_in()
    answers, mails = [], []
    for email in (INVITEE, known):
        answer = invite(admin, email, "handler")
        answers.append(normalised(answer, email))
        sent = smtp_server.received[-1].message
        # What the person reads (the Message-ID, random for every mail, aside).
        message = f"{sent['To']}\n{sent['Subject']}\n{sent.get_content()}".replace(email, "ADDRESS")
        mails.append(re.sub(r"invitation#[A-Za-z0-9_-]+", "invitation#SECRET", message))
        withdraw(admin, answer)
    assert "The invitation has been sent to ADDRESS by e-mail." in answers[0]
    assert answers[0] == answers[1]
    assert mails[0] == mails[1]
