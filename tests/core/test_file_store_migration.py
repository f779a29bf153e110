"""Migration 0026: the file store's tables in the database come with the upgrade and go with a
downgrade, leaving the rest as it was; on SQLite and PostgreSQL (issue 18)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.command import downgrade

from whistle.core.db import make_engine
from whistle.core.schema import alembic_config, upgrade

STORE_TABLES = {"store_files", "store_chunks"}


def test_the_store_tables_come_and_go_with_migration_0026(blank_url: str) -> None:
    engine = make_engine(blank_url)
    try:
        upgrade(engine, "0025")
        before = set(sa.inspect(engine).get_table_names())
        assert not before & STORE_TABLES

        upgrade(engine, "0026")
        assert set(sa.inspect(engine).get_table_names()) == before | STORE_TABLES
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO store_files (name, complete, size, chunk_size, written_at) "
                    "VALUES (:n, true, 4, 1048576, 0)"
                ),
                {"n": "ab" * 16},
            )
            connection.execute(
                sa.text("INSERT INTO store_chunks (name, seq, data) VALUES (:n, 0, :d)"),
                {"n": "ab" * 16, "d": b"fake"},
            )
            # A file's chunks go with its row (the foreign key cascades).
            connection.execute(sa.text("DELETE FROM store_files"))
            assert connection.execute(sa.text("SELECT count(*) FROM store_chunks")).scalar() == 0

        downgrade(alembic_config(engine), "0025")
        assert set(sa.inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()
