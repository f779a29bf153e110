"""Rows written into a database at an older revision, as the code of the time left them, for
the migration tests: only the columns a test cares about are given, the others required by
the old schema get a plain fake value."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa


def _filler(column: sa.Column[Any], n: int) -> object:
    """A value for a required column the old code filled and the test does not care about."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 5, 9, 0)
    if isinstance(kind, sa.Date):
        return date(2026, 1, 5)
    if isinstance(kind, sa.Integer | sa.Numeric):
        return 0
    if isinstance(kind, sa.LargeBinary):
        return b"fake"
    return f"fake-{column.name}-{n}"[: getattr(kind, "length", None) or 64]


def insert(connection: sa.Connection, table: str, **values: object) -> int:
    """Insert a row as the old schema has it (columns not given get a plain value); its id."""
    found = sa.Table(table, sa.MetaData(), autoload_with=connection)
    row = dict(values)
    for column in found.columns:
        needed = not column.nullable and column.server_default is None
        if needed and column.name not in row and not column.primary_key:
            row[column.name] = _filler(column, secrets.randbelow(10**9))
    inserted = connection.execute(sa.insert(found).values(row).returning(found.c.id))
    return int(inserted.scalar_one())
