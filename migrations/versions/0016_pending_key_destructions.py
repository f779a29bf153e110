"""keys in the key store listed for destruction after their rows were deleted

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New and empty: existing cases have no key in the key store yet, so nothing is listed.
    op.create_table(
        "pending_key_destructions",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_pending_key_destructions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pending_key_destructions")),
    )


def downgrade() -> None:
    op.drop_table("pending_key_destructions")
