"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``WHISTLE_TEST_DATABASE_URL`` (default: the local server's ``test``
database). Each pytest worker gets a database of its own, created and dropped here. When the
server cannot be reached the PostgreSQL half is skipped with a loud reason, except when
``WHISTLE_REQUIRE_POSTGRES`` is set or ``CI=true``: then the run fails.
"""

from __future__ import annotations

import gc
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from tests.steps.factories import Unit, make_unit
from whistle.app import create_app
from whistle.core.clock import FixedClock
from whistle.core.db import make_engine, normalise_url
from whistle.core.instance import init_instance
from whistle.core.models import Base
from whistle.core.runtime import runtime
from whistle.core.schema import upgrade

# In CI the property-based tests draw the same examples every run, so a landing never turns on
# luck; on a developer's machine they explore anew each run (a failure found there is saved
# in .hypothesis/ and replayed first). Every test still sets its own number of examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")


class _SharedTemplateCode(BytecodeCache):
    """Compiled templates kept for the whole test process. Every test builds an app of its
    own, and each app's Jinja environment would otherwise compile every template it renders
    again (a quarter of a typical test's time, measured with cProfile). A bucket's key is the
    template's name and its source's checksum, so a changed template is compiled afresh; the
    apps of the tests all have the same Jinja settings. Production builds one app per process
    and is not affected."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self.code.get(bucket.key)
        if found is not None:
            bucket.bytecode_from_string(found)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _SharedTemplateCode()}

# Likewise each app's URL map: Werkzeug writes and compiles Python source for the two URL
# builders of every rule (about 0.15 s per app, 250 builders; cProfile). A builder depends only
# on the rule's parsed parts, its defaults and whether unknown arguments are appended, and takes
# its rule as an argument, so one compiled builder serves that rule in every test's app. If
# Werkzeug renames this private method, reading it below fails loudly rather than silently.
_compile_builder = Rule._compile_builder
_builders: dict[tuple[object, ...], Any] = {}


def _shared_builder(self: Rule, append_unknown: bool = True) -> Any:
    defaults = tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items()))
    converters = tuple(sorted((k, type(c).__name__) for k, c in self._converters.items()))
    key = (tuple(self._trace), defaults, converters, append_unknown)
    if key not in _builders:
        _builders[key] = _compile_builder(self, append_unknown)
    return _builders[key]


assert callable(_compile_builder)
Rule._compile_builder = _shared_builder  # type: ignore[method-assign]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Less time in Python's garbage collector (about a sixth of a worker's CPU before).
    Everything imported by now (the app's modules, SQLAlchemy's metadata, the tests) lives
    for the whole run: frozen, the collector no longer walks it. Every test leaves an app, an
    engine and their cycles behind; collecting after every 700 new objects (the default)
    walked them again and again. With these thresholds `tests/cases` and `tests/registers`
    took 75 s of CPU instead of 91 s (8 December 2026); engines are still disposed by the
    fixtures that make them, so no connection waits for the collector."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def postgres_required() -> bool:
    return bool(os.environ.get("WHISTLE_REQUIRE_POSTGRES")) or os.environ.get("CI") == "true"


def _admin_engine(url: str) -> Engine:
    return create_engine(normalise_url(url), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _temporary_database(prefix: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this worker, dropped afterwards."""
    base = os.environ.get("WHISTLE_TEST_DATABASE_URL", DEFAULT_PG)
    admin = _admin_engine(base)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        admin.dispose()
        reason = (
            f"PostgreSQL not reachable at {make_url(base).render_as_string()}: {type(exc).__name__}"
        )
        if postgres_required():
            pytest.fail(f"{reason} (required: CI or WHISTLE_REQUIRE_POSTGRES)", pytrace=False)
        pytest.skip(reason)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{re.sub(r'[^a-z0-9]', '', worker)}_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        # A test database need not survive a crash: commits do not wait for the disk (the
        # server's own setting is untouched; this database is dropped at the end).
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    yield make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this worker, migrated to the newest schema."""
    for url in _temporary_database("whistle_t"):
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        emptying = _emptying_engines.pop(url, None)
        if emptying is not None:
            emptying.dispose()


@pytest.fixture(scope="session")
def postgres_keystore_url() -> Iterator[str]:
    """A PostgreSQL database of its own for this worker's key-store backend tests (never the
    application's: the key store refuses that). Empty: the key store makes its tables."""
    yield from _temporary_database("whistle_k")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


# One engine per PostgreSQL test database for emptying it between tests: a new engine for
# each emptying connected afresh and compiled the forty DELETEs again (0.12 s a time, twice
# per test, against 0.014 s with the engine kept; measured 8 December 2026).
_emptying_engines: dict[str, Engine] = {}


def _empty_all(url: str) -> None:
    # DELETE in dependency order is much faster than TRUNCATE for the few rows a test makes.
    engine = _emptying_engines.get(url)
    if engine is None:
        engine = _emptying_engines[url] = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The URL of an empty, migrated database: SQLite in one run, PostgreSQL in the other."""
    if request.param == "sqlite":
        path = tmp_path / "whistle.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    _empty_all(url)
    yield url
    _empty_all(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, for a migration test to fill at an older revision (the
    shared test databases are already at the head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    base = os.environ.get("WHISTLE_TEST_DATABASE_URL", DEFAULT_PG)
    admin = _admin_engine(base)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        admin.dispose()
        if postgres_required():
            pytest.fail(f"PostgreSQL not reachable: {type(exc).__name__}", pytrace=False)
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    name = f"whistle_mig_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def counsel_pin_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`whistle export` pins organisation keys in counsel's own configuration: in tests, a
    file of the test's own, never the account's ~/.config (whistle/counsel/bundle_trust.py)."""
    path = tmp_path / "counsel-config" / "pins.json"
    monkeypatch.setenv("WHISTLE_PINS", str(path))
    return path


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    """A fresh instance folder; its key store (``keystore.db``, the default ``keystore_url``)
    is made there on first use, so every test has its own on both database runs."""
    path = tmp_path / "instance"
    init_instance(path)
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def app_config(database_url: str, instance_path: Path) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "argon2_profile": "test",
        "base_url": "http://localhost",
    }


@pytest.fixture
def app(app_config: dict[str, Any], instance_path: Path, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(app_config, instance_path=instance_path, clock=clock)
    application.config["TESTING"] = True
    yield application
    from whistle.core.runtime import runtime

    runtime(application).engine.dispose()
    runtime(application).keystore.dispose()


@pytest.fixture
def production_app(
    app_config: dict[str, Any], instance_path: Path, clock: FixedClock, app: Flask
) -> Iterator[Flask]:
    """The same instance and database as ``app``, with the production Argon2 costs."""
    from whistle.core.runtime import runtime

    strong = create_app(
        {**app_config, "argon2_profile": "production"}, instance_path=instance_path, clock=clock
    )
    strong.config["TESTING"] = True
    yield strong
    runtime(strong).engine.dispose()
    runtime(strong).keystore.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


pytest_plugins = ["tests.steps.smtp_stub"]


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session for a test's own reads and writes. No app context is held open:
    each request of the test client gets its own (they would share ``g`` otherwise)."""
    with runtime(app).sessions() as s:
        yield s


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    """The obviously fake organisation of tests/steps/factories.py: handlers, a lead, an admin."""
    with app.app_context():
        return make_unit(session, clock, runtime(app).settings.instance_key)
