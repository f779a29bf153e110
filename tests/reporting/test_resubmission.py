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

    # A new form is a new report.
    assert reporter.send_report(ReportAnswers()).status_code == 303
    assert case_count(session) == 2


def test_each_form_carries_its_own_token(app: Flask, unit: Unit) -> None:
    reporter = Reporter(app, unit.org.slug)
    first = reporter.fill_report(ReportAnswers())["submission"]
    second = reporter.fill_report(ReportAnswers())["submission"]
    assert first and second and first != second
