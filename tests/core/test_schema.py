"""The migrated schema equals the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from whistle.core.db import make_engine
from whistle.core.models import Base
from whistle.core.schema import pending, upgrade


def test_migrations_produce_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
        assert not pending(engine)
    finally:
        engine.dispose()


def test_every_scheme_table_belongs_to_an_organisation(database_url: str) -> None:
    """The organisation is first-class: every table but the global ones carries org_id."""
    # The audit log is one chain for the whole deployment; its org_id is a plain number so
    # the record outlives a deleted organisation.
    global_tables = {
        "organisations",
        "users",
        "setup_tokens",
        "web_sessions",
        "alembic_version",
        "audit_entries",
        "audit_head",
        "instance_settings",  # the deployment's own settings (its mail server)
        "throttles",  # limits of the whole deployment, keyed by keyed hashes (core/throttle.py)
        "used_totp_steps",  # a user's spent authenticator codes: users are global too
        # The file store's database backend: the deployment's store, as the folder is (the
        # rows that name a file carry the organisation).
        "store_files",
        "store_chunks",
    }
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        for table in set(inspector.get_table_names()) - global_tables:
            columns = {c["name"] for c in inspector.get_columns(table)}
            assert "org_id" in columns, f"{table} has no org_id"
            fks = inspector.get_foreign_keys(table)
            assert any(
                fk["referred_table"] == "organisations" and fk["constrained_columns"] == ["org_id"]
                for fk in fks
            ), f"{table}.org_id is not a foreign key to organisations"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_sqlite_pragmas_are_on(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
    finally:
        engine.dispose()
