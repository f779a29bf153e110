"""Migration 0023: the users' own sign-in failure columns go (failures are counted in
``throttles`` since 0021), and nothing else of the users or of what refers to them changes;
a downgrade brings the columns back empty. On SQLite and PostgreSQL, from a database at the
revision before it, filled as the old code left it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic.command import downgrade

from tests.steps.old_rows import insert
from whistle.core.db import make_engine
from whistle.core.schema import alembic_config, upgrade

OLD_COLUMNS = {"failed_sign_ins", "sign_in_blocked_until"}


def _columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("users")}


def _rows(engine: sa.Engine) -> dict[str, int]:
    """How many rows the users and two tables that refer to them (ON DELETE CASCADE) hold."""
    with engine.connect() as connection:
        return {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("users", "memberships", "used_totp_steps")
        }


def test_the_old_sign_in_columns_go_and_every_user_keeps_what_refers_to_them(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0022")
    with engine.begin() as connection:
        org = insert(connection, "organisations", slug="gammelfirma", name="Gammelfirma ApS")
        user = insert(
            connection,
            "users",
            email="fake.handler@example.org",
            display_name="Fake Handler",
            failed_sign_ins=3,
            sign_in_blocked_until=datetime(2026, 2, 1, 10, 15),
        )
        insert(connection, "memberships", org_id=org, user_id=user, role="handler")
        spent = sa.table("used_totp_steps", sa.column("user_id"), sa.column("step"))
        connection.execute(sa.insert(spent).values(user_id=user, step=7))

    upgrade(engine, "head")

    assert not _columns(engine) & OLD_COLUMNS
    # SQLite's batch mode would copy the table and drop the old one: with foreign keys on,
    # that deletes the memberships and spent codes (ON DELETE CASCADE) with it.
    assert _rows(engine) == {"users": 1, "memberships": 1, "used_totp_steps": 1}

    downgrade(alembic_config(engine), "0022")

    assert _columns(engine) >= OLD_COLUMNS
    with engine.connect() as connection:
        back = connection.execute(
            sa.text("SELECT email, failed_sign_ins, sign_in_blocked_until FROM users")
        ).all()
    assert [tuple(row) for row in back] == [("fake.handler@example.org", 0, None)]
    assert _rows(engine) == {"users": 1, "memberships": 1, "used_totp_steps": 1}
    upgrade(engine, "head")
    assert not _columns(engine) & OLD_COLUMNS
    engine.dispose()
