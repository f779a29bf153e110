"""Every route against every role, built from the app's URL map (REQUIREMENTS.md K1, K3).

The roles include the three ways of losing a case that issue 14 is about: a handler the
reporter excluded at intake, a handler who stepped aside, and a handler removed from the
organisation after the case came in. None of them may read or act on the case, nor on
anything derived from it: its rights requests, persons concerned, disclosures, meetings,
purges and exports (``test_no_flow_derived_from_a_case_opens_for_those_without_it`` asks the
domain functions the same).

Each rule of ``app.url_map`` is requested with every method it allows, with real values in its
URL (the test organisation, a real case, a real file, a real invitation), by an anonymous
browser and by each kind of staff member. :data:`EXPECTED` says which roles may use each
endpoint; everyone else must be turned away (403, 404, or the sign-in page), never shown a page
and never met with a server error. An endpoint missing from the table fails the test, so a new
route cannot ship without a decision about who may use it.

About CSRF: Flask-WTF's check runs before every view and before the sign-in check, so a POST
without a valid token is refused with 400 by whoever sends it. That is not what keeps a role
out, so the refused roles are tested twice: without a token (400) and, the real test, with a
valid token of their own session, where the role and key checks must refuse them (403/404)
before any form is read. Neither attempt may change anything in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from tests.factories import Staff, Unit, add_staff, certify, make_unit
from tests.pages import csrf_token
from tests.reporter_steps import ReportAnswers, Reporter, Upload
from tests.staff_steps import CaseWorker
from tests.test_access import EXPECTED_PUBLIC
from whistle.admin.people import end_access
from whistle.casefile import access as case_access
from whistle.casefile import holders as case_holders
from whistle.casefile import request_keys
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import open_keys
from whistle.cases import handling
from whistle.cases.inbox import InboxFilters, inbox
from whistle.core.clock import FixedClock
from whistle.core.models import (
    Attachment,
    Base,
    Case,
    CaseKey,
    Membership,
    RightsRequest,
    RightsRequestKey,
    Role,
)
from whistle.core.org_keys import signing_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import export
from whistle.disclosure import asking
from whistle.keys.warnings import WarningKind, warn_leads
from whistle.meetings.tasks import meetings_due, open_meeting_task
from whistle.notices import notices
from whistle.rights import access_export, case_search, decisions, linked_cases, requests
from whistle.staff.invitations import invite

REPORT_TEXT = "Fake report AUTHZCANARY: pallets leave the warehouse at night."
REPORTER_NAME = "Testa AUTHZNAMECANARY"
FILE = Upload("evidence.txt", b"Fake evidence AUTHZFILECANARY.\n" * 40)
SUBJECT = "Fie Fiktiv AUTHZSUBJECTCANARY, fie@example.org"
PERSON = "Per Persson AUTHZPERSONCANARY, warehouse manager"
NOTE = "Fake internal note AUTHZNOTECANARY."
SECRETS = (
    "AUTHZCANARY",
    "AUTHZNAMECANARY",
    "AUTHZFILECANARY",
    "AUTHZSUBJECTCANARY",
    "AUTHZPERSONCANARY",
    "AUTHZNOTECANARY",
)

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
)
# Handlers who do not hold the case (any more), for the domain checks.
LEFT_OUT = (NO_KEY, RECUSED, REMOVED)

SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
UNIT = frozenset({NO_KEY, RECUSED, HANDLER, LEAD})
HOLDERS = frozenset({HANDLER, LEAD})

# Who may use each non-public endpoint. Public ones (tests/test_access.py) are open to all.
EXPECTED: dict[str, frozenset[str]] = {
    "staff.home": SIGNED_IN,
    "staff.password": SIGNED_IN,
    "staff.confidentiality": SIGNED_IN,
    "staff.keys": SIGNED_IN,
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
    "cases.inbox": UNIT,
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
    "counsel.bundle": frozenset({COUNSEL}),
    "counsel.key_file": frozenset({COUNSEL}),
    "cases.unhold": HOLDERS,
    "cases.reveal": HOLDERS,
    "cases.purge_item": HOLDERS,
    "cases.grant": HOLDERS,
    "cases.recuse": HOLDERS,
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

# A POST that got past the guards is answered by its view: done (303), or the form shown again
# (200, or 400 with its errors), or 409 when the state does not allow it (a meeting cancelled
# by the role tested before).
REACHED = (200, 303, 400, 409)

# These end what later requests need (the keys to the case, the session): they go last.
LAST = ("cases.recuse", "staff.sign_out")

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


@pytest.fixture
def world(app: Flask, session: Session, clock: FixedClock) -> World:
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


def url_for_rule(app: Flask, rule: Rule, values: dict[str, object]) -> str:
    unknown = rule.arguments - set(values)
    assert not unknown, f"{rule.rule}: no test value for {sorted(unknown)}; add one to the world"
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table but the volatile ones, as text, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
            if table.name not in VOLATILE
        }


def send(browser: Browser, method: str, url: str, *, with_token: bool = True) -> TestResponse:
    headers = {"Accept-Language": "en"}
    if method == "GET":
        return browser.client.get(url, headers=headers)
    data = {"csrf_token": browser.token} if with_token else {}
    return browser.client.open(url, method=method, data=data, headers=headers)


def ordered_rules(app: Flask) -> list[Rule]:
    return sorted(
        app.url_map.iter_rules(),
        key=lambda r: (LAST.index(r.endpoint) if r.endpoint in LAST else -1, r.rule),
    )


def turned_away(role: str, method: str, response: TestResponse) -> bool:
    if response.status_code in (403, 404):
        return True
    # Not signed in: a page leads to the sign-in form (a POST is refused outright).
    location = response.headers.get("Location", "")
    return (
        role == ANONYMOUS
        and method == "GET"
        and response.status_code == 303
        and location.startswith("/staff/sign-in")
    )


def test_every_endpoint_has_a_rule(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - EXPECTED_PUBLIC - set(EXPECTED)
    assert not missing, f"endpoints without an authorisation rule: {sorted(missing)}"
    assert not (set(EXPECTED) & EXPECTED_PUBLIC)
    assert set(EXPECTED) <= endpoints, "the table names endpoints that no longer exist"


def test_every_route_refuses_every_role_that_may_not_use_it(app: Flask, world: World) -> None:
    engine = runtime(app).engine
    problems: list[str] = []
    for rule in ordered_rules(app):
        url = url_for_rule(app, rule, world.values)
        allowed = EXPECTED.get(rule.endpoint, frozenset(ROLES))
        public = rule.endpoint in EXPECTED_PUBLIC
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            refused = [world.browsers[r] for r in ROLES if r not in allowed]
            before = snapshot(engine)
            for browser in refused:
                where = f"{method} {rule.endpoint} as {browser.role}"
                attempts = [send(browser, method, url)]
                if method != "GET":
                    bare = send(browser, method, url, with_token=False)
                    if bare.status_code != 400:
                        problems.append(f"{where} without a CSRF token: {bare.status_code}")
                    attempts.append(bare)
                response = attempts[0]
                if not turned_away(browser.role, method, response):
                    problems.append(f"{where}: {response.status_code}, expected refusal")
                for attempt in attempts:
                    body = attempt.get_data()
                    for secret in SECRETS:
                        if secret.encode() in body:
                            problems.append(f"{where}: the page shows case content")
            if snapshot(engine) != before:
                problems.append(f"{method} {rule.endpoint}: a refused request changed data")
            for role in ROLES:
                if role not in allowed:
                    continue
                browser = world.browsers[role]
                response = send(browser, method, url)
                where = f"{method} {rule.endpoint} as {role}"
                status = response.status_code
                if status >= 500:
                    problems.append(f"{where}: server error {status}")
                elif public:
                    # Public pages decide for themselves (a reporter's session, a token); they
                    # never show a case to someone who has neither.
                    body = response.get_data()
                    if any(secret.encode() in body for secret in SECRETS):
                        problems.append(f"{where}: a public page shows case content")
                elif method == "GET" and status != 200:
                    problems.append(f"{where}: {status}, expected the page")
                elif method != "GET" and (
                    status not in REACHED
                    or response.headers.get("Location", "").startswith("/staff/sign-in")
                ):
                    problems.append(f"{where}: {status}, expected the action to be reached")
    assert not problems, "\n".join(problems)


def test_the_case_and_its_file_really_open_for_a_holder(app: Flask, world: World) -> None:
    """The table's "may" is real: a holder gets the report and the file, not just a 200."""
    holder = world.browsers[HANDLER]
    slug, reference, name = (world.values[k] for k in ("slug", "reference", "name"))
    page = holder.client.get(f"/staff/{slug}/cases/{reference}")
    assert "AUTHZCANARY" in page.get_data(as_text=True)
    assert REPORTER_NAME not in page.get_data(as_text=True)  # behind the reveal action
    download = holder.client.get(f"/staff/{slug}/cases/{reference}/files/{name}")
    assert download.data == FILE.data


def test_no_flow_derived_from_a_case_opens_for_those_without_it(
    app: Flask, session: Session, world: World
) -> None:
    """The domain asks the case, in one place (whistle/casefile/access.py): a handler excluded by
    the reporter, one who stepped aside and one removed from the organisation get nothing of
    the case or of what derives from it, whichever function they call; a holder gets it all
    (so the checks below can fail)."""
    case = session.scalars(select(Case)).one()
    request = session.get(RightsRequest, world.values["request_id"])
    assert request is not None
    org_id, today = case.org_id, runtime(app).clock.now().date()
    for role in (*LEFT_OUT, HANDLER):
        staff = world.staff[role]
        user_id, private = staff.user.id, staff.private_key
        assert private is not None
        holder = role == HANDLER
        with app.app_context():
            try:
                keys = case_access.open_keys(session, case, user_id, private)
            except case_access.NoAccess:
                keys = None
            assert (keys is not None) == holder, role
            assert case_holders.holds(session, case.id, user_id) == holder, role
            try:
                request_keys.open_key(session, request, user_id, private)
                opened = True
            except case_access.NoAccess:
                opened = False
            assert opened == holder, role
            listed = [r.id for r in requests.open_requests(session, org_id, user_id)]
            assert (request.id in listed) == holder, role
            found = case_search.search_cases(session, org_id, user_id, private, "AUTHZCANARY")
            assert bool(found) == holder, role
            tasks = meetings_due(session, org_id, today, user_id=user_id)
            assert bool(tasks) == holder, role
            page = inbox(session, org_id, user_id, InboxFilters(), today)
            assert [r.case.id for r in page.rows] == ([case.id] if holder else []), role
        # Nothing of the case is sealed to them in the database, any epoch, any kind.
        rows = session.scalars(
            select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.user_id == user_id)
        ).all()
        assert bool(rows) == holder, role
        request_rows = session.scalars(
            select(RightsRequestKey).where(
                RightsRequestKey.request_id == request.id, RightsRequestKey.user_id == user_id
            )
        ).all()
        assert bool(request_rows) == holder, role
