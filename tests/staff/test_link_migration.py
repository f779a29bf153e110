"""Migration 0022: the invitation and setup links of the old form (the secret in the path, so
in access logs) stop working; used ones stay as the record of who joined. On SQLite and
PostgreSQL, from a database at the revision before it, filled as the old code left it."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from whistle.core.db import make_engine
from whistle.core.schema import upgrade


def test_unused_invitation_and_setup_links_stop_working_and_used_ones_stay(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0020")
    at = datetime(2026, 2, 1, 10, 0)
    meta = sa.MetaData()
    invitations = sa.Table("invitations", meta, autoload_with=engine)
    setup_tokens = sa.Table("setup_tokens", meta, autoload_with=engine)
    organisations = sa.Table("organisations", meta, autoload_with=engine)
    with engine.begin() as connection:
        org = connection.execute(
            sa.insert(organisations)
            .values(
                slug="gammelfirma",
                name="Gammelfirma ApS",
                is_active=True,
                accepts_anonymous=True,
                created_at=at,
                default_locale="da",
            )
            .returning(organisations.c.id)
        ).scalar_one()
        for n, used in enumerate((None, at, None)):
            connection.execute(
                sa.insert(invitations).values(
                    org_id=org,
                    email=f"person{n}@example.org",
                    roles="handler",
                    token_hash=hashlib.sha256(f"old-link-{n}".encode()).digest(),
                    created_at=at,
                    expires_at=datetime(2026, 2, 8, 10, 0),
                    used_at=used,
                )
            )
        for n, used in enumerate((None, at)):
            connection.execute(
                sa.insert(setup_tokens).values(
                    token_hash=hashlib.sha256(f"old-setup-{n}".encode()).digest(),
                    created_at=at,
                    used_at=used,
                )
            )

    upgrade(engine, "head")

    with engine.connect() as connection:
        left = connection.execute(sa.select(invitations.c.email, invitations.c.used_at)).all()
        assert [(email, used is not None) for email, used in left] == [
            ("person1@example.org", True)
        ]
        tokens = connection.execute(sa.select(setup_tokens.c.used_at)).all()
        assert [used is not None for (used,) in tokens] == [True]
    engine.dispose()
