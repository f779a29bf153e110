"""The reporter re-reads his own report in the mailbox after sending it, and a closed case
says why the reply box is gone: closed on which day, where the outcome is, what to do now."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.cases import OUTCOME_DONE, newest_case
from tests.steps.factories import Unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.retention import close
from whistle.core.clock import FixedClock

ANSWERS = ReportAnswers(
    what="Fake test report: the fake forklift is used for private removals.",
    when_where="Fake place: warehouse 3, every Friday.",
    who="Fake person: the night shift's fake supervisor.",
    how_known="Fake knowledge: I saw it from the fake canteen.",
    relation="employee",
    files=[Upload("fake-forklift-log.txt", b"Fake forklift log for tests.\n")],
)
# What the page says in each language: the relation and the day the report was received.
WORDS = {
    "en": ("Your relation to the organisation Employee", "2 March 2026"),
    "da": ("Din tilknytning til organisationen Ansat", "2. marts 2026"),
}


def _reporter(app: Flask, unit: Unit, language: str) -> tuple[Reporter, str]:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ANSWERS)
    reporter.confirm_written_down()
    reporter.headers = {"Accept-Language": language}
    assert reporter.open_case(code).status_code == 303
    return reporter, code


@pytest.mark.parametrize("language", ["en", "da"])
def test_the_reporter_reads_back_what_he_sent(app: Flask, unit: Unit, language: str) -> None:
    reporter, _code = _reporter(app, unit, language)
    page = text_of(reporter.mailbox())
    relation, received = WORDS[language]
    assert relation in page
    assert "employee" not in page  # the code behind the label never shows
    for typed in (ANSWERS.what, ANSWERS.when_where, ANSWERS.who, ANSWERS.how_known):
        assert typed in page
    assert "fake-forklift-log.txt" in page
    assert received in page
    assert "Not sure" in page if language == "en" else "Ved ikke" in page


@pytest.mark.parametrize(
    ("language", "closed_words", "outcome_words"),
    [
        ("en", "The case handler closed this case on 2 March 2026.", "Read the outcome"),
        ("da", "Sagsbehandleren afsluttede sagen den 2. marts 2026.", "Læs resultatet"),
    ],
)
def test_a_closed_case_says_why_the_reply_box_is_gone(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    language: str,
    closed_words: str,
    outcome_words: str,
) -> None:
    reporter, _code = _reporter(app, unit, language)
    open_page = reporter.mailbox().get_data(as_text=True)
    assert 'name="body"' in open_page
    close(app, session, clock, unit, newest_case(session))
    html = reporter.mailbox().get_data(as_text=True)
    page = text_of(reporter.mailbox())
    assert closed_words in page
    assert outcome_words in page
    assert 'name="body"' not in html  # no reply box
    # The link goes to the final outcome, which is on the page.
    anchor = html.split(f">{outcome_words}<")[0].rsplit('href="#', 1)[1].split('"')[0]
    assert f'id="{anchor}"' in html
    assert OUTCOME_DONE in page
    assert f"/o/{unit.org.slug}/report" in html  # a new report is one link away


def test_a_reply_sent_from_a_page_left_open_after_the_closing_is_kept_and_explained(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    reporter, _code = _reporter(app, unit, "en")
    left_open = reporter.mailbox()
    close(app, session, clock, unit, newest_case(session))
    typed = "Fake late message: one more thing about the fake forklift."
    sent = reporter.post(
        f"/o/{unit.org.slug}/case/",
        {"csrf_token": csrf_token(left_open), "body": typed},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200
    page = text_of(sent)
    assert "Your message was not sent: the case handler has closed this case" in page
    assert typed in page  # nothing typed is lost
    assert typed not in text_of(reporter.mailbox())  # and nothing was stored
