"""Upload abuse: every trick gets a clear error in the person's language and stores nothing.

The tricks: a file over the limit, an empty file, a name longer than any file system allows,
folder and control characters in the name (``../``, ``\\``, NUL), a program named like a
document (``invoice.pdf.exe``), a decompression bomb (a tiny PNG that declares 50,000 x
50,000 pixels) and a PDF of more pages than the budget allows; and, below, files that take
the form over its shared pixel budget, a file that runs the upload helper out of time, and
one file more than the default allows. Each is sent through the real forms (a new report,
the reporter's reply, a handler's message, the admin's logo) in English and in Danish.
Afterwards there is no case, no message, no attachment row and no file in the store, and the
page names the file and what is wrong with it, never a server error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

import pytest
from flask import Flask
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.staff import CaseWorker, form_token
from tests.steps.upload_files import BIG_PDF_PAGES, pdf_of_pages, png, png_declaring
from whistle.casefile import sandbox
from whistle.casefile.file_budget import DEFAULT_BUDGET
from whistle.core.clock import FixedClock
from whistle.core.models import Attachment, Case, Message, OrgSetting
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.web import uploads

BOMB = png_declaring(50_000, 50_000)
# One page more than the default budget (whistle/casefile/file_budget.py): ~300 KB.
TOO_MANY_PAGES = pdf_of_pages(DEFAULT_BUDGET.pdf_pages + 1)
TOO_MUCH_INSIDE = (
    "“%(name)s” holds too much to be checked for hidden information (too many pages, or too "
    "large once unpacked). Split it into smaller files, or pack it into a zip archive: an "
    "archive is kept as it is, hidden information included."
)
NAME_REFUSED = (
    "“%(name)s” has a file name that is not accepted: too long, with folder or control "
    "characters, or a program named like a document. Rename the file and choose it again."
)


@dataclass(frozen=True)
class Abuse:
    upload: Upload
    shown: str  # the name the page shows (made harmless)
    message: str  # the msgid of the explanation
    values: tuple[tuple[str, object], ...] = ()


ABUSES = {
    "oversize": Abuse(
        Upload("huge.txt", b"x" * (1024 * 1024 + 1)),
        "huge.txt",
        "“%(name)s” was not accepted: it is larger than %(mb)d MB, the most one file may be. "
        "Leave it out, or send a smaller version of it (split or compressed).",
        (("mb", 1),),
    ),
    "empty": Abuse(Upload("empty.pdf", b""), "empty.pdf", "“%(name)s” is empty."),
    "huge name": Abuse(Upload("n" * 5000 + ".pdf", b"Fake evidence"), "n" * 200, NAME_REFUSED),
    "dot-dot slash": Abuse(Upload("../../etc/passwd", b"Fake evidence"), "passwd", NAME_REFUSED),
    # Escaped as the multipart header quotes it; the server reads ..\..\windows\win.ini.
    "backslash": Abuse(
        Upload("..\\\\..\\\\windows\\\\win.ini", b"Fake evidence"), "win.ini", NAME_REFUSED
    ),
    "NUL": Abuse(Upload("evidence\x00.txt.sh", b"Fake evidence"), "evidence.txt.sh", NAME_REFUSED),
    "double extension": Abuse(
        Upload("invoice.pdf.exe", b"MZ fake program"), "invoice.pdf.exe", NAME_REFUSED
    ),
    "decompression bomb": Abuse(
        Upload("holiday.png", BOMB),
        "holiday.png",
        "“%(name)s” cannot be processed safely (for example an image with an extreme size). "
        "Leave it out, or send a smaller version of it.",
    ),
    "too many pages": Abuse(Upload("ledger.pdf", TOO_MANY_PAGES), "ledger.pdf", TOO_MUCH_INSIDE),
}
LANGUAGES = ("en", "da")
# The heading over the list of refused files, as the catalogs have it.
HEADING = {"en": "Some files could not be accepted", "da": "Nogle filer kunne ikke modtages"}


def expected_text(app: Flask, language: str, abuse: Abuse) -> str:
    """The explanation in ``language``, as the catalogs translate it."""
    with app.test_request_context(headers={"Accept-Language": language}):
        return gettext(abuse.message, name=abuse.shown, **dict(abuse.values))


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def stored_files(app: Flask) -> list[str]:
    return sorted(FileStore(runtime(app).settings.file_store).names())


@pytest.fixture
def limited(session: Session, unit: Unit) -> Unit:
    """The organisation allows 1 MB a file, so "oversize" stays cheap to send."""
    session.add(OrgSetting(org_id=unit.org.id, key="upload_max_file_mb", value="1"))
    session.commit()
    return unit


def test_the_bomb_is_tiny_and_declares_two_and_a_half_gigapixels() -> None:
    assert len(BOMB) < 100
    assert struct.unpack(">II", BOMB[16:24]) == (50_000, 50_000)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("abuse", list(ABUSES), ids=list(ABUSES))
def test_a_new_report_with_the_file_is_refused_clearly_and_nothing_is_stored(
    app: Flask, session: Session, limited: Unit, abuse: str, language: str
) -> None:
    trick = ABUSES[abuse]
    reporter = Reporter(app, limited.org.slug)
    reporter.headers = {"Accept-Language": language}
    typed = "Fake report text that must survive the refusal."
    response = reporter.send_report(
        ReportAnswers(what=typed, files=[Upload("fine.txt", b"Fake note"), trick.upload])
    )
    assert response.status_code == 200
    page = text_of(response)
    assert HEADING[language] in page
    assert expected_text(app, language, trick) in page
    assert typed in page, "what the reporter typed was lost"
    assert "Traceback" not in page
    assert count(session, Case) == 0
    assert count(session, Attachment) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize("abuse", list(ABUSES), ids=list(ABUSES))
def test_a_reply_with_the_file_is_refused_clearly_and_nothing_is_stored(
    app: Flask, session: Session, limited: Unit, abuse: str
) -> None:
    trick = ABUSES[abuse]
    reporter = Reporter(app, limited.org.slug)
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.headers = {"Accept-Language": "da"}
    response = reporter.reply("Fake answer that must survive.", [trick.upload])
    assert response.status_code == 200
    page = text_of(response)
    assert expected_text(app, "da", trick) in page
    assert "Fake answer that must survive." in page
    assert count(session, Message) == 0
    assert count(session, Attachment) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize("abuse", list(ABUSES), ids=list(ABUSES))
def test_a_handler_message_with_the_file_is_refused_and_nothing_is_stored(
    app: Flask, session: Session, limited: Unit, clock: FixedClock, abuse: str
) -> None:
    trick = ABUSES[abuse]
    Reporter(app, limited.org.slug).report(ReportAnswers())
    handler = CaseWorker(app, clock, limited.handlers[0], slug=limited.org.slug)
    assert handler.sign_in().status_code == 303
    reference = session.scalars(select(Case.reference)).one()
    messages_before = count(session, Message)
    response = handler.case_action(
        reference,
        "message",
        {"msg-body": "Fake question.", "msg-attachments": [trick.upload.as_form_value()]},
    )
    assert response.status_code in (200, 400)
    page = text_of(response)
    # The handler is told why, in the reporter's words for the same problem, and keeps the text.
    assert expected_text(app, "en", trick) in page
    assert "Fake question." in page
    assert "choose them again" not in page  # no fine file to choose again, the refused one is not
    assert count(session, Message) == messages_before
    assert count(session, Attachment) == 0
    assert stored_files(app) == []


def test_a_handler_is_told_which_fine_files_to_choose_again(
    app: Flask, session: Session, limited: Unit, clock: FixedClock
) -> None:
    """With one empty file among good ones, the handler learns what was wrong with it and which
    of the others to choose again (files are never kept), in Danish; nothing is stored."""
    Reporter(app, limited.org.slug).report(ReportAnswers())
    handler = CaseWorker(app, clock, limited.handlers[0], slug=limited.org.slug)
    handler.language = "da"
    assert handler.sign_in().status_code == 303
    reference = session.scalars(select(Case.reference)).one()
    good = Upload("minutes.txt", b"Fake minutes")
    bad = ABUSES["empty"]
    response = handler.case_action(
        reference,
        "message",
        {
            "msg-body": "Fake question kept.",
            "msg-attachments": [good.as_form_value(), bad.upload.as_form_value()],
        },
    )
    page = text_of(response)
    assert expected_text(app, "da", bad) in page
    with app.test_request_context(headers={"Accept-Language": "da"}):
        again = gettext(
            "The other files were fine; please choose them again: %(names)s.", names="minutes.txt"
        )
    assert again in page
    assert "Fake question kept." in page
    assert count(session, Attachment) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_decompression_bomb_as_the_logo_is_refused_clearly(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, language: str
) -> None:
    admin = CaseWorker(app, clock, unit.admin, slug=unit.org.slug)
    assert admin.sign_in().status_code == 303
    path = f"/staff/{unit.org.slug}/admin/profile"
    page = admin.get(path)
    name, token = form_token(page, f"{path}/logo")
    response = admin.client.post(
        f"{path}/logo",
        data={name: token, "logo": Upload("logo.png", BOMB).as_form_value()},
        headers={"Accept-Language": language},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    with app.test_request_context(headers={"Accept-Language": language}):
        expected = gettext("The image has too many pixels. Choose a smaller one.")
    assert expected in text_of(response)
    session.expire_all()
    assert session.get(OrgSetting, (unit.org.id, "logo")) is None
    assert admin.get(f"/o/{unit.org.slug}/logo.png").status_code == 404


def test_pictures_over_the_forms_shared_pixel_budget_are_refused_clearly_in_a_reply(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pixels of one form's pictures count together (here the budget is three pictures'
    worth): the fourth is refused, in Danish, with what to do; nothing is stored."""
    monkeypatch.setattr(uploads, "BUDGET", replace(DEFAULT_BUDGET, request_pixels=3 * 40 * 30))
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.headers = {"Accept-Language": "da"}
    photos = [Upload(f"photo-{n}.png", png(40, 30)) for n in range(4)]
    response = reporter.reply("Fake answer that must survive.", photos)
    assert response.status_code == 200
    page = text_of(response)
    together = Abuse(
        photos[3],
        "photo-3.png",
        "“%(name)s” was not checked: together with the other files there is more to check "
        "than one message may bring. Send it in a later message.",
    )
    assert expected_text(app, "da", together) in page
    assert "Fake answer that must survive." in page
    assert count(session, Message) == 0
    assert count(session, Attachment) == 0
    assert stored_files(app) == []


def test_a_file_that_runs_the_helper_out_of_time_is_refused_clearly_not_a_server_error(
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file that keeps the parser busy past the helper's wall-clock limit is one clear
    refusal for the handler, never a 500 or a killed worker; the message typed is kept."""
    monkeypatch.setattr(uploads, "BUDGET", replace(DEFAULT_BUDGET, pdf_pages=10**6))
    monkeypatch.setattr(uploads, "HELPER_LIMITS", replace(sandbox.DEFAULT_LIMITS, wall_seconds=1.0))
    Reporter(app, unit.org.slug).report(ReportAnswers())
    handler = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    assert handler.sign_in().status_code == 303
    reference = session.scalars(select(Case.reference)).one()
    messages_before = count(session, Message)
    big = Upload("ledger.pdf", pdf_of_pages(BIG_PDF_PAGES))
    response = handler.case_action(
        reference,
        "message",
        {"msg-body": "Fake question.", "msg-attachments": [big.as_form_value()]},
    )
    assert response.status_code in (200, 400)
    page = text_of(response)
    costly = Abuse(
        big,
        "ledger.pdf",
        "“%(name)s” took too long or too much memory to be checked for hidden information. "
        "Split it into smaller files, or pack it into a zip archive: an archive is kept as it "
        "is, hidden information included.",
    )
    assert expected_text(app, "en", costly) in page
    assert "Fake question." in page
    assert count(session, Message) == messages_before
    assert stored_files(app) == []


def test_a_report_whose_files_wait_too_long_for_the_helper_is_told_to_send_again(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another form's files hold this process's one helper past the wait, the reporter
    is told the server is busy, keeps what they wrote, and nothing is stored."""
    monkeypatch.setattr(
        uploads, "HELPER_LIMITS", replace(sandbox.DEFAULT_LIMITS, queue_seconds=0.1)
    )
    photo = Upload("photo.png", png(12, 9))
    reporter = Reporter(app, unit.org.slug)
    with sandbox._ONE_HELPER_AT_A_TIME:
        response = reporter.send_report(ReportAnswers(what="Fake report kept.", files=[photo]))
    assert response.status_code == 200
    page = text_of(response)
    busy = Abuse(
        photo,
        "photo.png",
        "“%(name)s” was not checked: the server is busy checking other files. Choose it "
        "again and send it in a minute or two.",
    )
    assert expected_text(app, "en", busy) in page
    assert "Fake report kept." in page
    assert count(session, Case) == 0
    assert stored_files(app) == []


def test_by_default_a_report_takes_twenty_files_and_not_twenty_one(
    app: Flask, session: Session, unit: Unit
) -> None:
    """The default maximum (whistle/casefile/limits.py) is 20 files a report: 21 are refused
    with the number named, 20 are taken."""
    files = [Upload(f"note-{n}.txt", b"Fake note") for n in range(21)]
    reporter = Reporter(app, unit.org.slug)
    response = reporter.send_report(ReportAnswers(what="Fake report kept.", files=files))
    assert response.status_code == 200
    page = text_of(response)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert gettext("You can send at most %(n)d files at a time.", n=20) in page
    assert "Fake report kept." in page
    assert count(session, Case) == 0

    Reporter(app, unit.org.slug).report(ReportAnswers(files=files[:20]))
    assert count(session, Case) == 1
    assert count(session, Attachment) == 20
