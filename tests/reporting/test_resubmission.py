"""The same report form sent twice (Back after sending, JavaScript off, then Send again) makes
no second case, and the page says what happened to the first one's case code (issue 16)."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import CODE_RE, ReportAnswers, Reporter
from whistle.core.models import Case

ALREADY = "Your report was already received"


def case_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Case)) or 0


def test_sending_the_form_again_before_the_code_is_confirmed_shows_the_same_code(
    app: Flask, unit: Unit, session: Session
) -> None:
    reporter = Reporter(app, unit.org.slug)
    form = reporter.fill_report(ReportAnswers())
    first = reporter.post(f"/o/{unit.org.slug}/report", dict(form))
    assert first.status_code == 303
    code_page = reporter.get(first.headers["Location"]).get_data(as_text=True)
    code = CODE_RE.search(code_page)
    assert code

    again = reporter.post(f"/o/{unit.org.slug}/report", dict(form))
    assert case_count(session) == 1, "no second case"
    assert again.status_code == 303
    shown = reporter.get(again.headers["Location"])
    assert "it was not sent a second time" in text_of(shown)
    assert code.group(1) in shown.get_data(as_text=True), "the first report's code, again"


def test_sending_the_form_again_after_the_code_was_confirmed_explains_the_code_is_gone(
    app: Flask, unit: Unit, session: Session
) -> None:
    reporter = Reporter(app, unit.org.slug)
    form = reporter.fill_report(ReportAnswers())
    assert reporter.post(f"/o/{unit.org.slug}/report", dict(form)).status_code == 303
    code = CODE_RE.search(reporter.get(f"/o/{unit.org.slug}/report/code").get_data(as_text=True))
    assert code
    reporter.confirm_written_down()
    reporter.leave()

    again = reporter.post(f"/o/{unit.org.slug}/report", dict(form))
    assert again.status_code == 409
    assert case_count(session) == 1, "no second case"
    shown = text_of(again)
    assert ALREADY in shown
    assert "was shown once, right after sending. It cannot be shown again" in shown
    assert "the code is not stored anywhere" in shown
    assert "If you did not write the case code down" in shown
    html = again.get_data(as_text=True)
    assert code.group(1) not in html
    assert re.search(rf'href="/o/{unit.org.slug}/report"', html), "a new report is one click"

    # A new report (new form, new text) is taken.
    new = ReportAnswers(what="Fake report: another matter, the gate code is on a sticky note.")
    assert reporter.send_report(new).status_code == 303
    assert case_count(session) == 2


def test_each_form_carries_its_own_token(app: Flask, unit: Unit) -> None:
    reporter = Reporter(app, unit.org.slug)
    first = reporter.fill_report(ReportAnswers())["submission"]
    second = reporter.fill_report(ReportAnswers())["submission"]
    assert first and second and first != second


def test_a_form_fetched_anew_on_back_with_the_text_restored_is_recognised(
    app: Flask, unit: Unit, session: Session
) -> None:
    """Chromium fetches the form anew on Back (pages are never cached), so it carries a fresh
    token, but restores the text typed: the same report is still recognised."""
    reporter = Reporter(app, unit.org.slug)
    answers = ReportAnswers(what="Fake report: the ladder in hall B has a cracked rung.")
    assert reporter.send_report(answers).status_code == 303
    again = reporter.send_report(answers)  # a fresh form, the same category and text
    assert again.status_code == 303
    assert "again=1" in again.headers["Location"]
    assert case_count(session) == 1
    other = ReportAnswers(what="Fake report: a different matter, the canteen fridge is warm.")
    assert reporter.send_report(other).status_code == 303
    assert case_count(session) == 2
    # Another browser sending the same text is another reporter: nothing links them.
    assert (
        Reporter(app, unit.org.slug, address="192.0.2.11").send_report(answers).status_code == 303
    )
    assert case_count(session) == 3


def test_the_browser_keeps_only_keyed_marks_never_the_report(app: Flask, unit: Unit) -> None:
    """What the resubmission guard leaves in the browser's session cookie: marks that cannot
    be read back, never a word of the report, its category's name or its case code."""
    reporter = Reporter(app, unit.org.slug)
    answers = ReportAnswers(what="Fake report: the forklift keys hang unguarded by door seven.")
    sent = reporter.send_report(answers)
    assert sent.status_code == 303
    code = CODE_RE.search(reporter.get(sent.headers["Location"]).get_data(as_text=True))
    assert code
    cookie = reporter.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    content = serializer.loads(cookie.value)
    marks = content.get("sent_reports")
    assert isinstance(marks, list) and marks, "the guard keeps its marks here"
    assert all(re.fullmatch(r"[0-9a-f]{32}", mark) for mark in marks)
    stored = repr(content)
    for word in ("forklift", "unguarded", "seven", code.group(1)):
        assert word not in stored
