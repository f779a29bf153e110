"""Throttling as an attacker meets it: counted in the database for every app process, never a
lockout of the people the service is for.

Case codes (whistle/reporting/code_attempts.py): a guessing attack from many addresses cannot
keep a reporter with the right code out; a guessing address waits longer each time and is
told until when, with its code kept. The counts are shared by two app instances on one
database (two workers, or two machines) and survive a restart. Staff sign-in
(whistle/staff/sign_in_delay.py): a growing wait, never a lockout, and the same answer, byte
for byte, for an address with an account and one without. TOTP: a code raced from two
half-signed-in sessions signs in one of them (the ``used_totp_steps`` constraint).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.steps.factories import TEST_PASSWORD, Unit
from tests.steps.pages import csrf_token, text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.sign_in import browser, enter_password, field_errors, newcomer
from whistle.app import create_app
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime
from whistle.core.throttle import seconds
from whistle.reporting import code_attempts
from whistle.reporting.views import throttles as reporter_throttles
from whistle.staff import sign_in_delay, totp

WRONG = "AAAA-BBBB-CCCC-DDDD-EEEE"


@pytest.fixture
def code(app: Flask, unit: Unit) -> str:
    """A real case code; its reporter has left the mailbox."""
    reporter = Reporter(app, unit.org.slug, address="192.0.2.1")
    found = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.leave()
    return found


def field_value(page: Any, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page.get_data(as_text=True))
    return found.group(1) if found else ""


def test_a_right_code_opens_the_mailbox_while_the_organisation_is_under_attack(
    app: Flask, unit: Unit, code: str, clock: FixedClock
) -> None:
    # Sixty addresses guess three times each: far past the organisation's attack mark. Once
    # it is under attack, each new address has one answered guess, then waits.
    answered = 0
    for n in range(60):
        guesser = Reporter(app, unit.org.slug, address=f"198.51.{n // 200}.{n % 200 + 1}")
        answers = [guesser.open_case(WRONG).status_code for _ in range(3)]
        assert answers[0] == 200
        answered += answers.count(200)
    assert code_attempts.UNDER_ATTACK <= answered < 60 * 3
    with app.app_context(), runtime(app).sessions() as session:
        assert code_attempts.under_attack(
            session, runtime(app).throttle_key, unit.org.id, seconds(clock.now())
        )
    # A reporter from an address that has not guessed: in at once, with no wait.
    reporter = Reporter(app, unit.org.slug, address="203.0.113.9")
    opened = reporter.open_case(code)
    assert opened.status_code == 303
    assert reporter.mailbox().status_code == 200
    # One who mistypes first is asked to wait a short while, and gets in then.
    hasty = Reporter(app, unit.org.slug, address="203.0.113.10")
    assert hasty.open_case(WRONG).status_code == 200
    wait = hasty.open_case(code)
    assert wait.status_code == 429
    assert "wait 30 seconds" in text_of(wait)
    assert field_value(wait, "code") == code, "the code typed is kept for sending again"
    clock.advance(timedelta(seconds=30))
    assert hasty.open_case(code).status_code == 303
    assert hasty.mailbox().status_code == 200


def test_a_guessing_address_waits_longer_each_time_and_is_told_how_long(
    app: Flask, unit: Unit, code: str, clock: FixedClock
) -> None:
    guesser = Reporter(app, unit.org.slug, address="198.51.100.7")
    for _ in range(code_attempts.ADDRESS.free):
        assert guesser.open_case(WRONG).status_code == 200
    refused = guesser.open_case(code)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert "Your code was not checked: wait 2 seconds, then send it again." in text_of(refused)
    assert guesser.mailbox().status_code == 303, "a refused attempt opens nothing"
    clock.advance(timedelta(seconds=1))
    assert guesser.open_case(WRONG).status_code == 429
    clock.advance(timedelta(seconds=1))
    assert guesser.open_case(WRONG).status_code == 200
    assert guesser.open_case(WRONG).headers["Retry-After"] == "4"
    clock.advance(timedelta(seconds=4))
    assert guesser.open_case(code).status_code == 303


def test_the_wait_speaks_the_reporters_language(app: Flask, unit: Unit, code: str) -> None:
    guesser = Reporter(app, unit.org.slug, address="198.51.100.8")
    guesser.headers = {"Accept-Language": "da"}
    for _ in range(code_attempts.ADDRESS.free):
        guesser.open_case(WRONG)
    refused = guesser.open_case(code)
    assert refused.status_code == 429
    assert "vent 2 sekunder" in text_of(refused)


@pytest.fixture
def second_app(app_config: dict[str, Any], instance_path: Path, clock: FixedClock) -> Iterator[Any]:
    """Apps on the same database and instance folder as ``app``: other workers or machines."""
    made: list[Flask] = []

    def make() -> Flask:
        other = create_app(app_config, instance_path=instance_path, clock=clock)
        other.config["TESTING"] = True
        made.append(other)
        return other

    yield make
    for other in made:
        runtime(other).engine.dispose()
        runtime(other).keystore.dispose()


def test_two_app_instances_share_the_counts_and_a_restart_keeps_them(
    app: Flask, second_app: Any, unit: Unit, code: str
) -> None:
    other = second_app()
    on_first = Reporter(app, unit.org.slug, address="198.51.100.9")
    on_second = Reporter(other, unit.org.slug, address="198.51.100.9")
    for n in range(code_attempts.ADDRESS.free):
        guesser = on_first if n % 2 else on_second
        assert guesser.open_case(WRONG).status_code == 200
    assert on_second.open_case(code).status_code == 429
    assert on_first.open_case(code).status_code == 429
    runtime(app).engine.dispose()
    runtime(other).engine.dispose()
    restarted = Reporter(second_app(), unit.org.slug, address="198.51.100.9")
    assert restarted.open_case(code).status_code == 429


def test_replies_are_throttled_per_case_and_keep_the_message(
    app: Flask, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporter_throttles, "REPLY", replace(reporter_throttles.REPLY, free=2))
    reporter = Reporter(app, unit.org.slug, address="192.0.2.44")
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    for n in range(2):
        assert reporter.reply(f"Fake follow-up number {n}.").status_code == 303
    refused = reporter.reply("Fake follow-up that must wait.")
    assert refused.status_code == 429
    page = text_of(refused)
    assert "Your message was not sent" in page and "Fake follow-up that must wait." in page


def test_reports_are_throttled_per_address_and_keep_the_form(
    app: Flask, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        reporter_throttles, "SUBMISSION", replace(reporter_throttles.SUBMISSION, free=1)
    )
    reporter = Reporter(app, unit.org.slug, address="192.0.2.45")
    reporter.report(ReportAnswers())
    again = Reporter(app, unit.org.slug, address="192.0.2.45")
    refused = again.send_report(ReportAnswers(what="Fake second report about a fake forklift."))
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Your report was not sent" in text_of(refused)
    assert "Fake second report about a fake forklift." in page


# --- staff sign-in -----------------------------------------------------------------------------

UNKNOWN = "nobody.here@example.org"


def answer(page: Any, email: str) -> str:
    """The page with what differs by design taken out: the CSRF token and the address typed."""
    html = page.get_data(as_text=True)
    html = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "TOKEN", html)
    return html.replace(email, "EMAIL")


def test_unknown_and_known_accounts_get_the_same_answers_and_waits(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    known = browser(app, clock, unit.handlers[0])
    nobody = newcomer(app, clock, UNKNOWN)
    known.client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    nobody.client.environ_base["REMOTE_ADDR"] = "198.51.100.21"
    for n in range(sign_in_delay.ACCOUNT.free + 3):
        a = enter_password(known, f"fake-guess-{n}-not-it")
        b = enter_password(nobody, f"fake-guess-{n}-not-it")
        assert a.status_code == b.status_code == 200
        assert answer(a, known.staff.user.email) == answer(b, UNKNOWN), f"after {n + 1}"
    last = field_errors(a, "password")
    assert "Too many failed attempts" in last and "try again in 15 seconds" in last


def test_sign_in_waits_grow_and_end_and_never_lock_out(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    target = unit.handlers[0]
    for n in range(sign_in_delay.ACCOUNT.free):
        guesser = browser(app, clock, target)
        guesser.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        enter_password(guesser, f"fake-guess-{n}-not-it")
    owner = browser(app, clock, target)
    waiting = enter_password(owner)
    assert "try again in 15 seconds" in field_errors(waiting, "password")
    clock.advance(timedelta(seconds=15))
    enter_password(browser(app, clock, target), "fake-guess-again-not-it")
    assert "try again in 30 seconds" in field_errors(enter_password(owner), "password")
    clock.advance(timedelta(seconds=30))
    assert owner.sign_in().status_code == 303
    assert owner.get("/staff/").status_code == 200


def test_one_address_trying_many_accounts_waits_and_others_do_not(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    """Per client address: 20 attempts an hour at any accounts, each under its own account's
    free tries, then the address waits; another address is not affected."""
    limit = sign_in_delay.ADDRESS.free
    for n in range(limit):
        sprayer = newcomer(app, clock, f"fake.person{n}@example.org")
        sprayer.client.environ_base["REMOTE_ADDR"] = "198.51.100.30"
        assert "Too many" not in field_errors(
            enter_password(sprayer, "fake-spray-not-it"), "password"
        )
    sprayer = newcomer(app, clock, f"fake.person{limit}@example.org")
    sprayer.client.environ_base["REMOTE_ADDR"] = "198.51.100.30"
    waiting = field_errors(enter_password(sprayer, "fake-spray-not-it"), "password")
    assert "Too many failed attempts" in waiting and "try again in 15 seconds" in waiting
    other = browser(app, clock, unit.handlers[0])
    other.client.environ_base["REMOTE_ADDR"] = "198.51.100.31"
    assert other.sign_in().status_code == 303


def race(tabs: list[Any], code: str) -> list[int]:
    """Both tabs send ``code`` at the same moment; the status of each answer."""
    pages = [tab.get("/staff/sign-in/code") for tab in tabs]
    start = threading.Barrier(len(tabs))
    results: list[int] = []

    def send(tab: Any, page: Any) -> None:
        fields = {"csrf_token": csrf_token(page), "code": code}
        start.wait()
        results.append(tab.post("/staff/sign-in/code", fields).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(tabs, pages, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_totp_code_raced_from_two_half_signed_in_sessions_signs_in_one(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    target = unit.handlers[0]
    assert target.totp_secret is not None
    for _round in range(4):
        tabs = [browser(app, clock, target) for _ in range(2)]
        for tab in tabs:
            assert enter_password(tab, TEST_PASSWORD).status_code == 303
        clock.advance(timedelta(seconds=30))
        results = race(tabs, totp.code_at(target.totp_secret, clock.now()))
        assert sorted(results) == [200, 303], results
        assert sum(tab.get("/staff/").status_code == 200 for tab in tabs) == 1
