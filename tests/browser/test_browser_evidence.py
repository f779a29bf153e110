"""The accessibility check itself finds violations, with JavaScript on and off (the copy that
axe checks for a page seen without JavaScript is that page), and names no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.availability import require_playwright

require_playwright()

from playwright.sync_api import Browser, Page, Route  # noqa: E402

from tests.browser.evidence import Evidence, Visitor  # noqa: E402

pytestmark = pytest.mark.browser

SECRET = "FAKE-CODE-0000"
# An image without a text alternative: axe's "image-alt", impact critical.
BAD_PAGE = (
    '<!doctype html><html lang="en"><head><title>Fake page</title></head><body><main>'
    f'<h1>Fake page</h1><img id="{SECRET}" src="data:,"></main></body></html>'
)
ADDRESS = "http://a11y.invalid/page"


@pytest.mark.parametrize("scripts", [False, True], ids=["javascript-off", "javascript-on"])
def test_the_accessibility_check_reports_a_critical_violation_without_the_secret(
    scripts: bool, browser: Browser, checker: Page, axe_source: str, tmp_path: Path
) -> None:
    context = browser.new_context(java_script_enabled=scripts)
    page = context.new_page()

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=BAD_PAGE)

    page.route(ADDRESS, serve)
    page.goto(ADDRESS)
    evidence = Evidence(folder=tmp_path, language="en", axe_source=axe_source, checker=checker)
    evidence.keep_secret(SECRET)

    evidence.record(Visitor(page, scripts=scripts), "bad")
    context.close()

    assert (tmp_path / "01-bad.png").is_file()
    assert [v.split(" ")[1] for v in evidence.violations] == ["image-alt"]
    with pytest.raises(pytest.fail.Exception) as failed:
        evidence.assert_accessible()
    assert "01-bad: image-alt (critical" in str(failed.value)
    assert SECRET not in str(failed.value)
    assert "[redacted]" in str(failed.value)
