"""Staff passwords are judged by their strength (zxcvbn, whistle/staff/passwords.py), not
a short block list: each wraps its owner's private key, which a database copy lets anyone
guess at offline. The reasons are our own words, in Danish and English."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.steps.factories import TEST_PASSWORD, Unit
from tests.steps.sign_in import browser, change_password, field_errors
from tests.steps.web_worker import modules_loaded_after
from whistle.core.clock import FixedClock
from whistle.staff import password_estimate
from whistle.staff.passwords import MIN_SCORE, policy_problems

TOO_EASY = "This password would be too easy to guess."
BETTER = "Better: four or more ordinary words"


@pytest.mark.parametrize("weak", ["Password123!", "Summer2025!!", "qwerty123456", "P@ssw0rd2024!"])
def test_common_patterns_of_twelve_characters_are_refused_with_reasons(
    app: Flask, weak: str
) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        problems = [str(p) for p in policy_problems(weak)]
    assert problems[0].startswith(TOO_EASY), "the length floor alone lets these through"
    assert "copy of the database" in problems[0], "it says why strength matters here"
    assert problems[-1].startswith(BETTER), "and what would be better"
    assert len(problems) >= 3, "with at least one reason of its own"


def test_the_persons_own_words_count_as_guessable(app: Flask) -> None:
    """Strong for a stranger, weak for the person whose organisation's name it is built on."""
    built_on_own = "testfirmaaarhusafdeling"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        own = [
            str(p)
            for p in policy_problems(
                built_on_own,
                email="hanne.hansen@example.org",
                name="Hanne Hansen",
                organisation="Testfirma Aarhus Afdeling",
            )
        ]
        stranger = policy_problems(built_on_own)
    assert stranger == []
    assert own[0].startswith(TOO_EASY)
    assert any("your organisation's name" in p for p in own)


def test_the_passwords_the_tests_use_are_strong_and_obviously_fake(app: Flask) -> None:
    assert MIN_SCORE == 4
    with app.test_request_context():
        assert policy_problems(TEST_PASSWORD) == []


def test_the_password_change_explains_a_refusal_in_danish(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    hanne = browser(app, clock, unit.handlers[0])
    hanne.language = "da"
    assert hanne.sign_in().status_code == 303
    refused = change_password(hanne, TEST_PASSWORD, "Summer2025!!")
    assert refused.status_code == 200
    said = field_errors(refused, "new")
    assert "Denne adgangskode ville være for let at gætte." in said
    assert "Bedre: fire eller flere almindelige ord" in said


def test_judging_a_password_leaves_zxcvbn_out_of_the_web_worker() -> None:
    """zxcvbn's 12 MiB of dictionaries are loaded in a short-lived helper process, never in
    the worker that serves reporters (their 64 MiB Argon2id comes on top of the worker)."""
    work = (
        "from whistle.staff.passwords import policy_problems\n"
        "assert len(policy_problems('Summer2025!!')) >= 3\n"
        "assert policy_problems('blue kettle under the quiet orchard') == []\n"
    )
    assert modules_loaded_after(work, ("zxcvbn",)) == []


def test_a_password_that_cannot_be_judged_is_refused_with_a_reason(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the helper fails, a strong password is not let through unjudged."""
    monkeypatch.setattr(password_estimate.sys, "executable", "/bin/false")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        problems = [str(p) for p in policy_problems(TEST_PASSWORD)]
    assert problems == [
        "The password could not be checked just now, so it has not been saved. "
        "Please try again in a moment."
    ]
