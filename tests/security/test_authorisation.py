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

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from tests.steps.authorisation import (
    ANONYMOUS,
    EXPECTED,
    FILE,
    HANDLER,
    NO_KEY,
    RECUSED,
    REMOVED,
    REPORTER_NAME,
    ROLES,
    Browser,
    World,
    snapshot,
)
from tests.steps.public_routes import EXPECTED_PUBLIC
from whistle.casefile import access as case_access
from whistle.casefile import holders as case_holders
from whistle.casefile import request_keys
from whistle.cases.inbox import InboxFilters, inbox
from whistle.core.models import (
    Case,
    CaseKey,
    RightsRequest,
    RightsRequestKey,
)
from whistle.core.runtime import runtime
from whistle.meetings.tasks import meetings_due
from whistle.rights import case_search, requests

SECRETS = (
    "AUTHZCANARY",
    "AUTHZNAMECANARY",
    "AUTHZFILECANARY",
    "AUTHZSUBJECTCANARY",
    "AUTHZPERSONCANARY",
    "AUTHZNOTECANARY",
)

# Handlers who do not hold the case (any more), for the domain checks.
LEFT_OUT = (NO_KEY, RECUSED, REMOVED)


# A POST that got past the guards is answered by its view: done (303), or the form shown again
# (200, or 400 with its errors), or 409 when the state does not allow it (a meeting cancelled
# by the role tested before).
REACHED = (200, 303, 400, 409)

# These end what later requests need (the keys to the case, the session): they go last.
LAST = ("cases.recuse", "staff.sign_out")


def url_for_rule(app: Flask, rule: Rule, values: dict[str, object]) -> str:
    unknown = rule.arguments - set(values)
    assert not unknown, f"{rule.rule}: no test value for {sorted(unknown)}; add one to the world"
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})


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
