"""A deployment with ``file_store_backend = "database"`` (issue 18): a report's attachment goes
into the database's chunk rows, never the folder, as ciphertext; the handler and the reporter
download it whole; a follow-up with a file, an export and counsel's reading of it work from the
database; ``whistle doctor`` checks and repairs the database's store; and the retention run
that deletes the case leaves no row of its files; files left in the folder by a switch of
backend are reported missing (whistle/core/db_storage.py)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.steps.cases import hanne, newest_case, signed_in, staff_file_links
from tests.steps.factories import Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload, file_links
from tests.steps.retention import close
from tests.steps.staff import CaseWorker
from whistle.app import create_app
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.db_storage import DatabaseStore, _ChunkSink
from whistle.core.models import (
    Attachment,
    Case,
    CaseExport,
    PendingFileDeletion,
    Role,
    StoreChunk,
    StoreFile,
)
from whistle.core.runtime import runtime
from whistle.core.storage import StorageError
from whistle.reporting import intake

# Over two chunks of 1 MiB, so a download crosses chunk rows.
EVIDENCE = Upload("fake-ledger.txt", b"Fake ledger line 0042, nothing real in it.\n" * 60_000)
REPLY_FILE = Upload("fake-photo-notes.txt", b"Fake notes on a fake photo.\n" * 100)
QUESTION_FILE = Upload("fake-form.txt", b"Fake form to fill in.\n" * 100)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "file_store_backend": "database"}


def chunk_rows(session: Session, names: list[str] | None = None) -> int:
    query = select(func.count()).select_from(StoreChunk)
    if names is not None:
        query = query.where(StoreChunk.name.in_(names))
    return int(session.scalar(query) or 0)


def folder_files(app: Flask) -> list[Path]:
    root = runtime(app).settings.file_store
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_attachments_live_in_the_database_and_download_whole(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    assert isinstance(runtime(app).file_store(), DatabaseStore)
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(files=[EVIDENCE]))
    reporter.confirm_written_down()

    stored = session.scalars(select(Attachment.storage_name)).one()
    assert session.scalar(select(StoreFile.complete).where(StoreFile.name == stored)) is True
    assert chunk_rows(session, [stored]) == 3
    assert folder_files(app) == []
    chunks = b"".join(session.scalars(select(StoreChunk.data).order_by(StoreChunk.seq)))
    assert b"Fake ledger line" not in chunks, "the rows hold ciphertext only"

    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(newest_case(session).reference)
    (link,) = staff_file_links(page).values()
    download = worker.get(link)
    assert download.status_code == 200
    assert download.headers["Content-Length"] == str(len(EVIDENCE.data))
    assert download.get_data() == EVIDENCE.data

    (mine,) = file_links(reporter.mailbox()).values()
    assert reporter.get(mine).get_data() == EVIDENCE.data

    # A follow-up with a file: its message row is added after the file is stored (on SQLite a
    # flushed row would hold the lock the store's own connection waits for).
    sent = reporter.reply("Fake follow-up with a file.", files=[REPLY_FILE])
    assert sent.status_code in (200, 303), text_of(sent)[:300]
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 2
    page = worker.open_case(newest_case(session).reference)
    replied = staff_file_links(page)[REPLY_FILE.name]
    assert worker.get(replied).get_data() == REPLY_FILE.data

    # A handler's message with a file: stored before the message's rows and its audit entry.
    sent = worker.case_action(
        newest_case(session).reference,
        "message",
        {
            "msg-body": "Fake question with a file.",
            "msg-attachments": [QUESTION_FILE.as_form_value()],
        },
    )
    assert sent.status_code == 303, text_of(sent)[:300]
    links = file_links(reporter.mailbox())
    assert reporter.get(links[QUESTION_FILE.name]).get_data() == QUESTION_FILE.data
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 3
    assert folder_files(app) == []


def test_counsel_reads_a_case_file_stored_in_the_database(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    """The bundle is read with seeks (a ZIP is read from its end): from chunk rows too."""
    Reporter(app, unit.org.slug).report(ReportAnswers(files=[EVIDENCE]))
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
        session.commit()
    worker = signed_in(hanne(app, clock, unit))
    sent = worker.case_action(
        newest_case(session).reference, "export", {"export-counsel": str(conny.user.id)}
    )
    assert sent.status_code == 303, text_of(sent)[:500]
    made = session.scalars(select(CaseExport)).one()
    assert session.scalar(select(StoreFile.size).where(StoreFile.name == made.storage_name)) == (
        made.size
    )

    reader = signed_in(CaseWorker(app, clock, conny, slug=unit.org.slug))
    base = f"/staff/{unit.org.slug}/counsel/{made.id}"
    assert reader.get(base).status_code == 200
    document = reader.get(f"{base}/files/1")
    assert document.status_code == 200
    assert b"".join(document.response) == EVIDENCE.data  # type: ignore[arg-type]
    bundle = reader.get(f"{base}/bundle")
    assert int(bundle.headers["Content-Length"]) == made.size
    with runtime(app).file_store().open(made.storage_name) as handle:
        assert bundle.get_data() == handle.read()
    assert folder_files(app) == []


def test_the_retention_run_leaves_no_row_of_a_deleted_cases_files(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(files=[EVIDENCE]))
    case = newest_case(session)
    names = list(
        session.scalars(select(Attachment.storage_name).where(Attachment.case_id == case.id))
    )
    assert chunk_rows(session, names) == 3
    close(app, session, clock, unit, case)
    clock.advance(timedelta(days=62))

    ran = app.test_cli_runner().invoke(cli, ["retention", "run"])

    assert ran.exit_code == 0, ran.output
    assert "deleted 1 cases, 1 files" in ran.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 0
    assert chunk_rows(session) == 0
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    checked = app.test_cli_runner().invoke(cli, ["doctor"])
    assert checked.exit_code == 0, checked.output
    assert "file store: 0 files" in checked.output


def test_the_doctor_finds_and_removes_a_killed_write_and_an_orphan_in_the_database(
    app: Flask, session: Session
) -> None:
    store = runtime(app).file_store()
    orphan = store.new_name()
    with store.writer(orphan) as out:
        out.write(b"fake ciphertext of an upload whose row never came")
    killed = store.new_name()
    writing = store.writer(killed)  # a worker killed mid-write: the writer never ends
    writing.__enter__().write(b"x" * (3 << 20))
    two_hours_ago = int(time.time()) - 7200
    session.execute(update(StoreFile).values(written_at=two_hours_ago))
    session.commit()

    found = app.test_cli_runner().invoke(cli, ["doctor"])
    assert found.exit_code != 0
    assert "orphan files (no row refers to them): 1" in found.output
    assert "unfinished uploads (.partial files): 1" in found.output
    assert orphan not in found.output and killed not in found.output

    repaired = app.test_cli_runner().invoke(cli, ["doctor", "--repair"])
    assert "removed 1 orphan files, 1 .partial files" in repaired.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 0
    assert chunk_rows(session) == 0
    # Were the killed write to go on after all, it fails: no file without its beginning.
    with pytest.raises(StorageError):
        writing.__exit__(None, None, None)
    assert not store.exists(killed)


def test_a_report_whose_transaction_fails_leaves_no_file_rows(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files were stored (committed on the store's own connection) before the case's rows
    failed: they are removed again, as from the folder."""

    def broken(*_args: object, **_kwargs: object) -> None:
        assert session.scalar(select(func.count()).select_from(StoreFile)) == 1, "stored first"
        raise RuntimeError("fake failure after the files were stored")

    monkeypatch.setattr(intake, "_record_case", broken)
    with pytest.raises(RuntimeError, match="fake failure"):
        Reporter(app, unit.org.slug).send_report(ReportAnswers(files=[EVIDENCE]))

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 0
    assert chunk_rows(session) == 0


def test_a_database_that_refuses_a_file_gives_the_clear_page_and_stores_nothing(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT INTO store_chunks", {}, Exception("could not extend file"))

    monkeypatch.setattr(_ChunkSink, "_insert", refused)
    sent = Reporter(app, unit.org.slug).send_report(ReportAnswers(files=[EVIDENCE]))

    page = sent.get_data(as_text=True)
    assert sent.status_code == 503, page[:500]
    assert "The files could not be stored, so nothing was saved or sent." in page
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(StoreFile)) == 0


def test_files_left_in_the_folder_after_a_switch_are_reported_missing(
    app: Flask,
    app_config: dict[str, Any],
    instance_path: Path,
    clock: FixedClock,
    unit: Unit,
    session: Session,
) -> None:
    """No command moves files between the backends: the doctor says what a switch lost."""
    before = create_app(
        {**app_config, "file_store_backend": "folder"}, instance_path=instance_path, clock=clock
    )
    try:
        Reporter(before, unit.org.slug).report(ReportAnswers(files=[EVIDENCE]))
    finally:
        runtime(before).engine.dispose()
    assert len(folder_files(app)) == 1

    checked = app.test_cli_runner().invoke(cli, ["doctor"])

    assert checked.exit_code != 0
    assert "attachments whose file is missing: 1" in checked.output
