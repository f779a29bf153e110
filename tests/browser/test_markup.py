"""The main pages are valid HTML: the Nu HTML Checker (npm ``vnu-jar``) finds no error (issue 16).

Each page is fetched as served (the Flask test client: the markup the server sends, before
a browser repairs it) in Danish and in English, by the role that reads it, saved to
``test-output/browser/html/<language>/`` and given to the checker in one run. The pages are
the same on either database: this runs on SQLite only. A missing checker or Java runtime fails
in CI and skips elsewhere (tests/browser/availability.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 - runs the checker fetched by the Makefile, on our own files
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.browser.availability import ROOT
from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import StaffMember
from tests.steps.tour import tour_world
from whistle.core.clock import FixedClock

pytestmark = pytest.mark.browser

OUTPUT = ROOT / "test-output" / "browser" / "html"
REPORT_TEXT = "Fake markup-test report: the fire door in hall B is wedged open every morning."


class Pages:
    """The saved pages of one language, by name."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.saved: list[Path] = []

    def save(self, name: str, html: str) -> None:
        path = self.folder / f"{len(self.saved) + 1:02d}-{name}.html"
        path.write_text(html, encoding="utf-8")
        self.saved.append(path)


def fetched(response: object, what: str, status: int = 200) -> str:
    code = getattr(response, "status_code", None)
    assert code == status, f"{what} answered {code}"
    return str(response.get_data(as_text=True))  # type: ignore[attr-defined]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("language", ["da", "en"])
def test_the_main_pages_are_valid_html(
    language: str,
    vnu: list[str],
    app: Flask,
    session: Session,
    unit: Unit,
    clock: FixedClock,
) -> None:
    world = tour_world(app, session, clock, unit)
    pages = Pages(OUTPUT / language)
    headers = {"Accept-Language": language}

    reporter = Reporter(app, world.slug)
    reporter.headers = headers
    for stop in world.reporter_stops():
        pages.save(stop.name, fetched(reporter.get(stop.path), stop.name))
    code = reporter.report(ReportAnswers(what=REPORT_TEXT))
    pages.save("case-code", fetched(reporter.get(f"/o/{world.slug}/report/code"), "the code page"))
    assert reporter.confirm_written_down().status_code == 303
    pages.save("mailbox", fetched(reporter.mailbox(), "the mailbox"))
    pages.save("staff-sign-in", fetched(reporter.get("/staff/sign-in"), "staff sign-in"))
    pages.save(
        "not-found", fetched(reporter.get(f"/o/{world.slug}/no-such-page"), "a lost page", 404)
    )

    for role, stops in world.staff_stops().items():
        member = StaffMember(app, clock, world.staff_member(role))
        assert member.sign_in().status_code == 303, f"{role} could not sign in"
        for stop in stops:
            pages.save(stop.name, fetched(member.get(stop.path, headers=headers), stop.name))

    checked = subprocess.run(  # nosec B603 - a fixed command on files this test wrote
        [*vnu, "--format", "json", "--errors-only", *map(str, pages.saved)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        messages = json.loads(checked.stderr or checked.stdout)["messages"]
    except (ValueError, KeyError):
        pytest.fail(
            f"the Nu HTML Checker gave no report (exit {checked.returncode})", pytrace=False
        )
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m.get('message', '')}"
        for m in messages
        if m.get("type") == "error"
    ]
    if errors:
        listed = "\n".join(errors).replace(code, "[redacted]")
        pytest.fail(f"the Nu HTML Checker found errors:\n{listed}", pytrace=False)
    assert checked.returncode == 0
