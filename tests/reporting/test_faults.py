"""Faults found with bench/fault_bench.py, each shown here.

- A file store that refuses to write (full disk, no inode left) gives the reporter the clear
  "could not be stored" answer under the form, which keeps what was typed, and stores
  nothing. The bench's store out of inodes refused the new two-letter folder, which the
  store did not count as a storage failure: the reporter got the generic 500 page.
- A report whose commit fails with the connection (the database stopped mid-submission) keeps
  its files: the server may have committed before the connection broke, and removing the
  files then left a stored case whose attachments were gone. An unneeded file is only an
  unreadable orphan, which `whistle doctor` removes. The same holds for a reply's files and
  for a case file exported for counsel.
- A database that goes away after a page was made, before the request's session is closed,
  does not turn the finished page into the server's bare 500: closing the session talks to
  the database, and its error escaped the app (gunicorn answered with its own page and logged
  a traceback).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from tests.steps.pages import csrf_token
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from whistle.cli import cli
from whistle.core.models import Attachment, Case, Message
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore, StorageError

EVIDENCE = Upload("fake-evidence.txt", b"Fake evidence, nothing real.\n" * 50)


@pytest.fixture
def no_new_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's filesystem has no inode left: every new folder is refused."""
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if not self.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)


def test_a_store_that_cannot_make_its_folder_raises_storage_error(
    tmp_path: Path, no_new_folders: None
) -> None:
    store = FileStore(tmp_path / "files")
    with pytest.raises(StorageError), store.writer(store.new_name()) as out:
        out.write(b"never stored")
    assert list(store.names()) == []


def test_a_report_on_a_full_store_gets_the_clear_page_and_stores_nothing(
    app: Flask, session: Session, unit: Unit, no_new_folders: None
) -> None:
    sent = Reporter(app, unit.org.slug).send_report(ReportAnswers(files=[EVIDENCE]))
    page = sent.get_data(as_text=True)
    assert sent.status_code == 503, page[:500]
    assert "The files could not be stored, so nothing was saved or sent." in page
    assert "pallets are sold privately" in page, "what the reporter typed is kept in the form"
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert list(FileStore(runtime(app).settings.file_store).names()) == []


def test_a_reply_on_a_full_store_is_refused_in_the_mailbox(
    app: Flask, session: Session, unit: Unit, no_new_folders: None
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())  # no file: nothing for the store to refuse
    answer = reporter.reply("Fake reply with a file.", [EVIDENCE])
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "The files could not be stored, so nothing was saved or sent." in page
    assert "Fake reply with a file." in page, "what the reporter typed is kept in the form"
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert list(FileStore(runtime(app).settings.file_store).names()) == []


def test_a_commit_whose_answer_is_lost_keeps_the_files_of_the_stored_report(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server commits, then the connection breaks before it can say so."""
    real_commit = Session.commit
    lost = {"done": False}

    def commit_then_lose_the_connection(self: Session) -> None:
        real_commit(self)
        # The report's own commit: the first after which its attachment row exists (the
        # throttle's count commits before it).
        if not lost["done"] and self.scalar(select(func.count()).select_from(Attachment)):
            lost["done"] = True
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    reporter = Reporter(app, unit.org.slug)
    form = reporter.fill_report(ReportAnswers(files=[EVIDENCE]))
    monkeypatch.setattr(Session, "commit", commit_then_lose_the_connection)
    sent = reporter.post(f"/o/{unit.org.slug}/report", form, content_type="multipart/form-data")
    monkeypatch.undo()
    assert lost["done"]
    assert sent.status_code == 503  # the reporter is told to try again, and shown no code
    assert "Temporarily unavailable" in sent.get_data(as_text=True)
    stored = session.scalars(select(Attachment.storage_name)).all()
    assert len(stored) == 1, "the report was committed with its attachment row"
    store = FileStore(runtime(app).settings.file_store)
    assert store.exists(stored[0]), "the stored report's attachment was removed"
    doctor = app.test_cli_runner().invoke(cli, ["doctor", "--all"])
    assert doctor.exit_code == 0, doctor.output


def test_a_reply_whose_commit_answer_is_lost_keeps_its_file(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a reply in the mailbox (whistle/casefile/conversation.py post_message)."""
    real_commit = Session.commit
    lost = {"done": False}

    def commit_then_lose_the_connection(self: Session) -> None:
        real_commit(self)
        # The reply's commit: the first with a message in it (the sign-in's touch comes first).
        if not lost["done"] and any(isinstance(o, Message) for o in self.identity_map.values()):
            lost["done"] = True
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers())
    assert reporter.open_case(code).status_code == 303
    token = csrf_token(reporter.mailbox())
    monkeypatch.setattr(Session, "commit", commit_then_lose_the_connection)
    sent = reporter.post(
        f"/o/{unit.org.slug}/case/",
        {"csrf_token": token, "body": "Fake reply.", "attachments": [EVIDENCE.as_form_value()]},
        content_type="multipart/form-data",
    )
    monkeypatch.undo()
    assert lost["done"] and sent.status_code == 503
    stored = session.scalars(
        select(Attachment.storage_name).where(Attachment.message_id.is_not(None))
    ).all()
    assert len(stored) == 1, "the reply was committed with its attachment row"
    assert FileStore(runtime(app).settings.file_store).exists(stored[0])
    doctor = app.test_cli_runner().invoke(cli, ["doctor", "--all"])
    assert doctor.exit_code == 0, doctor.output


def test_a_database_lost_after_the_page_was_made_does_not_break_the_page(
    app: Flask, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_close = Session.close
    lost = {"done": False}

    def close_on_a_dead_connection(self: Session) -> None:
        if not lost["done"]:
            lost["done"] = True
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))
        real_close(self)

    reporter = Reporter(app, unit.org.slug)
    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    page = reporter.get(f"/o/{unit.org.slug}/report")
    monkeypatch.undo()
    assert lost["done"]
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)
    assert reporter.get(f"/o/{unit.org.slug}/report").status_code == 200  # and the next one
