"""Staff sign-in (password, then a TOTP code), enrolment, the duty of confidentiality,
sessions, password change and invitations, as people use them in the browser."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeSerializer
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from crypto import Argon2Params, OpenError, unwrap_private_key
from tests.steps.factories import TEST_PASSWORD, Staff, Unit, add_staff, make_unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.setup_link import submit_setup
from tests.steps.sign_in import (
    INVITEE,
    NEW_PASSWORD,
    accept_link,
    browser,
    change_password,
    enrol,
    enter_password,
    field_errors,
    invite,
    link_on,
    newcomer,
    open_link,
    secret_shown,
    signed_in_admin,
    user,
)
from tests.steps.staff import StaffMember
from whistle.core import vault
from whistle.core.clock import FixedClock
from whistle.core.models import Invitation, Membership, Role, ThrottleEntry, User, WebSession
from whistle.core.runtime import runtime
from whistle.core.throttle import hashed
from whistle.setup.onboarding import issue_token
from whistle.staff import sign_in_delay, totp
from whistle.staff.auth import SignInRefused, check_code, check_password
from whistle.staff.views import qr_svg

WRONG_PASSWORD = "The e-mail address or the password is wrong."
WRONG_CODE = "The code is wrong or has expired."
WAIT = "Too many failed attempts. Nothing was checked: try again in 15 seconds"
SESSION_ENDED = "Your session has ended"
STAFF_LIFETIME = vault.Lifetime(idle=timedelta(minutes=15), absolute=timedelta(hours=8))
ARGON2 = Argon2Params.for_tests()


# --- fixtures and small steps ---------------------------------------------------------------


@pytest.fixture
def unit(app: Flask, clock: FixedClock) -> Unit:
    with app.app_context(), runtime(app).sessions() as session:
        return make_unit(session, clock, runtime(app).settings.instance_key)


@pytest.fixture
def other_unit(app: Flask, clock: FixedClock, unit: Unit) -> Unit:
    """A second organisation on the same deployment, with people of its own."""
    with app.app_context(), runtime(app).sessions() as session:
        return make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A database session for looking at rows; it never holds an app context."""
    with runtime(app).sessions() as session:
        yield session


def new_staff(
    app: Flask,
    clock: FixedClock,
    unit: Unit,
    name: str,
    roles: list[Role],
    *,
    instance_key: bytes | None = None,
    acknowledged: bool = True,
) -> Staff:
    """Someone added to the unit directly (not enrolled in TOTP unless ``instance_key``)."""
    with app.app_context(), runtime(app).sessions() as session:
        org = session.merge(unit.org)
        staff = add_staff(
            session, clock, org, name, roles, instance_key=instance_key, acknowledged=acknowledged
        )
        session.commit()
        return staff


def wrong_code(member: StaffMember) -> str:
    """Six digits that are certainly not a code the app accepts right now."""
    secret = member.staff.totp_secret
    assert secret is not None
    now = member.clock.now()
    window = {totp.code_at(secret, now + k * timedelta(seconds=30)) for k in range(-1, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in window)


def vault_token(app: Flask, member: StaffMember) -> str:
    """The vault token the browser's signed session cookie carries."""
    cookie = member.client.get_cookie("whistle_session")
    assert cookie is not None
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    token = serializer.loads(cookie.value)["staff"]
    assert isinstance(token, str)
    return token


def is_signed_in(member: StaffMember) -> bool:
    page = member.get("/staff/")
    if page.status_code == 200:
        return True
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in")
    return False


def attempts_counted_against(app: Flask, db: Session, email: str) -> int:
    """The sign-in attempts counted against the account (whistle/staff/sign_in_delay.py)."""
    scope = sign_in_delay.ACCOUNT.scope
    key = hashed(runtime(app).throttle_key, scope, sign_in_delay.account_key(email))
    db.expire_all()
    entry = db.get(ThrottleEntry, (scope, key))
    return entry.hits if entry else 0


def sessions_of(db: Session, user_id: int) -> list[WebSession]:
    db.expire_all()
    return list(db.scalars(select(WebSession).where(WebSession.user_id == user_id)))


PEOPLE = "/staff/testfirma/admin/users"  # the admin console's People page
WITHDRAW = "/staff/testfirma/admin/users/invitations/withdraw"


# --- sign-in --------------------------------------------------------------------------------


def test_right_password_and_code_open_the_staff_home(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = browser(app, clock, unit.admin)
    done = admin.sign_in()
    assert done.status_code == 303
    assert done.headers["Location"] == "/staff/"
    home = admin.get("/staff/")
    assert home.status_code == 200
    assert "Testfirma testfirma ApS" in text_of(home)
    html = home.get_data(as_text=True)
    assert f'href="{PEOPLE}"' in html
    assert 'href="/staff/testfirma/cases"' not in html, "an admin has no case inbox"

    lead = browser(app, clock, unit.handlers[2])
    assert lead.sign_in().status_code == 303
    lead_html = lead.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/testfirma/cases"' in lead_html
    assert f'href="{PEOPLE}"' not in lead_html


def test_wrong_password_unknown_address_and_inactive_account_get_the_same_answer(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    inactive = new_staff(app, clock, unit, "Ida Inaktiv", [Role.HANDLER])
    db.execute(
        text("UPDATE users SET is_active = :no WHERE id = :id"),
        {"no": False, "id": inactive.user.id},
    )
    db.commit()

    answers = []
    for email, password in [
        (hanne.user.email, "not-the-right-password"),
        ("nobody.at.all@example.org", TEST_PASSWORD),
        (inactive.user.email, TEST_PASSWORD),
    ]:
        member = newcomer(app, clock, email)
        page = member.submit("/staff/sign-in", {"email": email, "password": password})
        assert page.status_code == 200
        assert field_errors(page, "password") == WRONG_PASSWORD
        # No half-open session either: the code step sends them back to the start.
        assert member.get("/staff/sign-in/code").status_code == 303
        assert not is_signed_in(member)
        answers.append(text_of(page))
    assert answers[0] == answers[1] == answers[2]
    db.expire_all()
    assert db.scalars(select(WebSession)).all() == []


def test_a_wrong_code_keeps_you_out(app: Flask, clock: FixedClock, unit: Unit) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    assert enter_password(hanne).headers["Location"] == "/staff/sign-in/code"
    refused = hanne.submit("/staff/sign-in/code", {"code": wrong_code(hanne)})
    assert refused.status_code == 200
    assert WRONG_CODE in field_errors(refused, "code")
    assert not is_signed_in(hanne)
    # The password step alone opens no staff page.
    assert hanne.get("/staff/account/password").status_code == 303


def test_the_code_and_enrolment_pages_need_the_password_step_first(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    stranger = newcomer(app, clock)
    for path in ("/staff/sign-in/code", "/staff/sign-in/enrol", "/staff/sign-in/enrol/qr.svg"):
        page = stranger.get(path)
        assert page.status_code == 303, path
        # No session ever began in this browser: nothing "ended" (issue 16).
        assert page.headers["Location"] == "/staff/sign-in"


def test_a_code_cannot_be_used_twice(app: Flask, clock: FixedClock, unit: Unit) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    assert hanne.staff.totp_secret is not None
    used = totp.code_at(hanne.staff.totp_secret, clock.now())
    hanne.sign_out()

    # Someone who saw the code over her shoulder tries it within the same 30 seconds.
    onlooker = browser(app, clock, unit.handlers[0])
    assert enter_password(onlooker).status_code == 303
    replay = onlooker.submit("/staff/sign-in/code", {"code": used})
    assert WRONG_CODE in field_errors(replay, "code")
    assert not is_signed_in(onlooker)


def test_codes_one_step_off_work_and_two_steps_off_do_not(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    secret = unit.handlers[0].totp_secret
    assert secret is not None
    step = timedelta(seconds=30)

    # A phone running 30 seconds slow still gets in.
    assert enter_password(hanne).status_code == 303
    slow = totp.code_at(secret, clock.now() - step)
    assert hanne.submit("/staff/sign-in/code", {"code": slow}).status_code == 303
    hanne.sign_out()

    # One minute slow is too far.
    clock.advance(timedelta(minutes=5))
    assert enter_password(hanne).status_code == 303
    too_slow = totp.code_at(secret, clock.now() - 2 * step)
    assert too_slow not in {totp.code_at(secret, clock.now() + k * step) for k in (-1, 0, 1)}
    refused = hanne.submit("/staff/sign-in/code", {"code": too_slow})
    assert WRONG_CODE in field_errors(refused, "code")

    # One step fast works; two steps fast does not.
    too_fast = totp.code_at(secret, clock.now() + 2 * step)
    assert too_fast not in {totp.code_at(secret, clock.now() + k * step) for k in (-1, 0, 1)}
    assert WRONG_CODE in field_errors(
        hanne.submit("/staff/sign-in/code", {"code": too_fast}), "code"
    )
    fast = totp.code_at(secret, clock.now() + step)
    assert hanne.submit("/staff/sign-in/code", {"code": fast}).status_code == 303
    assert is_signed_in(hanne)


# --- throttling -----------------------------------------------------------------------------


def test_after_five_failures_the_account_waits_and_is_never_locked(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    for _ in range(3):
        assert field_errors(enter_password(hanne, "wrong-password-xyz"), "password") == (
            WRONG_PASSWORD
        )
    assert enter_password(hanne).status_code == 303
    assert WRONG_CODE in field_errors(
        hanne.submit("/staff/sign-in/code", {"code": wrong_code(hanne)}), "code"
    )
    fifth = hanne.submit("/staff/sign-in/code", {"code": wrong_code(hanne)})
    assert WRONG_CODE in field_errors(fifth, "code")

    # Now even the right password is not checked until the wait is over, and it says so.
    paused = enter_password(browser(app, clock, unit.handlers[0]))
    assert paused.status_code == 200
    assert WAIT in field_errors(paused, "password")
    assert not is_signed_in(hanne)

    # A colleague is not affected.
    henrik = browser(app, clock, unit.handlers[1])
    assert henrik.sign_in().status_code == 303
    assert is_signed_in(henrik)

    # Her wait (15 seconds) is over once his sign-in has moved the clock to his next code.
    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    assert is_signed_in(hanne)


def test_someone_guessing_an_account_does_not_make_its_owners_own_browser_wait(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    """The waits are per account, so a guesser would keep the unit out of its cases: a browser
    that has signed in to the account in full before is counted on its own."""
    hanne = browser(app, clock, unit.handlers[0])
    assert hanne.sign_in().status_code == 303
    hanne.sign_out()
    guesser = browser(app, clock, unit.handlers[0])
    for _ in range(8):
        enter_password(guesser, "wrong-password-xyz")
    # A new browser, hers or the guesser's, waits: the account is under attack.
    assert WAIT in field_errors(enter_password(browser(app, clock, unit.handlers[0])), "password")
    # Her own browser signs in at once, password and code.
    assert hanne.sign_in().status_code == 303
    assert is_signed_in(hanne)

    # The cookie proves nothing for another account: carried to Henrik's while his is
    # guessed at, it waits like any new browser.
    henrik = unit.handlers[1]
    for _ in range(8):
        enter_password(browser(app, clock, henrik), "wrong-password-xyz")
    known = hanne.client.get_cookie("whistle_known_browser", path="/staff")
    assert known is not None
    carried = browser(app, clock, henrik)
    carried.client.set_cookie("whistle_known_browser", known.value, path="/staff")
    assert WAIT in field_errors(enter_password(carried), "password")

    # A cookie made up or altered gets no pass either.
    forged = browser(app, clock, henrik)
    forged.client.set_cookie(
        "whistle_known_browser", "eyJhIjoiMCIsImQiOiIwIn0.forged", path="/staff"
    )
    assert WAIT in field_errors(enter_password(forged), "password")


def test_a_known_browser_cookie_made_with_the_throttles_key_gets_no_pass(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    """The cookie has a key of its own (whistle/staff/views/known_device.py): one signed, and
    its account hashed, with another key of the deployment, the throttles', proves nothing."""
    henrik = unit.handlers[1]
    for _ in range(8):
        enter_password(browser(app, clock, henrik), "wrong-password-xyz")
    other = runtime(app).throttle_key
    account = hmac.new(other, henrik.user.email.encode(), hashlib.sha256).hexdigest()[:32]
    made = URLSafeSerializer(other, salt="whistle.known-browser").dumps({"a": account, "d": "0"})
    borrowed = browser(app, clock, henrik)
    borrowed.client.set_cookie("whistle_known_browser", made, path="/staff")
    assert WAIT in field_errors(enter_password(borrowed), "password")


def test_a_wait_stops_someone_already_past_the_password_step(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    assert enter_password(hanne).status_code == 303
    guesser = browser(app, clock, unit.handlers[0])
    for _ in range(5):
        enter_password(guesser, "wrong-password-xyz")
    assert hanne.staff.totp_secret is not None
    now_shown = totp.code_at(hanne.staff.totp_secret, clock.now())
    late = hanne.submit("/staff/sign-in/code", {"code": now_shown})
    assert "Too many failed attempts" in field_errors(late, "code")
    assert not is_signed_in(hanne)


def test_a_success_resets_the_count_of_failures(app: Flask, clock: FixedClock, unit: Unit) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    for _ in range(4):
        enter_password(hanne, "wrong-password-xyz")
    assert hanne.sign_in().status_code == 303
    hanne.sign_out()
    for _ in range(4):
        assert field_errors(enter_password(hanne, "wrong-password-xyz"), "password") == (
            WRONG_PASSWORD
        )
    assert hanne.sign_in().status_code == 303
    assert is_signed_in(hanne)


def test_failures_in_parallel_requests_are_all_counted(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = unit.handlers[0]
    instance_key = runtime(app).settings.instance_key
    with runtime(app).sessions() as slow_request, runtime(app).sessions() as others:
        # One request has loaded her row (as the code step does) when four failed attempts
        # land through other requests; its own failure must make the fifth, not the first.
        loaded = slow_request.get_one(User, hanne.user.id)
        key = runtime(app).throttle_key
        for _ in range(4):
            with pytest.raises(SignInRefused):
                check_password(
                    others,
                    clock,
                    hanne.user.email,
                    "wrong-password-xyz",
                    argon2=ARGON2,
                    throttle_key=key,
                    address=None,
                )
        with pytest.raises(SignInRefused) as refused:
            check_code(
                slow_request,
                clock,
                loaded,
                "000000",
                instance_key=instance_key,
                throttle_key=key,
                address=None,
            )
        assert not refused.value.wait, "the fifth attempt is checked, the sixth waits"
    member = browser(app, clock, hanne)
    assert WAIT in field_errors(enter_password(member), "password")


# --- enrolment ------------------------------------------------------------------------------


def test_a_new_user_is_led_to_enrolment_and_the_qr_code_holds_the_key_shown(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    testa = browser(app, clock, new_staff(app, clock, unit, "Testa Testesen", [Role.HANDLER]))
    first = enter_password(testa)
    assert first.status_code == 303
    assert first.headers["Location"] == "/staff/sign-in/enrol"
    assert testa.get("/staff/sign-in/code").headers["Location"] == "/staff/sign-in/enrol"

    page = testa.get("/staff/sign-in/enrol")
    assert page.status_code == 200
    shown = secret_shown(page)
    qr = testa.get("/staff/sign-in/enrol/qr.svg")
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert "no-store" in qr.headers["Cache-Control"]
    # An image file, so an SVG document in the SVG namespace: without it a browser shows a
    # broken image (issue 16; tests/browser/test_browser_staff_pages.py loads it for real).
    svg = ElementTree.fromstring(qr.get_data())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(svg.get("width", "0")) > 0 and svg.get("viewBox")
    # The QR code is exactly the otpauth URI of the key shown as text.
    uri = totp.provisioning_uri(shown, account=testa.staff.user.email, issuer="Whistle")
    assert qr.get_data() == qr_svg(uri)
    # Reloading shows the same key (the app may already have scanned it).
    assert secret_shown(testa.get("/staff/sign-in/enrol")) == shown

    testa.staff.totp_secret = shown
    refused = testa.submit("/staff/sign-in/enrol", {"code": wrong_code(testa)})
    assert refused.status_code == 200
    assert WRONG_CODE in field_errors(refused, "code")
    assert user(db, testa.staff.user.id).totp_confirmed_at is None

    done = testa.submit("/staff/sign-in/enrol", {"code": testa.current_code()})
    assert done.status_code == 303
    assert done.headers["Location"] == "/staff/"
    assert is_signed_in(testa)
    assert user(db, testa.staff.user.id).totp_confirmed_at == clock.now()

    # From now on: the code step, never enrolment again, and no QR code.
    assert testa.get("/staff/sign-in/enrol/qr.svg").status_code == 303
    testa.sign_out()
    again = enter_password(testa)
    assert again.headers["Location"] == "/staff/sign-in/code"
    assert testa.get("/staff/sign-in/enrol").headers["Location"] == "/staff/sign-in/code"
    assert testa.get("/staff/sign-in/enrol/qr.svg").status_code == 404
    assert testa.submit("/staff/sign-in/code", {"code": testa.current_code()}).status_code == 303


def test_the_setup_admin_enrols_and_accepts_confidentiality_at_first_sign_in(
    app: Flask, clock: FixedClock
) -> None:
    with runtime(app).sessions() as session:
        token = issue_token(session, clock)
    admin = newcomer(app, clock, "testa@example.org")
    done = submit_setup(
        admin.client,
        token,
        {
            "org_name": "Nordisk Fjer A/S",
            "org_slug": "",
            "admin_name": "Testa Testesen",
            "admin_email": "testa@example.org",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200
    assert enter_password(admin, NEW_PASSWORD).headers["Location"] == "/staff/sign-in/enrol"
    assert enrol(admin).headers["Location"] == "/staff/"
    home = admin.get("/staff/")
    assert home.status_code == 303
    assert home.headers["Location"].startswith("/staff/confidentiality")
    assert admin.submit("/staff/confidentiality", {"accept": "y"}).status_code == 303
    home = admin.get("/staff/")
    assert "Nordisk Fjer A/S" in text_of(home)
    assert 'href="/staff/nordisk-fjer-a-s/admin/users"' in home.get_data(as_text=True)


def test_the_totp_secret_is_not_stored_in_clear(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    testa = browser(app, clock, new_staff(app, clock, unit, "Testa Testesen", [Role.HANDLER]))
    enter_password(testa)
    assert enrol(testa).status_code == 303
    for person in (testa.staff, unit.handlers[0]):
        assert person.totp_secret is not None
        stored = db.execute(
            text("SELECT totp_secret FROM users WHERE id = :id"), {"id": person.user.id}
        ).scalar_one()
        raw = bytes(stored)
        assert len(raw) > len(person.totp_secret)
        assert person.totp_secret not in raw
        assert base64.b32encode(person.totp_secret).rstrip(b"=") not in raw
        assert totp.open_secret(raw, runtime(app).settings.instance_key, person.user.id) == (
            person.totp_secret
        )


# --- the duty of confidentiality (K4) -------------------------------------------------------


def test_no_staff_page_opens_before_the_duty_of_confidentiality_is_accepted(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    staff = new_staff(
        app,
        clock,
        unit,
        "Nina Ny",
        [Role.HANDLER, Role.ADMIN],
        instance_key=runtime(app).settings.instance_key,
        acknowledged=False,
    )
    nina = browser(app, clock, staff)
    assert nina.sign_in().status_code == 303
    for path in (
        "/staff/",
        "/staff/account/password",
        PEOPLE,
        "/staff/testfirma/cases",
    ):
        page = nina.get(path)
        assert page.status_code == 303, path
        assert page.headers["Location"].startswith("/staff/confidentiality?next="), path

    form = nina.get(f"/staff/confidentiality?next={PEOPLE}")
    assert "Duty of confidentiality" in text_of(form)
    unticked = nina.submit(f"/staff/confidentiality?next={PEOPLE}", {})
    assert unticked.status_code == 200
    assert field_errors(unticked, "accept") == (
        "You must accept the duty of confidentiality to go on."
    )
    assert user(db, staff.user.id).confidentiality_ack_at is None
    assert nina.get("/staff/").status_code == 303

    ticked = nina.submit(f"/staff/confidentiality?next={PEOPLE}", {"accept": "y"})
    assert ticked.status_code == 303
    assert ticked.headers["Location"] == PEOPLE
    assert user(db, staff.user.id).confidentiality_ack_at == clock.now()
    for path in ("/staff/", "/staff/account/password", PEOPLE):
        assert nina.get(path).status_code == 200, path


# --- sessions -------------------------------------------------------------------------------


def test_fifteen_idle_minutes_end_the_session(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    clock.advance(timedelta(minutes=15, seconds=1))
    page = hanne.get("/staff/testfirma/cases")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in?ended=1")
    assert SESSION_ENDED in text_of(hanne.get(page.headers["Location"]))
    assert sessions_of(db, unit.handlers[0].user.id) == []
    assert not is_signed_in(hanne)


def test_activity_keeps_the_session_alive(app: Flask, clock: FixedClock, unit: Unit) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    for _ in range(4):
        clock.advance(timedelta(minutes=14))
        assert is_signed_in(hanne)


def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    cookie = hanne.client.get_cookie("whistle_session")
    assert cookie is not None
    thief = browser(app, clock, unit.handlers[0])
    thief.client.set_cookie("whistle_session", cookie.value, domain="localhost")
    assert is_signed_in(thief), "the copy works while the session lives"

    out = hanne.sign_out()
    assert out.status_code == 303
    assert out.headers["Location"] == "/staff/sign-in?signed_out=1"
    assert "You are signed out." in text_of(hanne.get(out.headers["Location"]))
    assert not is_signed_in(hanne)
    assert not is_signed_in(thief)
    assert sessions_of(db, unit.handlers[0].user.id) == []


def test_a_switched_off_account_is_signed_out_at_the_next_request(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    assert is_signed_in(hanne)
    db.execute(
        text("UPDATE users SET is_active = :no WHERE id = :id"),
        {"no": False, "id": unit.handlers[0].user.id},
    )
    db.commit()
    assert not is_signed_in(hanne)
    assert sessions_of(db, unit.handlers[0].user.id) == []


def test_the_session_keeps_the_private_key_only_encrypted(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    assert hanne.private_key is not None
    member = browser(app, clock, hanne)
    member.sign_in()
    key = hanne.private_key.to_bytes()
    rows = db.execute(
        text("SELECT kind, sealed FROM web_sessions WHERE user_id = :id"), {"id": hanne.user.id}
    ).all()
    assert [kind for kind, _ in rows] == ["staff"]
    sealed = bytes(rows[0][1])
    assert key not in sealed
    assert key[-32:] not in sealed and key[-96:-32] not in sealed  # neither half of the pair

    # What the cookie carries is no key either, but with the row it opens the private key.
    token = vault_token(app, member)
    assert key not in base64.urlsafe_b64decode(token + "==")
    opened = vault.open_session(db, clock, token, kind="staff", lifetime=STAFF_LIFETIME)
    assert opened is not None
    assert opened.secret == key


def test_staff_pages_carry_the_idle_warning_and_its_script(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    sign_in_page = hanne.get("/staff/sign-in").get_data(as_text=True)
    assert 'id="idle-warning"' not in sign_in_page, "nobody to warn before signing in"
    hanne.sign_in()
    for path in ("/staff/", "/staff/account/password"):
        html = hanne.get(path).get_data(as_text=True)
        assert 'id="idle-warning"' in html, path
        assert 'data-idle-seconds="900"' in html, path
        assert '<script src="/static/staff.js">' in html, path
    script = hanne.get("/static/staff.js")
    assert script.status_code == 200
    assert "idle-warning" in script.get_data(as_text=True)


# --- password change ------------------------------------------------------------------------


def test_the_current_password_must_be_right(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    before = user(db, hanne.staff.user.id).password_hash
    page = change_password(hanne, "not-my-password-at-all", NEW_PASSWORD)
    assert page.status_code == 200
    assert field_errors(page, "current") == "This is not your current password."
    assert user(db, hanne.staff.user.id).password_hash == before


@pytest.mark.parametrize(
    ("new", "confirm", "field", "message"),
    [
        ("kort-ord", None, "new", "Use at least 12 characters."),
        ("password1234", None, "new", "This password would be too easy to guess."),
        ("aaaaaaaaaaaaaaaa", None, "new", "This password would be too easy to guess."),
        ("Hanne Handler er mig", None, "new", "must not contain your name or e-mail"),
        (TEST_PASSWORD, None, "new", "Choose a password different from the current one."),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "confirm", "The two passwords are not the same."),
    ],
)
def test_the_new_password_must_meet_the_policy(
    app: Flask,
    clock: FixedClock,
    unit: Unit,
    db: Session,
    new: str,
    confirm: str | None,
    field: str,
    message: str,
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    before = user(db, hanne.staff.user.id).wrapped_private_key
    page = change_password(hanne, TEST_PASSWORD, new, confirm)
    assert page.status_code == 200
    assert message in field_errors(page, field)
    after = user(db, hanne.staff.user.id)
    assert after.wrapped_private_key == before
    assert after.password_changed_at is None


def test_guessing_the_current_password_makes_the_account_wait(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.sign_in()
    for _ in range(4):
        page = change_password(hanne, "a-guess-at-her-password", NEW_PASSWORD)
        assert field_errors(page, "current") == "This is not your current password."
    fifth = change_password(hanne, "a-guess-at-her-password", NEW_PASSWORD)
    assert field_errors(fifth, "current") == "This is not your current password."
    right = change_password(hanne, TEST_PASSWORD, NEW_PASSWORD)
    assert WAIT in field_errors(right, "current")
    assert user(db, unit.handlers[0].user.id).password_changed_at is None
    assert WAIT in field_errors(enter_password(browser(app, clock, unit.handlers[0])), "password")


def test_after_a_change_only_the_new_password_works_and_the_key_still_opens(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    staff = unit.handlers[0]
    assert staff.private_key is not None
    here = browser(app, clock, staff)
    elsewhere = browser(app, clock, staff)
    colleague = browser(app, clock, unit.handlers[1])
    for member in (here, elsewhere, colleague):
        assert member.sign_in().status_code == 303

    done = change_password(here, TEST_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303
    assert "Your password has been changed." in text_of(here.get(done.headers["Location"]))
    assert is_signed_in(here), "the session that changed the password stays"
    assert not is_signed_in(elsewhere), "every other session of the same person ends"
    assert is_signed_in(colleague), "other people's sessions are not touched"

    row = user(db, staff.user.id)
    assert row.password_changed_at == clock.now()
    rewrapped = unwrap_private_key(row.wrapped_private_key or b"", NEW_PASSWORD)
    assert rewrapped.to_bytes() == staff.private_key.to_bytes()
    assert row.public_key == staff.private_key.public_key().to_bytes()
    with pytest.raises(OpenError):
        unwrap_private_key(row.wrapped_private_key or b"", TEST_PASSWORD)

    here.sign_out()
    assert field_errors(enter_password(here), "password") == WRONG_PASSWORD
    assert here.sign_in(NEW_PASSWORD).status_code == 303
    assert is_signed_in(here)


# --- invitations ----------------------------------------------------------------------------


def test_only_an_admin_of_the_organisation_opens_its_people_page(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit
) -> None:
    anonymous = newcomer(app, clock)
    page = anonymous.get(PEOPLE)
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in?next=")
    assert anonymous.post(PEOPLE, {}).status_code in (400, 403)

    handler = browser(app, clock, unit.handlers[0])
    handler.sign_in()
    assert handler.get(PEOPLE).status_code == 403
    token = csrf_token(handler.get("/staff/"))
    forged = handler.post(PEOPLE, {"csrf_token": token, "email": INVITEE, "roles": "handler"})
    assert forged.status_code == 403
    withdraw = handler.post(WITHDRAW, {"csrf_token": token, "invitation": "1"})
    assert withdraw.status_code == 403

    stranger = browser(app, clock, other_unit.admin)
    stranger.sign_in()
    assert stranger.get(PEOPLE).status_code == 404
    assert stranger.get("/staff/nowhere/admin/users").status_code == 404

    admin = signed_in_admin(app, clock, unit)
    page = admin.get(PEOPLE)
    assert page.status_code == 200
    assert unit.handlers[0].user.email in text_of(page)
    assert other_unit.handlers[0].user.email not in text_of(page)
    elsewhere = stranger.get("/staff/andetfirma/admin/users")
    assert elsewhere.status_code == 200
    assert unit.handlers[0].user.email not in text_of(elsewhere)


def test_an_invited_person_joins_with_their_roles_and_a_key_pair(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    admin = signed_in_admin(app, clock, unit)
    issued = invite(admin, "Testa.Testesen@Example.org", "handler", "lead")
    assert issued.status_code == 200
    link = link_on(issued)
    token = link.partition("#")[2]
    # The link is shown once; afterwards the list names the open invitation but not its link.
    listing = admin.get(PEOPLE)
    assert INVITEE in text_of(listing)
    assert token not in listing.get_data(as_text=True)
    assert db.scalars(select(Invitation.token_hash)).one() != token.encode()

    testa = newcomer(app, clock)
    page = open_link(testa, link)
    assert page.status_code == 200
    assert "Join Testfirma testfirma ApS" in text_of(page)
    for fields, field, message in [
        (
            {"display_name": "Testa Testesen", "password": NEW_PASSWORD, "confirm": "other"},
            "confirm",
            "The two passwords are not the same.",
        ),
        (
            {"display_name": "Testa Testesen", "password": "kort", "confirm": "kort"},
            "password",
            "Use at least 12 characters.",
        ),
        (
            {"display_name": "", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "display_name",
            "Give your name.",
        ),
    ]:
        refused = accept_link(testa, link, fields)
        assert refused.status_code == 200
        assert field_errors(refused, field).startswith(message)
        db.expire_all()
        assert db.scalar(select(User).where(User.email == INVITEE)) is None

    joined = accept_link(
        testa,
        link,
        {"display_name": "Testa Testesen", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/staff/sign-in/enrol"
    assert enrol(testa).status_code == 303
    assert testa.get("/staff/").headers["Location"].startswith("/staff/confidentiality")
    testa.submit("/staff/confidentiality", {"accept": "y"})
    home = testa.get("/staff/")
    assert "Welcome, Testa Testesen" in text_of(home)
    assert 'href="/staff/testfirma/cases"' in home.get_data(as_text=True)

    db.expire_all()
    row = db.scalars(select(User).where(User.email == INVITEE)).one()
    roles = set(db.scalars(select(Membership.role).where(Membership.user_id == row.id)))
    assert roles == {"handler", "lead"}
    assert row.public_key is not None and row.wrapped_private_key is not None
    key = unwrap_private_key(row.wrapped_private_key, NEW_PASSWORD)
    assert key.public_key().to_bytes() == row.public_key

    # The link worked once.
    assert open_link(newcomer(app, clock), link).status_code == 404
    assert open_link(testa, link).status_code == 404


def test_an_invitation_link_expires_after_seven_days(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = signed_in_admin(app, clock, unit)
    link = link_on(invite(admin, INVITEE, "handler"))
    clock.advance(timedelta(days=6, hours=23))
    assert open_link(newcomer(app, clock), link).status_code == 200
    clock.advance(timedelta(hours=25))  # eight days after the invitation
    testa = newcomer(app, clock)
    assert open_link(testa, link).status_code == 404
    fields = {"display_name": "Testa Testesen", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert accept_link(testa, link, fields).status_code == 404
    with runtime(app).sessions() as session:
        assert session.scalar(select(User).where(User.email == INVITEE)) is None


def test_a_new_invitation_replaces_the_older_link(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    admin = signed_in_admin(app, clock, unit)
    first = link_on(invite(admin, INVITEE, "handler"))
    second = link_on(invite(admin, INVITEE, "auditor"))
    assert first != second
    testa = newcomer(app, clock)
    assert open_link(testa, first).status_code == 404
    assert open_link(testa, second).status_code == 200
    db.expire_all()
    assert db.scalars(select(Invitation.roles)).all() == ["auditor"]


def test_a_withdrawn_invitation_link_is_gone(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    admin = signed_in_admin(app, clock, unit)
    issued = invite(admin, INVITEE, "handler")
    link = link_on(issued)
    html = issued.get_data(as_text=True)
    assert f'action="{WITHDRAW}"' in html
    found = re.search(r'name="invitation" type="hidden" value="(\d+)"', html)
    assert found
    # A forged form from another site (no CSRF token) withdraws nothing.
    assert admin.post(WITHDRAW, {"invitation": found.group(1)}).status_code == 400
    assert open_link(newcomer(app, clock), link).status_code == 200
    withdrawn = admin.post(
        WITHDRAW, {"csrf_token": csrf_token(issued), "invitation": found.group(1)}
    )
    assert withdrawn.status_code == 303
    assert open_link(newcomer(app, clock), link).status_code == 404
    assert INVITEE not in text_of(admin.get(PEOPLE))
    db.expire_all()
    assert db.scalars(select(Invitation)).all() == []


def test_inviting_needs_a_role_and_new_roles(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    admin = signed_in_admin(app, clock, unit)
    no_role = invite(admin, INVITEE)
    assert field_errors(no_role, "roles") == "Choose at least one role."
    same = invite(admin, unit.handlers[0].user.email, "handler")
    assert field_errors(same, "email") == "This person already has these roles here."
    db.expire_all()
    assert db.scalars(select(Invitation)).all() == []


def accept_on_start_page(member: StaffMember, org_name: str) -> TestResponse:
    """Signed in, accept the invitation the start page offers for ``org_name``."""
    home = member.get("/staff/")
    html = home.get_data(as_text=True)
    assert f"Invitation to {org_name}" in text_of(home)
    found = re.search(r'action="(/staff/invitations/\d+/accept)"', html)
    assert found, "the start page offers the invitation"
    return member.post(found.group(1), {"csrf_token": csrf_token(home)})


def test_someone_from_another_organisation_joins_from_their_own_account(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit, db: Session
) -> None:
    hanne_elsewhere = other_unit.handlers[0]
    assert hanne_elsewhere.private_key is not None
    admin = signed_in_admin(app, clock, unit)
    link = link_on(invite(admin, hanne_elsewhere.user.email, "handler"))

    hanne = browser(app, clock, hanne_elsewhere)
    page = text_of(open_link(hanne, link))
    # The page says nothing of her account: it offers both ways to everyone.
    assert "already have an account" not in page
    assert "Do you already sign in here?" in page and "New here?" in page
    # The new-account form does not take her address (nor check any password of hers).
    fields = {"display_name": "Hanne", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    refused = accept_link(hanne, link, fields)
    assert "This address already has an account on this service." in field_errors(
        refused, "password"
    )
    assert attempts_counted_against(app, db, hanne_elsewhere.user.email) == 0

    hanne.sign_in()
    joined = accept_on_start_page(hanne, "Testfirma testfirma ApS")
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/staff/?joined=1", "her key is there: she stays in"
    home = text_of(hanne.get(joined.headers["Location"]))
    assert "You have accepted the invitation." in home
    assert "Invitation to" not in home
    assert "Testfirma testfirma ApS" in home and "Testfirma andetfirma ApS" in home

    row = user(db, hanne_elsewhere.user.id)
    assert row.public_key == hanne_elsewhere.private_key.public_key().to_bytes(), "same key"
    roles = db.execute(
        select(Membership.org_id, Membership.role).where(Membership.user_id == row.id)
    ).all()
    assert set(roles) == {(other_unit.org.id, "handler"), (unit.org.id, "handler")}
    assert open_link(newcomer(app, clock), link).status_code == 404


def test_only_the_invited_account_accepts_on_its_start_page(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit, db: Session
) -> None:
    admin = signed_in_admin(app, clock, unit)
    invite(admin, other_unit.handlers[0].user.email, "handler")
    invitation_id = db.scalars(select(Invitation.id)).one()
    henrik = browser(app, clock, other_unit.handlers[1])
    henrik.sign_in()
    home = henrik.get("/staff/")
    assert "Invitation to" not in text_of(home)
    taken = henrik.post(
        f"/staff/invitations/{invitation_id}/accept", {"csrf_token": csrf_token(home)}
    )
    assert taken.status_code == 409
    assert "This invitation link does not work" in text_of(taken)
    db.expire_all()
    assert db.scalars(select(Invitation.used_at)).one() is None
    assert (
        db.scalars(
            select(Membership).where(
                Membership.user_id == other_unit.handlers[1].user.id,
                Membership.org_id == unit.org.id,
            )
        ).all()
        == []
    )


def test_an_invitation_link_checks_no_password_of_an_existing_account(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit, db: Session
) -> None:
    """Whoever holds the link cannot guess the account's password with it, nor pause it."""
    hanne_elsewhere = other_unit.handlers[0]
    admin = signed_in_admin(app, clock, unit)
    link = link_on(invite(admin, hanne_elsewhere.user.email, "handler"))
    guesser = newcomer(app, clock)
    for guess in ("wrong-password-xyz", TEST_PASSWORD) * 3:
        fields = {"display_name": "X", "password": guess, "confirm": guess}
        accept_link(guesser, link, fields)
    db.expire_all()
    assert attempts_counted_against(app, db, hanne_elsewhere.user.email) == 0
    assert (
        db.scalars(
            select(Membership).where(
                Membership.user_id == hanne_elsewhere.user.id, Membership.org_id == unit.org.id
            )
        ).all()
        == []
    )
    assert is_signed_in(browser(app, clock, hanne_elsewhere)) is False
    assert browser(app, clock, hanne_elsewhere).sign_in().status_code == 303


def test_an_admin_invited_as_handler_gets_a_key_pair(
    app: Flask, clock: FixedClock, unit: Unit, other_unit: Unit, db: Session
) -> None:
    adam_elsewhere = other_unit.admin
    assert user(db, adam_elsewhere.user.id).public_key is None
    admin = signed_in_admin(app, clock, unit)
    invite(admin, adam_elsewhere.user.email, "handler")

    adam = browser(app, clock, adam_elsewhere)
    adam.sign_in()
    joined = accept_on_start_page(adam, "Testfirma testfirma ApS")
    # His key pair is made from his password: he signs in again.
    assert joined.headers["Location"] == "/staff/sign-in?joined=1"
    assert "Sign in again: your key for reading cases is made" in text_of(
        adam.get(joined.headers["Location"])
    )
    assert adam.sign_in().status_code == 303
    assert 'href="/staff/testfirma/cases"' in adam.get("/staff/").get_data(as_text=True)

    row = user(db, adam_elsewhere.user.id)
    assert row.public_key is not None and row.wrapped_private_key is not None
    key = unwrap_private_key(row.wrapped_private_key, TEST_PASSWORD)
    assert key.public_key().to_bytes() == row.public_key
    # The key rests in the session too, so the new handler can open cases right away.
    token = vault_token(app, adam)
    opened = vault.open_session(db, clock, token, kind="staff", lifetime=STAFF_LIFETIME)
    assert opened is not None and opened.secret == key.to_bytes()


# --- redirects after sign-in ----------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
        "staff/",
    ],
)
def test_sign_in_never_sends_you_off_the_site(
    app: Flask, clock: FixedClock, unit: Unit, target: str
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    first = enter_password(hanne, next_page=target)
    assert first.status_code == 303
    done = hanne.submit(first.headers["Location"], {"code": hanne.current_code()})
    assert done.status_code == 303
    assert done.headers["Location"] == "/staff/"


def test_sign_in_returns_to_the_staff_page_asked_for(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = browser(app, clock, unit.admin)
    asked = admin.get(PEOPLE)
    assert asked.status_code == 303
    back_to = asked.headers["Location"]
    first = admin.submit(back_to, {"email": unit.admin.user.email, "password": TEST_PASSWORD})
    done = admin.submit(first.headers["Location"], {"code": admin.current_code()})
    assert done.status_code == 303
    assert urlsplit(done.headers["Location"]).path == PEOPLE
    assert admin.get(done.headers["Location"]).status_code == 200
