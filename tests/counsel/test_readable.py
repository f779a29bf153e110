"""The case file as a person reads it (issue 16; whistle/counsel/readable.py): every value in
words and every date written out, in Danish and in English, never a code, an ISO date or a
bare True/False; and the PDF drawn from it (whistle/pdf/render.py), its text checked."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader

from whistle.counsel.case_pdf import case_pdf
from whistle.counsel.readable import readable

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")
KEY_HEX = "ab12" * 19
EXPORT_ID = "0b6c0000-0000-4000-8000-000000000016"

DOCUMENT: dict[str, Any] = {
    "format": "whistle-export",
    "version": 1,
    "exported_on": "2026-11-23",
    "organisation": {"name": "Testfirma ApS", "slug": "testfirma"},
    "case": {
        "reference": "2026-0042",
        "received_on": "2026-03-02",
        "category": {"code": "fake", "label_da": "Økonomisk kriminalitet", "label_en": "Fraud"},
        "channel": "web",
        "anonymous": False,
        "status": "closed",
        "scope": "in_scope",
        "hearing": "held",
        "outcome": "substantiated",
        "acknowledge_due": "2026-03-09",
        "acknowledged_on": "2026-03-04",
        "feedback_due": "2026-06-02",
        "feedback_on": "2026-06-08",
        "closed_on": "2026-06-08",
        "delete_on": "2026-09-08",
        "retention_rule": "substantiated:date",
        "legal_hold_since": None,
    },
    "report": {
        "relation": "employee",
        "what": "Fake report: pallets leave the warehouse at night.",
        "when_where": "Fake: March, warehouse 2",
        "who": "Per Persson (fake)",
        "how_known": "Fake: saw it",
        "meeting_requested": True,
    },
    "report_files": [
        {
            "path": "files/001-stock.txt",
            "name": "stock æøå.txt",
            "size": 93000,
            "author": "reporter",
            "metadata_outcome": None,
        }
    ],
    "conversation": [
        {
            "id": 1,
            "author": "handler",
            "kind": "acknowledgement",
            "sent_on": "2026-03-04",
            "body": "Fake: we received your report.",
            "files": [],
        },
        {
            "id": 2,
            "author": "reporter",
            "kind": "message",
            "sent_on": "2026-03-05",
            "body": "Fake: here is a photo.",
            "files": [
                {
                    "path": "files/002-photo.jpg",
                    "name": "photo.jpg",
                    "size": 2_400_000,
                    "author": "reporter",
                    "metadata_outcome": None,
                }
            ],
        },
    ],
    "notes": [
        {
            "id": 1,
            "kind": "note",
            "author": "Hanne Handler",
            "created_on": "2026-03-06",
            "body": "Fake note: check the camera.",
        }
    ],
    "timeline": [
        {"at": "2026-03-02T00:00:00", "action": "case.received", "by": ""},
        {"at": "2026-03-03T10:00:00", "action": "case.opened", "by": "Hanne Handler"},
        {"at": "2026-03-03T10:05:00", "action": "case.opened", "by": "Hanne Handler"},
        {"at": "2026-03-03T11:05:00", "action": "case.opened", "by": "Hanne Handler"},
        {"at": "2026-03-04T10:05:00", "action": "case.acknowledged", "by": "Hanne Handler"},
        {"at": "2026-06-08T10:05:00", "action": "case.closed", "by": "Hanne Handler"},
    ],
    "identity": None,
    "left_out": {"restricted": 0, "purged": 1},
}


def _readable(app: Flask, document: dict[str, Any], locale: str) -> dict[str, Any]:
    with app.test_request_context():
        return readable(
            document,
            locale,
            prepared_for="Conny Counsel",
            export_id=EXPORT_ID,
            verify_key_hex=KEY_HEX,
            fingerprint="ABCD-EFGH-1234-5678-ABCD-EFGH",
        )


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _rows(rows: list[list[str]]) -> dict[str, str]:
    return {row[0]: row[1] for row in rows}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            {
                "Received": "2 March 2026",
                "Category": "Fraud",
                "Reporting channel": "Online reporting channel",
                "Status": "Closed",
                "Outcome": "Substantiated",
                "Hearing": "The person concerned has been heard",
                "Acknowledgement of receipt (7 days)": (
                    "Given 4 March 2026, within the deadline (9 March 2026)"
                ),
                "Feedback to the reporter (3 months)": (
                    "Given 8 June 2026, 6 days after the deadline (2 June 2026)"
                ),
                "To be deleted on": "8 September 2026",
            },
        ),
        (
            "da",
            {
                "Modtaget": "2. marts 2026",
                "Kategori": "Økonomisk kriminalitet",
                "Status": "Afsluttet",
                "Kvittering for modtagelse (7 dage)": (
                    "Givet 4. marts 2026, inden for fristen (9. marts 2026)"
                ),
                "Feedback til indberetteren (3 måneder)": (
                    "Givet 8. juni 2026, 6 dage efter fristen (2. juni 2026)"
                ),
            },
        ),
    ],
)
def test_the_summary_says_everything_in_words(
    app: Flask, locale: str, expected: dict[str, str]
) -> None:
    made = _readable(app, DOCUMENT, locale)
    summary = _rows(made["summary"])
    for label, value in expected.items():
        assert summary.get(label) == value, label
    every = list(_strings({k: v for k, v in made.items() if k != "verification"}))
    every = [s for s in every if s not in (EXPORT_ID,)]
    for text in every:
        assert not ISO_DAY.search(text), text
        for code in ("True", "False", "None", "substantiated:", "in_scope", "case.", "_"):
            assert code not in text, (code, text)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_chronology_parties_and_documents_read_like_a_case_file(app: Flask) -> None:
    made = _readable(app, DOCUMENT, "en")
    assert [row[1:] for row in made["chronology"]] == [
        ["Report received", ""],
        ["Case opened (3 times)", "Hanne Handler"],
        ["Receipt acknowledged", "Hanne Handler"],
        ["Case closed", "Hanne Handler"],
    ]
    assert made["chronology"][1][0] == "3 March 2026, 10:00"
    # The reporter's acts are logged by the day only: no made-up midnight.
    assert made["chronology"][0][0] == "2 March 2026"
    parties = _rows(made["parties"])
    assert parties["Reporter"].startswith("Known to the whistleblower unit; the identity is not")
    assert "Relation to the organisation: Employee" in parties["Reporter"]
    assert parties["Whistleblower unit"] == "Hanne Handler"
    assert parties["Prepared for (legal counsel)"] == "Conny Counsel"
    assert made["documents"] == [
        {"number": 1, "name": "stock æøå.txt", "size": "93 kB", "origin": "Sent with the report"},
        {
            "number": 2,
            "name": "photo.jpg",
            "size": "2.4 MB",
            "origin": "Reporter, message of 5 March 2026",
        },
    ]
    assert _rows(made["report"])["Meeting"] == "The reporter asked for a meeting"
    assert made["conversation"][1]["files"] == [{"number": 2, "text": "Document 2: photo.jpg"}]
    # The signing key in groups, which `whistle export verify --signing-key` reads back.
    shown_key = _rows(made["verification"]["rows"])["Signing key"]
    assert " " in shown_key and bytes.fromhex(shown_key) == bytes.fromhex(KEY_HEX)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_reporters_identity_shows_only_when_disclosed(app: Flask) -> None:
    anonymous = copy.deepcopy(DOCUMENT)
    anonymous["case"]["anonymous"] = True
    assert _rows(_readable(app, anonymous, "en")["parties"])["Reporter"].startswith("Anonymous")
    disclosed = copy.deepcopy(DOCUMENT)
    disclosed["identity"] = {
        "name": "Rikke Testesen",
        "contact": "rikke@example.org",
        "disclosure": {"ground": "consent", "notice": "consent"},
    }
    reporter = _rows(_readable(app, disclosed, "da")["parties"])["Indberetter"]
    assert reporter.startswith("Rikke Testesen, rikke@example.org: videregivet")
    assert "Rikke" not in repr(_readable(app, DOCUMENT, "da"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "en",
            [
                "CONFIDENTIAL",
                "1. Summary",
                "2. Parties",
                "3. Chronology",
                "4. Index of documents",
                "5. The report",
                "6. Conversation with the reporter",
                "7. Internal notes",
                "8. Verification",
                "Page 2/",
                "Given 8 June 2026, 6 days after the deadline",
            ],
        ),
        (
            "da",
            [
                "FORTROLIGT",
                "1. Resumé",
                "2. Parter",
                "3. Kronologi",
                "4. Dokumentfortegnelse",
                "5. Indberetningen",
                "6. Dialog med indberetteren",
                "7. Interne noter",
                "8. Verifikation",
                "Side 2/",
                "Givet 8. juni 2026, 6 dage efter fristen",
            ],
        ),
    ],
)
def test_the_pdf_is_a_case_file_with_cover_sections_and_labels(
    app: Flask, locale: str, words: list[str]
) -> None:
    pdf = PdfReader(io.BytesIO(case_pdf(_readable(app, DOCUMENT, locale))))
    cover = pdf.pages[0].extract_text()
    for expected in ("Testfirma ApS", "2026-0042", "Conny Counsel", words[0]):
        assert expected in cover, expected
    assert "Summary" not in cover and "Resumé" not in cover, "the cover is a page of its own"
    text = " ".join(page.extract_text() for page in pdf.pages)
    flat = " ".join(text.split())
    for expected in words:
        assert expected in flat, expected
    assert "stock æøå.txt" in flat and "Fake note: check the camera." in flat
    assert not ISO_DAY.search(flat)
    for code in ("True", "False", "None", "substantiated:", "acknowledge_due", "case.opened"):
        assert code not in flat, code
