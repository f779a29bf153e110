"""Creating an instance folder: config and secrets, never overwriting what exists.

Secrets are separate files with mode 0600, created with ``O_EXCL`` so a second ``whistle init``
(or two at once) can never replace a secret that data already depends on: a new pepper would
orphan every case code, a new instance key every sealed signing key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from whistle.core.settings import CONFIG_FILE, INSTANCE_KEY_FILE, PEPPER_FILE, SECRET_KEY_FILE

# The commented example in the checkout is the template, so there is one copy of the docs.
CONFIG_TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "instance" / "config.example.toml"


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _write_secret(path: Path, data: bytes, report: InitReport) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        report.kept.append(path.name)
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    report.created.append(path.name)


def init_instance(path: Path) -> InitReport:
    """Create ``path`` with a config file and fresh secrets; keep whatever already exists."""
    report = InitReport()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    (path / "files").mkdir(mode=0o700, exist_ok=True)
    for name in (SECRET_KEY_FILE, PEPPER_FILE, INSTANCE_KEY_FILE):
        _write_secret(path / name, secrets.token_hex(32).encode("ascii") + b"\n", report)
    config = path / CONFIG_FILE
    try:
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        report.kept.append(CONFIG_FILE)
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(CONFIG_TEMPLATE_PATH.read_text(encoding="utf-8"))
        report.created.append(CONFIG_FILE)
    return report
