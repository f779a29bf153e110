"""key epochs: case keys and records carry the generation of keys that encrypts them; the
reporter's own key pair; exclusions after intake; the rights request key renewed too

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Existing rows are epoch 0 and record format 1 (their ciphertexts keep their old contexts);
existing cases have no reporter key pair until their reporter next signs in
(whistle/reporting/followup.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ZERO = sa.text("0")
_ONE = sa.text("1")
_RECORDS = ("messages", "attachments", "case_notes")
_EPOCH_ONLY = ("minutes_versions", "persons_concerned", "rights_requests", "rights_notes")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_public_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("key_epoch", sa.Integer(), nullable=False, server_default=_ZERO)
        )
        batch_op.add_column(
            sa.Column(
                "content_rotation_pending", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("case_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default=_ZERO))
        batch_op.drop_constraint("case_kind_recipient", type_="unique")
        batch_op.create_unique_constraint(
            "case_epoch_kind_recipient", ["case_id", "epoch", "kind", "user_id", "recipient"]
        )
        batch_op.drop_index("ix_case_keys_holder")
        batch_op.create_index(
            "ix_case_keys_holder", ["user_id", "org_id", "kind", "epoch", "case_id"], unique=False
        )
    for table in _RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("key_epoch", sa.Integer(), nullable=False, server_default=_ZERO)
            )
            batch_op.add_column(
                sa.Column("format", sa.Integer(), nullable=False, server_default=_ONE)
            )
    for table in _EPOCH_ONLY:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("key_epoch", sa.Integer(), nullable=False, server_default=_ZERO)
            )
    with op.batch_alter_table("rights_request_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default=_ZERO))
    op.create_table(
        "case_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_exclusions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_case_exclusions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_exclusions")),
        sa.UniqueConstraint("uid", name=op.f("uq_case_exclusions_uid")),
    )
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_exclusions_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_exclusions_case_id"))
    op.drop_table("case_exclusions")
    with op.batch_alter_table("rights_request_keys", schema=None) as batch_op:
        batch_op.drop_column("epoch")
    for table in _EPOCH_ONLY:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("key_epoch")
    for table in _RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("format")
            batch_op.drop_column("key_epoch")
    with op.batch_alter_table("case_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_case_keys_holder")
        batch_op.create_index(
            "ix_case_keys_holder", ["user_id", "org_id", "kind", "case_id"], unique=False
        )
        batch_op.drop_constraint("case_epoch_kind_recipient", type_="unique")
        batch_op.create_unique_constraint(
            "case_kind_recipient", ["case_id", "kind", "user_id", "recipient"]
        )
        batch_op.drop_column("epoch")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("content_rotation_pending")
        batch_op.drop_column("key_epoch")
        batch_op.drop_column("reporter_public_key")
