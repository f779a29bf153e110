"""Fixtures for the browser tests: Debian's chromium through Playwright, axe-core, a live app.

The browser is Debian's ``/usr/bin/chromium`` (never a Playwright download), one per pytest
worker. axe-core comes from the npm registry into ``.cache/axe`` (``make test`` fetches both,
see the Makefile's ``browser-deps``). When either is missing the tests fail in CI
(``CI=true``, ``WHISTLE_REQUIRE_POSTGRES`` or ``WHISTLE_REQUIRE_BROWSER``) and are skipped with
the reason elsewhere.

The app under test is the real one (``create_app``, from the ``app`` fixture of
tests/conftest.py, so on SQLite and on PostgreSQL), served by werkzeug from a thread on
127.0.0.1 with a port of the system's choosing.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.browser.availability import AXE_JS, CHROMIUM, ROOT, TIMEOUT_MS, VNU_JAR, missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, shared by every browser test of this worker."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"Debian's chromium is not installed at {CHROMIUM}")
    # Chromium's sandbox refuses to start as root; the pages it opens are our own app's.
    # No GPU process: headless draws in software anyway, and it saves a second per test.
    args = ["--disable-gpu", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        yield launched
        launched.close()


@pytest.fixture
def checker(browser: Browser) -> Iterator[Page]:
    """A tab with JavaScript on, where axe checks copies of pages seen without it."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe.min.js, to be injected into each page checked."""
    if not AXE_JS.is_file():
        missing(f"axe-core is not fetched to {AXE_JS.relative_to(ROOT)}")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def vnu() -> list[str]:
    """The command that runs the Nu HTML Checker (``java -jar vnu.jar``)."""
    java = shutil.which("java")
    if java is None:
        missing("no Java runtime (Debian's default-jre-headless) for the Nu HTML Checker")
    if not VNU_JAR.is_file():
        missing(f"the Nu HTML Checker is not fetched to {VNU_JAR.relative_to(ROOT)}")
    return [java, "-jar", str(VNU_JAR)]


class _QuietHandler(WSGIRequestHandler):
    """No request log: the tests print nothing a page could carry."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test's app served on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="whistle-live", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
