"""An admin (or auditor) with everything but a handler's password reads no case (DESIGN.md).

A report goes in with a unique marker in every field, a named identity and a file, and the
unit works the case: acknowledgement, a question with a file, the reporter's answer with a
file, notes, scope, hearing, the identity reveal, feedback and closure, each with its own
marker. Then:

- the admin's full copy (every row of every table, every column, as raw bytes; the SQLite
  file; the instance folder with its secrets; the file store; the logs and console) holds no
  marker in any common encoding;
- with the instance folder's secrets in hand, still nothing opens (the library level);
- through the web, the admin and an auditor reach no page that shows a marker: every GET route
  of the URL map with real ids, and every link those pages lead to.

Finally the handler reads every marker back, so the test cannot pass by losing the data.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field, unwrap_private_key
from tests.steps.factories import Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.staff import CaseWorker
from whistle.casefile.access import open_keys
from whistle.core.clock import FixedClock
from whistle.core.contexts import identity_context, report_context
from whistle.core.models import Attachment, Base, Case, KeyPurpose, OrgKey, Role, User
from whistle.core.org_keys import signing_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import export
from whistle.disclosure import asking
from whistle.rights import linked_cases, requests
from whistle.staff.invitations import invite

TYPED = (
    "what",
    "when_where",
    "who",
    "how_known",
    "name",
    "contact",
    "nudge",
    "acknowledgement",
    "question",
    "answer",
    "note",
    "scope",
    "hearing",
    "reveal",
    "done",
    "why",
    "final_done",
    "final_why",
    "closure",
)
FILES = (
    "file",
    "file_name",
    "question_file",
    "question_file_name",
    "answer_file",
    "answer_file_name",
)


@pytest.fixture
def markers() -> dict[str, str]:
    # Fresh per run, so a leftover from an earlier run can never make the search pass or fail.
    return {
        key: f"CNRY{key.upper().replace('_', '')}{secrets.token_hex(6)}" for key in (*TYPED, *FILES)
    }


def encodings(marker: str) -> list[bytes]:
    """The marker as it would rest in clear: raw, lower case, UTF-16, hex, and base64 at each
    of the three alignments (the middle of the encoding, untouched by its neighbours)."""
    raw = marker.encode()
    forms = [
        raw,
        raw.lower(),
        marker.encode("utf-16-le"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
    ]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        forms.append(encoded[4 if offset else 0 : -4])
    return forms


def database_rows(session: Session) -> Iterator[tuple[str, bytes]]:
    """(table, value) for every column of every row of every table, as raw bytes."""
    session.expire_all()
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            for value in row:
                if isinstance(value, bytes):
                    yield table.name, value
                elif value is not None:
                    yield table.name, str(value).encode()


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.exists():
            yield from (p for p in root.rglob("*") if p.is_file())


def work_the_case(
    app: Flask, unit: Unit, clock: FixedClock, markers: dict[str, str]
) -> tuple[str, CaseWorker, Reporter]:
    """A named report with a file, and the unit's work on it through the pages."""
    m = markers
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(
        ReportAnswers(
            what=f"Fake report {m['what']}",
            when_where=m["when_where"],
            who=m["who"],
            how_known=m["how_known"],
            named=True,
            name=f"Testa {m['name']}",
            contact=m["contact"],
            nudge_email=f"{m['nudge'].lower()}@example.org",
            files=[Upload(f"{m['file_name']}.txt", f"Fake evidence {m['file']}\n".encode() * 50)],
        )
    )
    reporter.confirm_written_down()
    handler = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    assert handler.sign_in().status_code == 303
    with runtime(app).sessions() as s:
        ref = s.scalars(select(Case.reference)).one()

    def act(action: str, fields: dict[str, object], expected: int = 303) -> None:
        done = handler.case_action(ref, action, fields)
        assert done.status_code == expected, (action, done.status_code)

    act("acknowledge", {"ack-body": f"Fake acknowledgement {m['acknowledgement']}"})
    question_file = Upload(f"{m['question_file_name']}.txt", f"Fake {m['question_file']}".encode())
    act(
        "message",
        {
            "msg-body": f"Fake question {m['question']}",
            "msg-question": "y",
            "msg-attachments": [question_file.as_form_value()],
        },
    )
    assert reporter.open_case(code).status_code == 303
    answer_file = Upload(f"{m['answer_file_name']}.txt", f"Fake {m['answer_file']}".encode())
    assert reporter.reply(f"Fake answer {m['answer']}", [answer_file]).status_code == 303
    reporter.leave()
    act("note", {"note-body": f"Fake note {m['note']}"})
    act("scope", {"scope-scope": "in_scope", "scope-reason": f"Fake {m['scope']}"})
    act("hearing", {"hearing-hearing": "held", "hearing-account": f"Fake {m['hearing']}"})
    act("reveal", {"reveal-reason": f"Fake reason {m['reveal']}"}, expected=200)
    act("feedback", {"feedback-done": f"Fake {m['done']}", "feedback-why": f"Fake {m['why']}"})
    act(
        "feedback",
        {
            "feedback-done": f"Fake {m['final_done']}",
            "feedback-why": f"Fake {m['final_why']}",
            "feedback-final": "y",
        },
    )
    act("close", {"close-outcome": "not_substantiated", "close-reason": f"Fake {m['closure']}"})
    return code, handler, reporter


def test_a_full_copy_of_the_server_holds_no_case_content_in_clear(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    markers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    code, _, _ = work_the_case(app, unit, clock, markers)
    runtime(app).engine.dispose()  # flush SQLite's WAL into the file we copy

    settings = runtime(app).settings
    places: list[tuple[str, bytes]] = [
        (f"table {table}", value) for table, value in database_rows(session)
    ]
    database_files: list[Path] = []
    if settings.is_sqlite:
        db_file = Path(make_url(settings.database_url).database or "")
        database_files = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-journal")]
    copied = list(files_under(settings.instance_path, settings.file_store, *database_files))
    assert any(settings.file_store in p.parents for p in copied), "the file store was not copied"
    places += [(str(path), path.read_bytes()) for path in copied]
    places.append(("logs", "\n".join(r.getMessage() for r in caplog.records).encode()))
    out, err = capfd.readouterr()
    places.append(("console", (out + err).encode()))

    searched = {key: encodings(marker) for key, marker in markers.items()}
    found = sorted(
        {
            f"{key} in {where}"
            for where, data in places
            for key, forms in searched.items()
            if any(form in data for form in forms)
        }
    )
    assert not found, found
    for where, data in places:
        # A bare flag, so that a failure never prints the code itself.
        code_found = code.encode() in data or code.replace("-", "").encode() in data
        assert not code_found, f"the case code found in {where}"


def test_the_instance_secrets_open_nothing(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, markers: dict[str, str]
) -> None:
    """The library level: the admin holds the instance folder's secrets and the database."""
    work_the_case(app, unit, clock, markers)
    settings = runtime(app).settings
    instance_secrets = [settings.secret_key, settings.pepper, settings.instance_key]
    session.expire_all()
    case = session.scalars(select(Case)).one()
    assert case.identity is not None
    for secret in instance_secrets:
        with pytest.raises(OpenError):
            decrypt_field(secret, case.report, context=report_context(case.uid))
        with pytest.raises(OpenError):
            decrypt_field(secret, case.identity, context=identity_context(case.uid))
    # No handler's private key unwraps without that handler's password.
    for wrapped in session.scalars(select(User.wrapped_private_key)).all():
        if wrapped is None:
            continue
        for guess in [s.hex() for s in instance_secrets]:
            with pytest.raises(OpenError):
                unwrap_private_key(wrapped, guess)
    # The recovery key's private half lives on paper, not on the server.
    recovery = session.scalars(
        select(OrgKey).where(OrgKey.org_id == unit.org.id, OrgKey.purpose == KeyPurpose.RECOVERY)
    ).one()
    assert recovery.sealed_private_key is None


LINK_RE = re.compile(r'href="(/[^"]*)"')


def reachable_pages(
    app: Flask, client: FlaskClient, values: dict[str, list[str]]
) -> dict[str, str]:
    """Every GET route of the URL map with every real value, plus every link found on the
    pages reached (same site, GET only); url -> body of those answered with 200."""
    adapter = app.url_map.bind("localhost")
    queue: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        unknown = rule.arguments - set(values)
        assert not unknown, f"{rule.rule}: no crawl value for {sorted(unknown)}"
        combos: list[dict[str, str]] = [{}]
        for argument in sorted(rule.arguments):
            combos = [{**c, argument: v} for c in combos for v in values[argument]]
        queue += [adapter.build(rule.endpoint, combo) for combo in combos]
    seen: dict[str, str] = {}
    visited: set[str] = set()
    while queue and len(visited) < 400:
        url = queue.pop(0)
        if url in visited or url.startswith("/static/"):
            continue
        visited.add(url)
        response = client.get(url, headers={"Accept-Language": "en"})
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code != 200:
            continue
        body = response.get_data(as_text=True)
        seen[url] = body
        queue += [unescape(link) for link in LINK_RE.findall(body)]
    return seen


def test_the_admin_and_the_auditor_reach_no_page_with_content(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, markers: dict[str, str]
) -> None:
    code, handler, _ = work_the_case(app, unit, clock, markers)
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        auditor = add_staff(
            session, clock, unit.org, "Aud Auditor", [Role.AUDITOR], instance_key=instance_key
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
    session.expire_all()
    case = session.scalars(select(Case)).one()
    with app.app_context():
        # A data-subject request about the case: who asked is content too.
        marker = next(iter(markers.values()))
        request = requests.register(
            session,
            clock,
            unit.org.id,
            unit.handlers[0].user.id,
            kind="access",
            subject=f"Fie Fiktiv {marker}",
            received_on=clock.now().date(),
        )
        linked_cases.link_case(session, clock, request, case, unit.handlers[0].user.id)
        # A case file for counsel: the admin and the auditor must not reach it either.
        counsel = add_staff(
            session, clock, unit.org, "Conny Counsel", [Role.COUNSEL], instance_key=instance_key
        )
        session.commit()
        certify(session, clock, unit, counsel)  # a lead checked her key
        holder = unit.handlers[0]
        bundle = export.export_case(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            unit.org,
            case,
            open_keys(session, case, holder.user.id, holder.private_key),
            holder.user.id,
            counsel_id=counsel.user.id,
            include_notes=True,
            signing_key=signing_key(session, unit.org.id, instance_key),
        )
        # A disclosure to a public authority, ready to be handed over (its name is content).
        to_authority = asking.request(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            case,
            open_keys(session, case, holder.user.id, holder.private_key),
            holder.user.id,
            recipient="authority",
            authority=f"Fake Politi {marker}",
            ground="authority",
            reasons=f"Fake reasons {marker}",
        )
    values = {
        "slug": [unit.org.slug],
        "reference": [case.reference],
        "name": list(session.scalars(select(Attachment.storage_name))),
        "invitation_id": [str(invitation.invitation.id)],
        "request_id": [str(request.id)],
        "export_id": [str(bundle.id)],
        "number": ["1", "2", "3"],  # the case file's documents
        "disclosure_id": [str(to_authority.id)],
        "uid": ["00000000-0000-4000-8000-000000000000"],
        "token": ["not-a-real-token"],
        "code": ["en"],
    }
    assert len(values["name"]) == 3

    for staff in (unit.admin, auditor):
        person = CaseWorker(app, clock, staff, slug=unit.org.slug)
        assert person.sign_in().status_code == 303
        pages = reachable_pages(app, person.client, values)
        assert f"/staff/{unit.org.slug}/admin/users" in pages or staff is auditor
        assert f"/staff/{unit.org.slug}/audit" in pages or staff is unit.admin
        for url, body in pages.items():
            for key, marker in markers.items():
                assert marker not in body and marker.lower() not in body, f"{key} shown at {url}"
            code_shown = code in body  # a bare flag: a failure must not print the code
            assert not code_shown, f"the case code shown at {url}"
    # The auditor sees that things happened, and when, without what was written.
    auditor_view = CaseWorker(app, clock, auditor, slug=unit.org.slug)
    auditor_view.sign_in()
    log = text_of(auditor_view.get(f"/staff/{unit.org.slug}/audit"))
    for action in ("Receipt acknowledged", "Reporter's identity revealed", "Case closed"):
        assert action in log

    # The handler reads every marker back: everything is there, only encrypted.
    page = handler.open_case(case.reference).get_data(as_text=True)
    revealed = handler.case_action(case.reference, "reveal", {"reveal-reason": "Fake check."})
    shown = page + revealed.get_data(as_text=True)
    for key in TYPED:
        if key != "nudge":  # the reminder address is for the mailer only
            assert markers[key] in shown, key
    for key in ("file_name", "question_file_name", "answer_file_name"):
        assert markers[key] in shown, key
