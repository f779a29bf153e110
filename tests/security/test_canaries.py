"""Nothing a reporter types or uploads rests anywhere in readable form.

Unique markers go into every field of a report, a file's content and name, a reply and its
file, and the handler's side: an internal note, a message to the reporter and its file.
Afterwards no byte sequence of any marker may be found in the database (its file and its
rows), the file store, the instance folder, temporary and spool files, or the logs and console
output. An entitled handler then reads every marker back, so the test cannot pass by losing the
data.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crypto import KeyKind, decrypt_field, open_case_key
from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter, Upload, read_as_handler, stored_sealed
from tests.steps.staff import CaseWorker
from whistle.casefile.conversation import conversation, open_file
from whistle.core.clock import FixedClock
from whistle.core.contexts import nudge_context
from whistle.core.models import Base, Case, CaseKey
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.web import uploads

FIELDS = ("what", "when_where", "who", "how_known", "name", "contact", "nudge", "reply")
FILE_MARKERS = ("file_content", "file_name", "reply_file_content", "reply_file_name")
HANDLER_MARKERS = ("note", "message", "message_file_content", "message_file_name")


@pytest.fixture
def markers() -> dict[str, str]:
    # Fresh per run, so a leftover from an earlier run can never make the search pass or fail.
    return {
        key: f"CNRY{key.upper().replace('_', '')}{secrets.token_hex(6)}"
        for key in (
            *FIELDS,
            *FILE_MARKERS,
            *HANDLER_MARKERS,
        )
    }


@pytest.fixture
def scanned_temp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Send every temporary file to a folder we can search, and keep the spools for it.

    Upload spools are normally unlinked at once; here they stay on disk after the request, so
    the test sees exactly the bytes that a crash or a disk image would have left behind.
    """
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))

    def kept_temporary_file(*args: Any, **kwargs: Any) -> IO[bytes]:
        kwargs.pop("dir", None)
        return tempfile.NamedTemporaryFile(*args, dir=folder, delete=False, **kwargs)

    monkeypatch.setattr(uploads.tempfile, "TemporaryFile", kept_temporary_file)
    return folder


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.exists():
            yield from (p for p in root.rglob("*") if p.is_file())


def database_rows(session: Session) -> Iterator[str]:
    """Every value of every row of every table, as text (bytes as latin-1, one char a byte)."""
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            for value in row:
                if isinstance(value, bytes):
                    yield value.decode("latin-1")
                elif value is not None:
                    yield str(value)


def test_no_marker_rests_anywhere_and_a_handler_reads_every_one(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    markers: dict[str, str],
    scanned_temp: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    file_content = (f"Fake evidence {markers['file_content']}\n" * 20_000).encode()  # ~0.9 MB
    reply_content = f"Fake reply file {markers['reply_file_content']}".encode()
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(
        ReportAnswers(
            what=f"Fake report {markers['what']}",
            when_where=markers["when_where"],
            who=markers["who"],
            how_known=markers["how_known"],
            named=True,
            name=markers["name"],
            contact=markers["contact"],
            nudge_email=f"{markers['nudge'].lower()}@example.org",
            files=[Upload(f"{markers['file_name']}.txt", file_content)],
        )
    )
    reporter.confirm_written_down()
    replied = reporter.reply(
        f"Fake reply {markers['reply']}",
        [Upload(f"{markers['reply_file_name']}.txt", reply_content)],
    )
    assert replied.status_code == 303
    reporter.leave()
    # The handler's side: an internal note, and a message to the reporter with a file (over
    # Werkzeug's 500 KB in-memory limit, so it is spooled too).
    handler_file = (f"Fake form {markers['message_file_content']}\n" * 20_000).encode()
    worker = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    assert worker.sign_in().status_code == 303
    reference = session.scalars(select(Case.reference)).one()
    noted = worker.case_action(reference, "note", {"note-body": f"Fake note {markers['note']}"})
    assert noted.status_code == 303
    asked = worker.case_action(
        reference,
        "message",
        {
            "msg-body": f"Fake question {markers['message']}",
            "msg-attachments": [
                Upload(f"{markers['message_file_name']}.txt", handler_file).as_form_value()
            ],
        },
    )
    assert asked.status_code == 303
    runtime(app).engine.dispose()  # flush SQLite's WAL into the file we search

    settings = runtime(app).settings
    spools = list(files_under(scanned_temp))
    assert spools, "the uploads were not spooled through the searched folder"
    database_files: list[Path] = []
    if settings.is_sqlite:
        db_file = Path(make_url(settings.database_url).database or "")
        database_files = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-journal")]
        assert db_file.stat().st_size > 0
    places: list[tuple[str, bytes]] = [
        (str(path), path.read_bytes())
        for path in files_under(
            settings.instance_path, settings.file_store, scanned_temp, *database_files
        )
    ]
    places.append(("database rows", "\n".join(database_rows(session)).encode("latin-1")))
    places.append(("logs", "\n".join(r.getMessage() for r in caplog.records).encode()))
    out, err = capfd.readouterr()
    places.append(("console", (out + err).encode()))
    secrets_found = [code.encode(), code.replace("-", "").encode()]
    for where, data in places:
        for key, marker in markers.items():
            for form in (marker.encode(), marker.lower().encode(), marker.encode("utf-16-le")):
                assert form not in data, f"marker {key} found in {where}"
        for secret in secrets_found:
            assert secret not in data, f"the case code found in {where}"

    # The handler reads every marker back: the data is there, only encrypted.
    handler = unit.handlers[0]
    session.expire_all()
    case = session.scalars(select(Case)).one()
    view = read_as_handler(session, case, handler)
    report_text = json.dumps(view.report)
    for key in ("what", "when_where", "who", "how_known"):
        assert markers[key] in report_text
    assert view.identity is not None
    assert (view.identity["name"], view.identity["contact"]) == (
        markers["name"],
        markers["contact"],
    )
    assert handler.private_key is not None
    notes_key = open_case_key(
        handler.private_key,
        stored_sealed(
            session,
            case,
            session.scalars(
                select(CaseKey.sealed).where(
                    CaseKey.case_id == case.id,
                    CaseKey.user_id == handler.user.id,
                    CaseKey.kind == KeyKind.NOTES.value,
                )
            ).one(),
        ),
        case_id=case.uid,
        kind=KeyKind.NOTES,
    )
    assert case.nudge_address is not None
    nudge = decrypt_field(notes_key, case.nudge_address, context=nudge_context(case.uid))
    assert nudge.decode() == f"{markers['nudge'].lower()}@example.org"

    reply, question = conversation(session, case, view.content)
    assert markers["reply"] in reply.body
    assert markers["message"] in question.body
    store = FileStore(settings.file_store)
    contents = {}
    for row_name in store.names():
        found = open_file(session, store, case, view.content, row_name)
        assert found is not None
        file_view, chunks = found
        contents[file_view.name] = b"".join(chunks)
    assert contents == {
        f"{markers['file_name']}.txt": file_content,
        f"{markers['reply_file_name']}.txt": reply_content,
        f"{markers['message_file_name']}.txt": handler_file,
    }
    # The internal note opens for the handler on the case page.
    assert markers["note"] in worker.open_case(case.reference).get_data(as_text=True)
