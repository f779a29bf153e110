"""Keys you can trust, and separation of duties (issue 14, items 3 and 4).

The attacker here has write access to the database and nothing else: no password, no
instance folder. They replace a handler's public key, or the organisation's recovery or
certification key, with one they hold, or write a certification of their own; an
administrator gives himself a case role. Each test checks that nothing is ever sealed to a key
no unit lead certified, that intake refuses organisation keys that differ from the pins in
the instance folder, and that sign-in notices a swapped key.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    OpenError,
    PrivateKey,
    SignaturePurpose,
    SigningKey,
    import_recovery_key,
    open_case_key,
    sign,
)
from tests.steps.admin import admin_of
from tests.steps.cases import keys_of, submit
from tests.steps.factories import Staff, Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import CaseWorker, StaffMember, form_token
from whistle.casefile import sharing as case_sharing
from whistle.casefile.holders import certified_members
from whistle.cli import cli
from whistle.core import trust
from whistle.core.clock import FixedClock
from whistle.core.key_pins import PINS_FILE, pins_of
from whistle.core.models import (
    AuditEntry,
    Case,
    CaseKey,
    CertificationKeyCopy,
    KeyCertification,
    KeyPurpose,
    KeyWarning,
    Membership,
    OrgKey,
    OutboxMail,
    RightsRequest,
    RightsRequestKey,
    Role,
    User,
)
from whistle.core.org_keys import create_org_keys, signing_key
from whistle.core.organisations import create_organisation
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.core.trust import KeysNotTrusted, key_digest, statement
from whistle.counsel import export
from whistle.keys import certification
from whistle.notify import sending
from whistle.rights import requests

EXCLUDE_RE = re.compile(r'<input[^>]*name="exclude"[^>]*value="(\d+)"')


# --- steps -----------------------------------------------------------------------------------


def hanne(unit: Unit) -> Staff:
    return unit.handlers[0]


def henrik(unit: Unit) -> Staff:
    return unit.handlers[1]


def lise(unit: Unit) -> Staff:
    return unit.handlers[2]


def swap_public_key(session: Session, user_id: int) -> PrivateKey:
    """The attacker writes a public key of their own into the user's row (database only)."""
    theirs = PrivateKey.generate()
    session.execute(
        update(User).where(User.id == user_id).values(public_key=theirs.public_key().to_bytes())
    )
    session.commit()
    session.expire_all()
    return theirs


def swap_org_key(session: Session, org_id: int, purpose: KeyPurpose, public: bytes) -> None:
    session.execute(
        update(OrgKey)
        .where(OrgKey.org_id == org_id, OrgKey.purpose == purpose.value)
        .values(public_key=public)
    )
    session.commit()
    session.expire_all()


def sealed_to(session: Session, case: Case) -> set[int]:
    session.expire_all()
    return {
        int(u)
        for u in session.scalars(
            select(CaseKey.user_id).where(CaseKey.case_id == case.id, CaseKey.user_id.is_not(None))
        )
    }


def actions(session: Session, org_id: int | None = None) -> list[str]:
    session.expire_all()
    query = select(AuditEntry.action).order_by(AuditEntry.seq)
    if org_id is not None:
        query = query.where(AuditEntry.org_id == org_id)
    return list(session.scalars(query))


def offered_for_exclusion(app: Flask, unit: Unit) -> set[int]:
    page = Reporter(app, unit.org.slug).get(f"/o/{unit.org.slug}/report")
    assert page.status_code == 200
    return {int(v) for v in EXCLUDE_RE.findall(page.get_data(as_text=True))}


def signed_in(app: Flask, clock: FixedClock, staff: Staff, unit: Unit) -> CaseWorker:
    worker = CaseWorker(app, clock, staff, slug=unit.org.slug)
    assert worker.sign_in().status_code == 303
    return worker


# --- a swapped handler key -------------------------------------------------------------------


def test_a_swapped_handler_key_gets_no_case_grant_or_rights_request(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    before = submit(app, session, unit)
    attacker = swap_public_key(session, hanne(unit).user.id)

    # New case: sealed to the others, never to the swapped key.
    case = submit(app, session, unit)
    assert sealed_to(session, case) == {henrik(unit).user.id, lise(unit).user.id}
    assert hanne(unit).user.id not in offered_for_exclusion(app, unit)

    # A colleague cannot give her an existing case either.
    with app.app_context(), pytest.raises(Refused):
        case_sharing.grant_access(
            session,
            clock,
            before,
            keys_of(session, before, henrik(unit)),
            henrik(unit).user.id,
            hanne(unit).user.id,
        )
    session.rollback()
    # What she had she keeps (sealed to her real key); nothing new was sealed to theirs.
    held = session.scalars(
        select(CaseKey).where(CaseKey.case_id == before.id, CaseKey.user_id == hanne(unit).user.id)
    ).all()
    assert len(held) == 3

    # A rights request is sealed to everyone else and the recovery key.
    with app.app_context():
        request = requests.register(
            session,
            clock,
            unit.org.id,
            henrik(unit).user.id,
            kind="access",
            subject="Preben Persondata, preben@example.org",
            received_on=clock.now().date(),
        )
    holders = set(
        session.scalars(
            select(RightsRequestKey.user_id).where(RightsRequestKey.request_id == request.id)
        )
    )
    assert holders == {None, henrik(unit).user.id, lise(unit).user.id}

    # Nothing at all opens with the attacker's key.
    for row in session.scalars(select(CaseKey).where(CaseKey.case_id == case.id)):
        with pytest.raises(OpenError):
            open_case_key(attacker, row.sealed, case_id=case.uid, kind=KeyKind(row.kind))


def test_a_swapped_counsel_key_gets_no_case_file(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    with app.app_context():
        conny = add_staff(
            session,
            clock,
            unit.org,
            "Conny Counsel",
            [Role.COUNSEL],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, conny)
    case = submit(app, session, unit)
    swap_public_key(session, conny.user.id)
    rt = runtime(app)
    with app.app_context(), pytest.raises(Refused):
        export.export_case(
            session,
            clock,
            FileStore(rt.settings.file_store),
            unit.org,
            case,
            keys_of(session, case, henrik(unit)),
            henrik(unit).user.id,
            counsel_id=conny.user.id,
            include_notes=False,
            signing_key=signing_key(session, unit.org.id, rt.settings.instance_key),
        )


def test_a_swapped_key_refuses_sign_in_audits_and_warns_the_leads(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    swap_public_key(session, hanne(unit).user.id)
    browser = StaffMember(app, clock, hanne(unit))
    page = browser.submit(
        "/staff/sign-in", {"email": hanne(unit).user.email, "password": "test-password-not-secret"}
    )
    assert page.status_code == 200  # the form again, not the code step
    assert "your key does not match the key stored for you" in text_of(page)
    assert "Contact your unit lead" in text_of(page)
    assert browser.get("/staff/").status_code != 200

    assert "key.key_mismatch" in actions(session, unit.org.id)
    warning = session.scalars(select(KeyWarning).where(KeyWarning.org_id == unit.org.id)).one()
    assert warning.kind == "key_mismatch" and warning.user_id == hanne(unit).user.id
    mails = session.scalars(select(OutboxMail).where(OutboxMail.kind == "key_warning")).all()
    assert {m.user_id for m in mails} == {lise(unit).user.id}
    assert all(m.case_reference is None for m in mails)
    # Sent, it names only the organisation: not who, not which key.
    sent: list[EmailMessage] = []

    class Outbox:
        def send(self, message: EmailMessage) -> None:
            sent.append(message)

    rt = runtime(app)
    with app.app_context():
        sending.send_pending(
            session,
            clock,
            Outbox(),
            base_url="http://localhost",
            instance_key=rt.settings.instance_key,
        )
    assert [m["To"] for m in sent] == [lise(unit).user.email]
    # In the organisation's language (Danish here).
    assert "Nøgleadvarsel hos Testfirma testfirma ApS" in str(sent[0]["Subject"])
    body = sent[0].get_content()
    assert "Hanne" not in body and hanne(unit).user.email not in body

    # The lead sees the warning in the app, and dismisses it once looked into.
    lead = signed_in(app, clock, lise(unit), unit)
    home = text_of(lead.get("/staff/"))
    assert "1 key warning needs a unit lead." in home
    keys_page = lead.get(f"/staff/{unit.org.slug}/keys")
    assert "The private key of Hanne Handler did not match" in text_of(keys_page)
    path = f"/staff/{unit.org.slug}/keys/warnings/{warning.id}/dismiss"
    name, token = form_token(keys_page, path)
    assert lead.post(path, {name: token}).status_code == 303
    assert "did not match" not in text_of(lead.get(f"/staff/{unit.org.slug}/keys"))

    # A second try makes no second warning or mail, but is audited again.
    browser.submit(
        "/staff/sign-in", {"email": hanne(unit).user.email, "password": "test-password-not-secret"}
    )
    assert actions(session, unit.org.id).count("key.key_mismatch") == 2


def test_a_wrong_password_is_still_just_a_wrong_password(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    swap_public_key(session, hanne(unit).user.id)
    page = StaffMember(app, clock, hanne(unit)).submit(
        "/staff/sign-in", {"email": hanne(unit).user.email, "password": "not-her-password-at-all"}
    )
    assert "does not match" not in text_of(page)
    assert "key.key_mismatch" not in actions(session)


# --- the organisation keys against the pins --------------------------------------------------


def test_a_swapped_recovery_key_refuses_intake_clearly(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    theirs = PrivateKey.generate()
    swap_org_key(session, unit.org.id, KeyPurpose.RECOVERY, theirs.public_key().to_bytes())
    cases = session.scalar(select(func.count()).select_from(Case))

    reporter = Reporter(app, unit.org.slug)
    page = reporter.get(f"/o/{unit.org.slug}/report")
    assert page.status_code == 503
    assert "Reports cannot be received right now" in text_of(page)
    assert "Nothing has been stored" in text_of(page)
    with pytest.raises(KeysNotTrusted):
        submit(app, session, unit)
    session.rollback()
    with app.app_context(), pytest.raises(KeysNotTrusted):
        requests.register(
            session,
            clock,
            unit.org.id,
            henrik(unit).user.id,
            kind="access",
            subject="Preben Persondata",
            received_on=clock.now().date(),
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Case)) == cases
    assert session.scalar(select(func.count()).select_from(RightsRequest)) == 0
    assert "key.pins_mismatch" in actions(session, unit.org.id)
    assert session.scalars(select(KeyWarning.kind)).all() == ["pins_mismatch"]
    assert session.scalars(
        select(OutboxMail.user_id).where(OutboxMail.kind == "key_warning")
    ).all() == [lise(unit).user.id]


def test_a_report_sent_while_the_keys_change_keeps_what_was_typed(
    app: Flask, session: Session, unit: Unit
) -> None:
    reporter = Reporter(app, unit.org.slug)
    data = reporter.fill_report(ReportAnswers(what="Fake report KEEPMETYPED: pallets."))
    swap_org_key(
        session, unit.org.id, KeyPurpose.RECOVERY, PrivateKey.generate().public_key().to_bytes()
    )
    sent = reporter.post(f"/o/{unit.org.slug}/report", data, content_type="multipart/form-data")
    assert sent.status_code == 503
    assert "Your report was not sent and nothing was stored" in text_of(sent)
    assert "KEEPMETYPED" in sent.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_certification_key_of_the_attackers_own_refuses_intake(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    # They make a certification key, certify a key of theirs as Hanne's and install both.
    forged = SigningKey.generate()
    theirs = swap_public_key(session, hanne(unit).user.id)
    session.execute(
        update(KeyCertification)
        .where(KeyCertification.user_id == hanne(unit).user.id)
        .values(
            key_sha256=key_digest(theirs.public_key().to_bytes()),
            signature=sign(
                forged,
                statement(
                    unit.org.id,
                    hanne(unit).user.id,
                    "handler",
                    key_digest(theirs.public_key().to_bytes()),
                ),
                purpose=SignaturePurpose.KEY_CERTIFICATION,
            ),
        )
    )
    swap_org_key(session, unit.org.id, KeyPurpose.CERTIFICATION, forged.verify_key().to_bytes())
    assert Reporter(app, unit.org.slug).get(f"/o/{unit.org.slug}/report").status_code == 503
    with pytest.raises(KeysNotTrusted):
        submit(app, session, unit)


def test_an_organisation_without_pins_takes_no_report(
    app: Flask, session: Session, unit: Unit
) -> None:
    (runtime(app).settings.instance_path / PINS_FILE).unlink()
    assert Reporter(app, unit.org.slug).get(f"/o/{unit.org.slug}/report").status_code == 503
    with pytest.raises(KeysNotTrusted):
        submit(app, session, unit)


# --- certification cannot be forged ----------------------------------------------------------


def test_a_fake_certification_row_is_not_believed(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Adam (admin) holds a handler role and a key; the attacker writes certifications for
    him: one signed by a key of their own, one copied from Henrik's row."""
    adam = unit.admin
    mine = PrivateKey.generate()
    session.execute(
        update(User).where(User.id == adam.user.id).values(public_key=mine.public_key().to_bytes())
    )
    session.add(
        Membership(org_id=unit.org.id, user_id=adam.user.id, role="handler", created_at=clock.now())
    )
    digest = key_digest(mine.public_key().to_bytes())
    session.add(
        KeyCertification(
            org_id=unit.org.id,
            user_id=adam.user.id,
            role="handler",
            key_sha256=digest,
            statement=statement(unit.org.id, adam.user.id, "handler", digest),
            signature=sign(
                SigningKey.generate(),
                statement(unit.org.id, adam.user.id, "handler", digest),
                purpose=SignaturePurpose.KEY_CERTIFICATION,
            ),
            created_at=clock.now(),
        )
    )
    session.commit()
    assert adam.user.id not in {u.id for u in certified_members(session, unit.org.id)}

    henriks = session.scalars(
        select(KeyCertification).where(KeyCertification.user_id == henrik(unit).user.id)
    ).one()
    session.execute(
        update(KeyCertification)
        .where(KeyCertification.user_id == adam.user.id)
        .values(signature=henriks.signature, statement=henriks.statement)
    )
    session.commit()
    assert adam.user.id not in {u.id for u in certified_members(session, unit.org.id)}
    case = submit(app, session, unit)
    assert adam.user.id not in sealed_to(session, case)
    assert adam.user.id not in offered_for_exclusion(app, unit)


def test_a_certification_signed_for_another_role_does_not_make_a_handler(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    with app.app_context():
        conny = add_staff(
            session,
            clock,
            unit.org,
            "Conny Counsel",
            [Role.COUNSEL],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, conny)
    # The admin makes counsel a handler too: her counsel certification is no handler's one.
    admin_of(app, clock, unit).send(
        "/users",
        f"/users/{conny.user.id}/roles",
        {f"user-{conny.user.id}-roles": ["counsel", "handler"]},
    )
    case = submit(app, session, unit)
    assert conny.user.id not in sealed_to(session, case)


# --- separation of duties: an admin who makes himself a handler ------------------------------


def test_an_admin_who_makes_himself_a_handler_reads_nothing_until_a_lead_certifies(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    adam_id = unit.admin.user.id
    admin = admin_of(app, clock, unit)
    users = admin.page("/users")
    assert "no case key is sealed to them until a unit lead has certified their key" in text_of(
        users
    )
    changed = admin.send(
        "/users", f"/users/{adam_id}/roles", {f"user-{adam_id}-roles": ["admin", "handler"]}
    )
    assert changed.status_code == 303
    # His key pair is made at his next sign-in, from his password.
    admin.sign_out()
    assert admin.sign_in().status_code == 303
    session.expire_all()
    adam_user = session.get(User, adam_id)
    assert adam_user is not None and adam_user.public_key is not None
    assert "Your key awaits certification by a unit lead" in text_of(admin.get("/staff/"))
    assert "key awaiting a unit lead's certification" in text_of(admin.page("/users"))

    # No new case, and no place on the reporter's list.
    assert adam_id not in offered_for_exclusion(app, unit)
    first = submit(app, session, unit)
    assert adam_id not in sealed_to(session, first)

    # The lead's page shows him, with the fingerprint he sees on his own page.
    own = admin.get("/staff/account/keys")
    fingerprint = re.search(r'id="own-fingerprint">([0-9A-Z-]+)<', own.get_data(as_text=True))
    assert fingerprint is not None
    lead = signed_in(app, clock, lise(unit), unit)
    keys_page = lead.get(f"/staff/{unit.org.slug}/keys")
    assert "Adam Admin" in text_of(keys_page) and fingerprint.group(1) in text_of(keys_page)
    assert "Certifying is also your approval of the role" in text_of(keys_page)

    # Certifying needs the comparison confirmed.
    path = f"/staff/{unit.org.slug}/keys/{adam_id}/certify"
    name, token = form_token(keys_page, path)
    refused = lead.post(path, {name: token})
    assert refused.status_code == 400
    assert "Confirm that you compared the fingerprint" in text_of(refused)
    assert adam_id not in {u.id for u in certified_members(session, unit.org.id)}
    done = lead.post(path, {name: token, f"certify-{adam_id}-compared": "y"})
    assert done.status_code == 303
    assert "key.certified" in actions(session, unit.org.id)

    # From now on, and only now, cases are sealed to him.
    assert adam_id in offered_for_exclusion(app, unit)
    second = submit(app, session, unit)
    assert adam_id in sealed_to(session, second)
    assert adam_id not in sealed_to(session, first)


def test_a_lead_the_admin_appointed_cannot_certify_anyone(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    adam_id = unit.admin.user.id
    admin = admin_of(app, clock, unit)
    admin.send("/users", f"/users/{adam_id}/roles", {f"user-{adam_id}-roles": ["admin", "lead"]})
    admin.sign_out()
    admin.sign_in()
    session.expire_all()
    adam_user = session.get(User, adam_id)
    assert adam_user is not None
    page = admin.get(f"/staff/{unit.org.slug}/keys")
    assert page.status_code == 200
    assert "Your own key is not certified yet" in text_of(page)
    assert "Another unit lead must certify your own key." in text_of(page)
    # Not himself, and not a newcomer either: he holds no certification key.
    with app.app_context():
        nina = add_staff(
            session,
            clock,
            unit.org,
            "Nina Nyansat",
            [Role.HANDLER],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
    session.expire_all()
    adam_user = session.get(User, adam_id)
    assert adam_user is not None
    with app.app_context(), pytest.raises(Refused):
        certification.certify(
            session,
            clock,
            unit.org.id,
            adam_user,
            PrivateKey.generate(),
            nina.user.id,
            compared=True,
        )
    session.rollback()
    assert nina.user.id not in {u.id for u in certified_members(session, unit.org.id)}


def test_a_role_taken_away_takes_its_certification_along(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    henrik_id = henrik(unit).user.id
    admin = admin_of(app, clock, unit)
    admin.send("/users", f"/users/{henrik_id}/roles", {f"user-{henrik_id}-roles": ["auditor"]})
    admin.send("/users", f"/users/{henrik_id}/roles", {f"user-{henrik_id}-roles": ["handler"]})
    assert henrik_id not in {u.id for u in certified_members(session, unit.org.id)}
    assert henrik_id not in sealed_to(session, submit(app, session, unit))
    # Deactivated and reactivated: the same.
    certify(session, clock, unit, henrik(unit))
    admin.send("/users", f"/users/{henrik_id}/deactivate", {f"deactivate-{henrik_id}-confirm": "y"})
    session.expire_all()
    assert (
        session.scalar(
            select(func.count())
            .select_from(KeyCertification)
            .where(KeyCertification.user_id == henrik_id)
        )
        == 0
    )


# --- fingerprints ----------------------------------------------------------------------------


def test_owners_and_leads_see_the_same_fingerprints(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    handler = signed_in(app, clock, hanne(unit), unit)
    own = handler.get("/staff/account/keys")
    assert own.status_code == 200
    assert hanne(unit).private_key is not None
    fingerprint = hanne(unit).private_key.public_key().fingerprint()
    assert fingerprint in text_of(own)
    recovery = import_recovery_key(unit.recovery_key_text).public_key().fingerprint()
    assert recovery in text_of(own)
    lead_page = text_of(signed_in(app, clock, lise(unit), unit).get(f"/staff/{unit.org.slug}/keys"))
    assert fingerprint in lead_page and recovery in lead_page
    with runtime(app).sessions() as fresh:
        pins = pins_of(fresh).get(unit.org.id)
        assert pins is not None
        assert pins.recovery == recovery
        assert pins.signing in lead_page and str(pins.certification) in lead_page
    # Handlers cannot open the lead's page.
    assert handler.get(f"/staff/{unit.org.slug}/keys").status_code == 403


# --- trust on first use ----------------------------------------------------------------------


def test_the_first_lead_is_trusted_on_first_use_and_nobody_after(
    app: Flask, session: Session, clock: FixedClock
) -> None:
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        org = create_organisation(session, clock, name="Nyfirma ApS", slug="nyfirma")
        create_org_keys(session, clock, org, instance_key)
        session.commit()
        trust.pin_organisation(session, org)
        first = add_staff(session, clock, org, "Lone Lead", [Role.LEAD], instance_key=instance_key)
        second = add_staff(session, clock, org, "Lars Lead", [Role.LEAD], instance_key=instance_key)
        session.commit()
    bootstrap = session.scalars(
        select(CertificationKeyCopy).where(CertificationKeyCopy.recipient == "bootstrap")
    ).one()
    saved = (bootstrap.org_id, bootstrap.org_key_id, bootstrap.sealed)
    assert certified_members(session, org.id) == []

    StaffMember(app, clock, first).sign_in()
    session.expire_all()
    assert [u.id for u in certified_members(session, org.id)] == [first.user.id]
    assert "key.first_lead_trusted" in actions(session, org.id)
    pins = pins_of(session).get(org.id)
    assert pins is not None and pins.first_lead_trusted
    assert (
        session.scalar(
            select(func.count())
            .select_from(CertificationKeyCopy)
            .where(CertificationKeyCopy.recipient == "bootstrap")
        )
        == 0
    )

    # The attacker puts the bootstrap copy back from an old database copy: the pin file
    # says the first lead came, so the second lead is not trusted by the server.
    session.add(
        CertificationKeyCopy(
            org_id=saved[0],
            org_key_id=saved[1],
            recipient="bootstrap",
            user_id=None,
            sealed=saved[2],
        )
    )
    session.commit()
    StaffMember(app, clock, second).sign_in()
    session.expire_all()
    assert [u.id for u in certified_members(session, org.id)] == [first.user.id]


# --- the upgrade step ------------------------------------------------------------------------


def test_the_upgrade_certifies_existing_keys_and_pins_them(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    # An installation from before certification: no certification key, no pins.
    session.execute(delete(KeyCertification))
    session.execute(delete(OrgKey).where(OrgKey.purpose == KeyPurpose.CERTIFICATION.value))
    session.commit()
    (runtime(app).settings.instance_path / PINS_FILE).unlink()
    session.expire_all()

    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"certified 3 existing keys of {unit.org.slug} (trust on first use)" in result.output
    assert f"pinned {unit.org.slug}" in result.output
    session.expire_all()
    assert {u.id for u in certified_members(session, unit.org.id)} == {
        s.user.id for s in unit.handlers
    }
    pins = pins_of(session).get(unit.org.id)
    assert pins is not None and pins.first_lead_trusted  # it had a lead: no TOFU later
    assert "key.certified_at_upgrade" in actions(session, unit.org.id)
    case = submit(app, session, unit)
    assert sealed_to(session, case) == {s.user.id for s in unit.handlers}
    # The lead can certify afterwards (the key was sealed to her).
    with app.app_context():
        nina = add_staff(
            session,
            clock,
            unit.org,
            "Nina Nyansat",
            [Role.HANDLER],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
    certify(session, clock, unit, nina)

    # Idempotent: a second run changes nothing.
    rows = session.scalar(select(func.count()).select_from(KeyCertification))
    again = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0 and "certified" not in again.output and "pinned" not in again.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(KeyCertification)) == rows
    assert pins_of(session).get(unit.org.id) == pins


def test_a_new_unpinned_organisation_is_named_not_pinned(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """After the first pinning, an organisation without pins (a row an intruder added, or a
    failed write) is only named: the operator pins it with ``whistle keys pin``."""
    with app.app_context():
        org = create_organisation(session, clock, name="Skyggefirma ApS", slug="skygge")
        create_org_keys(session, clock, org, runtime(app).settings.instance_key)
        session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert "NOT PINNED skygge" in result.output
    assert pins_of(session).get(org.id) is None
    pinned = runner.invoke(cli, ["keys", "pin", "skygge"])
    assert pinned.exit_code == 0 and "pinned skygge" in pinned.output
    assert pins_of(session).get(org.id) is not None


def test_the_recovery_key_certifies_a_lead_when_none_is_left(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    with app.app_context():
        lene = add_staff(
            session,
            clock,
            unit.org,
            "Lene Lead",
            [Role.LEAD],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
    result = app.test_cli_runner().invoke(
        cli,
        ["keys", "certify", "--org", unit.org.slug, "--user", lene.user.email],
        input=unit.recovery_key_text,
    )
    assert result.exit_code == 0, result.output
    assert lene.user.id in {u.id for u in certified_members(session, unit.org.id)}
    # And she can certify others now.
    with app.app_context():
        nina = add_staff(
            session,
            clock,
            unit.org,
            "Nina Nyansat",
            [Role.HANDLER],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        session.expire_all()
        lene_user = session.get(User, lene.user.id)
        assert lene_user is not None
        certification.certify(
            session, clock, unit.org.id, lene_user, lene.private_key, nina.user.id, compared=True
        )
    assert nina.user.id in {u.id for u in certified_members(session, unit.org.id)}


def test_intake_seals_only_to_members_the_form_offered(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """A member certified after the form was shown is not sealed to: the reporter was not
    offered them for exclusion."""
    from crypto import Argon2Params
    from whistle.core.models import Category
    from whistle.reporting.intake import ReportInput, submit_report

    offered = [u for u in certified_members(session, unit.org.id) if u.id != henrik(unit).user.id]
    category = session.scalars(select(Category.id).where(Category.org_id == unit.org.id)).first()
    assert category is not None
    rt = runtime(app)
    with app.app_context():
        case = submit_report(
            session,
            clock,
            unit.org,
            ReportInput(category_id=category, what="Fake report."),
            [],
            pepper=rt.settings.pepper,
            argon2=Argon2Params.for_tests(),
            store=FileStore(rt.settings.file_store),
            unit=offered,
        ).case
    assert sealed_to(session, case) == {hanne(unit).user.id, lise(unit).user.id}


def test_a_key_swapped_during_a_session_shows_on_the_leads_page(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """The owner's page shows the fingerprint of the key they really hold (from their own
    private key), so comparing it with the lead's page reveals a swap."""
    handler = signed_in(app, clock, hanne(unit), unit)
    assert hanne(unit).private_key is not None
    real = hanne(unit).private_key.public_key().fingerprint()
    swap_public_key(session, hanne(unit).user.id)
    assert real in text_of(handler.get("/staff/account/keys"))
    lead_page = text_of(signed_in(app, clock, lise(unit), unit).get(f"/staff/{unit.org.slug}/keys"))
    assert real not in lead_page
    assert "This person's key has changed since it was certified" in lead_page
