"""The world of every role (REQUIREMENTS.md K1, K3): the route table of who may use what,
and every staff role signed in beside a real case."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.steps.factories import Staff, Unit, add_staff, certify, make_unit
from tests.steps.pages import csrf_token
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.staff import CaseWorker
from whistle.admin.people import end_access
from whistle.casefile import holders as case_holders
from whistle.casefile import request_keys
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import open_keys
from whistle.cases import handling
from whistle.core.clock import FixedClock
from whistle.core.models import (
    Attachment,
    Base,
    Case,
    Membership,
    Role,
)
from whistle.core.org_keys import signing_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import export
from whistle.disclosure import asking
from whistle.keys.warnings import WarningKind, warn_leads
from whistle.meetings.tasks import open_meeting_task
from whistle.notices import notices
from whistle.rights import access_export, decisions, linked_cases, requests
from whistle.staff.invitations import invite

REPORT_TEXT = "Fake report AUTHZCANARY: pallets leave the warehouse at night."
REPORTER_NAME = "Testa AUTHZNAMECANARY"
FILE = Upload("evidence.txt", b"Fake evidence AUTHZFILECANARY.\n" * 40)
SUBJECT = "Fie Fiktiv AUTHZSUBJECTCANARY, fie@example.org"
PERSON = "Per Persson AUTHZPERSONCANARY, warehouse manager"
NOTE = "Fake internal note AUTHZNOTECANARY."
ANONYMOUS = "anonymous"
ADMIN = "admin"
AUDITOR = "auditor"
COUNSEL = "counsel"
NO_KEY = "handler without key"  # excluded by the reporter
RECUSED = "handler who stepped aside"
REMOVED = "handler removed from the organisation"
HANDLER = "handler with key"
LEAD = "lead"
OUTSIDER = "handler of another organisation"
# Runs the deployment (whistle/operators/): no role in any organisation, so no case page.
OPERATOR = "operator"
ROLES = (
    ANONYMOUS,
    ADMIN,
    AUDITOR,
    COUNSEL,
    NO_KEY,
    RECUSED,
    REMOVED,
    HANDLER,
    LEAD,
    OUTSIDER,
    OPERATOR,
)


SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
UNIT = frozenset({NO_KEY, RECUSED, HANDLER, LEAD})
HOLDERS = frozenset({HANDLER, LEAD})


# Who may use each non-public endpoint. Public ones (tests/steps/public_routes.py) are open to all.
EXPECTED: dict[str, frozenset[str]] = {
    "staff.home": SIGNED_IN,
    "staff.password": SIGNED_IN,
    "staff.confidentiality": SIGNED_IN,
    "staff.keys": SIGNED_IN,
    # Accepting an invitation to one's own address from the start page.
    "staff.join": SIGNED_IN,
    # The unit lead's Keys page: certifying keys, key warnings.
    "keys.index": frozenset({LEAD}),
    "keys.certify": frozenset({LEAD}),
    "keys.dismiss": frozenset({LEAD}),
    # The admin console: the organisation's administrators, nobody else.
    "admin.index": frozenset({ADMIN}),
    "admin.users": frozenset({ADMIN}),
    "admin.withdraw": frozenset({ADMIN}),
    "admin.roles": frozenset({ADMIN}),
    "admin.deactivate": frozenset({ADMIN}),
    "admin.reactivate": frozenset({ADMIN}),
    "admin.reset_two_step": frozenset({ADMIN}),
    "admin.profile": frozenset({ADMIN}),
    "admin.logo_upload": frozenset({ADMIN}),
    "admin.logo_remove": frozenset({ADMIN}),
    "admin.accent_change": frozenset({ADMIN}),
    "admin.texts": frozenset({ADMIN}),
    "admin.categories": frozenset({ADMIN}),
    "admin.rename_category": frozenset({ADMIN}),
    "admin.move_category": frozenset({ADMIN}),
    "admin.category_state": frozenset({ADMIN}),
    "admin.delete_category": frozenset({ADMIN}),
    "admin.reporting": frozenset({ADMIN}),
    "admin.uploads": frozenset({ADMIN}),
    "admin.retention_presets": frozenset({ADMIN}),
    "admin.mail_settings": frozenset({ADMIN}),
    "admin.mail_test": frozenset({ADMIN}),
    "admin.processing_record": frozenset({ADMIN}),
    # The first administrator of an organisation the operator added makes its keys.
    "admin.make_keys": frozenset({ADMIN}),
    # The deployment's operator, and nobody else, not even an organisation's administrator.
    "operators.index": frozenset({OPERATOR}),
    "operators.front_page": frozenset({OPERATOR}),
    "operators.organisation": frozenset({OPERATOR}),
    "operators.invite_admin": frozenset({OPERATOR}),
    "operators.suspend": frozenset({OPERATOR}),
    "operators.reactivate": frozenset({OPERATOR}),
    "operators.delete": frozenset({OPERATOR}),
    "cases.inbox": UNIT,
    # The combined list of everyone who handles cases somewhere: it lists only what they hold.
    "all_cases.inbox": UNIT | {REMOVED, OUTSIDER},
    "cases.case": HOLDERS,
    "cases.file": HOLDERS,
    "cases.acknowledge": HOLDERS,
    "cases.message": HOLDERS,
    "cases.feedback": HOLDERS,
    "cases.note": HOLDERS,
    "cases.scope": HOLDERS,
    "cases.hearing": HOLDERS,
    "cases.close": HOLDERS,
    "cases.hold": HOLDERS,
    "cases.export_case": HOLDERS,
    "counsel.index": frozenset({COUNSEL}),
    "counsel.read": frozenset({COUNSEL}),
    "counsel.pdf": frozenset({COUNSEL}),
    "counsel.file": frozenset({COUNSEL}),
    "counsel.bundle": frozenset({COUNSEL}),
    "counsel.key_file": frozenset({COUNSEL}),
    "cases.unhold": HOLDERS,
    "cases.reveal": HOLDERS,
    "cases.purge_item": HOLDERS,
    "cases.grant": HOLDERS,
    "cases.recuse": HOLDERS,
    "cases.take": HOLDERS,
    "cases.assign": frozenset({LEAD}),
    "cases.remove": frozenset({LEAD}),
    "notices.index": HOLDERS,
    "notices.notice_text": HOLDERS,
    "notices.add": HOLDERS,
    "notices.notified": HOLDERS,
    "notices.defer": HOLDERS,
    "disclosure.index": HOLDERS,
    "disclosure.ask": HOLDERS,
    "disclosure.approve": HOLDERS,
    "disclosure.refuse": HOLDERS,
    "disclosure.withdraw": HOLDERS,
    "disclosure.handover": HOLDERS,
    "disclosure.hand_over": HOLDERS,
    "meetings.index": HOLDERS,
    "meetings.open_task": HOLDERS,
    "meetings.held": HOLDERS,
    "meetings.cancel": HOLDERS,
    "meetings.minutes": HOLDERS,
    "audit_log.index": frozenset({AUDITOR, LEAD}),
    "registers.index": frozenset({AUDITOR, LEAD}),
    "registers.reports": frozenset({AUDITOR, LEAD}),
    "registers.deletions": frozenset({AUDITOR, LEAD}),
    "registers.holds": frozenset({AUDITOR, LEAD}),
    "registers.reports_csv": frozenset({AUDITOR, LEAD}),
    "registers.deletions_csv": frozenset({AUDITOR, LEAD}),
    "registers.holds_csv": frozenset({AUDITOR, LEAD}),
    "registers.rights_requests": frozenset({AUDITOR, LEAD}),
    "registers.rights_csv": frozenset({AUDITOR, LEAD}),
    "statistics.index": frozenset({AUDITOR, LEAD}),
    "statistics.summary": frozenset({AUDITOR, LEAD}),
    "statistics.statistics_csv": frozenset({AUDITOR, LEAD}),
    # Data-subject requests: the list for the unit; the request of the world is about the
    # case, so only those who hold the case may open or act on it.
    "rights.index": UNIT,
    "rights.show": HOLDERS,
    "rights.extend": HOLDERS,
    "rights.search": HOLDERS,
    "rights.link": HOLDERS,
    "rights.unlink": HOLDERS,
    "rights.redactions": HOLDERS,
    "rights.restrict": HOLDERS,
    "rights.decide": HOLDERS,
    "rights.answer": HOLDERS,
    "rights.export": HOLDERS,
}


# Tables a refused request may touch: the session store records that the session was used.
VOLATILE = {"web_sessions"}


@dataclass
class Browser:
    role: str
    client: FlaskClient
    token: str  # a valid CSRF token of this browser's own session


@dataclass
class World:
    browsers: dict[str, Browser]
    values: dict[str, object]
    staff: dict[str, Staff]


def signed_in(app: Flask, clock: FixedClock, role: str, staff: Staff, slug: str) -> Browser:
    worker = CaseWorker(app, clock, staff, slug=slug)
    assert worker.sign_in().status_code == 303
    return Browser(role, worker.client, worker.any_token())


def build_world(app: Flask, session: Session, clock: FixedClock) -> World:
    """Every staff role signed in, a real case and more (the ``world`` fixture)."""
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        unit: Unit = make_unit(session, clock, instance_key)
        other: Unit = make_unit(session, clock, instance_key, slug="andetfirma")
        auditor = add_staff(
            session, clock, unit.org, "Aud Auditor", [Role.AUDITOR], instance_key=instance_key
        )
        counsel = add_staff(
            session, clock, unit.org, "Conny Counsel", [Role.COUNSEL], instance_key=instance_key
        )
        recused = add_staff(
            session, clock, unit.org, "Rikke Recused", [Role.HANDLER], instance_key=instance_key
        )
        # Also a handler of the other organisation, so that ending her access here removes
        # her from this one rather than deactivating her account.
        removed = add_staff(
            session, clock, unit.org, "Rolf Removed", [Role.HANDLER], instance_key=instance_key
        )
        session.add(
            Membership(
                org_id=other.org.id,
                user_id=removed.user.id,
                role=Role.HANDLER.value,
                created_at=clock.now(),
            )
        )
        operator = add_staff(
            session, clock, unit.org, "Olga Operator", [], instance_key=instance_key
        )
        operator.user.is_operator = True
        invitation = invite(
            session,
            clock,
            unit.org,
            email="ny.handler@example.org",
            roles=[Role.HANDLER],
            invited_by=unit.admin.user.id,
        )
        session.commit()
        certify(session, clock, unit, counsel)
        # Both held the case when it came in: a lead vouched for their keys.
        certify(session, clock, unit, recused)
        certify(session, clock, unit, removed)
        # A key warning for the lead's page to show and dismiss.
        warning = warn_leads(session, clock, unit.org.id, WarningKind.PINS_MISMATCH)
        session.commit()
    excluded = unit.handlers[1]
    Reporter(app, unit.org.slug).report(
        ReportAnswers(
            what=REPORT_TEXT,
            named=True,
            name=REPORTER_NAME,
            contact="testa@example.org",
            exclude=[excluded.user.id],
            files=[FILE],
            meeting=True,
        )
    )
    case = session.scalars(select(Case)).one()
    with app.app_context():
        meeting = open_meeting_task(session, clock, case)
        session.commit()
        # An access request about the case, decided, so that every page of it has something
        # to show (the export exists only after a decision).
        handler = unit.handlers[0]
        # A request registered before anyone left, so every handler held its key at first.
        request = requests.register(
            session,
            clock,
            unit.org.id,
            handler.user.id,
            kind="access",
            subject=SUBJECT,
            received_on=clock.now().date(),
        )
        case_keys = open_keys(session, case, handler.user.id, handler.private_key)
        notices.add_person(session, clock, case, case_keys, handler.user.id, PERSON)
        handling.add_note(session, clock, case, case_keys, handler.user.id, NOTE)
        # Two handlers lose the case after it came in: one steps aside, one is removed from
        # the organisation by its administrator.
        assert case_holders.holds(session, case.id, recused.user.id)
        assert case_holders.holds(session, case.id, removed.user.id)
        case_sharing.recuse(session, clock, case, recused.user.id)
        assert end_access(session, clock, unit.org.id, unit.admin.user.id, removed.user.id) == (
            "removed"
        )
        session.commit()
        linked_cases.link_case(session, clock, request, case, handler.user.id)
        case_keys = open_keys(session, case, handler.user.id, handler.private_key)
        bundle = export.export_case(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            unit.org,
            case,
            case_keys,
            handler.user.id,
            counsel_id=counsel.user.id,
            include_notes=False,
            signing_key=signing_key(session, unit.org.id, instance_key),
        )
        # A disclosure to a public authority, ready to be handed over: its page has something
        # to show; a post with the token alone names no disclosure and hands nothing over.
        to_authority = asking.request(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            case,
            case_keys,
            handler.user.id,
            recipient="authority",
            authority="Fake Politi",
            ground="authority",
            reasons="Fake reasons: the police asked.",
        )
        assert handler.private_key is not None
        key = request_keys.open_key(session, request, handler.user.id, handler.private_key)
        # The holder marks the reporter's name for redaction: what the excluded handler once
        # read from this form (issue 14).
        access_export.set_redactions(session, clock, request, key, handler.user.id, REPORTER_NAME)
        decisions.decide(
            session,
            clock,
            request,
            key,
            handler.user.id,
            handler.private_key,
            decision="granted",
            legal_basis="gdpr_15",
            assessment="Fake assessment: nothing to limit.",
        )
    attachment = session.scalars(select(Attachment)).one()
    storage_name = attachment.storage_name
    slug = unit.org.slug

    anonymous = app.test_client()
    sign_in_page = anonymous.get("/staff/sign-in", headers={"Accept-Language": "en"})
    browsers = {
        ANONYMOUS: Browser(ANONYMOUS, anonymous, csrf_token(sign_in_page)),
        ADMIN: signed_in(app, clock, ADMIN, unit.admin, slug),
        AUDITOR: signed_in(app, clock, AUDITOR, auditor, slug),
        COUNSEL: signed_in(app, clock, COUNSEL, counsel, slug),
        NO_KEY: signed_in(app, clock, NO_KEY, excluded, slug),
        RECUSED: signed_in(app, clock, RECUSED, recused, slug),
        REMOVED: signed_in(app, clock, REMOVED, removed, slug),
        HANDLER: signed_in(app, clock, HANDLER, unit.handlers[0], slug),
        LEAD: signed_in(app, clock, LEAD, unit.handlers[2], slug),
        OUTSIDER: signed_in(app, clock, OUTSIDER, other.handlers[0], "andetfirma"),
        OPERATOR: signed_in(app, clock, OPERATOR, operator, slug),
    }
    values: dict[str, object] = {
        "slug": slug,
        "reference": case.reference,
        "name": storage_name,
        "invitation_id": invitation.invitation.id,
        # The admin console acts on the auditor (a form sent with the token alone changes
        # nothing: each action needs its fields) and on the report's category ("not sure":
        # in use, so never deleted, and always offered).
        "user_id": auditor.user.id,
        "category_id": case.category_id,
        "meeting_id": meeting.id,
        "request_id": request.id,
        "export_id": bundle.id,
        "number": 1,  # the first document of the case file (counsel's download)
        "warning_id": warning.id,
        "disclosure_id": to_authority.id,
        # A purge sent with the token alone has no reason: refused (400), nothing removed.
        "kind": "file",
        "item_id": attachment.id,
        "uid": "00000000-0000-4000-8000-000000000000",
        "token": "not-a-real-token",
        "code": "en",
        "filename": "staff.js",
    }
    staff = {
        NO_KEY: excluded,
        RECUSED: recused,
        REMOVED: removed,
        HANDLER: unit.handlers[0],
        LEAD: unit.handlers[2],
    }
    return World(browsers, values, staff)


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table but the volatile ones, as text, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
            if table.name not in VOLATILE
        }
