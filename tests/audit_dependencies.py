"""``make test``'s dependency audit: pip-audit over the project's pinned requirements.

Run as ``python -m tests.audit_dependencies``. The requirements are what is installed
(``pip freeze --all --exclude-editable``: every runtime and development dependency and the
environment's own pip and setuptools, at the version in use, without the project itself,
which shares its name with an unrelated PyPI project).
pip-audit checks each against PyPI's vulnerability data (``--vulnerability-service pypi``)
and the audit fails on any known vulnerability.

Where PyPI answers only for projects, not for single releases (some networks pass
``/pypi/NAME/json`` but not ``/pypi/NAME/VERSION/json``, so pip-audit skips every dependency
and reports a clean audit that checked nothing), each skipped dependency is checked here
against the project's own entry, whose vulnerabilities are those of its latest release: exact
for a dependency at its latest release. One that is not is listed as not audited, and with
``--strict`` that fails the audit too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PROJECT_URL = "https://pypi.org/pypi/{name}/json"
TIMEOUT = 30


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    ids: tuple[str, ...] = ()
    not_audited: str = ""


def canonical(name: str) -> str:
    """A distribution's name as PyPI and pip-audit write it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def pinned_requirements() -> dict[str, str]:
    """name -> version of everything installed but the editable project."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = {}
    for line in frozen.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[canonical(name)] = version.strip()
    return pins


def run_pip_audit(requirements: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--vulnerability-service",
            "pypi",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: vulnerabilities found (in the JSON)
        sys.stderr.write(done.stderr)
        raise SystemExit(f"pip-audit failed (exit {done.returncode})")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def check_by_project(name: str, version: str) -> Finding:
    """The fallback for one dependency pip-audit could not look up by release."""
    url = PROJECT_URL.format(name=name)
    with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
        data = json.load(answer)
    latest = str(data["info"]["version"])
    if latest != version:
        return Finding(name, version, not_audited=f"the latest release is {latest}")
    ids = tuple(
        str(v.get("id")) for v in data.get("vulnerabilities") or [] if not v.get("withdrawn")
    )
    return Finding(name, version, ids)


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    pins = pinned_requirements()
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        report = run_pip_audit(requirements)
    findings: list[Finding] = []
    skipped: list[str] = []
    for dependency in report["dependencies"]:  # type: ignore[attr-defined]
        name = canonical(str(dependency["name"]))
        if dependency.get("skip_reason"):
            skipped.append(name)
        elif dependency.get("vulns"):
            ids = tuple(str(v["id"]) for v in dependency["vulns"])
            findings.append(Finding(name, str(dependency["version"]), ids))
    audited_by_pip_audit = len(pins) - len(skipped)
    if skipped:
        with ThreadPoolExecutor(max_workers=8) as pool:
            findings += pool.map(lambda n: check_by_project(n, pins[n]), sorted(skipped))
    vulnerable = [f for f in findings if f.ids]
    unaudited = [f for f in findings if f.not_audited]
    for f in vulnerable:
        print(f"VULNERABLE {f.name}=={f.version}: {', '.join(f.ids)}")
    for f in unaudited:
        print(f"NOT AUDITED {f.name}=={f.version}: {f.not_audited}")
    print(
        f"dependency audit: {len(pins)} pinned requirements, {audited_by_pip_audit} checked by "
        f"pip-audit per release, {len(skipped) - len(unaudited)} by their PyPI project entry, "
        f"{len(unaudited)} not audited, {len(vulnerable)} with known vulnerabilities"
    )
    return 1 if vulnerable or (strict and unaudited) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
