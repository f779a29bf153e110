"""The attacker of issue 17 for bench/load_bench.py: upload bombs, case-code guessing and staff
sign-in guessing, each from many loopback addresses of its own (127.1.x.y), looping until told
to stop. The bombs are the abuse suite's (tests/security/abuse/bombs.py), made once, and so
are the forms and the wrong guesses (tests/security/abuse/visits.py).

Nothing printed contains a case code or a password; the guesses are random and fake.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from submit_bench import SLUG, Browser  # which puts the repository root on the path

from tests.security.abuse import bombs
from tests.security.abuse.visits import (
    FormPage,
    first_category,
    report_fields,
    wrong_code,
    wrong_password,
)

HANDLER_EMAIL = "hanne.handler@example.org"  # bench/benchkit.py's first handler
ATTACKER_TEXT = "Fake attacker report, nothing real."


class AttackerAddresses:
    """127.1.0.1, 127.1.0.2, ...: never a reporter's (those are 127.0.x.y)."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            number = next(self._numbers)
        return f"127.{1 + number // 65025}.{(number // 255) % 255}.{number % 255 or 1}"


@dataclass
class Tally:
    """What the attacker sent and what it was answered (status -> count), per attack."""

    answers: dict[str, Counter[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attack: str, status: int) -> None:
        with self.lock:
            self.answers.setdefault(attack, Counter())[status] += 1


def _bomb_files() -> list[tuple[str, list[tuple[str, str, bytes]]]]:
    png, apng = bombs.huge_png(), bombs.animated_png()
    return [
        ("huge PNGs", [("attachments", f"fake-{n}.png", png) for n in range(12)]),
        ("animated PNGs", [("attachments", f"fake-{n}.png", apng) for n in range(3)]),
        ("docx bomb", [("attachments", "fake.docx", bombs.docx_bomb())]),
        ("PDF pages", [("attachments", "fake.pdf", bombs.many_pages_pdf())]),
    ]


def bomber(port: int, addresses: AttackerAddresses, stop: threading.Event, tally: Tally) -> None:
    """Reports carrying each kind of bomb in turn, from a fresh address each."""
    kinds = _bomb_files()
    for name, files in itertools.cycle(kinds):
        if stop.is_set():
            return
        browser = Browser(port, addresses.take(), 120)
        try:
            page = FormPage(browser.get(f"/o/{SLUG}/report").body)
            fields = report_fields(page.csrf_token, first_category(page), ATTACKER_TEXT)
            answer = browser.post_multipart(f"/o/{SLUG}/report", fields, files)
            tally.add(f"upload bomb ({name})", answer.status)
        except (OSError, http.client.HTTPException):
            tally.add(f"upload bomb ({name})", 0)


def _guesser(
    port: int,
    addresses: AttackerAddresses,
    stop: threading.Event,
    tally: Tally,
    attack: str,
    page: str,
    tries: int,
    guess: Callable[[str], dict[str, str]],
) -> None:
    """``tries`` wrong guesses posted to ``page`` from each fresh address, address after
    address, until ``stop`` (``guess(token)`` makes one form)."""
    while not stop.is_set():
        browser = Browser(port, addresses.take(), 60)
        try:
            token = FormPage(browser.get(page).body).csrf_token
            for _ in range(tries):
                if stop.is_set():
                    return
                tally.add(attack, browser.post_form(page, guess(token)).status)
        except (OSError, http.client.HTTPException):
            tally.add(attack, 0)


def code_guesser(
    port: int, addresses: AttackerAddresses, stop: threading.Event, tally: Tally
) -> None:
    """20 wrong case codes from each fresh address, address after address."""

    def wrong(token: str) -> dict[str, str]:
        return {"csrf_token": token, "code": wrong_code()}

    _guesser(port, addresses, stop, tally, "case-code guessing", f"/o/{SLUG}/case/open", 20, wrong)


def password_guesser(
    port: int, addresses: AttackerAddresses, stop: threading.Event, tally: Tally
) -> None:
    """10 wrong passwords for a real handler's address from each fresh address."""

    def wrong(token: str) -> dict[str, str]:
        return {"csrf_token": token, "email": HANDLER_EMAIL, "password": wrong_password()}

    _guesser(port, addresses, stop, tally, "staff sign-in guessing", "/staff/sign-in", 10, wrong)


def start(port: int, stop: threading.Event, tally: Tally) -> list[threading.Thread]:
    """Two bombers, two code guessers and one password guesser, until ``stop``."""
    addresses = AttackerAddresses()
    targets = [bomber, bomber, code_guesser, code_guesser, password_guesser]
    threads = [
        threading.Thread(target=t, args=(port, addresses, stop, tally), daemon=True)
        for t in targets
    ]
    for thread in threads:
        thread.start()
    return threads
