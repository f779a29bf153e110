"""Downloads: their length comes from the stored ciphertext, not from a clear column, and a
damaged file is found before anything is sent (issue 14, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import hanne, newest_case, signed_in, staff_file_links
from tests.steps.factories import Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload, file_links
from tests.steps.staff import CaseWorker
from whistle.core.clock import FixedClock
from whistle.core.models import Attachment, CaseExport, Role
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore

# Three 64 KiB segments and a bit: a cut anywhere would show.
EVIDENCE = Upload("kvittering.txt", b"Fake receipt line, nothing real.\n" * 6000)
DAMAGED_EN = "This file is damaged"
DAMAGED_DA = "Filen er beskadiget"


def stored_path(app: Flask, session: Session) -> Path:
    session.expire_all()
    name = session.scalars(select(Attachment.storage_name)).one()
    return FileStore(runtime(app).settings.file_store).path(name)


def edit_the_size_column(session: Session, size: int) -> None:
    """What someone with write access to the database alone can do."""
    session.execute(update(Attachment).values(size=size))
    session.commit()


def damage_the_header(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def reporter(app: Flask, unit: Unit) -> Reporter:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(files=[EVIDENCE]))
    reporter.confirm_written_down()
    return reporter


def reporter_download(reporter: Reporter, language: str = "en") -> TestResponse:
    (link,) = file_links(reporter.mailbox()).values()
    reporter.headers = {"Accept-Language": language}
    return reporter.get(link)


def handler_download(
    app: Flask, clock: FixedClock, unit: Unit, session: Session, language: str = "en"
) -> TestResponse:
    worker = signed_in(hanne(app, clock, unit))
    page = worker.open_case(newest_case(session).reference)
    (link,) = staff_file_links(page).values()
    return worker.get(link, headers={"Accept-Language": language})


def whole(download: TestResponse) -> bytes:
    """What a browser keeps: no more than the Content-Length it was promised (gunicorn and
    proxies also stop there)."""
    assert download.status_code == 200
    length = int(download.headers["Content-Length"])
    return download.get_data()[:length]


# --- the length comes from the ciphertext ------------------------------------------------------


@pytest.mark.parametrize("edited", [10, 0, len(EVIDENCE.data) + 5000])
def test_an_edited_size_column_neither_cuts_nor_pads_a_download(
    app: Flask, clock: FixedClock, unit: Unit, session: Session, reporter: Reporter, edited: int
) -> None:
    edit_the_size_column(session, edited)

    for download in (reporter_download(reporter), handler_download(app, clock, unit, session)):
        assert download.headers["Content-Length"] == str(len(EVIDENCE.data))
        assert whole(download) == EVIDENCE.data
        assert download.headers["Content-Disposition"].startswith("attachment;")
    assert session.scalar(select(Attachment.size)) == edited, "listings keep the column"


def test_counsels_case_file_downloads_at_its_stored_length(
    app: Flask, clock: FixedClock, unit: Unit, session: Session, reporter: Reporter
) -> None:
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
    stored = FileStore(runtime(app).settings.file_store).path(made.storage_name).read_bytes()
    session.execute(update(CaseExport).values(size=100))
    session.commit()

    reader = signed_in(CaseWorker(app, clock, conny, slug=unit.org.slug))
    bundle = reader.get(f"/staff/{unit.org.slug}/counsel/{made.id}/bundle")

    assert bundle.headers["Content-Length"] == str(len(stored))
    assert whole(bundle) == stored


# --- a damaged header is found before the response starts --------------------------------------

# The magic, the segment size, the nonce prefix, the wrapped file key and its tag.
HEADER_OFFSETS = [0, 6, 9, 30, 70]


@pytest.mark.parametrize("offset", HEADER_OFFSETS)
def test_a_reporter_meets_a_clear_page_for_a_damaged_file(
    app: Flask, session: Session, reporter: Reporter, offset: int
) -> None:
    damage_the_header(stored_path(app, session), offset)

    download = reporter_download(reporter)

    assert download.status_code == 500
    assert "Content-Disposition" not in download.headers, "no download was started"
    assert DAMAGED_EN in text_of(download)
    assert "Traceback" not in download.get_data(as_text=True)
    assert DAMAGED_DA in text_of(reporter_download(reporter, "da"))
    assert reporter.mailbox().status_code == 200, "the rest of the case is unaffected"


@pytest.mark.parametrize("offset", HEADER_OFFSETS)
def test_a_handler_meets_a_clear_page_for_a_damaged_file(
    app: Flask,
    clock: FixedClock,
    unit: Unit,
    session: Session,
    reporter: Reporter,
    offset: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    damage_the_header(stored_path(app, session), offset)

    download = handler_download(app, clock, unit, session)

    assert download.status_code == 500
    assert "Content-Disposition" not in download.headers
    assert DAMAGED_EN in text_of(download)
    attachment_id = session.scalar(select(Attachment.id))
    assert f"attachment {attachment_id} could not be opened" in caplog.text
    assert EVIDENCE.name not in caplog.text
    assert DAMAGED_DA in text_of(handler_download(app, clock, unit, session, "da"))


def test_a_file_of_the_wrong_length_is_damaged_too(
    app: Flask, clock: FixedClock, unit: Unit, session: Session, reporter: Reporter
) -> None:
    path = stored_path(app, session)
    # Cut after two whole segments and 7 bytes: no stream ends in a segment shorter than a tag.
    path.write_bytes(path.read_bytes()[: 74 + 2 * (65536 + 16) + 7])

    assert DAMAGED_EN in text_of(reporter_download(reporter))
    assert DAMAGED_EN in text_of(handler_download(app, clock, unit, session))


def test_no_case_file_is_made_with_a_damaged_file(
    app: Flask, clock: FixedClock, unit: Unit, session: Session, reporter: Reporter
) -> None:
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
    damage_the_header(stored_path(app, session), 30)
    store = FileStore(runtime(app).settings.file_store)
    files_before = sorted(store.names())

    worker = signed_in(hanne(app, clock, unit))
    refused = worker.case_action(
        newest_case(session).reference, "export", {"export-counsel": str(conny.user.id)}
    )

    assert refused.status_code == 400
    assert "A file of this case is damaged" in text_of(refused)
    assert session.scalar(select(func.count()).select_from(CaseExport)) == 0
    assert sorted(store.names()) == files_before, "no half-written case file is left"
