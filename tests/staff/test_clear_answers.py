"""Staff pages that answer plainly (issue 16): the first visit is not told a session ended,
a used invitation link says what to do, the invitation page says truthfully who sees the
name, and a password is judged on every rule at once."""

from __future__ import annotations

from flask import Flask

from tests.steps.factories import TEST_PASSWORD, Unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.sign_in import (
    INVITEE,
    accept_link,
    browser,
    change_password,
    field_errors,
    invite,
    link_on,
    newcomer,
    open_link,
    signed_in_admin,
)
from whistle.core.clock import FixedClock

SESSION_ENDED = "Your session has ended"
TOO_SHORT = "Use at least 12 characters."
HAS_NAME = "The password must not contain your name or e-mail address."
TOO_SIMPLE = "This password would be too easy to guess."
NOT_THE_SAME = "The two passwords are not the same."


def test_the_first_visit_to_the_staff_pages_is_not_told_a_session_ended(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    visitor = newcomer(app, clock)
    first = visitor.get("/staff/")
    assert first.status_code == 303
    assert "ended" not in first.headers["Location"]
    page = visitor.get(first.headers["Location"])
    assert SESSION_ENDED not in text_of(page)
    assert "Sign in to open that page." in text_of(page)


def test_a_session_that_really_ended_is_named(app: Flask, clock: FixedClock, unit: Unit) -> None:
    from datetime import timedelta

    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    clock.advance(timedelta(minutes=16))
    gone = hanne.get("/staff/")
    assert gone.headers["Location"].startswith("/staff/sign-in?ended=1")
    assert SESSION_ENDED in text_of(hanne.get(gone.headers["Location"]))


def test_the_invitation_page_says_truthfully_who_sees_the_name(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = signed_in_admin(app, clock, unit)
    handler_page = text_of(
        open_link(newcomer(app, clock), link_on(invite(admin, INVITEE, "handler")))
    )
    # The report form lists handlers and leads by name so a reporter can keep one out.
    assert "Reporters see it too" in handler_page
    assert "never see" not in handler_page
    counsel = "conny.counsel@example.org"
    counsel_page = text_of(
        open_link(newcomer(app, clock, counsel), link_on(invite(admin, counsel, "counsel")))
    )
    assert "Reporters do not see it" in counsel_page


def test_a_used_invitation_link_says_why_and_what_to_do(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = signed_in_admin(app, clock, unit)
    link = link_on(invite(admin, INVITEE, "auditor"))
    testa = newcomer(app, clock)
    fields = {"display_name": "Testa Testesen", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    assert accept_link(testa, link, fields).status_code == 303
    again = open_link(newcomer(app, clock), link)
    assert again.status_code == 404
    shown = text_of(again)
    assert "This invitation link does not work" in shown
    assert "sign in with the password you chose" in shown
    assert 'href="/staff/sign-in"' in again.get_data(as_text=True)
    unknown = open_link(newcomer(app, clock), "/staff/invitation#" + "x" * 43)
    assert unknown.status_code == 404
    assert "This invitation link does not work" in text_of(unknown)


def test_an_invitation_link_of_the_old_form_says_to_use_a_new_one(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    """Links sent before the secret moved after "#" carried it in the path, which access logs
    recorded: they open nothing, and say what to do instead (no error page, no 500)."""
    old = "/staff/invitation/" + "x" * 43
    for member in (newcomer(app, clock), browser(app, clock, unit.handlers[0])):
        # An old accept page still open in a browser posts its form there too.
        token = csrf_token(member.get("/staff/sign-in"))
        sent = {"csrf_token": token, "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
        for answer in (member.get(old), member.post(old, sent)):
            assert answer.status_code == 410
            shown = text_of(answer)
            assert "This link is of an older kind" in shown
            assert "ask the administrator who invited you to invite you again" in shown
            assert 'name="password"' not in answer.get_data(as_text=True)


def test_the_invitation_form_names_every_password_problem_at_once(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = signed_in_admin(app, clock, unit)
    link = link_on(invite(admin, INVITEE, "handler"))
    testa = newcomer(app, clock)
    refused = accept_link(
        testa, link, {"display_name": "Testa", "password": "testa1", "confirm": "other"}
    )
    assert refused.status_code == 200
    assert TOO_SHORT in field_errors(refused, "password")
    assert HAS_NAME in field_errors(refused, "password")
    assert field_errors(refused, "confirm") == NOT_THE_SAME


def test_the_password_change_names_every_problem_at_once(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    refused = change_password(hanne, TEST_PASSWORD, "aaaa", confirm="bbbb")
    assert refused.status_code == 200
    assert TOO_SHORT in field_errors(refused, "new")
    assert TOO_SIMPLE in field_errors(refused, "new")
    assert field_errors(refused, "confirm") == NOT_THE_SAME


def test_a_page_a_staff_member_may_not_open_leads_back_to_their_start_page(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    refused = hanne.get("/staff/testfirma/admin/users")
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert 'href="/staff/"' in html and "Go to your start page" in html
