"""The admin console (issue 7): people, profile and logo, texts, categories, the reporting
channel, uploads, retention, mail and the record of processing, through the pages.

Two properties run through it: every admin route refuses every other role, and no admin page
decrypts anything (an administrator manages people and settings and never reads a case).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from PIL import Image, PngImagePlugin
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.admin import admin_of
from tests.steps.authorisation import EXPECTED, snapshot
from tests.steps.factories import TEST_PASSWORD, Unit, add_staff, certify, make_unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.setup_link import open_setup
from tests.steps.sign_in import secret_shown
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.staff import CaseWorker, StaffMember
from whistle.casefile.limits import MB, upload_limits
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.models import (
    AuditEntry,
    Case,
    CaseKey,
    CaseOutcome,
    Category,
    InstanceSetting,
    Membership,
    Organisation,
    Role,
    User,
    WebSession,
)
from whistle.core.runtime import runtime
from whistle.notify import mail
from whistle.retention import schedule
from whistle.setup.onboarding import issue_token
from whistle.staff import totp


def audit_actions(session: Session, org_id: int) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEntry.action).where(AuditEntry.org_id == org_id).order_by(AuditEntry.seq)
        )
    )


def all_audit_text(session: Session) -> str:
    session.expire_all()
    return " ".join(
        f"{e.action} {e.detail} {e.case_reference}" for e in session.scalars(select(AuditEntry))
    )


def current_mail(session: Session, app: Flask) -> mail.SmtpConfig:
    session.expire_all()
    return mail.deployment_config(session, runtime(app).settings)


def roles_of(session: Session, org_id: int, user_id: int) -> set[str]:
    session.expire_all()
    return set(
        session.scalars(
            select(Membership.role).where(
                Membership.org_id == org_id, Membership.user_id == user_id
            )
        )
    )


# --- Who may use the console ----------------------------------------------------------------


def test_every_admin_route_refuses_every_other_role(
    app: Flask, session: Session, clock: FixedClock
) -> None:
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        unit = make_unit(session, clock, instance_key)
        other = make_unit(session, clock, instance_key, slug="andetfirma")
        auditor = add_staff(
            session, clock, unit.org, "Aud Auditor", [Role.AUDITOR], instance_key=instance_key
        )
        counsel = add_staff(
            session, clock, unit.org, "Conny Counsel", [Role.COUNSEL], instance_key=instance_key
        )
        session.commit()
    slug = unit.org.slug
    values = {
        "slug": slug,
        "user_id": unit.handlers[0].user.id,
        "category_id": Reporter(app, slug).category_id("harassment"),
    }
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    assert len(rules) >= 20
    # The route table of the authorisation test agrees: the console is for administrators.
    assert all(EXPECTED[r.endpoint] == frozenset({"admin"}) for r in rules)

    anonymous = app.test_client()
    anonymous_token = csrf_token(anonymous.get("/staff/sign-in"))
    refused: list[tuple[str, Any, str]] = [("anonymous", anonymous, anonymous_token)]
    for name, staff, org_slug in (
        ("handler", unit.handlers[0], slug),
        ("lead", unit.handlers[2], slug),
        ("auditor", auditor, slug),
        ("counsel", counsel, slug),
        ("admin of another organisation", other.admin, "andetfirma"),
    ):
        person = CaseWorker(app, clock, staff, slug=org_slug)
        assert person.sign_in().status_code == 303
        refused.append((name, person.client, person.any_token()))

    engine = runtime(app).engine
    adapter = app.url_map.bind("localhost")
    before = snapshot(engine)
    problems = []
    for rule in rules:
        url = adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for name, client, token in refused:
                data = {"csrf_token": token} if method == "POST" else None
                response = client.open(
                    url, method=method, data=data, headers={"Accept-Language": "en"}
                )
                location = response.headers.get("Location", "")
                away = response.status_code in (403, 404) or (
                    name == "anonymous"
                    and method == "GET"
                    and response.status_code == 303
                    and location.startswith("/staff/sign-in")
                )
                if not away:
                    problems.append(f"{method} {rule.endpoint} as {name}: {response.status_code}")
                if name == "admin of another organisation" and response.status_code != 404:
                    problems.append(f"{method} {rule.endpoint}: another organisation's admin")
    assert not problems, "\n".join(problems)
    assert snapshot(engine) == before, "a refused request changed data"


# --- Admin pages never decrypt anything -----------------------------------------------------

OPENERS = (
    "decrypt_field",
    "decrypt_stream",
    "decrypt_stream_to",
    "open_case_key",
    "open_case_key_for_reporter",
    "unwrap_private_key",
    "rewrap_private_key",
    "import_recovery_key",
)
# What an admin's request may open: its own browser session (whistle/core/vault.py), an uploaded
# file's spool (whistle/web/uploads.py) and the mail server's password (whistle/notify/mail.py).
HARMLESS = {"web-session", "upload-spool", "smtp-password"}


def record_openings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Wrap every opening function of crypto/ wherever a whistle module imported it; return
    the list of (function, context) each call adds to."""
    calls: list[tuple[str, str]] = []

    def wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def opened(*args: Any, **kwargs: Any) -> Any:
            context = kwargs.get("context")
            if context is None and name.startswith("decrypt_stream") and len(args) >= 3:
                context = args[2]
            first = context[0] if isinstance(context, tuple) and context else context
            calls.append((name, str(first)))
            return original(*args, **kwargs)

        return opened

    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("whistle") or module is None:
            continue
        for name in OPENERS:
            original = getattr(module, name, None)
            if original is not None and getattr(original, "__module__", "").startswith("crypto"):
                monkeypatch.setattr(module, name, wrap(name, original))
    return calls


LINK_RE = re.compile(r'href="(/[^"]*)"')


def test_admin_pages_never_decrypt_anything(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = "CNRYADMINCONSOLE7Q"
    reporter = Reporter(app, unit.org.slug)
    reporter.report(
        ReportAnswers(
            what=f"Fake report {marker}WHAT",
            named=True,
            name=f"Fie Fiktiv {marker}NAME",
            contact=f"{marker.lower()}@example.org",
            files=[Upload(f"{marker}FILE.txt", f"Fake evidence {marker}DATA".encode())],
        )
    )
    handler = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    assert handler.sign_in().status_code == 303
    reference = session.scalars(select(Case.reference)).one()
    sent = handler.case_action(reference, "message", {"msg-body": f"Fake question {marker}MSG"})
    assert sent.status_code == 303

    admin = admin_of(app, clock, unit)
    calls = record_openings(monkeypatch)
    # Every page the console links to, and every link on those, within the console.
    queue: list[str] = [admin.base]
    seen: dict[str, str] = {}
    while queue and len(seen) < 100:
        url = queue.pop(0)
        if url in seen:
            continue
        response = admin.get(url)
        assert response.status_code == 200, url
        seen[url] = response.get_data(as_text=True)
        queue += [
            unescape(link).split("#")[0]
            for link in LINK_RE.findall(seen[url])
            if unescape(link).startswith(admin.base)
        ]
    assert {f"{admin.base}{p}" for p in ("/users", "/texts", "/record", "/mail")} <= set(seen)
    # Changes too: roles, a text, a category, the profile, the logo.
    henrik = unit.handlers[1].user.id
    done = [
        admin.send(
            "/users",
            f"/users/{henrik}/roles",
            {f"user-{henrik}-roles": ["handler", "lead"]},
        ),
        admin.send("/texts", "/texts", {"who_handles_en": "<p>Two fake lawyers.</p>"}),
        admin.send("/categories", "/categories", {"add-label_da": "Snyd", "add-label_en": "Fraud"}),
        admin.send("/profile", "/profile", {"name": "Testfirma Omdøbt ApS", "locale": "da"}),
        admin.send(
            "/profile",
            "/profile/logo",
            {"logo": (io.BytesIO(png_bytes()), "logo.png")},
            multipart=True,
        ),
    ]
    assert [r.status_code for r in done] == [303] * len(done)
    for url, body in seen.items():
        for shown in (marker, marker.lower(), reference):
            leaked = shown in body  # a bare flag: a failure must not print the page
            assert not leaked, f"case data shown at {url}"
    opened = [(name, context) for name, context in calls if context not in HARMLESS]
    assert opened == [], opened
    assert ("decrypt_field", "web-session") in calls  # the recorder did see the requests


# --- People ---------------------------------------------------------------------------------


def test_the_people_page_lists_roles_state_and_two_step_sign_in(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    with app.app_context():
        add_staff(session, clock, unit.org, "Nina Nyansat", [Role.HANDLER])  # not enrolled
        session.commit()
    admin = admin_of(app, clock, unit)
    page = admin.page("/users")
    assert page.status_code == 200
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [text_of_cell(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(
                r'<tr id="person-\d+">(.*?)</tr>', page.get_data(as_text=True), re.S
            )
        )
    }
    assert rows["Hanne Handler"] == [
        unit.handlers[0].user.email,
        "Case handler",
        "Active",
        "Set up",
    ]
    assert rows["Lise Lead"][1] == "Case handler, Unit lead"
    assert rows["Adam Admin (you)"][1:] == ["Administrator", "Active", "Set up"]
    assert rows["Nina Nyansat"][3] == "Not yet"
    assert "Access to cases goes with keys" in text_of(page)


def text_of_cell(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html))).strip()


def test_inviting_from_the_console_shows_the_link_once(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    made = admin.send(
        "/users", "/users", {"email": "ny.kollega@example.org", "roles": ["handler", "auditor"]}
    )
    assert made.status_code == 200
    shown = text_of(made)
    assert "This installation sends no e-mail" in shown
    assert re.search(r"http://localhost/staff/invitation#[A-Za-z0-9_-]{20,}", shown)
    assert "ny.kollega@example.org" in text_of(admin.page("/users"))  # an open invitation
    refused = admin.send("/users", "/users", {"email": "not-an-address", "roles": []})
    assert refused.status_code == 400
    assert "Choose at least one role." in text_of(refused)

    invitation = re.search(
        r'name="invitation" type="hidden" value="(\d+)"',
        admin.page("/users").get_data(as_text=True),
    )
    assert invitation
    gone = admin.send("/users", "/users/invitations/withdraw", {"invitation": invitation.group(1)})
    assert gone.status_code == 303
    assert "ny.kollega@example.org" not in text_of(admin.page("/users"))
    actions = audit_actions(session, unit.org.id)
    assert actions[-2:] == ["user.invited", "user.invitation_withdrawn"]


def test_roles_change_and_the_last_admin_stays(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    henrik = unit.handlers[1].user.id
    changed = admin.send(
        "/users", f"/users/{henrik}/roles", {f"user-{henrik}-roles": ["lead", "handler"]}
    )
    assert changed.status_code == 303
    assert "The roles are changed." in text_of(admin.get(changed.headers["Location"]))
    assert roles_of(session, unit.org.id, henrik) == {"handler", "lead"}
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.roles_changed")
    ).one()
    assert entry.actor_user_id == unit.admin.user.id
    assert entry.detail == f'{{"added":"lead","removed":"","user":{henrik}}}'

    # No role at all is refused: ending access is deactivation.
    none = admin.send("/users", f"/users/{henrik}/roles", {})
    assert none.status_code == 409
    assert "Choose at least one role. To end someone's access, deactivate them." in text_of(none)
    assert roles_of(session, unit.org.id, henrik) == {"handler", "lead"}

    # The only administrator cannot give up the role...
    me = unit.admin.user.id
    alone = admin.send("/users", f"/users/{me}/roles", {f"user-{me}-roles": ["auditor"]})
    assert alone.status_code == 409
    assert "must keep at least one active administrator" in text_of(alone)
    assert roles_of(session, unit.org.id, me) == {"admin"}
    # ...until someone else is one.
    assert (
        admin.send(
            "/users",
            f"/users/{henrik}/roles",
            {f"user-{henrik}-roles": ["lead", "handler", "admin"]},
        ).status_code
        == 303
    )
    handed_over = admin.send("/users", f"/users/{me}/roles", {f"user-{me}-roles": ["auditor"]})
    assert handed_over.status_code == 303
    assert roles_of(session, unit.org.id, me) == {"auditor"}
    assert admin.page().status_code == 403  # no longer an administrator


def test_a_deactivated_handler_loses_the_cases_and_gets_none_back_when_reactivated(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    Reporter(app, unit.org.slug).report(ReportAnswers(what="Fake report: a forklift is unsafe."))
    case = session.scalars(select(Case)).one()
    hanne = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    assert hanne.sign_in().status_code == 303
    assert hanne.open_case(case.reference).status_code == 200
    hanne_id = unit.handlers[0].user.id
    keys_before = session.scalars(select(CaseKey.id).where(CaseKey.user_id == hanne_id)).all()
    assert keys_before

    admin = admin_of(app, clock, unit)
    unconfirmed = admin.send("/users", f"/users/{hanne_id}/deactivate", {})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in text_of(unconfirmed)
    done = admin.send(
        "/users", f"/users/{hanne_id}/deactivate", {f"deactivate-{hanne_id}-confirm": "y"}
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(User, hanne_id).is_active is False  # type: ignore[union-attr]
    assert session.scalars(select(WebSession).where(WebSession.user_id == hanne_id)).all() == []
    # Her open browser is signed out; signing in again is refused.
    assert hanne.open_case(case.reference).headers["Location"].startswith("/staff/sign-in")
    again = hanne.submit(
        "/staff/sign-in", {"email": unit.handlers[0].user.email, "password": TEST_PASSWORD}
    )
    assert again.status_code == 200
    assert "The e-mail address or the password is wrong." in text_of(again)
    # Her keys are gone and the case has new ones without her (issue 14: leaving revokes);
    # the page says she is deactivated.
    assert session.scalars(select(CaseKey.id).where(CaseKey.user_id == hanne_id)).all() == []
    assert session.get(Case, case.id).key_epoch == 1  # type: ignore[union-attr]
    assert "Deactivated" in text_of(admin.page("/users"))

    # Nobody deactivates themselves.
    me = unit.admin.user.id
    assert f"/users/{me}/deactivate" not in admin.page("/users").get_data(as_text=True)
    self_off = admin.forced(
        f"/users/{me}/deactivate",
        {f"deactivate-{me}-confirm": "y"},
        token_name=f"deactivate-{me}-csrf_token",
    )
    assert self_off.status_code == 409
    assert "You cannot deactivate your own account." in text_of(self_off)

    # Reactivated, she signs in again but holds no case until a lead vouches for her key
    # again and a colleague gives the case to her.
    back = admin.send("/users", f"/users/{hanne_id}/reactivate", {})
    assert back.status_code == 303
    assert hanne.sign_in().status_code == 303
    assert hanne.open_case(case.reference).status_code == 403
    session.expire_all()
    with app.app_context():
        certify(session, clock, unit, unit.handlers[0])
        session.commit()
    lise = CaseWorker(app, clock, unit.handlers[2], slug=unit.org.slug)
    lise.sign_in()
    given = lise.case_action(case.reference, "grant", {"grant-grantee": str(hanne_id)})
    assert given.status_code == 303
    assert "Fake report: a forklift is unsafe." in hanne.open_case(case.reference).get_data(
        as_text=True
    )
    actions = audit_actions(session, unit.org.id)
    assert "user.deactivated" in actions and "user.reactivated" in actions


def test_a_handler_who_loses_the_role_loses_the_case_for_good(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    Reporter(app, unit.org.slug).report(ReportAnswers(what="Fake report: invoices are doubled."))
    reference = session.scalars(select(Case.reference)).one()
    henrik_id = unit.handlers[1].user.id
    admin = admin_of(app, clock, unit)
    assert (
        admin.send(
            "/users", f"/users/{henrik_id}/roles", {f"user-{henrik_id}-roles": ["auditor"]}
        ).status_code
        == 303
    )
    henrik = CaseWorker(app, clock, unit.handlers[1], slug=unit.org.slug)
    assert henrik.sign_in().status_code == 303
    assert henrik.open_case(reference).status_code == 403
    assert not session.scalars(select(CaseKey).where(CaseKey.user_id == henrik_id)).first()
    # The role given back does not give the case back: leaving renewed its keys without him.
    assert (
        admin.send(
            "/users", f"/users/{henrik_id}/roles", {f"user-{henrik_id}-roles": ["handler"]}
        ).status_code
        == 303
    )
    assert henrik.open_case(reference).status_code == 403


def test_someone_of_another_organisation_is_removed_here_not_deactivated(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        other = make_unit(session, clock, instance_key, slug="andetfirma")
        shared = other.handlers[0].user
        session.add(
            Membership(
                org_id=unit.org.id, user_id=shared.id, role="handler", created_at=clock.now()
            )
        )
        session.commit()
    admin = admin_of(app, clock, unit)
    page = text_of(admin.page("/users"))
    assert "Remove from this organisation" in page
    assert f"/users/{shared.id}/two-step" not in admin.page("/users").get_data(as_text=True)
    reset = admin.forced(
        f"/users/{shared.id}/two-step",
        {f"reset-{shared.id}-confirm": "y"},
        token_name=f"reset-{shared.id}-csrf_token",
    )
    assert reset.status_code == 409
    assert "also works for another organisation" in text_of(reset)
    removed = admin.send(
        "/users", f"/users/{shared.id}/deactivate", {f"deactivate-{shared.id}-confirm": "y"}
    )
    assert removed.status_code == 303
    assert "no longer has a role in this organisation" in text_of(
        admin.get(removed.headers["Location"])
    )
    session.expire_all()
    assert session.get(User, shared.id).is_active is True  # type: ignore[union-attr]
    assert roles_of(session, unit.org.id, shared.id) == set()
    assert roles_of(session, other.org.id, shared.id) == {"handler"}
    assert audit_actions(session, unit.org.id)[-1] == "user.removed"


def test_resetting_two_step_sign_in_leads_to_enrolment_at_the_next_sign_in(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne_staff = unit.handlers[0]
    hanne_id = hanne_staff.user.id
    hanne = StaffMember(app, clock, hanne_staff)
    assert hanne.sign_in().status_code == 303
    old_secret = hanne_staff.totp_secret
    assert old_secret is not None

    admin = admin_of(app, clock, unit)
    unconfirmed = admin.send("/users", f"/users/{hanne_id}/two-step", {})
    assert unconfirmed.status_code == 400
    assert "Confirm that you have checked who is asking." in text_of(unconfirmed)
    me = unit.admin.user.id
    own = admin.forced(
        f"/users/{me}/two-step", {f"reset-{me}-confirm": "y"}, token_name=f"reset-{me}-csrf_token"
    )
    assert own.status_code == 409
    assert "You cannot reset your own two-step sign-in." in text_of(own)

    done = admin.send("/users", f"/users/{hanne_id}/two-step", {f"reset-{hanne_id}-confirm": "y"})
    assert done.status_code == 303
    session.expire_all()
    user = session.get(User, hanne_id)
    assert user is not None and user.totp_secret is None and user.totp_confirmed_at is None
    assert hanne.get("/staff/").headers["Location"].startswith("/staff/sign-in")  # signed out

    # The old app's code no longer works: the password leads to enrolment, not the code step.
    first = hanne.submit("/staff/sign-in", {"email": user.email, "password": TEST_PASSWORD})
    assert first.status_code == 303
    assert first.headers["Location"] == "/staff/sign-in/enrol"
    enrol_page = hanne.get("/staff/sign-in/enrol")
    new_secret = secret_shown(enrol_page)
    assert new_secret != old_secret
    hanne.staff.totp_secret = new_secret
    signed_in = hanne.submit("/staff/sign-in/enrol", {"code": hanne.current_code()})
    assert signed_in.status_code == 303
    assert hanne.get("/staff/").status_code == 200
    assert audit_actions(session, unit.org.id)[-1] == "user.two_step_reset"
    hanne.sign_out()
    # From now on the new app's codes are the ones asked for, and the old app's are wrong.
    assert hanne.sign_in().status_code == 303
    hanne.sign_out()
    hanne.staff.totp_secret = old_secret
    assert (
        hanne.submit("/staff/sign-in", {"email": user.email, "password": TEST_PASSWORD})
        .headers["Location"]
        .startswith("/staff/sign-in/code")
    )
    stale = hanne.submit("/staff/sign-in/code", {"code": hanne.current_code()})
    assert stale.status_code == 200
    assert "The code is wrong or has expired." in text_of(stale)


# --- Profile and logo -----------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (1200, 300), text: str = "Fie Fiktiv took this") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", text)
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 92, 173, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (400, 400), (200, 30, 30))
    exif = image.getexif()
    exif[0x013B] = "Fie Fiktiv"  # Artist
    exif[0x010F] = "FakeCam"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"Fie Fiktiv comment")
    return out.getvalue()


def test_profile_name_and_a_logo_without_metadata(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    renamed = admin.send("/profile", "/profile", {"name": "  Nordisk   Fjer A/S ", "locale": "en"})
    assert renamed.status_code == 303
    session.expire_all()
    org = session.get(Organisation, unit.org.id)
    assert org is not None and (org.name, org.default_locale) == ("Nordisk Fjer A/S", "en")
    too_short = admin.send("/profile", "/profile", {"name": "X", "locale": "da"})
    assert too_short.status_code == 400
    assert "Give a name of 2 to 200 characters." in text_of(too_short)

    public = app.test_client()
    assert public.get(f"/o/{unit.org.slug}/logo.png").status_code == 404
    assert "org-logo" not in public.get(f"/o/{unit.org.slug}/").get_data(as_text=True)
    for upload in (png_bytes(), jpeg_with_exif()):
        sent = admin.send(
            "/profile", "/profile/logo", {"logo": (io.BytesIO(upload), "logo")}, multipart=True
        )
        assert sent.status_code == 303
        served = public.get(f"/o/{unit.org.slug}/logo.png")
        assert served.status_code == 200 and served.mimetype == "image/png"
        assert b"Fie Fiktiv" not in served.data and b"FakeCam" not in served.data
        with Image.open(io.BytesIO(served.data)) as image:
            assert image.format == "PNG"
            assert image.width <= 600 and image.height <= 200
            assert not image.getexif() and "Author" not in image.info
    assert served.headers["ETag"]
    assert (
        public.get(
            f"/o/{unit.org.slug}/logo.png", headers={"If-None-Match": served.headers["ETag"]}
        ).status_code
        == 304
    )
    start = public.get(f"/o/{unit.org.slug}/").get_data(as_text=True)
    assert f'src="/o/{unit.org.slug}/logo.png"' in start

    for bad, message in (
        (b"GIF89a not really an image", "not a PNG or JPEG image that can be read"),
        (gif_bytes(), "Choose a PNG or JPEG image."),
        (b"\x89PNG" + b"0" * (1024 * 1024 + 10), "larger than 1 MB"),
    ):
        refused = admin.send(
            "/profile", "/profile/logo", {"logo": (io.BytesIO(bad), "x")}, multipart=True
        )
        assert refused.status_code == 400
        assert message in text_of(refused)
    removed = admin.send("/profile", "/profile/logo/remove", {})
    assert removed.status_code == 303
    assert public.get(f"/o/{unit.org.slug}/logo.png").status_code == 404
    actions = audit_actions(session, unit.org.id)
    assert actions.count("settings.logo_changed") == 2 and actions[-1] == "settings.logo_removed"


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    return out.getvalue()


# --- Texts: tests/admin/test_texts.py ---------------------------------------------------------


# --- Categories -----------------------------------------------------------------------------


def category_labels(app: Flask, slug: str) -> list[str]:
    page = Reporter(app, slug).get(f"/o/{slug}/report").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="category"[^>]*>(.*?)</select>', page, re.S)
    assert select_html
    return [
        unescape(label)
        for label in re.findall(r"<option[^>]*>([^<]*)</option>", select_html.group(1))
    ][1:]


def test_categories_are_added_renamed_reordered_and_deactivated_never_lost(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    Reporter(app, slug).report(ReportAnswers(category="harassment"))
    harassment = session.scalars(select(Category).where(Category.code == "harassment")).one()
    not_sure = session.scalars(select(Category).where(Category.code == "not-sure")).one()
    admin = admin_of(app, clock, unit)

    added = admin.send(
        "/categories",
        "/categories",
        {"add-label_da": "Snyd med timer", "add-label_en": "Time fraud"},
    )
    assert added.status_code == 303
    fraud = session.scalars(select(Category).where(Category.code == "time-fraud")).one()
    assert category_labels(app, slug)[-2:] == ["Time fraud", "Not sure"]
    empty = admin.send("/categories", "/categories", {"add-label_da": "", "add-label_en": "X"})
    assert empty.status_code == 400

    renamed = admin.send(
        "/categories",
        f"/categories/{harassment.id}",
        {f"cat-{harassment.id}-label_da": "Chikane", f"cat-{harassment.id}-label_en": "Harassment"},
    )
    assert renamed.status_code == 303
    labels = category_labels(app, slug)
    assert "Harassment" in labels
    before = category_labels(app, slug)
    up = admin.send("/categories", f"/categories/{fraud.id}/move", {"direction": "up"})
    assert up.status_code == 303
    assert category_labels(app, slug)[-3:] == ["Time fraud", before[-3], "Not sure"]

    off = admin.send("/categories", f"/categories/{harassment.id}/active", {"active": "0"})
    assert off.status_code == 303
    assert "Harassment" not in category_labels(app, slug)
    session.expire_all()
    case = session.scalars(select(Case)).one()
    assert case.category_id == harassment.id  # the case keeps its category
    kept = admin.forced(f"/categories/{harassment.id}/delete", {})
    assert kept.status_code == 409
    assert "Reports have this category, so it cannot be deleted." in text_of(kept)
    always = admin.forced(f"/categories/{not_sure.id}/active", {"active": "0"})
    assert always.status_code == 409
    assert "“Not sure” is always offered to reporters." in text_of(always)
    assert "Not sure" in category_labels(app, slug)
    assert (
        admin.send(
            "/categories", f"/categories/{harassment.id}/active", {"active": "1"}
        ).status_code
        == 303
    )
    assert "Harassment" in category_labels(app, slug)

    fraud_id = fraud.id
    gone = admin.send("/categories", f"/categories/{fraud_id}/delete", {})
    assert gone.status_code == 303
    session.expire_all()
    assert session.get(Category, fraud_id) is None
    assert admin.send("/categories", f"/categories/{not_sure.id}", {}).status_code == 400

    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    foreign = session.scalars(select(Category.id).where(Category.org_id == other.org.id)).first()
    assert admin.forced(f"/categories/{foreign}/active", {"active": "0"}).status_code == 404
    actions = audit_actions(session, unit.org.id)
    for action in (
        "settings.category_added",
        "settings.category_renamed",
        "settings.category_moved",
        "settings.category_deactivated",
        "settings.category_reactivated",
        "settings.category_deleted",
    ):
        assert action in actions, action
    assert "Time fraud" not in all_audit_text(session)


# --- The reporting channel, uploads and retention -------------------------------------------


def test_anonymous_reports_and_who_can_report(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    reporter = Reporter(app, slug)
    start = text_of(reporter.get(f"/o/{slug}/"))
    assert "You can report if you are: Employee Former employee Job applicant" in start
    admin = admin_of(app, clock, unit)
    none_chosen = admin.send("/reporting", "/reporting", {"anonymous": "yes"})
    assert none_chosen.status_code == 400
    assert "Choose at least one group." in text_of(none_chosen)
    changed = admin.send(
        "/reporting", "/reporting", {"anonymous": "no", "groups": ["employee", "applicant"]}
    )
    assert changed.status_code == 303
    start = text_of(reporter.get(f"/o/{slug}/"))
    groups = re.search(
        r'<ul class="reporter-groups">(.*?)</ul>',
        reporter.get(f"/o/{slug}/").get_data(as_text=True),
        re.S,
    )
    assert groups and re.findall(r"<li>([^<]*)</li>", groups.group(1)) == [
        "Employee",
        "Job applicant",
    ]
    assert "does not accept anonymous reports" in start
    refused = reporter.send_report(ReportAnswers(named=False))
    assert refused.status_code == 200  # the form again: a name is needed
    assert session.scalars(select(Case)).all() == []
    actions = audit_actions(session, unit.org.id)
    assert actions[-2:] == ["settings.anonymous_changed", "settings.reporters_changed"]


def test_upload_limits_have_bounds_and_apply(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    for fields, message in (
        (
            {"uploads-file_mb": "0", "uploads-files": "5", "uploads-total_mb": "10"},
            "Choose from 1 to 200 MB.",
        ),
        (
            {"uploads-file_mb": "5", "uploads-files": "51", "uploads-total_mb": "10"},
            "Choose from 1 to 50 files.",
        ),
        (
            {"uploads-file_mb": "20", "uploads-files": "5", "uploads-total_mb": "10"},
            "Choose from 20 MB (one file)",
        ),
        ({"uploads-file_mb": "5", "uploads-files": "5", "uploads-total_mb": "5000"}, "to 200 MB"),
        (
            {"uploads-file_mb": "five", "uploads-files": "5", "uploads-total_mb": "10"},
            "Not a valid integer value.",
        ),
        (
            {"uploads-file_mb": "", "uploads-files": "5", "uploads-total_mb": "10"},
            "Give a whole number.",
        ),
    ):
        refused = admin.send("/reporting", "/reporting/uploads", fields)
        assert refused.status_code == 400, fields
        assert message in text_of(refused), fields
    done = admin.send(
        "/reporting",
        "/reporting/uploads",
        {"uploads-file_mb": "5", "uploads-files": "3", "uploads-total_mb": "12"},
    )
    assert done.status_code == 303
    limits = upload_limits(session, unit.org.id)
    assert (limits.max_file_bytes, limits.max_files, limits.max_total_bytes) == (5 * MB, 3, 12 * MB)
    assert audit_actions(session, unit.org.id)[-1] == "settings.uploads_changed"


def test_retention_presets_per_outcome(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    page = admin.page("/retention")
    assert 'name="outside_scope_amount" type="number" value="30"' in page.get_data(as_text=True)
    fields = {
        f"{o.value}_{part}": value
        for o, preset in schedule.presets(session, unit.org.id).items()
        for part, value in (
            ("unit", "date" if preset.unit is schedule.Unit.DATE else preset.unit.value),
            ("amount", "" if preset.unit is schedule.Unit.DATE else str(preset.amount)),
        )
    }
    changed = admin.send(
        "/retention",
        "/retention",
        {
            **fields,
            "not_substantiated_amount": "6",
            "not_substantiated_unit": "m",
            "referred_amount": "400",
            "referred_unit": "d",
        },
    )
    assert changed.status_code == 303
    presets = schedule.presets(session, unit.org.id)
    assert str(presets[CaseOutcome.NOT_SUBSTANTIATED]) == "6m"
    assert str(presets[CaseOutcome.REFERRED]) == "400d"
    assert str(presets[CaseOutcome.OUTSIDE_SCOPE]) == "30d"
    too_long = admin.send(
        "/retention",
        "/retention",
        {**fields, "outside_scope_amount": "200", "outside_scope_unit": "m"},
    )
    assert too_long.status_code == 400
    assert "up to 10 years" in text_of(too_long)
    missing = admin.send(
        "/retention",
        "/retention",
        {**fields, "outside_scope_amount": "", "outside_scope_unit": "d"},
    )
    assert missing.status_code == 400
    assert str(schedule.presets(session, unit.org.id)[CaseOutcome.OUTSIDE_SCOPE]) == "30d"
    actions = audit_actions(session, unit.org.id)
    assert actions.count("settings.retention_changed") == 2


# --- Mail -----------------------------------------------------------------------------------


def test_mail_settings_are_saved_sealed_and_tested(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, smtp_server: SmtpReceiver
) -> None:
    admin = admin_of(app, clock, unit)
    page = admin.page("/mail")
    assert "Mail is not set up." in text_of(page)
    untested = admin.send("/mail", "/mail/test", {})
    assert untested.status_code == 409
    assert "No mail server is set up" in text_of(untested)

    fields = {
        "host": "127.0.0.1",
        "port": str(smtp_server.port),
        "security": "none",
        "sender": "whistle@testfirma.example.org",
        "username": "",
        "password": "",
    }
    bad_port = admin.send("/mail", "/mail", {**fields, "port": "70000"})
    assert bad_port.status_code == 400
    assert "Give a port from 1 to 65535" in text_of(bad_port)
    bad_sender = admin.send("/mail", "/mail", {**fields, "sender": "nobody"})
    assert bad_sender.status_code == 400
    assert "Enter an e-mail address such as name@example.org." in text_of(bad_sender)
    bad_host = admin.send("/mail", "/mail", {**fields, "host": "smtp.example.org\r\nRCPT"})
    assert bad_host.status_code == 400
    assert session.get(InstanceSetting, mail.STORED_KEY) is None
    needs_password = admin.send("/mail", "/mail", {**fields, "username": "whistle"})
    assert needs_password.status_code == 400
    assert "Give the password that goes with the user name." in text_of(needs_password)
    secret = "not-a-real-smtp-password"  # never printed: the checks below are bare flags
    saved = admin.send("/mail", "/mail", {**fields, "username": "whistle", "password": secret})
    assert saved.status_code == 303
    shown = admin.get(saved.headers["Location"])
    assert "Mail goes through 127.0.0.1, as saved here." in text_of(shown)
    assert "A password is stored." in text_of(shown)
    password_shown = secret in shown.get_data(as_text=True)
    assert not password_shown, "the page shows the mail server's password"
    stored = session.get(InstanceSetting, mail.STORED_KEY)
    assert stored is not None
    in_clear = secret in stored.value
    assert not in_clear, "the mail server's password is stored in clear"
    config = current_mail(session, app)
    assert (config.host, config.port, config.username) == ("127.0.0.1", smtp_server.port, "whistle")
    opens = config.password == secret
    assert opens, "the sealed password does not open to the one saved"
    # Saved again without a password: the stored one is kept. Without a user name: dropped.
    admin.send("/mail", "/mail", {**fields, "username": "whistle"})
    kept = current_mail(session, app).password == secret
    assert kept, "saving without a password lost the stored one"
    assert admin.send("/mail", "/mail", fields).status_code == 303
    dropped = current_mail(session, app).password == ""
    assert dropped, "a password was kept without a user name"

    tested = admin.send("/mail", "/mail/test", {})
    assert tested.status_code == 303
    [received] = smtp_server.received
    assert received.recipients == [f"TO:<{unit.admin.user.email}>"]
    assert received.message["Subject"] == "Test mail from Whistle"
    assert unit.org.name in received.message.get_content()

    # Invitations go through the saved server too, and so does `whistle notify send`.
    admin.send("/users", "/users", {"email": "ny.kollega@example.org", "roles": ["handler"]})
    assert [m.recipients for m in smtp_server.received][-1] == ["TO:<ny.kollega@example.org>"]
    Reporter(app, unit.org.slug).report(ReportAnswers())  # "new report" for the 3 handlers
    # Mails about a reporter's act leave after the next midnight (whistle/notify/outbox.py).
    clock.set(clock.now().replace(hour=0, minute=1) + timedelta(days=1))
    sent = CliRunner().invoke(cli, ["notify", "send"], obj=ScriptInfo(create_app=lambda: app))
    assert sent.exit_code == 0, sent.output
    assert "sent 3" in sent.output
    handlers = {f"TO:<{h.user.email}>" for h in unit.handlers}
    assert {r for m in smtp_server.received[-3:] for r in m.recipients} == handlers
    admin = admin_of(app, clock, unit)  # a new day: the earlier session has ended

    smtp_server.refuse_recipients = True
    failed = admin.send("/mail", "/mail/test", {})
    assert failed.status_code == 409
    assert "The test mail could not be sent (SMTPRecipientsRefused)" in text_of(failed)

    # An empty server name goes back to the config file (here: no mail).
    assert admin.send("/mail", "/mail", {**fields, "host": ""}).status_code == 303
    session.expire_all()
    assert session.get(InstanceSetting, mail.STORED_KEY) is None
    with pytest.raises(mail.MailNotConfigured):
        current_mail(session, app)
    actions = audit_actions(session, unit.org.id)
    for action in ("settings.mail_changed", "settings.mail_tested", "settings.mail_reset"):
        assert action in actions
    assert "127.0.0.1" not in all_audit_text(session)


def test_only_an_admin_of_every_organisation_changes_the_shared_mail_server(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    with app.app_context():
        make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    admin = admin_of(app, clock, unit)
    page = admin.page("/mail")
    assert admin.send("/mail", "/mail/test", {}).status_code == 409  # testing is for everyone
    assert "Only someone who administers every organisation" in text_of(page)
    assert 'name="host"' not in page.get_data(as_text=True)
    refused = admin.forced(
        "/mail",
        {
            "host": "smtp.example.org",
            "port": "587",
            "security": "starttls",
            "sender": "a@example.org",
        },
    )
    assert refused.status_code == 409
    assert session.get(InstanceSetting, mail.STORED_KEY) is None


# --- The record of processing ---------------------------------------------------------------


def test_the_record_of_processing_follows_the_settings(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    record = text_of(admin.page("/record"))
    assert "Record of processing activities: whistleblower scheme" in record
    assert unit.org.name in record
    assert "3 case handlers and leads" in record
    assert "Public procurement" in record and "Not sure" in record
    assert "deleted 30 days after the reporter is told" in record
    assert "deleted 2 months after closure" in record
    assert "Reporters may stay anonymous." in record
    assert "Who can report: Employee; Former employee; Job applicant;" in record

    admin.send("/reporting", "/reporting", {"anonymous": "no", "groups": ["employee"]})
    fields = {}
    for o in CaseOutcome:
        fields[f"{o.value}_unit"] = "date"
    fields["outside_scope_unit"], fields["outside_scope_amount"] = "d", "14"
    fields["not_substantiated_unit"], fields["not_substantiated_amount"] = "m", "2"
    assert admin.send("/retention", "/retention", fields).status_code == 303
    record = text_of(admin.page("/record"))
    assert "deleted 14 days after the reporter is told" in record
    assert "Anonymous reports are not accepted" in record
    assert "Who can report: Employee." in record


# --- First run leads into the console -------------------------------------------------------


def test_setup_leads_into_the_console(app: Flask, clock: FixedClock) -> None:
    with runtime(app).sessions() as s:
        token = issue_token(s, clock)
    browser = app.test_client()
    form = open_setup(browser, token, headers={"Accept-Language": "en"})
    password = "lilla-kanin-spiser-gulerod"
    done = browser.post(
        "/setup/",
        data={
            "token": token,
            "org_name": "Nordisk Fjer A/S",
            "org_slug": "",
            "admin_name": "Testa Testesen",
            "admin_email": "testa@example.org",
            "password": password,
            "confirm": password,
            "csrf_token": csrf_token(form),
        },
        headers={"Accept-Language": "en"},
    )
    link = re.search(
        r'<a class="button" href="([^"]+)">Sign in and open the admin console</a>',
        done.get_data(as_text=True),
    )
    assert link and link.group(1) == "/staff/nordisk-fjer-a-s/admin"

    first = browser.get(link.group(1), headers={"Accept-Language": "en"})
    assert first.status_code == 303
    sign_in_page = first.headers["Location"]
    page = browser.get(sign_in_page, headers={"Accept-Language": "en"})
    step = browser.post(
        sign_in_page,
        data={"email": "testa@example.org", "password": password, "csrf_token": csrf_token(page)},
    )
    assert step.headers["Location"].startswith("/staff/sign-in/enrol")
    enrol = browser.get(step.headers["Location"], headers={"Accept-Language": "en"})
    secret = secret_shown(enrol)
    entered = browser.post(
        step.headers["Location"],
        data={"code": totp.code_at(secret, clock.now()), "csrf_token": csrf_token(enrol)},
    )
    assert entered.status_code == 303
    # The duty of confidentiality comes first, then the console.
    undertaking = browser.get(entered.headers["Location"], headers={"Accept-Language": "en"})
    assert undertaking.status_code == 303
    assert undertaking.headers["Location"].startswith("/staff/confidentiality")
    duty = browser.get(undertaking.headers["Location"], headers={"Accept-Language": "en"})
    accepted = browser.post(
        undertaking.headers["Location"], data={"accept": "y", "csrf_token": csrf_token(duty)}
    )
    assert accepted.headers["Location"].rstrip("?") == "/staff/nordisk-fjer-a-s/admin"
    console = browser.get(accepted.headers["Location"], headers={"Accept-Language": "en"})
    assert console.status_code == 200
    shown = text_of(console)
    assert "Admin console · Nordisk Fjer A/S" in shown
    assert "No one receives reports yet." in shown
    assert "Mail is not set up." in shown


def test_the_home_page_links_admins_to_the_console(
    app: Flask, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    assert f'href="/staff/{unit.org.slug}/admin"' in admin.get("/staff/").get_data(as_text=True)
    lead = CaseWorker(app, clock, unit.handlers[2], slug=unit.org.slug)
    lead.sign_in()
    assert f'href="/staff/{unit.org.slug}/admin"' not in lead.get("/staff/").get_data(as_text=True)


def test_the_audit_log_names_every_console_action(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Each change leaves an entry with ids and codes only, readable by name."""
    from whistle.audit.labels import ACTION_NAMES

    admin = admin_of(app, clock, unit)
    henrik = unit.handlers[1].user.id
    admin.send("/users", f"/users/{henrik}/roles", {f"user-{henrik}-roles": ["handler", "auditor"]})
    admin.send("/profile", "/profile", {"name": "Fie Fiktiv Holding ApS", "locale": "da"})
    admin.send(
        "/categories",
        "/categories",
        {"add-label_da": "Fie Fiktiv sag", "add-label_en": "Fie Fiktiv matter"},
    )
    entries = session.scalars(select(AuditEntry).where(AuditEntry.org_id == unit.org.id)).all()
    assert {e.action for e in entries} >= {
        "user.roles_changed",
        "settings.profile_changed",
        "settings.category_added",
    }
    assert all(e.action in ACTION_NAMES for e in entries)
    assert all(
        e.actor_user_id == unit.admin.user.id for e in entries if e.action.startswith("settings.")
    )
    assert "Fiktiv" not in all_audit_text(session)
