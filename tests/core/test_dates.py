"""Dates in the reader's language, never ISO and never the US order (whistle/core/dates.py)."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, render_template_string
from flask_babel import force_locale

from whistle.core import dates


def test_days_read_in_danish_and_british_english() -> None:
    assert dates.day(date(2026, 3, 4), "da") == "4. marts 2026"
    assert dates.day(date(2026, 3, 4), "en") == "4 March 2026"
    assert dates.day(datetime(2026, 3, 4, 23, 59), "en") == "4 March 2026"
    assert dates.day(date(2026, 3, 4), "en", short=True) == "4 Mar 2026"
    assert dates.day(None, "da") == ""


def test_moments_and_months() -> None:
    assert dates.moment(datetime(2026, 12, 7, 14, 5), "da") == "7. december 2026 kl. 14.05"
    assert dates.moment(datetime(2026, 12, 7, 14, 5), "en") == "7 December 2026, 14:05"
    assert dates.month(date(2026, 12, 1), "da") == "december 2026"
    assert dates.month(date(2026, 12, 1), "en") == "December 2026"


def test_templates_format_in_the_readers_language(app: Flask) -> None:
    page = "{{ d|day }} / {{ t|moment }} / {{ d|month }}"
    values = {"d": date(2026, 3, 4), "t": datetime(2026, 3, 4, 9, 30)}
    with app.test_request_context("/"):
        with force_locale("en"):
            assert render_template_string(page, **values) == (
                "4 March 2026 / 4 March 2026, 09:30 / March 2026"
            )
        with force_locale("da"):
            assert render_template_string(page, **values) == (
                "4. marts 2026 / 4. marts 2026 kl. 09.30 / marts 2026"
            )


def test_a_wait_is_said_as_a_duration_rounded_up_to_whole_minutes(app: Flask) -> None:
    """No clock time (the server's zone is not the reader's), and never shorter than it is."""
    with app.test_request_context("/"):
        with force_locale("en"):
            assert [str(dates.ShownWait(s)) for s in (1, 59, 60, 61, 900)] == [
                "1 second",
                "59 seconds",
                "1 minute",
                "2 minutes",
                "15 minutes",
            ]
        with force_locale("da"):
            assert str(dates.ShownWait(2)) == "2 sekunder"
            assert str(dates.ShownWait(61)) == "2 minutter"
