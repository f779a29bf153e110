"""Throttling of case codes and staff sign-in, as an attacker would meet it.

The basic cases live next to the features (tests/reporting/test_reporting.py: one client
guessing codes, too many submissions; tests/staff/test_staff_auth.py: five failures pause an
account). Here: the limits themselves, a guessing attack spread over many addresses, the end of
a pause, the refusal in the reporter's language, and sign-in guesses spread over many browsers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from tests.steps.factories import TEST_PASSWORD, Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.reporting.views.throttles import ReporterThrottles, throttles
from whistle.staff import auth as staff_auth
from whistle.web.throttle import SlidingWindowLimiter

WRONG = "AAAA-BBBB-CCCC-DDDD-EEEE"
PAUSED = "Sign-in to this account is paused for 15 minutes."


class Ticker:
    """A monotonic clock the test moves by hand (the limiters' own time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def code(app: Flask, unit: Unit) -> str:
    """A real case code; its reporter has left the mailbox."""
    reporter = Reporter(app, unit.org.slug, address="192.0.2.1")
    found = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.leave()
    return found


def installed(app: Flask, limits: ReporterThrottles) -> ReporterThrottles:
    app.extensions["whistle.reporter_throttles"] = limits
    return limits


def test_the_limits_are_the_ones_the_design_promises() -> None:
    limits = ReporterThrottles()
    assert (limits.code.limit, limits.code.window) == (10, 15 * 60)
    assert (limits.code_all.limit, limits.code_all.window) == (600, 15 * 60)
    assert (limits.submission.limit, limits.submission.window) == (5, 10 * 60)
    assert (staff_auth.MAX_FAILURES, staff_auth.BLOCK_MINUTES) == (5, 15)


def test_guessing_spread_over_many_addresses_meets_the_limit_for_all(
    app: Flask, unit: Unit, code: str
) -> None:
    with app.app_context():
        everyone = throttles().code_all
        for _ in range(everyone.limit - 5):  # attempts already made from elsewhere
            assert everyone.hit("all")
    for n in range(5):
        guesser = Reporter(app, unit.org.slug, address=f"198.51.100.{n + 1}")
        assert guesser.open_case(WRONG).status_code == 200
    fresh = Reporter(app, unit.org.slug, address="203.0.113.9")
    refused = fresh.open_case(code)
    assert refused.status_code == 429
    assert "Too many attempts" in text_of(refused)
    assert fresh.mailbox().status_code == 303, "the right code was tried anyway"


def test_a_guesser_may_try_again_only_once_the_window_has_passed(
    app: Flask, unit: Unit, code: str
) -> None:
    ticker = Ticker()
    installed(
        app,
        ReporterThrottles(
            code=SlidingWindowLimiter(limit=10, window=15 * 60, now=ticker),
            code_all=SlidingWindowLimiter(limit=600, window=15 * 60, now=ticker),
        ),
    )
    guesser = Reporter(app, unit.org.slug, address="198.51.100.7")
    for _ in range(10):
        assert guesser.open_case(WRONG).status_code == 200
    ticker.now += 15 * 60 - 1
    assert guesser.open_case(code).status_code == 429
    assert guesser.mailbox().status_code == 303
    ticker.now += 2
    assert guesser.open_case(code).status_code == 303
    assert guesser.mailbox().status_code == 200


def test_the_refusal_speaks_the_reporters_language(app: Flask, unit: Unit, code: str) -> None:
    guesser = Reporter(app, unit.org.slug, address="198.51.100.8")
    guesser.headers = {"Accept-Language": "da"}
    for _ in range(10):
        guesser.open_case(WRONG)
    refused = guesser.open_case(code)
    assert refused.status_code == 429
    page = text_of(refused)
    assert "For mange forsøg" in page and "Vent et par minutter" in page


def test_sign_in_guesses_from_many_browsers_pause_the_account(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    target = unit.handlers[0]
    for n in range(staff_auth.MAX_FAILURES):
        guesser = StaffMember(app, clock, target)
        guesser.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        guesser.submit(
            "/staff/sign-in", {"email": target.user.email, "password": f"guess-{n}-not-it"}
        )
    owner = StaffMember(app, clock, target)
    paused = owner.submit("/staff/sign-in", {"email": target.user.email, "password": TEST_PASSWORD})
    assert paused.status_code == 200
    assert PAUSED in text_of(paused)
    assert owner.get("/staff/").status_code == 303
    clock.advance(timedelta(minutes=staff_auth.BLOCK_MINUTES))
    assert owner.sign_in().status_code == 303
    assert owner.get("/staff/").status_code == 200
