"""identity disclosures: consent, notice and second-person approval (REQUIREMENTS.md K2)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _fk(column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{table}.id"],
        name=op.f(f"fk_identity_disclosures_{column}_{table}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "identity_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True),
        sa.Column("ground", sa.String(length=16), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("reasons_note_id", sa.Integer(), nullable=True),
        sa.Column("withheld_note_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
        _fk("org_id", "organisations", "CASCADE"),
        _fk("case_id", "cases", "CASCADE"),
        _fk("recipient_user_id", "users", "SET NULL"),
        _fk("requested_by", "users", "SET NULL"),
        _fk("reasons_note_id", "case_notes", "SET NULL"),
        _fk("withheld_note_id", "case_notes", "SET NULL"),
        _fk("message_id", "messages", "SET NULL"),
        _fk("decided_by", "users", "SET NULL"),
        _fk("export_id", "case_exports", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_disclosures")),
        sa.UniqueConstraint("uid", name=op.f("uq_identity_disclosures_uid")),
    )
    with op.batch_alter_table("identity_disclosures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_disclosures_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_disclosures_case_id"))
    op.drop_table("identity_disclosures")
