"""Whether the browser tests can run here, and what to do when they cannot.

Debian's chromium, the playwright package, axe-core, and the Nu HTML Checker (npm
``vnu-jar``, run by Debian's Java runtime) are installed by ``make test`` (the Makefile's
``browser-deps``). In CI (``CI=true``, or ``WHISTLE_REQUIRE_POSTGRES`` /
``WHISTLE_REQUIRE_BROWSER`` set) a missing one fails the run; elsewhere the browser tests are
skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = ROOT / ".cache" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# How long one browser action may wait: generous on a busy machine, short of pytest hanging.
TIMEOUT_MS = 15_000
HINT = "`make test` installs it (Makefile target browser-deps)"


def browser_required() -> bool:
    return (
        os.environ.get("CI") == "true"
        or bool(os.environ.get("WHISTLE_REQUIRE_POSTGRES"))
        or bool(os.environ.get("WHISTLE_REQUIRE_BROWSER"))
    )


def missing(what: str) -> NoReturn:
    """Fail loudly in CI, skip with the reason elsewhere."""
    if browser_required():
        pytest.fail(f"{what}: {HINT} (required in CI and with WHISTLE_REQUIRE_*)", pytrace=False)
    pytest.skip(f"{what}; {HINT}")


def require_playwright() -> None:
    """At the top of a browser test module, before importing playwright."""
    if importlib.util.find_spec("playwright") is None:
        if browser_required():
            pytest.fail(f"the playwright package is not installed: {HINT}", pytrace=False)
        pytest.skip(f"the playwright package is not installed; {HINT}", allow_module_level=True)
