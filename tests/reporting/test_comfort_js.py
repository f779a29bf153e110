"""JavaScript on the reporter's side only adds comfort, from a file, with the page's texts."""

from __future__ import annotations

import re

from flask import Flask

from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter


def test_the_report_form_and_mailbox_load_the_comfort_script_with_translated_texts(
    app: Flask, unit: Unit
) -> None:
    reporter = Reporter(app, unit.org.slug)
    reporter.headers = {"Accept-Language": "da"}
    form = reporter.get(f"/o/{unit.org.slug}/report").get_data(as_text=True)
    assert '<script src="/static/reporter.js"></script>' in form
    assert 'data-counter="{used} af {max} tegn"' in form
    assert 'data-sending="Sender, vent venligst: {percent}"' in form
    # No inline script anywhere: the CSP (script-src 'self') would block it.
    assert not re.search(r"<script(?![^>]*\bsrc=)", form)

    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox().get_data(as_text=True)
    assert "data-comfort" in mailbox and "/static/reporter.js" in mailbox

    script = reporter.get("/static/reporter.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    body = script.get_data(as_text=True)
    # The texts come from the page; the script itself carries no words a person reads.
    assert "data-counter" in body and "data-sending" in body
    assert "please wait" not in body.lower()
