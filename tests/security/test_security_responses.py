"""Every response carries the security headers, every cookie its flags, every form its CSRF
check.

- Headers and cookies: every GET route of the URL map, with real values, and every same-site
  link and script those pages lead to, is requested over HTTPS by every kind of visitor (each
  staff role, an anonymous browser, a reporter in the mailbox, a reporter looking at a new
  code, a staff member half-way through signing in, one enrolling); POST-only routes are asked
  with GET too (405 pages count). So are the answers of whole sign-in and reporting sessions.
  Every response, whatever its status, must carry the Content-Security-Policy, HSTS and the
  other headers of whistle/web/security.py, ``Cache-Control: no-store`` unless it is a static
  file, and every ``Set-Cookie`` must be ``Secure; HttpOnly; SameSite=Strict``.
- CSRF: every POST route of the URL map is sent, by a visitor allowed to use it and with the
  fields its page asks for, without a token, with a forged one and with the token of another
  session. Each is refused with the "form has expired" page, and nothing changes: no row of
  any table, no file in the store.

The responses are read by a small WSGI wrapper around the app, so nothing a view or an error
handler returns can slip past, including the session cookie Flask adds after every hook.

Headers do not depend on the database: the crawl runs on SQLite only, to keep the suite fast.
"""

from __future__ import annotations

from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import tests.steps.authorisation as authorisation
from tests.steps.authorisation import ANONYMOUS, snapshot
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.security_world import (
    Recorder,
    Target,
    Visitors,
    add_visitors,
    post_targets,
    problems_of,
)
from tests.steps.staff import CaseWorker
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore

BASE = "https://whistle.example.org"
# Shaped like a Flask-WTF token (payload.timestamp.signature), signed by nobody.
FORGED = "IjAwMDAwMDAwMDAwMDAwMDAwMDAwIg.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"
LINK_RE = r'(?:href|src)="(/[^"]*)"'


@pytest.fixture
def app_config(database_url: str, instance_path: Path) -> dict[str, Any]:
    """The production setting: the public address is HTTPS, so cookies must be Secure."""
    return {"database_url": database_url, "argon2_profile": "test", "base_url": BASE}


@pytest.fixture
def visitors(app: Flask, session: Session, clock: FixedClock, world: authorisation.World) -> Any:
    return add_visitors(app, session, clock, world)


def crawl(app: Flask, visitors: Visitors, role: str, limit: int = 250) -> int:
    """Every GET route (and GET on every POST-only route) and every same-site link or script
    found on the pages reached, over HTTPS; returns how many were requested."""
    import re

    client = visitors.browsers[role].client
    adapter = app.url_map.bind("localhost")
    queue: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in ("staff.sign_out", "mailbox.sign_out") or rule.endpoint == "static":
            continue
        queue.append(adapter.build(rule.endpoint, {a: visitors.values[a] for a in rule.arguments}))
    visited: set[str] = set()
    while queue and len(visited) < limit:
        url = queue.pop(0)
        if url in visited or "sign-out" in url:
            continue
        visited.add(url)
        response = client.get(url, base_url="https://localhost", headers={"Accept-Language": "en"})
        if response.status_code == 200 and response.mimetype == "text/html":
            queue += [unescape(link) for link in re.findall(LINK_RE, response.get_data(True))]
    return len(visited)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_response_to_every_visitor_carries_the_headers_and_cookie_flags(
    app: Flask, visitors: Visitors
) -> None:
    recorder = Recorder(app)
    for role in visitors.browsers:
        assert crawl(app, visitors, role) > 50, role
    seen = recorder.seen
    assert {r.status for r in seen} >= {200, 303, 403, 404, 405}, "the crawl missed a kind"
    assert any(r.path.startswith("/static/") for r in seen), "no static file was requested"
    assert any(r.headers.getlist("Set-Cookie") for r in seen), "no cookie was ever set"
    problems = problems_of(seen)
    assert not problems, "\n".join(problems[:60])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_signing_in_and_reporting_over_https_set_only_flagged_cookies(
    app: Flask, session: Session, clock: FixedClock, unit: Any
) -> None:
    recorder = Recorder(app)
    app.config["PREFERRED_URL_SCHEME"] = "https"  # every request of the test clients
    # The reporter: form, report with a file, the code, the mailbox, a reply, leaving.
    reporter = Reporter(app, unit.org.slug)
    # Over HTTPS, Flask-WTF also wants a same-site Referer on every form.
    reporter.client.environ_base["HTTP_REFERER"] = "https://localhost/"
    reporter.report(ReportAnswers(files=[Upload("fake.txt", b"Fake evidence")]))
    reporter.confirm_written_down()
    assert reporter.reply("Fake answer.").status_code == 303
    assert reporter.leave().status_code == 303
    # Staff: password, code, a page, a case action, sign-out; and the language switch.
    handler = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    handler.client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert handler.sign_in().status_code == 303
    reference = handler.inbox().get_data(as_text=True).split("/cases/")[1].split('"')[0]
    assert handler.case_action(reference, "note", {"note-body": "Fake note."}).status_code == 303
    assert handler.client.get("/lang/da").status_code == 303
    assert handler.sign_out().status_code == 303
    seen = recorder.seen
    assert all(r.scheme == "https" for r in seen)
    cookies = {c.split("=", 1)[0] for r in seen for c in r.headers.getlist("Set-Cookie")}
    # The known-browser cookie comes from the staff sign-in (whistle/staff/views/known_device.py).
    assert cookies == {"whistle_session", "lang", "whistle_known_browser"}, cookies
    problems = problems_of(seen)
    assert not problems, "\n".join(problems)


# --- CSRF -------------------------------------------------------------------------------------


def filled(target: Target) -> dict[str, Any]:
    """The form as a person would send it, every field given a plausible value."""
    data: dict[str, Any] = {}
    for name, found in target.fields.items():
        if name.endswith("csrf_token") or found.kind == "submit":
            continue
        if found.kind == "file":
            data[name] = Upload("fake.txt", b"Fake file").as_form_value()
        elif found.options:
            data[name] = next((o for o in found.options if o), found.options[0])
        elif found.kind == "date":
            data[name] = "2026-03-02"
        elif found.kind == "email":
            data[name] = "testa.fiktiv@example.org"
        else:
            data[name] = "Fake value 1"
    return data


def other_session_token(visitors: Visitors, role: str) -> str:
    other = ANONYMOUS if role != ANONYMOUS else "reporter in the mailbox"
    return visitors.browsers[other].token


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_every_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    app: Flask, visitors: Visitors
) -> None:
    targets = post_targets(app, visitors)
    assert {t.endpoint for t in targets} == {
        r.endpoint for r in app.url_map.iter_rules() if "POST" in (r.methods or set())
    }
    engine = runtime(app).engine
    store = FileStore(runtime(app).settings.file_store)
    before, files_before = snapshot(engine), sorted(store.names())
    recorder = Recorder(app)
    problems = []
    for target in targets:
        browser = visitors.browsers[target.role]
        field = next((n for n in target.fields if n.endswith("csrf_token")), "csrf_token")
        attempts = {
            "no token": {},
            "forged token": {
                field: "IjAwMDAwMDAwMDAwMDAwMDAwMDAwIg.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"
            },
            "another session's token": {field: other_session_token(visitors, target.role)},
        }
        for how, token in attempts.items():
            response = browser.client.post(
                target.url,
                data={**filled(target), **token},
                headers={"Accept-Language": "en"},
                content_type="multipart/form-data",
            )
            where = f"{target.endpoint} as {target.role} with {how}"
            if response.status_code != 400:
                problems.append(f"{where}: {response.status_code}")
            elif "The form has expired" not in text_of(response):
                problems.append(f"{where}: refused, but not for its token")
    assert not problems, "\n".join(problems)
    assert snapshot(engine) == before, "a refused form changed the database"
    assert sorted(store.names()) == files_before, "a refused form stored a file"
    assert not problems_of(recorder.seen)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_targets_are_real_forms_that_a_token_lets_through(
    app: Flask, visitors: Visitors
) -> None:
    """The CSRF test would pass vacuously if its posts never reached a form: with the token,
    a harmless form of each kind of visitor is accepted."""
    targets = {t.endpoint: t for t in post_targets(app, visitors)}
    assert len([t for t in targets.values() if t.fields]) >= 50, "too few forms were found"
    for endpoint in ("cases.note", "mailbox.case", "admin.texts", "staff.sign_in"):
        target = targets[endpoint]
        browser = visitors.browsers[target.role]
        page = browser.client.get(target.page, headers={"Accept-Language": "en"})
        field = next(n for n in target.fields if n.endswith("csrf_token"))
        response = browser.client.post(
            target.url,
            data={**filled(target), field: csrf_token(page)},
            headers={"Accept-Language": "en"},
            content_type="multipart/form-data",
        )
        assert response.status_code in (200, 303), (endpoint, response.status_code)
        assert "The form has expired" not in text_of(response)
