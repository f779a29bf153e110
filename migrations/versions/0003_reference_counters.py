"""reference counters (race-free case references)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "reference_counters",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_reference_counters_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "year", name=op.f("pk_reference_counters")),
    )
    # Carry on from the references already given out ("<year>-<number>").
    highest: dict[tuple[int, int], int] = {}
    for org_id, reference in op.get_bind().execute(sa.text("SELECT org_id, reference FROM cases")):
        year, _, number = str(reference).partition("-")
        if year.isdigit() and number.isdigit():
            key = (int(org_id), int(year))
            highest[key] = max(highest.get(key, 0), int(number))
    if highest:
        op.bulk_insert(
            counters,
            [{"org_id": o, "year": y, "last": n} for (o, y), n in sorted(highest.items())],
        )


def downgrade() -> None:
    op.drop_table("reference_counters")
