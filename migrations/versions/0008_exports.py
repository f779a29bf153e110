"""case files exported for counsel, the disclosure register, and the indexes deletion needs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("case_reference", sa.String(length=32), nullable=False),
        sa.Column("counsel_user_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("includes_notes", sa.Boolean(), nullable=False),
        sa.Column("includes_identity", sa.Boolean(), nullable=False),
        sa.Column("storage_name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("preview", sa.LargeBinary(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("downloaded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_exports_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["counsel_user_id"],
            ["users.id"],
            name=op.f("fk_case_exports_counsel_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_case_exports_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_case_exports_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_exports")),
        sa.UniqueConstraint("storage_name", name=op.f("uq_case_exports_storage_name")),
        sa.UniqueConstraint("uid", name=op.f("uq_case_exports_uid")),
    )
    with op.batch_alter_table("case_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_exports_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_exports_counsel_user_id"), ["counsel_user_id"], unique=False
        )

    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
        sa.Column("includes_identity", sa.Boolean(), nullable=False),
        sa.Column("disclosed_on", sa.Date(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_disclosures_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_disclosures_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["case_exports.id"],
            name=op.f("fk_disclosures_export_id_case_exports"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_disclosures_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["users.id"],
            name=op.f("fk_disclosures_recipient_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosures_case_id"), ["case_id"], unique=False)

    # Deleting cases (retention): a message's files, and a case's mails by its reference.
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_message_id"), ["message_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_case_reference", ["org_id", "case_reference"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_case_reference")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_message_id"))
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosures_case_id"))

    op.drop_table("disclosures")
    with op.batch_alter_table("case_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_exports_counsel_user_id"))
        batch_op.drop_index(batch_op.f("ix_case_exports_case_id"))

    op.drop_table("case_exports")
