"""The deployment's operator: organisations added, suspended, reactivated and deleted, from
the pages (``/operator``) and the ``whistle org`` commands (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Staff, Unit, add_staff, make_unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.sign_in import NEW_PASSWORD, accept_link, browser, enrol, link_on, newcomer
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.key_pins import pins_of
from whistle.core.models import (
    AuditEntry,
    Case,
    Membership,
    Organisation,
    OrgKey,
    User,
)
from whistle.core.runtime import runtime
from whistle.core.shredding import case_key_name
from whistle.core.storage import FileStore
from whistle.operators import organisations
from whistle.operators.cli import operator_cli, org_cli

NEW_ADMIN = "testa.testesen@example.org"


@pytest.fixture
def operator(app: Flask, session: Session, clock: FixedClock, unit: Unit) -> Staff:
    """Olga runs the deployment: an operator with no role in any organisation."""
    with app.app_context():
        olga = add_staff(
            session,
            clock,
            unit.org,
            "Olga Operator",
            [],
            instance_key=runtime(app).settings.instance_key,
        )
    olga.user.is_operator = True
    session.commit()
    return olga


def signed_in(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    member = browser(app, clock, staff)
    assert member.sign_in().status_code == 303
    return member


def actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def org_at(session: Session, slug: str) -> Organisation | None:
    session.expire_all()
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


# --- adding an organisation ------------------------------------------------------------------


def test_an_operator_adds_an_organisation_whose_own_administrator_makes_its_keys(
    app: Flask, session: Session, clock: FixedClock, operator: Staff
) -> None:
    olga = signed_in(app, clock, operator)
    assert 'href="/operator/"' in olga.get("/staff/").get_data(as_text=True)
    listing = olga.get("/operator/")
    assert listing.status_code == 200
    assert "Testfirma testfirma ApS" in text_of(listing)

    refused = olga.submit(
        "/operator/",
        {
            "name": "Fjerfabrikken ApS",
            "slug": "testfirma",
            "locale": "da",
            "admin_email": NEW_ADMIN,
        },
    )
    assert "This address is already in use." in text_of(refused)
    assert 'value="Fjerfabrikken ApS"' in refused.get_data(as_text=True), "what was typed stays"

    made = olga.submit(
        "/operator/",
        {"name": "Fjerfabrikken ApS", "slug": "", "locale": "da", "admin_email": NEW_ADMIN},
    )
    assert made.status_code == 200
    assert "Fjerfabrikken ApS is added" in text_of(made)
    link = link_on(made)
    new = org_at(session, "fjerfabrikken-aps")
    assert new is not None and new.default_locale == "da"
    assert session.scalar(select(func.count()).where(OrgKey.org_id == new.id)) == 0
    assert "recovery-key" not in made.get_data(as_text=True)

    # No keys yet: the channel is not open.
    closed = Reporter(app, "fjerfabrikken-aps").get("/o/fjerfabrikken-aps/")
    assert closed.status_code == 503
    assert "reporting channel is not open yet" in text_of(closed)
    assert Reporter(app, "fjerfabrikken-aps").get("/o/fjerfabrikken-aps/report").status_code == 503
    # The operator has no role there.
    assert olga.get("/staff/fjerfabrikken-aps/admin").status_code == 404

    testa = newcomer(app, clock)
    joined = accept_link(
        testa,
        link,
        {"display_name": "Testa Testesen", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert joined.status_code == 303
    assert enrol(testa).status_code == 303
    testa.submit("/staff/confidentiality", {"accept": "y"})
    console = testa.get("/staff/fjerfabrikken-aps/admin")
    assert "The organisation's keys are not made yet" in text_of(console)
    keys = testa.submit(
        "/staff/fjerfabrikken-aps/admin/keys", {}, form_page="/staff/fjerfabrikken-aps/admin"
    )
    assert keys.status_code == 200
    assert 'class="recovery-key"' in keys.get_data(as_text=True)
    assert session.scalar(select(func.count()).where(OrgKey.org_id == new.id)) >= 2
    # Made once: a second try changes nothing and shows no key.
    again = testa.submit(
        "/staff/fjerfabrikken-aps/admin/keys", {}, form_page="/staff/fjerfabrikken-aps/admin"
    )
    assert 'class="recovery-key"' not in again.get_data(as_text=True)
    assert "The organisation's keys are not made yet" not in text_of(
        testa.get(console.request.path)
    )

    assert Reporter(app, "fjerfabrikken-aps").get("/o/fjerfabrikken-aps/").status_code == 200
    assert "organisation.created" in actions(session)
    assert "organisation.keys_created" in actions(session)


def test_only_an_operator_finds_the_operator_pages(
    app: Flask, clock: FixedClock, unit: Unit, operator: Staff
) -> None:
    assert app.test_client().get("/operator/").status_code == 303  # to the sign-in page
    admin = signed_in(app, clock, unit.admin)
    for path in ("/operator/", "/operator/testfirma/", "/operator/testfirma/delete"):
        assert admin.get(path).status_code == 404
    assert "Organisations on this service" not in text_of(admin.get("/staff/"))
    page = signed_in(app, clock, operator).get("/operator/")
    # With a valid form token (from a page the admin may open), the action is still not there.
    refused = admin.submit(
        "/operator/testfirma/suspend", {}, form_page="/staff/testfirma/admin/users"
    )
    assert refused.status_code == 404
    assert page.status_code == 200


def test_the_operator_decides_whether_the_front_page_lists_the_organisations(
    app: Flask, session: Session, clock: FixedClock, operator: Staff
) -> None:
    front = app.test_client()
    assert "Testfirma testfirma ApS" not in text_of(front.get("/")), "off by default"
    olga = signed_in(app, clock, operator)
    on = olga.submit("/operator/front-page", {"listed": "y"}, form_page="/operator/")
    assert on.status_code == 303
    # One organisation: the front page leads to its page; it is named there.
    assert front.get("/").headers["Location"].endswith("/o/testfirma/")
    assert "checked" in olga.get("/operator/").get_data(as_text=True)
    olga.submit("/operator/front-page", {}, form_page="/operator/")
    assert front.get("/").status_code == 200
    assert "testfirma" not in front.get("/").get_data(as_text=True)
    assert actions(session)[-2:] == ["deployment.front_page_list", "deployment.front_page_list"]


# --- suspending --------------------------------------------------------------------------------


def test_a_suspended_organisation_is_closed_to_reporters_and_staff_until_reactivated(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, operator: Staff
) -> None:
    code = Reporter(app, "testfirma").report(ReportAnswers(what="Fake report kept."))
    olga = signed_in(app, clock, operator)
    hanne = signed_in(app, clock, unit.handlers[0])
    assert hanne.get("/staff/testfirma/cases").status_code == 200

    done = olga.submit(
        "/operator/testfirma/suspend", {"confirm": "y"}, form_page="/operator/testfirma/"
    )
    assert done.status_code == 303
    assert "The organisation is suspended" in text_of(olga.get(done.headers["Location"]))
    for path in ("/o/testfirma/", "/o/testfirma/report", "/o/testfirma/case/open"):
        page = Reporter(app, "testfirma").get(path)
        assert page.status_code == 503, path
        assert "reporting channel is closed" in text_of(page)
        assert "whistleblower.dk" in text_of(page)
    danish = Reporter(app, "testfirma")
    danish.headers = {"Accept-Language": "da"}
    assert "whistleblower.dk" in text_of(danish.get("/o/testfirma/"))
    assert hanne.get("/staff/testfirma/cases").status_code == 404
    assert session.scalar(select(func.count()).select_from(Case)) == 1, "nothing deleted"

    olga.submit(
        "/operator/testfirma/reactivate", {"confirm": "y"}, form_page="/operator/testfirma/"
    )
    assert Reporter(app, "testfirma").get("/o/testfirma/").status_code == 200
    assert hanne.get("/staff/testfirma/cases").status_code == 200
    assert Reporter(app, "testfirma").open_case(code).status_code == 303
    assert actions(session)[-2:] == ["organisation.suspended", "organisation.reactivated"]


# --- deleting ----------------------------------------------------------------------------------


def test_deleting_an_organisation_shreds_its_cases_and_keeps_a_record_without_content(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, operator: Staff
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    Reporter(app, "testfirma").report(
        ReportAnswers(what="Fake report to delete.", files=[Upload("note.txt", b"Fake note")])
    )
    kept_code = Reporter(app, "andetfirma").report(ReportAnswers(what="Fake report to keep."))
    case = session.scalars(select(Case).where(Case.org_id == unit.org.id)).one()
    case_uid, org_id = case.uid, unit.org.id
    store = FileStore(runtime(app).settings.file_store)
    files_before = set(store.names())
    keystore = runtime(app).keystore
    # Compared as booleans: a failing assertion must not print a key.
    assert (keystore.get(case_key_name(case_uid)) is not None) is True
    olga = signed_in(app, clock, operator)
    path = "/operator/testfirma/delete"

    active = olga.submit(path, {"confirm": "testfirma"})
    assert "Suspend the organisation first" in text_of(active)
    olga.submit("/operator/testfirma/suspend", {"confirm": "y"}, form_page="/operator/testfirma/")
    case.hold_since = clock.now().date()
    session.commit()
    held = olga.submit(path, {"confirm": "testfirma"})
    assert "1 of its cases are on legal hold" in text_of(held)
    case.hold_since = None
    session.commit()
    wrong = olga.submit(path, {"confirm": "andetfirma"})
    assert "Type the organisation's address exactly" in text_of(wrong)
    assert org_at(session, "testfirma") is not None, "nothing deleted by a refusal"

    gone = olga.submit(path, {"confirm": "testfirma"})
    assert gone.status_code == 200
    assert "The organisation testfirma is deleted" in text_of(gone)
    assert "1 case was deleted with it." in text_of(gone)

    assert org_at(session, "testfirma") is None
    assert session.scalar(select(func.count()).where(Case.org_id == org_id)) == 0
    assert session.scalar(select(func.count()).where(Membership.org_id == org_id)) == 0
    key_left = keystore.get(case_key_name(case_uid)) is not None
    assert key_left is False, "the case's key is destroyed"
    assert len(set(store.names()) & files_before) < len(files_before), "its file is removed"
    with app.app_context():
        assert pins_of(session).get(org_id) is None
    # Handlers who worked only there can no longer sign in; the operator keeps the account.
    session.expire_all()
    assert not session.get_one(User, unit.handlers[0].user.id).is_active
    assert session.get_one(User, operator.user.id).is_active
    deleted = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "organisation.deleted")
    ).one()
    assert deleted.org_id == org_id
    assert '"cases":1' in deleted.detail and '"slug":"testfirma"' in deleted.detail
    # The other organisation is untouched.
    assert Reporter(app, "andetfirma").open_case(kept_code).status_code == 303
    assert (
        signed_in(app, clock, other.handlers[0]).get("/staff/andetfirma/cases").status_code == 200
    )


def test_a_case_skipped_as_in_use_stops_the_deletion_before_the_organisation_goes(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    operator: Staff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deleting the organisation's row would take a skipped case's rows with it and leave its
    keys in the key store: the deletion stops instead."""
    Reporter(app, "testfirma").report(ReportAnswers(what="Fake report held by a lock."))
    case_uid = session.scalars(select(Case.uid)).one()
    monkeypatch.setattr(organisations, "_cases_of", lambda _session, _org_id: [])
    olga = signed_in(app, clock, operator)
    olga.submit("/operator/testfirma/suspend", {"confirm": "y"}, form_page="/operator/testfirma/")
    stopped = olga.submit("/operator/testfirma/delete", {"confirm": "testfirma"})
    assert "could not be deleted yet" in text_of(stopped)
    assert org_at(session, "testfirma") is not None
    key_kept = runtime(app).keystore.get(case_key_name(case_uid)) is not None
    assert key_kept is True, "the case and its key are both still there"


# --- the commands ------------------------------------------------------------------------------


def run(app: Flask, group: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(group, list(args))


def test_the_org_commands_do_what_the_pages_do(
    app: Flask, session: Session, unit: Unit, operator: Staff
) -> None:
    made = run(
        app,
        org_cli,
        "create",
        "--name",
        "Fjerfabrikken ApS",
        "--admin-email",
        NEW_ADMIN,
        "--base-url",
        "https://whistle.example.org",
    )
    assert made.exit_code == 0, made.output
    assert "https://whistle.example.org/staff/invitation#" in made.output
    listed = run(app, org_cli, "list")
    assert (
        "fjerfabrikken-aps\tFjerfabrikken ApS\twaiting for its first administrator" in listed.output
    )
    taken = run(
        app,
        org_cli,
        "create",
        "--name",
        "Xylofon ApS",
        "--slug",
        "testfirma",
        "--admin-email",
        NEW_ADMIN,
    )
    assert taken.exit_code == 1 and "This address is already in use." in taken.output
    bad = run(app, org_cli, "create", "--name", "Y ApS", "--admin-email", "not-an-address")
    assert bad.exit_code == 1 and "valid e-mail address" in bad.output

    assert run(app, org_cli, "suspend", "fjerfabrikken-aps").exit_code == 0
    assert run(app, org_cli, "suspend", "fjerfabrikken-aps").exit_code == 1
    early = run(app, org_cli, "delete", "testfirma", "--confirm", "testfirma")
    assert early.exit_code == 1 and "Suspend the organisation first" in early.output
    deleted = run(app, org_cli, "delete", "fjerfabrikken-aps", "--confirm", "fjerfabrikken-aps")
    assert deleted.exit_code == 0, deleted.output
    assert org_at(session, "fjerfabrikken-aps") is None
    assert run(app, org_cli, "reactivate", "nowhere").exit_code == 1

    hanne = unit.handlers[0].user.email
    assert run(app, operator_cli, "grant", hanne).exit_code == 0
    assert run(app, operator_cli, "revoke", hanne).exit_code == 0
    last = run(app, operator_cli, "revoke", operator.user.email)
    assert last.exit_code == 1 and "last operator" in last.output
    session.expire_all()
    assert session.get_one(User, operator.user.id).is_operator
    assert not session.get_one(User, unit.handlers[0].user.id).is_operator
