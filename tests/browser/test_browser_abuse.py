"""What issue 17's defences (abuse costs the attacker) show an honest person who meets them, in a
real browser, in Danish and English: the staff sign-in's wait after wrong passwords
(whistle/staff/sign_in_delay.py), the reporter's wait after wrong case codes
(whistle/reporting/code_attempts.py), and a picture refused for its declared size
(whistle/casefile/file_budget.py). Each page says why and for how long in the reader's
language and keeps what was typed. Screenshots in
test-output/browser/<page>-<language>-<database>/ (tests/browser/evidence.py), axe-core on each.

The app's clock stands still (tests/conftest.py), so the waits are the policies' first ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, BrowserContext, FilePayload, Page  # noqa: E402

from tests.browser.evidence import Evidence, Visitor, heading, shows, type_into  # noqa: E402
from tests.steps.factories import Unit  # noqa: E402
from tests.steps.upload_files import png_declaring  # noqa: E402
from whistle.core.models import Case  # noqa: E402
from whistle.reporting import code_attempts  # noqa: E402
from whistle.staff import sign_in_delay  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("language", ["da", "en"])]

WRONG_PASSWORD = "fake-wrong-password-not-secret"
# Well formed (five groups of Crockford's base32), and no case's.
WRONG_CODE = "7QKM-2XR9-CD4T-WB8N-5GHA"
REPORT_TEXT = "Fake browser report: the fake night guard's log is filled in the next morning."
NOTES = FilePayload(name="fake-notes.txt", mimeType="text/plain", buffer=b"Fake notes.\n" * 20)
# A few dozen bytes whose header claims 10,000 x 8,001 pixels: over the 80 megapixels one
# picture may have (file_budget.Budget.image_pixels).
HUGE_PICTURE = FilePayload(
    name="fake-huge-photo.png", mimeType="image/png", buffer=png_declaring(10_000, 8_001)
)

# What the pages say, typed out here so that a lost translation fails.
WORDS = {
    "da": {
        "locale": "da-DK",
        "sign_in": "Log ind",
        "continue": "Fortsæt",
        "wrong_password": "E-mailadressen eller adgangskoden er forkert.",
        "sign_in_wait": "For mange mislykkede forsøg. Intet blev kontrolleret: prøv igen om "
        "15 sekunder.",
        "follow_up": "Følg op på din indberetning",
        "open_case": "Åbn min sag",
        "unknown_code": "Der kunne ikke åbnes en sag med denne kode.",
        "code_wait": "Der er prøvet for mange koder fra din forbindelse. Din kode blev ikke "
        "kontrolleret: vent 2 sekunder,",
        "still_there": "Den står stadig i feltet.",
        "code_hint": "i grupper på fire tegn, for eksempel ABCD-EFGH-JKMN-PQRS-TVWX.",
        "make_report": "Indberet",
        "not_sure": "Ved ikke",
        "send_report": "Send indberetning",
        "files_refused": "Nogle filer kunne ikke modtages",
        "picture_refused": "“fake-huge-photo.png” kan ikke behandles sikkert (for eksempel et "
        "billede med ekstreme mål). Udelad den, eller send en mindre udgave af den.",
        "nothing_sent": "Intet er sendt endnu. Alt, hvad du har skrevet, står her stadig.",
        "choose_again": "De andre filer var i orden; vælg dem venligst igen:",
    },
    "en": {
        "locale": "en-GB",
        "sign_in": "Sign in",
        "continue": "Continue",
        "wrong_password": "The e-mail address or the password is wrong.",
        "sign_in_wait": "Too many failed attempts. Nothing was checked: try again in 15 seconds.",
        "follow_up": "Follow up on your report",
        "open_case": "Open my case",
        "unknown_code": "No case could be opened with this code.",
        "code_wait": "Too many codes have been tried from your connection. Your code was not "
        "checked: wait 2 seconds,",
        "still_there": "It is still in the field.",
        "code_hint": "in groups of four characters, for example ABCD-EFGH-JKMN-PQRS-TVWX.",
        "make_report": "Make a report",
        "not_sure": "Not sure",
        "send_report": "Send report",
        "files_refused": "Some files could not be accepted",
        "picture_refused": "“fake-huge-photo.png” cannot be processed safely (for example an "
        "image with an extreme size). Leave it out, or send a smaller version of it.",
        "nothing_sent": "Nothing has been sent yet. Everything you typed is still here.",
        "choose_again": "The other files were fine; please choose them again:",
    },
}


def click(page: Page, name: str) -> None:
    page.locator("main").get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def wrong_until_told_to_wait(
    page: Page, field: str, value: str, button: str, *, free: int, wrong: str
) -> None:
    """Send ``value`` in ``field`` ``free`` times (the attempts a throttle lets by), each
    answered ``wrong`` beside the field, then once more."""
    for _ in range(free):
        type_into(page.locator(field), value, "a wrong value")
        click(page, button)
        shows(page, [wrong], "that the value is wrong", where=f"{field}-error")
    type_into(page.locator(field), value, "a wrong value")
    click(page, button)


Start = Callable[..., tuple[Evidence, Visitor]]


@pytest.fixture
def start(
    request: pytest.FixtureRequest, browser: Browser, checker: Page, axe_source: str
) -> Iterator[Start]:
    """``start(name, language, scripts=...)``: the evidence folder
    ``<name>-<language>-<database>`` and a tab in ``language``, closed after the test."""
    contexts: list[BrowserContext] = []

    def begin(name: str, language: str, *, scripts: bool) -> tuple[Evidence, Visitor]:
        ev = Evidence.for_database(request, f"{name}-{language}", language, axe_source, checker)
        locale = WORDS[language]["locale"]
        contexts.append(browser.new_context(java_script_enabled=scripts, locale=locale))
        contexts[-1].set_default_timeout(TIMEOUT_MS)
        return ev, Visitor(contexts[-1].new_page(), scripts=scripts)

    yield begin
    for context in contexts:
        context.close()


def test_the_staff_sign_in_says_in_words_how_long_to_wait_after_wrong_passwords(
    language: str, start: Start, live_server: str, unit: Unit
) -> None:
    words = WORDS[language]
    ev, staff = start("sign-in-wait", language, scripts=True)
    ev.keep_secret(WRONG_PASSWORD)
    page = staff.page
    email = unit.handlers[0].user.email
    page.goto(f"{live_server}/staff/sign-in")
    assert heading(page) == words["sign_in"]

    # The account's free attempts, each answered "wrong"; the next one must wait. (The page
    # keeps the address typed.)
    page.locator("#email").fill(email)
    wrong_until_told_to_wait(
        page,
        "#password",
        WRONG_PASSWORD,
        words["continue"],
        free=sign_in_delay.ACCOUNT.free,
        wrong=words["wrong_password"],
    )

    assert heading(page) == words["sign_in"]
    shows(page, [words["sign_in_wait"]], "how long to wait", where="#password-error")
    assert page.locator("#email").input_value() == email
    ev.record_at_widths(staff, "sign-in-wait")
    ev.assert_accessible()


def test_the_reporter_is_told_how_long_to_wait_after_wrong_case_codes_and_keeps_the_code(
    language: str, start: Start, live_server: str, unit: Unit
) -> None:
    words = WORDS[language]
    ev, reporter = start("code-wait", language, scripts=False)
    page = reporter.page
    page.goto(f"{live_server}/o/{unit.org.slug}/case/open")
    assert heading(page) == words["follow_up"]

    # The address's free attempts, each answered "no case"; the next one must wait.
    wrong_until_told_to_wait(
        page,
        "#code",
        WRONG_CODE,
        words["open_case"],
        free=code_attempts.ADDRESS.free,
        wrong=words["unknown_code"],
    )

    assert heading(page) == words["follow_up"]
    shows(page, [words["code_wait"], words["still_there"]], "how long to wait", "#code-error")
    assert page.locator("#code").input_value() == WRONG_CODE
    # The hint describes the code as it is given now (five groups), not the old format.
    shows(page, [words["code_hint"]], "the case code's format", where="#code-hint")
    ev.record_at_widths(reporter, "code-wait")
    ev.assert_accessible()


def test_a_picture_over_the_pixel_budget_is_refused_by_name_and_the_report_form_is_kept(
    language: str, start: Start, live_server: str, session: Session, unit: Unit
) -> None:
    words = WORDS[language]
    ev, reporter = start("upload-refused", language, scripts=False)
    ev.keep_secret(REPORT_TEXT)
    page = reporter.page
    page.goto(f"{live_server}/o/{unit.org.slug}/report")
    assert heading(page) == words["make_report"]
    page.locator("#category").select_option(label=words["not_sure"])
    type_into(page.locator("#what"), REPORT_TEXT, "the report")
    page.locator("#attachments").set_input_files(files=[NOTES, HUGE_PICTURE])
    click(page, words["send_report"])

    # Nothing sent; the picture named with the reason, the fine file to choose again, and
    # the report as typed.
    assert heading(page) == words["make_report"]
    shows(
        page,
        [words["files_refused"], words["picture_refused"], words["nothing_sent"]],
        "why the picture was refused",
        where="main .error-summary",
    )
    shows(page, [words["choose_again"], NOTES["name"]], "the file to choose again", "main .notice")
    assert page.locator("#what").input_value() == REPORT_TEXT
    assert page.locator("#category option:checked").inner_text() == words["not_sure"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    ev.record_at_widths(reporter, "upload-refused")
    ev.assert_accessible()
