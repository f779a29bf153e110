"""What each step of a browser journey leaves: a screenshot, and an accessibility check.

Screenshots go to ``test-output/browser/<language>-<database>/NN-step.png`` (git ignores
test-output/). They show the pages, so they may show a case code or report text; nothing else
the tests print or save does: messages name what is missing, never the text itself.

The accessibility check injects axe-core into the page and collects every violation of impact
"serious" or "critical" (rule id and the elements' selectors). Chromium runs no timers in a page
whose JavaScript is off, so axe cannot finish there: a page seen without JavaScript is checked
as a copy of the very DOM the reporter got, loaded at the same address in a second tab that
runs no page script either (a Content-Security-Policy of ``script-src 'none'``) but does load
the same style sheet, so contrast is measured on what the reporter sees.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from tests.browser.availability import ROOT
from whistle.web.security import CSP

OUTPUT = ROOT / "test-output" / "browser"

# The app's own policy, with page scripts off (axe itself arrives through DevTools).
NO_SCRIPT_CSP = CSP.replace("script-src 'self'", "script-src 'none'")
assert NO_SCRIPT_CSP != CSP

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map((n) => n.target.join(' '))}));
}"""


@dataclass
class Visitor:
    """One person's tab: the reporter's has JavaScript off, the handler's on."""

    page: Page
    scripts: bool


@dataclass
class Evidence:
    folder: Path
    language: str
    axe_source: str
    checker: Page  # JavaScript on, for checking copies of pages seen without it
    accessibility: bool = True  # run axe (else screenshots and the language check only)
    secrets: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    steps: int = 0

    @classmethod
    def start(
        cls, name: str, language: str, axe_source: str, checker: Page, *, accessibility: bool
    ) -> Evidence:
        folder = OUTPUT / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return cls(
            folder=folder,
            language=language,
            axe_source=axe_source,
            checker=checker,
            accessibility=accessibility,
        )

    @classmethod
    def for_database(
        cls,
        request: pytest.FixtureRequest,
        name: str,
        language: str,
        axe_source: str,
        checker: Page,
    ) -> Evidence:
        """Evidence of a test run on both databases, in ``<name>-<database>``. The pages are the
        same markup on either database, so axe runs on the SQLite run only."""
        database = request.node.callspec.params["database_url"]
        return cls.start(
            f"{name}-{database}", language, axe_source, checker, accessibility=database == "sqlite"
        )

    def keep_secret(self, *values: str) -> None:
        """Values never to appear in a message (case code, password, report text)."""
        self.secrets.extend(v for v in values if v)

    def redacted(self, text: str) -> str:
        for value in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(value, "[redacted]")
        return text

    def record(self, visitor: Visitor, step: str) -> None:
        """Screenshot the page as step NN, check it is in the chosen language, run axe."""
        page = visitor.page
        self.steps += 1
        name = f"{self.steps:02d}-{step}"
        page.screenshot(path=self.folder / f"{name}.png", full_page=True)
        shown = page.get_attribute("html", "lang")
        assert shown == self.language, f"{name}: the page is in {shown!r}, not {self.language!r}"
        if not self.accessibility:
            return
        found = axe(page, self.axe_source) if visitor.scripts else self._axe_copy(page)
        for v in found:
            targets = ", ".join(v["targets"])
            self.violations.append(f"{name}: {v['id']} ({v['impact']}: {v['help']}) at {targets}")

    def record_at_widths(
        self, visitor: Visitor, step: str, widths: tuple[int, ...] = (360, 1280)
    ) -> None:
        """:meth:`record` the page at each of ``widths`` (px, as ``step-<width>``), failing if
        it scrolls sideways at one of them; the window is left at the last width."""
        page = visitor.page
        height = (page.viewport_size or {"height": 800})["height"]
        for width in widths:
            page.set_viewport_size({"width": width, "height": height})
            if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                _neutral_failure(f"{page_path(page)} scrolls sideways at {width} px")
            self.record(visitor, f"{step}-{width}")

    def _axe_copy(self, page: Page) -> list[dict[str, Any]]:
        url = page.url.split("#")[0]
        html = page.content()
        if self.checker.url == url and self.checker.content() == html:
            # The very copy is already loaded (the same page checked again at another width):
            # axe runs on it as the window is now, without loading and injecting it again.
            return axe(self.checker, self.axe_source)

        def serve_copy(route: Any) -> None:
            route.fulfill(
                status=200,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": NO_SCRIPT_CSP,
                },
                body=html,
            )

        self.checker.route(lambda address: address == url, serve_copy, times=1)
        self.checker.goto(url)
        return axe(self.checker, self.axe_source)

    def assert_accessible(self) -> None:
        if self.violations:
            listed = "\n".join(self.violations)
            message = f"serious or critical accessibility violations (axe-core):\n{listed}"
            pytest.fail(self.redacted(message), pytrace=False)


def axe(page: Page, source: str) -> list[dict[str, Any]]:
    """The page's serious and critical axe-core violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    return found


# --- reading and typing without ever echoing the text ----------------------------------------


def _neutral_failure(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def type_into(locator: Locator, value: str, what: str) -> None:
    """Fill a field; on failure say which field, not what was typed (Playwright's own call log
    would quote the value)."""
    try:
        locator.fill(value)
        return
    except PlaywrightError:
        pass
    _neutral_failure(f"could not type {what} into the page")


def text_of(page: Page, where: str = "main") -> str:
    """The visible text of ``where``, white space folded."""
    return " ".join(page.locator(where).inner_text().split())


def shows(page: Page, texts: Iterable[str], what: str, where: str = "main") -> None:
    """Fail, naming ``what`` (never the text), unless ``where`` shows every one of ``texts``."""
    seen = text_of(page, where)
    if not all(" ".join(t.split()) in seen for t in texts):
        _neutral_failure(f"{page_path(page)} does not show {what}")


def does_not_show(page: Page, texts: Iterable[str], what: str, where: str = "main") -> None:
    seen = text_of(page, where)
    if any(" ".join(t.split()) in seen for t in texts):
        _neutral_failure(f"{page_path(page)} still shows {what}")


def page_path(page: Page) -> str:
    """The page's path (paths carry case references, never a case code)."""
    address = page.url.split("#")[0].split("?")[0]
    return "/" + address.split("/", 3)[3] if address.count("/") >= 3 else address


def heading(page: Page) -> str:
    return " ".join(page.locator("h1").first.inner_text().split())
