"""retention dates and legal holds, tombstones of deleted cases, purged items, files to delete

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_file_deletions",
        sa.Column("storage_name", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("queued_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_pending_file_deletions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("storage_name", name=op.f("pk_pending_file_deletions")),
    )
    op.create_table(
        "case_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("acknowledge_due", sa.Date(), nullable=False),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.Column("feedback_due", sa.Date(), nullable=False),
        sa.Column("feedback_on", sa.Date(), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("delete_on", sa.Date(), nullable=True),
        sa.Column("deleted_on", sa.Date(), nullable=False),
        sa.Column("retention_rule", sa.String(length=64), nullable=True),
        sa.Column("assigned_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_case_tombstones_category_id_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_case_tombstones_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tombstones")),
        sa.UniqueConstraint("org_id", "reference", name="tombstone_org_reference"),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_on", sa.Date(), nullable=True))

    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_on", sa.Date(), nullable=True))

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retention_rule", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hold_since", sa.Date(), nullable=True))
        batch_op.create_index("ix_cases_delete_on", ["delete_on", "hold_since"], unique=False)
        batch_op.create_index(
            "ix_cases_retention", ["org_id", "delete_on", "status", "hold_since"], unique=False
        )
        batch_op.create_index("ix_cases_hold", ["org_id", "hold_since"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("purged_on")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_hold")
        batch_op.drop_index("ix_cases_retention")
        batch_op.drop_index("ix_cases_delete_on")
        batch_op.drop_column("hold_since")
        batch_op.drop_column("retention_rule")
        batch_op.drop_column("delete_on")

    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_column("purged_on")

    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("purged_on")

    op.drop_table("case_tombstones")
    op.drop_table("pending_file_deletions")
