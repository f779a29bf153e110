"""The suggested acknowledgement says plainly that the day is the day the report was received
(not "we confirm that we received it on ...", which in Danish reads "Vi bekræfter, at vi modtog
den 2. marts 2026", as if "den" were the report), with days in words in the reader's language."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.cases import hanne, signed_in, submit
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from whistle.core.clock import FixedClock

SAID = {
    "en": (
        "Thank you for your report. It reached us on 2 March 2026, and we hereby confirm its "
        "receipt.",
        "give you feedback at the latest on 2 June 2026.",
    ),
    "da": (
        "Tak for din indberetning. Din indberetning blev modtaget den 2. marts 2026, og vi "
        "bekræfter hermed modtagelsen.",
        "give dig en tilbagemelding senest den 2. juni 2026.",
    ),
}


@pytest.mark.parametrize("language", ["en", "da"])
def test_the_acknowledgement_says_when_the_report_was_received(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, language: str
) -> None:
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.get(worker.case_path(ref), headers={"Accept-Language": language}))
    received, feedback = SAID[language]
    assert received in page
    assert feedback in page
    assert "modtog den" not in page
