"""First run: the one-time link creates the organisation and first admin, then disappears."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from crypto import SignaturePurpose, import_recovery_key, sign, verify
from tests.steps.pages import csrf_token, text_of
from tests.steps.setup_link import open_setup, submit_setup
from whistle.core.clock import FixedClock
from whistle.core.key_pins import pins_of
from whistle.core.models import Category, Membership, Organisation, OrgKey, User
from whistle.core.org_keys import recovery_public_key, signing_key, verify_key
from whistle.core.runtime import runtime
from whistle.setup.onboarding import issue_token, setup_complete
from whistle.staff.passwords import verify_password

FORM = {
    "org_name": "Nordisk Fjer A/S",
    "org_slug": "",
    "admin_name": "Testa Testesen",
    "admin_email": "testa@example.org",
    "password": "lilla-kanin-spiser-gulerod",
    "confirm": "lilla-kanin-spiser-gulerod",
}


@pytest.fixture
def token(app: Flask, clock: FixedClock) -> str:
    with runtime(app).sessions() as session:
        return issue_token(session, clock)


def submit(client: FlaskClient, token: str, **changes: str) -> TestResponse:
    return submit_setup(client, token, {**FORM, **changes})


def test_setup_refuses_every_request_without_the_token(client: FlaskClient, token: str) -> None:
    # Without the token only the page asking for it opens, never the form.
    asking = client.get("/setup/")
    assert asking.status_code == 200
    assert 'name="org_name"' not in asking.get_data(as_text=True)
    assert open_setup(client, "x" * 43).status_code == 404
    assert open_setup(client, token[:-1]).status_code == 404
    sent = client.post("/setup/", data={**FORM, "csrf_token": csrf_token(asking)})
    assert sent.status_code == 404
    sent = client.post(
        "/setup/", data={**FORM, "token": "x" * 43, "csrf_token": csrf_token(asking)}
    )
    assert sent.status_code == 404
    with runtime(client.application).sessions() as session:
        assert not setup_complete(session)


def test_a_setup_token_in_the_address_opens_nothing(client: FlaskClient, token: str) -> None:
    """The token must never be in a request line: links of the old form (the token in the
    path, as access logs recorded it) and tokens in a query string are refused unread."""
    for address in (f"/setup/{token}", f"/setup/?token={token}", f"/setup/?{token}"):
        refused = client.get(address, headers=ENGLISH)
        assert refused.status_code == 410
        assert "This link is of an older kind" in text_of(refused)
        assert 'name="org_name"' not in refused.get_data(as_text=True)
    asking = client.get("/setup/")
    posted = client.post(
        f"/setup/?token={token}", data={**FORM, "token": token, "csrf_token": csrf_token(asking)}
    )
    assert posted.status_code == 410
    with runtime(client.application).sessions() as session:
        assert not setup_complete(session)
    # The same token, in the body, works.
    assert submit(client, token).status_code == 200


def test_setup_creates_organisation_and_admin_then_disappears(
    app: Flask, client: FlaskClient, token: str
) -> None:
    done = submit(client, token)
    assert done.status_code == 200
    assert "/o/nordisk-fjer-a-s/" in text_of(done)
    recovery_text = re.search(
        r'<pre class="recovery-key">(.*?)</pre>', done.get_data(as_text=True), re.S
    )
    assert recovery_text, "the recovery key is shown once at setup"

    with runtime(app).sessions() as session:
        org = session.scalars(select(Organisation)).one()
        assert org.slug == "nordisk-fjer-a-s"
        admin = session.scalars(select(User)).one()
        assert admin.email == "testa@example.org"
        assert admin.password_hash != FORM["password"]
        assert verify_password(admin.password_hash, FORM["password"])
        # Whoever sets the deployment up runs it: they may add organisations (issue 18).
        assert admin.is_operator
        roles = session.scalars(select(Membership.role)).all()
        assert roles == ["admin"]
        codes = session.scalars(select(Category.code).where(Category.org_id == org.id)).all()
        assert "not-sure" in codes and "harassment" in codes
        assert setup_complete(session)
        # The printed recovery key opens what is sealed to the stored recovery public key,
        # and the signing key (sealed under the instance key) signs what the public half checks.
        recovered = import_recovery_key(unescape(recovery_text.group(1)))
        assert recovered.public_key() == recovery_public_key(session, org.id)
        keys = session.scalars(select(OrgKey).where(OrgKey.org_id == org.id)).all()
        assert {k.purpose for k in keys} == {"signing", "recovery", "certification"}
        assert all(k.sealed_private_key is None for k in keys if k.purpose == "recovery")
        signer = signing_key(session, org.id, runtime(app).settings.instance_key)
        signature = sign(signer, b"receipt", purpose=SignaturePurpose.RECEIPT)
        verify(verify_key(session, org.id), b"receipt", signature, purpose=SignaturePurpose.RECEIPT)
        # The organisation's keys are pinned in the instance folder, its first lead still
        # to come (whistle/keys/certification.py).
        pins = pins_of(session).get(org.id)
        assert pins is not None and not pins.first_lead_trusted
        assert pins.recovery == recovered.public_key().fingerprint()
        assert pins.signing == verify_key(session, org.id).fingerprint()

    assert open_setup(client, token).status_code == 404
    assert client.get("/setup/").status_code == 404
    # The front page names no organisation (list_organisations is off by default); the
    # organisation's own address, shown on the done page, works.
    front = client.get("/")
    assert front.status_code == 200
    assert "nordisk-fjer" not in front.get_data(as_text=True)
    assert client.get("/o/nordisk-fjer-a-s/").status_code == 200


def test_a_new_link_retires_the_old_one(app: Flask, client: FlaskClient, token: str) -> None:
    with runtime(app).sessions() as session:
        newer = issue_token(session, runtime(app).clock)
    assert open_setup(client, token).status_code == 404
    assert open_setup(client, newer).status_code == 200


def test_mistakes_are_explained_and_typed_values_kept(
    app: Flask, client: FlaskClient, token: str
) -> None:
    response = submit(
        client,
        token,
        admin_email="not-an-address",
        password="short",
        confirm="different",
        org_slug="-bad-",
    )
    assert response.status_code == 200
    page = text_of(response)
    assert "Please correct the following" in page or "Ret venligst følgende" in page
    html = response.get_data(as_text=True)
    assert 'value="Nordisk Fjer A/S"' in html
    assert 'value="Testa Testesen"' in html
    assert 'aria-invalid="true"' in html
    # A password is never sent back to the browser.
    assert 'value="short"' not in html
    assert 'value="different"' not in html
    with runtime(app).sessions() as session:
        assert session.scalars(select(Organisation)).first() is None


def test_policy_and_slug_errors_name_the_field(client: FlaskClient, token: str) -> None:
    weak = submit(client, token, password="passwordpassword", confirm="passwordpassword")
    assert "too easy to guess" in text_of(weak) or "for let at gætte" in text_of(weak)
    reserved = submit(client, token, org_slug="admin")
    assert "lower-case" in text_of(reserved) or "små bogstaver" in text_of(reserved)


def test_danish_is_offered_and_error_messages_follow(client: FlaskClient, token: str) -> None:
    page = open_setup(client, token, headers={"Accept-Language": "da"})
    assert "Sæt Whistle op" in text_of(page)
    response = client.post(
        "/setup/",
        data={
            **FORM,
            "password": "",
            "confirm": "",
            "token": token,
            "csrf_token": csrf_token(page),
        },
        headers={"Accept-Language": "da"},
    )
    assert "Feltet skal udfyldes." in text_of(response)


# --- plain answers (issue 16) ------------------------------------------------------------------

ENGLISH = {"Accept-Language": "en"}


def test_a_used_setup_link_says_setup_is_done_and_where_to_sign_in(
    client: FlaskClient, token: str
) -> None:
    assert submit(client, token).status_code == 200
    used = open_setup(client, token, headers=ENGLISH)
    assert used.status_code == 404
    shown = text_of(used)
    assert "This set-up link does not work" in shown
    assert "Whistle is already set up" in shown
    assert 'href="/staff/sign-in"' in used.get_data(as_text=True)


def test_an_unknown_setup_link_names_the_command_for_a_fresh_one(
    client: FlaskClient, token: str
) -> None:
    unknown = open_setup(client, token[:-1], headers=ENGLISH)
    assert unknown.status_code == 404
    shown = text_of(unknown)
    assert "This set-up link does not work" in shown
    assert "whistle setup-link" in shown


def test_every_password_problem_is_named_at_once(
    app: Flask, client: FlaskClient, token: str
) -> None:
    refused = submit(client, token, admin_name="Testa", password="testa1", confirm="other")
    assert refused.status_code == 200
    html = refused.get_data(as_text=True)
    password_errors = re.search(r'<ul class="errors" id="password-error">(.*?)</ul>', html, re.S)
    assert password_errors
    # In Danish (the default): too short, and the name in it; and the repeat differs.
    assert "Brug mindst 12 tegn." in password_errors.group(1)
    assert "ikke indeholde dit navn" in password_errors.group(1)
    assert 'id="confirm-error"' in html
    with runtime(app).sessions() as session:
        assert not setup_complete(session)
