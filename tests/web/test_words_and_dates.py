"""What a person reads on every page, in Danish and English: dates in words in the reader's
language (never ISO in running text, never the US order), and labels, never the internal codes
or JSON behind them.

The world of the security suite (tests/steps/authorisation.py, security_world.py) has a case
with a meeting, minutes, a disclosure, a data-subject request, people concerned and an export;
every page each role may open is read. The case page and the counsel pages have tests of their
own (tests/cases, tests/counsel).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.authorisation import ADMIN, AUDITOR, HANDLER, LEAD, build_world
from tests.steps.pages import text_of
from tests.steps.security_world import REPORTER, Visitors, add_visitors, pages_for
from whistle.core.clock import FixedClock

ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
US_DAY = re.compile(
    rf"\b(?:{MONTHS}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.? \d{{1,2}}, \d{{4}}"
)
# Internal codes: snake_case identifiers ("final_outcome", "not_substantiated"), a retention
# rule ("substantiated:date"), a relation code as the form stores it, and JSON.
CODE = re.compile(
    r"\b[a-z]+_[a-z_]+\b|\b[a-z_]+:(?:date|\d+[dm])\b|Tilknytning[^.]*: employee|\{\"|\"\}"
)
# Not the case page or counsel's pages (their own engineers' tests), and no downloads but the
# data subject's access export.
OTHERS = ("/cases", "/counsel")
# Pages under a case that belong to other packages (meetings, notices, disclosure): ours.
SUBPAGES = ("/persons/", "/meetings/", "/disclosure/")
READERS = (HANDLER, LEAD, ADMIN, AUDITOR)


@pytest.fixture
def visitors(app: Flask, session: Session, clock: FixedClock) -> Visitors:
    return add_visitors(app, session, clock, build_world(app, session, clock))


def _ours(path: str) -> bool:
    return not any(part in path for part in OTHERS) or any(part in path for part in SUBPAGES)


def _read(visitors: Visitors, role: str, path: str, language: str) -> str | None:
    page = visitors.browsers[role].client.get(path, headers={"Accept-Language": language})
    if page.status_code != 200:
        return None
    if page.mimetype == "text/plain" and path.endswith("/export.txt"):
        return page.get_data(as_text=True)  # the access export: a person reads it
    if page.mimetype != "text/html":
        return None
    return text_of(page)


def _problems(text: str) -> list[str]:
    return [
        *(f"ISO date {m}" for m in ISO_DAY.findall(text)),
        *(f"US date {m}" for m in US_DAY.findall(text)),
        *(f"code {m}" for m in CODE.findall(text)),
    ]


@pytest.mark.parametrize("language", ["da", "en"])
def test_every_page_shows_days_in_words_and_labels_not_codes(
    app: Flask, visitors: Visitors, language: str
) -> None:
    seen: dict[str, list[str]] = {}
    read = 0
    exports = 0
    for role in READERS:
        paths = [p for p in pages_for(app, role, visitors.values) if _ours(p)]
        for path in [*paths, *(p for p in visitors.extra_pages if _ours(p))]:
            text = _read(visitors, role, path, language)
            if text is None:
                continue
            read += 1
            exports += path.endswith("/export.txt")
            found = _problems(text)
            if found:
                seen[f"{role} {path}"] = found
    mailbox = _read(visitors, REPORTER, f"/o/{visitors.values['slug']}/case/", language)
    assert mailbox is not None
    read += 1
    if _problems(mailbox):
        seen["reporter mailbox"] = _problems(mailbox)
    assert read > 40 and exports > 0  # the pages were read, not skipped
    assert seen == {}


def test_the_audit_log_reads_its_details_as_words(app: Flask, visitors: Visitors) -> None:
    audit = f"/staff/{visitors.values['slug']}/audit"
    english = _read(visitors, AUDITOR, audit, "en")
    danish = _read(visitors, AUDITOR, audit, "da")
    assert english is not None and danish is not None
    # A person given access reads her name and role, not a number and "handler".
    assert "Roles: Case handler" in english
    assert "Roller: Sagsbehandler" in danish
    assert "Reason: stepped aside" in english
    assert "Begrundelse: trådte til side" in danish
    assert '{"' not in english and '{"' not in danish
