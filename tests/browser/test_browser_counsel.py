"""Legal counsel reads a case file in a real browser, in Danish and in English (issue 16):
the list of case files, a case (report, conversation, notes, documents, chronology,
verification), a document downloaded, and the PDF downloaded, its text extracted and checked.

Screenshots at 1,280 px go to ``test-output/browser/counsel-<language>-<database>/`` with axe's
check of each page (tests/browser/evidence.py); the PDF's first pages are drawn to PNG there
too when ``pdftoppm`` (poppler-utils) is installed, for a person to look at.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess  # nosec B404 # pdftoppm, a fixed program, in a test only
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, heading, shows, text_of, type_into  # noqa: E402
from tests.steps.counsel import EVIDENCE, NAME, NOTE, REPORT, counsel, exported_case  # noqa: E402
from tests.steps.factories import TEST_PASSWORD, Unit  # noqa: E402
from whistle.core.clock import FixedClock  # noqa: E402
from whistle.staff import totp  # noqa: E402

pytestmark = pytest.mark.browser

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")

WORDS = {
    "da": {
        "locale": "da-DK",
        "sign_in": "Log ind",
        "continue": "Fortsæt",
        "code": "Loginkode",
        "list": "Sagsmapper sendt til dig",
        "read": "Læs sag {ref}",
        "title": "Sagsmappe {ref}",
        "sections": ["Resumé", "Parter", "Dokumentfortegnelse", "Kronologi", "Verifikation"],
        "checked": "Åbnet med din nøgle og kontrolleret",
        "pdf": "Hent PDF-filen",
        "pdf_sections": ["FORTROLIGT", "Resumé", "Parter", "Kronologi", "Dokumentfortegnelse"],
        "pdf_more": ["Dialog med indberetteren", "Interne noter", "Verifikation", "Side 2/"],
    },
    "en": {
        "locale": "en-GB",
        "sign_in": "Sign in",
        "continue": "Continue",
        "code": "Sign-in code",
        "list": "Case files sent to you",
        "read": "Read case {ref}",
        "title": "Case file {ref}",
        "sections": ["Summary", "Parties", "Index of documents", "Chronology", "Verification"],
        "checked": "Opened with your key and checked",
        "pdf": "Download the PDF",
        "pdf_sections": ["CONFIDENTIAL", "Summary", "Parties", "Chronology", "Index of documents"],
        "pdf_more": ["Conversation with the reporter", "Internal notes", "Verification", "Page 2/"],
    },
}


def _click(page: Page, role: str, name: str) -> None:
    page.locator("main").get_by_role(role, name=name, exact=True).click()  # type: ignore[arg-type]
    page.wait_for_load_state()


def _pdf_pages_to_png(pdf: Path, folder: Path) -> list[Path]:
    """The PDF's first three pages as PNG (pdftoppm from poppler-utils, if installed)."""
    program = shutil.which("pdftoppm")
    if program is None:
        return []
    subprocess.run(  # nosec B603 - a fixed program and our own files
        [program, "-r", "70", "-png", "-f", "1", "-l", "3", str(pdf), str(folder / "pdf-page")],
        check=True,
        timeout=120,
    )
    return sorted(folder.glob("pdf-page-*.png"))


@pytest.mark.parametrize("language", ["da", "en"])
def test_counsel_reads_a_case_file_in_the_browser(
    language: str,
    request: pytest.FixtureRequest,
    browser: Browser,
    checker: Page,
    axe_source: str,
    live_server: str,
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    words = WORDS[language]
    ev = Evidence.for_database(request, f"counsel-{language}", language, axe_source, checker)
    ev.keep_secret(TEST_PASSWORD, REPORT, NOTE, NAME)
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, _made = exported_case(app, session, clock, unit, conny, notes=True)
    reference = case.reference

    context = browser.new_context(
        locale=str(words["locale"]), viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    visitor = Visitor(context.new_page(), scripts=True)
    page = visitor.page

    # --- sign in: password, then the authenticator's code --------------------------------------
    page.goto(f"{live_server}/staff/sign-in")
    assert heading(page) == words["sign_in"]
    page.locator("#email").fill(conny.user.email)
    type_into(page.locator("#password"), TEST_PASSWORD, "the password")
    _click(page, "button", str(words["continue"]))
    assert heading(page) == words["code"]
    assert conny.totp_secret is not None
    clock.advance(timedelta(seconds=30))
    type_into(page.locator("#code"), totp.code_at(conny.totp_secret, clock.now()), "the code")
    _click(page, "button", str(words["sign_in"]))

    # --- the list of case files ------------------------------------------------------------
    page.goto(f"{live_server}/staff/{unit.org.slug}/counsel/")
    assert heading(page) == words["list"]
    listed = text_of(page)
    if ISO_DAY.search(listed):
        pytest.fail("the list shows an ISO date", pytrace=False)
    ev.record(visitor, "counsel-list")

    # --- a case: everything in it, in the reader's language --------------------------------
    _click(page, "link", str(words["read"]).format(ref=reference))
    assert heading(page) == str(words["title"]).format(ref=reference)
    shows(page, [str(words["checked"]), *words["sections"]], "the case file's sections")
    shows(page, [REPORT, NOTE, EVIDENCE.name], "the report, the note and the document")
    shown = text_of(page)
    if NAME in shown:
        pytest.fail("the reporter's name is shown without a disclosure", pytrace=False)
    for code in ("True", "False", "case.received", "acknowledge_due"):
        if code in shown:
            pytest.fail(f"the case page shows the code {code!r}", pytrace=False)
    if ISO_DAY.search(shown):
        pytest.fail("the case page shows an ISO date", pytrace=False)
    ev.record(visitor, "counsel-case")

    # --- a document, downloaded as the reporter sent it ------------------------------------
    with page.expect_download() as document:
        page.locator("main table").get_by_role("link", name=EVIDENCE.name, exact=True).click()
    if Path(document.value.path()).read_bytes() != EVIDENCE.data:
        pytest.fail("the downloaded document differs from the one sent", pytrace=False)
    assert document.value.suggested_filename == EVIDENCE.name

    # --- the PDF: a case file in the organisation's language (Danish) ------------------------
    with page.expect_download() as download:
        _click(page, "link", str(words["pdf"]))
    pdf_path = ev.folder / "case-file.pdf"
    download.value.save_as(pdf_path)
    reader = PdfReader(io.BytesIO(pdf_path.read_bytes()))
    text = " ".join(p.extract_text() for p in reader.pages)
    cover = reader.pages[0].extract_text()
    if reference not in cover or unit.org.name not in cover or "Conny Counsel" not in cover:
        pytest.fail("the PDF's cover lacks the reference, organisation or counsel", pytrace=False)
    pdf_words = WORDS["da"]  # the organisation's language, whatever the reader's
    for word in [*pdf_words["pdf_sections"], *pdf_words["pdf_more"]]:
        if word not in text:
            pytest.fail(f"the PDF lacks {word!r}", pytrace=False)
    for code in ("True", "False", "None", "substantiated:"):
        if code in text:
            pytest.fail(f"the PDF shows the code {code!r}", pytrace=False)
    if ISO_DAY.search(text):
        pytest.fail("the PDF shows an ISO date", pytrace=False)
    if NAME in text:
        pytest.fail("the PDF shows the reporter's name without a disclosure", pytrace=False)
    # Kept beside the screenshots (test-output/ is not committed), with its first pages as PNG.
    _pdf_pages_to_png(pdf_path, ev.folder)
    context.close()
    ev.assert_accessible()
