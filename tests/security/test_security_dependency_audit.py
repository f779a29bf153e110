"""The dependency audit of ``make test`` (tests/audit_dependencies.py) fails when it should.

No network here: pip-audit's report and PyPI's project entries are stand-ins.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests import audit_dependencies as audit

PINS = {"flask": "3.1.3", "pillow": "13.0.0", "old-thing": "1.0"}


def project_entry(version: str, *vulns: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps({"info": {"version": version}, "vulnerabilities": vulns}).encode())


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """pip-audit's report and PyPI's entries, as the test sets them."""
    world: dict[str, Any] = {"report": {"dependencies": []}, "entries": {}}
    monkeypatch.setattr(audit, "pinned_requirements", lambda: dict(PINS))
    monkeypatch.setattr(audit, "run_pip_audit", lambda _path: world["report"])

    def urlopen(url: str, timeout: float) -> io.BytesIO:
        name = url.split("/pypi/")[1].split("/")[0]
        return world["entries"][name]()

    monkeypatch.setattr(audit.urllib.request, "urlopen", urlopen)
    return world


def test_a_vulnerability_pip_audit_reports_fails_the_audit(
    offline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    offline["report"] = {
        "dependencies": [
            {"name": "Flask", "version": "3.1.3", "vulns": [{"id": "PYSEC-0000-1"}]},
            {"name": "pillow", "version": "13.0.0", "vulns": []},
            {"name": "old_thing", "version": "1.0", "vulns": []},
        ]
    }
    assert audit.main([]) == 1
    assert "VULNERABLE flask==3.1.3: PYSEC-0000-1" in capsys.readouterr().out


def test_where_pypi_answers_only_per_project_its_entry_is_read(
    offline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = "Dependency not found on PyPI and could not be audited"
    offline["report"] = {
        "dependencies": [{"name": n, "skip_reason": skipped} for n in ("flask", "pillow")]
        + [{"name": "old-thing", "version": "1.0", "vulns": []}]
    }
    offline["entries"] = {
        "flask": lambda: project_entry("3.1.3", {"id": "GHSA-xxxx", "withdrawn": None}),
        "pillow": lambda: project_entry("13.0.0", {"id": "OLD", "withdrawn": "2025-01-01"}),
    }
    assert audit.main([]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE flask==3.1.3: GHSA-xxxx" in out
    assert "pillow" not in out.split("dependency audit:")[0], "a withdrawn advisory counted"
    assert "1 checked by pip-audit per release, 2 by their PyPI project entry" in out


def test_a_dependency_behind_its_latest_release_is_named_and_fails_only_when_strict(
    offline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = "Dependency not found on PyPI and could not be audited"
    offline["report"] = {"dependencies": [{"name": n, "skip_reason": skipped} for n in PINS]}
    offline["entries"] = {
        "flask": lambda: project_entry("3.1.3"),
        "pillow": lambda: project_entry("13.0.0"),
        "old-thing": lambda: project_entry("2.0"),
    }
    assert audit.main([]) == 0
    assert "NOT AUDITED old-thing==1.0: the latest release is 2.0" in capsys.readouterr().out
    assert audit.main(["--strict"]) == 1


def test_the_requirements_are_the_installed_ones_without_the_project() -> None:
    pins = audit.pinned_requirements()
    assert "flask" in pins and "pip-audit" in pins
    assert "whistle" not in pins  # editable: an unrelated project of that name is on PyPI
