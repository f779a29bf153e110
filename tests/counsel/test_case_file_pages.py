"""Counsel reads a case file in the browser (issue 16): the bundle opened on the server with
counsel's key and checked as ``whistle export open`` checks it; the page, every document and
the PDF come from it; only the counsel it was made for gets in; everything is audited; a
changed bundle shows nothing (whistle/counsel/case_reader.py, whistle/counsel/views.py)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.counsel import EVIDENCE, NOTE, REPORT, counsel, exported_case, opened
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.staff import CaseWorker
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, Case, CaseExport
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import case_reader

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _reader(app: Flask, clock: FixedClock, unit: Unit, staff: object) -> CaseWorker:
    worker = CaseWorker(app, clock, staff, slug=unit.org.slug)  # type: ignore[arg-type]
    assert worker.sign_in().status_code == 303
    return worker


def _whole(response: object) -> bytes:
    return b"".join(response.response)  # type: ignore[attr-defined]


def _downloads(session: Session) -> list[dict[str, object]]:
    """What counsel read ("export.read") or downloaded, each detail with its action."""
    session.expire_all()
    return [
        {
            "action": e.action,
            **(json.loads(e.detail) if isinstance(e.detail, str) else (e.detail or {})),
        }
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(("export.read", "export.downloaded")))
            .order_by(AuditEntry.id)
        )
    ]


@pytest.mark.parametrize("language", ["en", "da"])
def test_counsel_reads_the_report_the_conversation_the_notes_and_every_document(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, language: str
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, made = exported_case(app, session, clock, unit, conny, notes=True)
    reader = _reader(app, clock, unit, conny)
    base = f"/staff/{unit.org.slug}/counsel"
    headers = {"Accept-Language": language}

    listing = reader.get(f"{base}/", headers=headers)
    assert listing.status_code == 200
    listed = text_of(listing)
    assert case.reference in listed
    assert not ISO_DAY.search(listed), "the list writes its dates out"

    page = reader.get(f"{base}/{made.id}", headers=headers)
    assert page.status_code == 200
    shown = text_of(page)
    for expected in (REPORT, NOTE, EVIDENCE.name, case.reference):
        assert expected in shown
    words = {
        "en": ("Summary", "Chronology", "Parties", "Index of documents", "Verification"),
        "da": ("Resumé", "Kronologi", "Parter", "Dokumentfortegnelse", "Verifikation"),
    }[language]
    for word in words:
        assert word in shown, word
    assert not ISO_DAY.search(shown), "no ISO dates in the page"
    for code in ("True", "False", "substantiated:", "acknowledge_due", "case.received"):
        assert code not in shown, code

    download = reader.get(f"{base}/{made.id}/files/1")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert _whole(download) == EVIDENCE.data
    assert reader.get(f"{base}/{made.id}/files/2").status_code == 404
    assert reader.get(f"{base}/{made.id}/files/0").status_code == 404

    pdf = reader.get(f"{base}/{made.id}/case.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    # The very PDF inside the bundle, as `whistle export open` unpacks it.
    assert _whole(pdf) == opened(app, made, conny).read("case.pdf")

    # Every read and download is audited; a document by its number, never its name.
    # Reading the page is recorded as read, not downloaded.
    parts = [
        (d["action"], d.get("export"), d.get("part"), d.get("file")) for d in _downloads(session)
    ]
    assert parts == [
        ("export.read", made.id, "case", None),
        ("export.downloaded", made.id, "file", 1),
        ("export.downloaded", made.id, "pdf", None),
    ]
    assert EVIDENCE.name not in repr(_downloads(session))


def test_only_the_counsel_it_was_made_for_reads_it(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    other = counsel(app, session, clock, unit, "Otto Other-Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    stranger = _reader(app, clock, unit, other)
    base = f"/staff/{unit.org.slug}/counsel/{made.id}"
    for path in ("", "/case.pdf", "/files/1", "/bundle"):
        response = stranger.get(base + path)
        assert response.status_code == 404, path
        assert REPORT not in response.get_data(as_text=True)
    assert made.case_reference not in text_of(stranger.get(f"/staff/{unit.org.slug}/counsel/"))
    assert _downloads(session) == []


@pytest.mark.parametrize("where", ["header", "archive"])
def test_a_changed_case_file_shows_nothing(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, where: str
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=True)
    stored = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    data = bytearray(stored.read_bytes())
    data[40 if where == "header" else len(data) - 100] ^= 0x01
    stored.write_bytes(bytes(data))
    reader = _reader(app, clock, unit, conny)
    base = f"/staff/{unit.org.slug}/counsel/{made.id}"
    for path in ("", "/case.pdf", "/files/1"):
        response = reader.get(base + path, headers={"Accept-Language": "en"})
        assert response.status_code == 500, path
        body = response.get_data(as_text=True)
        assert "did not pass its checks" in body, path
        assert REPORT not in body and NOTE not in body
    assert _downloads(session) == [], "nothing was read"


def test_a_case_file_larger_than_the_window_is_read_in_passes(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a window of the decrypted archive is held: reading before it decrypts again from
    the start, and what comes out is still every byte of every part."""
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=True)
    starts: list[int] = []
    real = case_reader._Replay._restart

    def counted(self: case_reader._Replay) -> None:
        starts.append(1)
        real(self)

    monkeypatch.setattr(case_reader, "WINDOW", 4096)
    monkeypatch.setattr(case_reader._Replay, "_restart", counted)
    path: Path = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    assert conny.private_key is not None
    with app.app_context():
        keys = case_reader.organisation_keys(session, unit.org.id)
    found = case_reader.open_case_file(path, made, conny.private_key, slug=unit.org.slug, keys=keys)
    try:
        assert found.document["report"]["what"] == REPORT
        first = found.document["report_files"][0]["path"]
        assert b"".join(found.stream(first)) == EVIDENCE.data
    finally:
        found.close()
    assert len(starts) >= 2, "the small window made it decrypt again"


def test_a_case_file_of_another_organisation_or_key_is_refused(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    from crypto import SigningKey

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    path = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    assert conny.private_key is not None
    with app.app_context():
        keys = case_reader.organisation_keys(session, unit.org.id)
    with pytest.raises(case_reader.BundleError, match="another organisation"):
        case_reader.open_case_file(path, made, conny.private_key, slug="andetfirma", keys=keys)
    stranger = SigningKey.generate().verify_key()
    with pytest.raises(case_reader.BundleError, match="not signed by the organisation"):
        case_reader.open_case_file(
            path, made, conny.private_key, slug=unit.org.slug, keys=[stranger]
        )
    other = session.scalars(select(CaseExport).where(CaseExport.id != made.id)).first()
    assert other is None
    made.uid = "00000000-0000-4000-8000-000000000016"
    with pytest.raises(case_reader.BundleError, match="another export"):
        case_reader.open_case_file(path, made, conny.private_key, slug=unit.org.slug, keys=keys)
    session.rollback()


def test_the_pdf_inside_the_bundle_is_a_case_file_in_the_organisations_language(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, made = exported_case(app, session, clock, unit, conny, notes=True)
    pdf = PdfReader(io.BytesIO(opened(app, made, conny).read("case.pdf")))
    cover = pdf.pages[0].extract_text()
    assert unit.org.name in cover and case.reference in cover
    assert "Conny Counsel" in cover and "FORTROLIGT" in cover
    text = " ".join(page.extract_text() for page in pdf.pages)
    for section in ("Resumé", "Parter", "Kronologi", "Dokumentfortegnelse", "Indberetningen"):
        assert section in text, section
    assert "Interne noter" in text and "Verifikation" in text
    assert REPORT.split(":")[0] in text and EVIDENCE.name in text
    assert not ISO_DAY.search(text), "dates are written out"
    for code in ("True", "False", "substantiated:", "None"):
        assert code not in text, code


def test_a_document_sent_in_the_conversation_downloads_by_its_number(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    """The documents are numbered as in the archive: the report's first, then the
    conversation's; each downloads as it was sent."""
    from tests.steps.reporter import ReportAnswers, Reporter, Upload

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    Reporter(app, unit.org.slug).report(ReportAnswers(what=REPORT, files=[EVIDENCE]))
    session.expire_all()
    reference = session.scalars(select(Case.reference)).one()
    hanne = _reader(app, clock, unit, unit.handlers[0])
    photo = Upload("fake-floor-plan.txt", b"Fake floor plan of the warehouse.\n" * 50)
    sent = hanne.case_action(
        reference,
        "message",
        {"msg-body": "Fake message with a plan.", "msg-attachments": [photo.as_form_value()]},
    )
    assert sent.status_code == 303
    exported = hanne.case_action(reference, "export", {"export-counsel": str(conny.user.id)})
    assert exported.status_code == 303
    made = session.scalars(select(CaseExport)).one()

    reader = _reader(app, clock, unit, conny)
    base = f"/staff/{unit.org.slug}/counsel/{made.id}"
    shown = text_of(reader.get(base, headers={"Accept-Language": "en"}))
    assert f"Document 2: {photo.name}" in shown
    assert _whole(reader.get(f"{base}/files/1")) == EVIDENCE.data
    second = reader.get(f"{base}/files/2")
    assert _whole(second) == photo.data
    assert "fake-floor-plan.txt" in second.headers["Content-Disposition"]
