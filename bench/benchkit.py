"""What the benchmark scripts share: the machine's description and a throw-away PostgreSQL
database that is dropped whatever happens (an error, Ctrl-C, SIGTERM)."""

from __future__ import annotations

import contextlib
import platform
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from whistle.db import make_engine, normalise_url


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return 0.0


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while cleanup runs: a second Ctrl-C must not leave a database."""
    previous = (
        signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def admin_statement(admin_url: str, statement: str) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextlib.contextmanager
def postgresql_url(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh database with a random name: (its URL, "PostgreSQL <version>"); dropped on the
    way out whatever happened."""
    name = f"whistle_bench_{secrets.token_hex(4)}"
    url = (
        make_url(normalise_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    )
    created = False
    try:
        admin_statement(admin_url, f'CREATE DATABASE "{name}"')
        created = True
        probe = make_engine(url)
        try:
            with probe.connect() as connection:
                server = str(connection.scalar(text("SHOW server_version"))).split()[0]
        finally:
            probe.dispose()
        yield url, f"PostgreSQL {server}"
    finally:
        if created:
            with shielded():
                admin_statement(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgresql(admin_url: str) -> Iterator[tuple[Engine, str]]:
    """As :func:`postgresql_url`, with an engine on it (disposed before the drop)."""
    with postgresql_url(admin_url) as (url, description):
        engine = make_engine(url)
        try:
            yield engine, description
        finally:
            engine.dispose()
