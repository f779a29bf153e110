"""Staff sign-in as a person goes through it: password, code, enrolment, invitations,
password change."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, urlsplit

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.factories import TEST_PASSWORD, Staff, Unit
from tests.steps.pages import csrf_token
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.models import User

INVITEE = "testa.testesen@example.org"
# A password that passes the policy (whistle/staff/passwords.py); obviously a test one.
NEW_PASSWORD = "blaa-hest-danser-tango-i-regnvejr"


def user(db: Session, user_id: int) -> User:
    """The user row as it is now in the database."""
    db.expire_all()
    return db.get_one(User, user_id)


def browser(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    return StaffMember(app, clock, staff)


def newcomer(app: Flask, clock: FixedClock, email: str = INVITEE) -> StaffMember:
    """The browser of someone who has no account yet (their user row does not exist)."""
    return StaffMember(
        app, clock, Staff(user=User(email=email, display_name="Testa Testesen"), private_key=None)
    )


def enter_password(
    member: StaffMember, password: str = TEST_PASSWORD, *, next_page: str | None = None
) -> TestResponse:
    path = "/staff/sign-in" + (f"?next={quote(next_page, safe='')}" if next_page else "")
    return member.submit(path, {"email": member.staff.user.email, "password": password})


SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
LINK_RE = re.compile(r'<code class="link">(http://localhost/staff/invitation#[^<]+)</code>')


def secret_shown(page: TestResponse) -> bytes:
    """The key the enrolment page shows for typing in by hand."""
    found = SECRET_RE.search(page.get_data(as_text=True))
    assert found, "the enrolment page shows the key as text"
    typed = found.group(1).replace(" ", "")
    return base64.b32decode(typed + "=" * (-len(typed) % 8))


def field_errors(page: TestResponse, field: str) -> str:
    """The error text shown next to one form field."""
    found = re.search(
        rf'<ul class="errors" id="{field}-error">(.*?)</ul>', page.get_data(as_text=True), re.S
    )
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else ""


def invite(admin: StaffMember, email: str, *roles: str, slug: str = "testfirma") -> TestResponse:
    """Invite someone from the admin console's People page."""
    return admin.submit(f"/staff/{slug}/admin/users", {"email": email, "roles": list(roles)})


def link_on(page: TestResponse) -> str:
    """The invitation link the admin sees (as a path on this site, with its ``#`` secret)."""
    found = LINK_RE.search(page.get_data(as_text=True))
    assert found, "the admin sees the invitation link"
    parts = urlsplit(found.group(1))
    assert parts.fragment and not parts.query, "the secret is after #, nowhere else"
    return f"{parts.path}#{parts.fragment}"


def open_link(member: StaffMember, link: str) -> TestResponse:
    """Open an invitation link as a browser does: the path without the part after ``#``
    (never sent), then the form the page's script posts with that part in its body."""
    path, _, secret = link.partition("#")
    page = member.get(path)
    assert page.status_code in (200, 404, 410), page.status_code
    if page.status_code != 200:
        return page
    assert 'data-from-fragment="token"' in page.get_data(as_text=True)
    return member.post(path, {"csrf_token": csrf_token(page), "token": secret})


def accept_link(member: StaffMember, link: str, fields: dict[str, str]) -> TestResponse:
    """Open an invitation link and send its form (a new account's name and password)."""
    page = open_link(member, link)
    if page.status_code != 200:
        return page
    path, _, secret = link.partition("#")
    return member.post(path, {"csrf_token": csrf_token(page), "token": secret, **fields})


def signed_in_admin(app: Flask, clock: FixedClock, unit: Unit) -> StaffMember:
    admin = browser(app, clock, unit.admin)
    assert admin.sign_in().status_code == 303
    return admin


def change_password(
    member: StaffMember, current: str, new: str, confirm: str | None = None
) -> TestResponse:
    return member.submit(
        "/staff/account/password",
        {"current": current, "new": new, "confirm": new if confirm is None else confirm},
    )


def enrol(member: StaffMember) -> TestResponse:
    """Scan (read) the key on the enrolment page, then type the app's code."""
    page = member.get("/staff/sign-in/enrol")
    assert page.status_code == 200
    member.staff.totp_secret = secret_shown(page)
    return member.submit("/staff/sign-in/enrol", {"code": member.current_code()})
