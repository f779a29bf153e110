"""Everyone who can send a request, for the security suite (tests/security/).

Builds on the world of tests/steps/authorisation.py (each staff role signed in, a real case, a
file, a meeting, a rights request, a case file for counsel) and adds the visitors that world
leaves out: a reporter in their mailbox (with minutes to approve and a request for consent to
answer), a reporter looking at their new code, a staff member past the password step, one
enrolling an authenticator, and a real invitation link; and more of the unit's work, so that
every form of the case pages is on show. Also:

- a reader for the forms a page offers, and the target of every POST route (who sends it,
  where, with which fields), so that the suites post exactly what the pages ask for;
- the GET pages whose view reads its query, with the keys it reads (watched, not listed);
- a WSGI recorder of every response, and the baseline its headers and cookies must meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from tests.steps.authorisation import HANDLER, Browser, World
from tests.steps.factories import TEST_PASSWORD, add_staff
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.models import Case, Meeting, Organisation, RightsRequest, Role, User
from whistle.core.runtime import runtime
from whistle.staff.invitations import invite

REPORTER = "reporter in the mailbox"
CODE_SHOWN = "reporter looking at the new code"
HALF_SIGNED_IN = "staff past the password step"
ENROLLING = "staff enrolling an authenticator"
EXTRA_ROLES = (REPORTER, CODE_SHOWN, HALF_SIGNED_IN, ENROLLING)

# The page where each visitor is, and from which a fresh CSRF token of their session is read.
HOME = {
    REPORTER: "/o/{slug}/case/",
    CODE_SHOWN: "/o/{slug}/report/code",
    HALF_SIGNED_IN: "/staff/sign-in/code",
    ENROLLING: "/staff/sign-in/enrol",
}


@dataclass
class Visitors:
    browsers: dict[str, Browser]
    values: dict[str, object]
    homes: dict[str, str]
    # Staff pages beyond the world's own (a second case with more going on, an open request).
    extra_pages: list[str] = field(default_factory=list)


def submit(browser: Browser, page: str, action: str, fields: dict[str, str]) -> TestResponse:
    """Open ``page``, fill in its form for ``action`` with ``fields`` and send it."""
    shown = browser.client.get(page, headers={"Accept-Language": "en"})
    assert shown.status_code == 200, (page, shown.status_code)
    (form,) = [f for f in forms_on(shown, page) if f.action == action]
    assert form.token_field is not None
    token = csrf_token_in(shown, form.token_field)
    sent = browser.client.post(
        action, data={form.token_field: token, **fields}, headers={"Accept-Language": "en"}
    )
    assert sent.status_code == 303, (action, sent.status_code, text_of(sent)[-600:])
    return sent


def csrf_token_in(page: TestResponse, name: str) -> str:
    found = re.search(
        rf'name="{re.escape(name)}" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    assert found, f"no {name} on the page"
    return unescape(found.group(1))


def _past_password(member: StaffMember) -> None:
    first = member.submit(
        "/staff/sign-in", {"email": member.staff.user.email, "password": TEST_PASSWORD}
    )
    assert first.status_code == 303, first.status_code


def add_visitors(app: Flask, session: Session, clock: FixedClock, world: World) -> Visitors:
    """The world's browsers plus the four visitors it has no browser for."""
    slug = str(world.values["slug"])
    session.rollback()
    instance_key = runtime(app).settings.instance_key
    org = session.scalars(select(Organisation).where(Organisation.slug == slug)).one()

    reporter = Reporter(app, slug, address="192.0.2.50")
    reporter.report(
        ReportAnswers(
            what="Fake second report for the security suite.",
            named=True,
            name="Testa Fiktiv",
            contact="testa.fiktiv@example.org",
            meeting=True,
            files=[Upload("fake-evidence.txt", b"Fake evidence for the security suite.\n")],
        )
    )
    reporter.confirm_written_down()
    session.rollback()  # end this session's read snapshot: the new case must be seen
    # The unit's side of that case, through the handler's pages: minutes of the meeting for
    # the reporter to approve or correct, and a request for consent to disclose the identity.
    handler = world.browsers[HANDLER]
    reference = session.scalars(select(Case.reference).order_by(Case.id.desc())).first()
    case_path = f"/staff/{slug}/cases/{reference}"
    meeting_id = session.scalars(
        select(Meeting.id).join(Case, Case.id == Meeting.case_id).where(Case.reference == reference)
    ).one()
    meeting_path = f"{case_path}/meetings/{meeting_id}"
    submit(handler, f"{case_path}/meetings/", f"{meeting_path}/held", {})
    submit(
        handler,
        f"{case_path}/meetings/",
        f"{meeting_path}/minutes",
        {f"min{meeting_id}-body": "Fake minutes: the reporter described the warehouse."},
    )
    counsel_id = session.scalars(select(User.id).where(User.display_name == "Conny Counsel")).one()
    submit(
        handler,
        f"{case_path}/disclosure/",
        f"{case_path}/disclosure/request",
        {
            "request-recipient": "counsel",
            "request-counsel": str(counsel_id),
            "request-ground": "consent",
            "request-reasons": "Fake reasons: counsel needs the reporter as a witness.",
        },
    )
    # More of the unit's work on it, so that every form of the case pages is on show:
    # feedback (after the acknowledgement), lifting a hold, a person concerned to notify, a
    # disclosure to a public authority waiting for a unit lead (on the world's case), and an
    # open data-subject request.
    submit(handler, case_path, f"{case_path}/acknowledge", {"ack-body": "Fake receipt."})
    submit(handler, case_path, f"{case_path}/hold", {"hold-reason": "Fake hold: a lawsuit."})
    submit(
        handler,
        f"{case_path}/persons/",
        f"{case_path}/persons/add",
        {"add-label": "Fake person concerned"},
    )
    world_case = f"/staff/{slug}/cases/{world.values['reference']}"
    submit(
        handler,
        f"{world_case}/disclosure/",
        f"{world_case}/disclosure/request",
        {
            "request-recipient": "authority",
            "request-authority": "Fake Anklagemyndighed",
            "request-ground": "authority",
            "request-reasons": "Fake reasons: the prosecution service asked.",
            "request-withhold_notice": "y",
            "request-withhold_reason": "Fake: telling would warn the suspect.",
        },
    )
    submit(
        handler,
        f"/staff/{slug}/rights/",
        f"/staff/{slug}/rights/",
        {
            "new-kind": "access",
            "new-received_on": "2026-03-01",
            "new-subject": "Fie Fiktiv, fie@example.org",
        },
    )
    session.rollback()
    request_id = session.scalars(select(RightsRequest.id).order_by(RightsRequest.id.desc())).first()
    extra_pages = [
        case_path,
        f"{case_path}/disclosure/",
        f"{case_path}/persons/",
        f"{case_path}/meetings/",
        f"/staff/{slug}/rights/{request_id}",
    ]
    with app.app_context():
        half = add_staff(
            session, clock, org, "Halvor Halvvejs", [Role.HANDLER], instance_key=instance_key
        )
        enrolling = add_staff(session, clock, org, "Enok Enrolling", [Role.HANDLER])
        invitation = invite(
            session,
            clock,
            org,
            email="testa.inviteret@example.org",
            roles=[Role.HANDLER],
            invited_by=session.scalars(
                select(User.id).where(User.email == f"adam.admin.{slug}@example.org")
            ).one(),
        )
        session.commit()

    code_shown = Reporter(app, slug, address="192.0.2.51")
    code_shown.report(ReportAnswers(what="Fake third report: the code is still on screen."))
    half_member = StaffMember(app, clock, half)
    _past_password(half_member)
    enrolling_member = StaffMember(app, clock, enrolling)
    _past_password(enrolling_member)

    homes = {role: path.format(slug=slug) for role, path in HOME.items()}
    clients = {
        REPORTER: reporter.client,
        CODE_SHOWN: code_shown.client,
        HALF_SIGNED_IN: half_member.client,
        ENROLLING: enrolling_member.client,
    }
    browsers = dict(world.browsers)
    for role, client in clients.items():
        page = client.get(homes[role], headers={"Accept-Language": "en"})
        assert page.status_code == 200, (role, page.status_code)
        browsers[role] = Browser(role, client, csrf_token(page))
    values = {**world.values, "token": invitation.token}
    return Visitors(browsers, values, homes, extra_pages)


# --- forms ------------------------------------------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # input type, "textarea" or "select"
    options: list[str] = field(default_factory=list)


@dataclass
class PageForm:
    action: str
    method: str
    fields: dict[str, FormField] = field(default_factory=dict)

    @property
    def token_field(self) -> str | None:
        return next((n for n in self.fields if n.endswith("csrf_token")), None)


class _FormReader(HTMLParser):
    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: FormField | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = PageForm(
                a.get("action") or self.page_path, (a.get("method") or "get").upper()
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._select.options.append(a.get("value", ""))
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            found = form.fields.setdefault(name, FormField(name, kind))
            if kind in ("checkbox", "radio", "hidden", "submit"):
                found.options.append(a.get("value", "y" if kind == "checkbox" else ""))
        elif tag == "textarea":
            form.fields.setdefault(name, FormField(name, "textarea"))
        elif tag == "select":
            self._select = form.fields.setdefault(name, FormField(name, "select"))
        elif tag == "button" and a.get("value"):
            form.fields.setdefault(name, FormField(name, "submit")).options.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_on(page: TestResponse, page_path: str) -> list[PageForm]:
    """The forms of a page, with every field a person could fill in."""
    reader = _FormReader(page_path)
    reader.feed(page.get_data(as_text=True))
    return reader.forms


@dataclass
class Target:
    """A form to post: who posts it, where, with which fields, and where its page is."""

    endpoint: str
    role: str
    url: str
    fields: dict[str, FormField]
    page: str


def pages_for(app: Flask, role: str, values: dict[str, object]) -> list[str]:
    """Every GET page of the URL map that ``role`` may open, with the world's values."""
    from tests.steps.authorisation import EXPECTED
    from tests.steps.public_routes import EXPECTED_PUBLIC

    adapter = app.url_map.bind("localhost")
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        public = rule.endpoint in EXPECTED_PUBLIC
        if not public and role not in EXPECTED.get(rule.endpoint, frozenset()):
            continue
        pages.append(adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments}))
    return pages


# Who sends each public form: the visitor whose page offers it. Every other form is sent by
# the first role in STAFF_ORDER that may use it (tests/security/test_authorisation.py EXPECTED).
POSTERS = {
    "mailbox.case": REPORTER,
    "mailbox.consent": REPORTER,
    "mailbox.refuse_consent": REPORTER,
    "mailbox.minutes_approve": REPORTER,
    "mailbox.minutes_correct": REPORTER,
    "mailbox.sign_out": REPORTER,
    "mailbox.keep_out": REPORTER,
    "mailbox.enter": "anonymous",
    "receipt_check.page": "anonymous",
    "reporting.report": "anonymous",
    "reporting.code": CODE_SHOWN,
    "setup.setup": "anonymous",
    "staff.sign_in": "anonymous",
    "staff.invitation": "anonymous",
    # Links of the old form: whoever still has one (they open nothing, for anyone).
    "staff.old_invitation_link": "anonymous",
    "setup.old_setup_link": "anonymous",
    "staff.code": HALF_SIGNED_IN,
    "staff.enrol": ENROLLING,
    "staff.sign_out": "handler with key",
    # Only a unit lead is shown these (a disclosure without notice needs a lead's approval).
    "disclosure.approve": "lead",
    "disclosure.refuse": "lead",
}
STAFF_ORDER = ("handler with key", "lead", "admin", "auditor", "counsel", "operator")


def poster_of(endpoint: str) -> str:
    from tests.steps.authorisation import EXPECTED

    if endpoint in POSTERS:
        return POSTERS[endpoint]
    return next(role for role in STAFF_ORDER if role in EXPECTED[endpoint])


def post_targets(app: Flask, visitors: Visitors) -> list[Target]:
    """One target for every POST route of the URL map, with the fields its page asks for.

    Forms are sent to the world's URL where its page offers one (the test case, the auditor's
    account, ...), so that an action cannot lock out the browsers the suite still needs; else
    to the URL a page shows (the reporter's minutes and consent request, the second case's
    hold), except the admin's forms on other people, which always go to the auditor.
    """
    adapter = app.url_map.bind("localhost")
    roles = {poster_of(r.endpoint) for r in app.url_map.iter_rules() if "POST" in (r.methods or ())}
    offered: dict[str, list[tuple[str, PageForm]]] = {}
    for role in sorted(roles):
        browser = visitors.browsers[role]
        pages = pages_for(app, role, visitors.values)
        if role in visitors.homes:
            pages.insert(0, visitors.homes[role])
        elif role == HANDLER:
            pages += visitors.extra_pages
        for endpoint, found in discover_all_forms(app, browser, pages).items():
            if poster_of(endpoint) == role:
                offered.setdefault(endpoint, []).extend(found)
    targets = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" not in (rule.methods or set()):
            continue
        role = poster_of(rule.endpoint)
        url = adapter.build(rule.endpoint, {a: visitors.values[a] for a in rule.arguments})
        forms = offered.get(rule.endpoint, [])
        chosen = next(((p, f) for p, f in forms if f.action == url), None)
        if chosen is None and forms:
            chosen = forms[0]
            if not rule.endpoint.startswith("admin."):  # the admin's acts on other people
                url = chosen[1].action
        page = chosen[0] if chosen else visitors.homes.get(role, "/staff/sign-in")
        fields = chosen[1].fields if chosen else {}
        targets.append(Target(rule.endpoint, role, url, fields, page))
    return targets


def discover_all_forms(
    app: Flask, browser: Browser, pages: list[str]
) -> dict[str, list[tuple[str, PageForm]]]:
    """endpoint -> every (page, form) the browser's pages offer for it."""
    adapter = app.url_map.bind("localhost")
    found: dict[str, list[tuple[str, PageForm]]] = {}
    for page in pages:
        response = browser.client.get(page, headers={"Accept-Language": "en"})
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in forms_on(response, page):
            if form.method != "POST" or not form.action.startswith("/"):
                continue
            try:
                endpoint, _ = adapter.match(form.action.split("?")[0], method="POST")
            except HTTPException:  # a form posting elsewhere is not a target
                continue
            found.setdefault(str(endpoint), []).append((page, form))
    return found


# --- responses -------------------------------------------------------------------------------

ONE_YEAR = 365 * 24 * 3600


@dataclass
class Seen:
    method: str
    path: str
    scheme: str
    status: int
    headers: Headers


class Recorder:
    """WSGI middleware that keeps the status and headers of every response."""

    def __init__(self, app: Flask) -> None:
        self.inner = app.wsgi_app
        self.seen: list[Seen] = []
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.seen.append(
                Seen(
                    environ["REQUEST_METHOD"],
                    environ.get("PATH_INFO", ""),
                    environ["wsgi.url_scheme"],
                    int(status.split()[0]),
                    Headers(headers),
                )
            )
            return start_response(status, headers, exc_info)

        return self.inner(environ, recording)


def problems_of(seen: Iterable[Seen], *, secure_cookies: bool = True) -> list[str]:
    """Every way the recorded responses fall short of the baseline. ``secure_cookies``: the
    public address is HTTPS (the production setting), so every cookie must be Secure."""
    problems = []
    for r in seen:
        where = f"{r.method} {r.path} ({r.status})"
        h = r.headers
        csp = h.get("Content-Security-Policy", "")
        for directive in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"):
            if directive not in csp:
                problems.append(f"{where}: CSP lacks {directive}")
        if "unsafe-" in csp or "http" in csp:
            problems.append(f"{where}: CSP allows inline code or another origin")
        expected = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
        for name, value in expected.items():
            if h.get(name) != value:
                problems.append(f"{where}: {name} is {h.get(name)!r}")
        if "camera=()" not in h.get("Permissions-Policy", ""):
            problems.append(f"{where}: no Permissions-Policy")
        if not r.path.startswith("/static/") and h.get("Cache-Control") != "no-store":
            problems.append(f"{where}: Cache-Control is {h.get('Cache-Control')!r}")
        if r.scheme == "https":
            hsts = h.get("Strict-Transport-Security", "")
            age = int(hsts.split("max-age=")[1].split(";")[0]) if "max-age=" in hsts else 0
            if age < ONE_YEAR:
                problems.append(f"{where}: HSTS is {hsts!r}")
        for cookie in h.getlist("Set-Cookie"):
            name = cookie.split("=", 1)[0]
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            for flag in ("secure", "httponly", "samesite=strict")[0 if secure_cookies else 1 :]:
                if flag not in flags:
                    problems.append(f"{where}: cookie {name} is not {flag}")
        if r.status >= 500:
            problems.append(f"{where}: server error")
    return sorted(set(problems))


# --- addresses with a query -----------------------------------------------------------------


@dataclass
class QueryTarget:
    """A page that reads its address's query (a filter, a page number, a return address)."""

    endpoint: str
    role: str
    path: str
    values: dict[str, set[str]]  # each query key seen, with the values the pages used


VIEWERS = {
    "mailbox.case": REPORTER,
    "mailbox.file": REPORTER,
    "mailbox.receipt": REPORTER,
    "mailbox.receipt_page": REPORTER,
    "mailbox.keep_out": REPORTER,
    "mailbox.receipt_proof": REPORTER,
    "reporting.code": CODE_SHOWN,
    "staff.code": HALF_SIGNED_IN,
    "staff.enrol": ENROLLING,
    "staff.enrol_qr": ENROLLING,
}


def viewer_of(endpoint: str) -> str:
    from tests.steps.authorisation import EXPECTED
    from tests.steps.public_routes import EXPECTED_PUBLIC

    if endpoint in VIEWERS:
        return VIEWERS[endpoint]
    if endpoint in EXPECTED_PUBLIC:
        return "anonymous"
    return next(role for role in STAFF_ORDER if role in EXPECTED[endpoint])


def query_targets(app: Flask, visitors: Visitors) -> list[QueryTarget]:
    """Every GET page of the URL map whose view reads its query, with the keys it reads
    (watched while each page is opened once by a visitor who may open it) and the values the
    pages' own links and filter forms use."""
    from whistle.web.uploads import WhistleRequest

    adapter = app.url_map.bind("localhost")
    reads: set[tuple[str, str]] = set()

    class Watched(ImmutableMultiDict[str, str]):
        def get(self, key: str, default: Any = None, type: Any = None) -> Any:
            reads.add((str(request.endpoint), key))
            return super().get(key, default=default, type=type)

        def __getitem__(self, key: str) -> str:
            reads.add((str(request.endpoint), key))
            return super().__getitem__(key)

    seen: dict[str, dict[str, set[str]]] = {}
    link_re = re.compile(r'href="(/[^"]*\?[^"]*)"')
    original = WhistleRequest.parameter_storage_class
    WhistleRequest.parameter_storage_class = Watched
    try:
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
                continue
            role = viewer_of(rule.endpoint)
            pages = [adapter.build(rule.endpoint, {a: visitors.values[a] for a in rule.arguments})]
            if rule.endpoint == "cases.case":
                pages += visitors.extra_pages
            for page in pages:
                response = visitors.browsers[role].client.get(
                    page, headers={"Accept-Language": "en"}
                )
                if response.status_code != 200 or response.mimetype != "text/html":
                    continue
                found = [urlsplit(unescape(q)) for q in link_re.findall(response.get_data(True))]
                for form in forms_on(response, page):
                    if form.method == "GET":
                        fields = {n: sorted(f.options) or [""] for n, f in form.fields.items()}
                        found.append(urlsplit(form.action + "?" + urlencode(fields, doseq=True)))
                for query in found:
                    try:
                        endpoint, _ = adapter.match(query.path, method="GET")
                    except HTTPException:
                        continue
                    values = seen.setdefault(str(endpoint), {})
                    for key, value in parse_qsl(query.query, keep_blank_values=True):
                        values.setdefault(key, set()).add(value)
    finally:
        WhistleRequest.parameter_storage_class = original
    targets = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        keys = {key for endpoint, key in reads if endpoint == rule.endpoint}
        if "GET" not in (rule.methods or set()) or not keys:
            continue
        used = seen.get(rule.endpoint, {})
        values = {key: {""} | used.get(key, set()) for key in keys | set(used)}
        path = adapter.build(rule.endpoint, {a: visitors.values[a] for a in rule.arguments})
        targets.append(QueryTarget(rule.endpoint, viewer_of(rule.endpoint), path, values))
    return targets
