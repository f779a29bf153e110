"""data-subject requests, their keys, notes and cases; item restrictions; persons concerned

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_to", sa.Date(), nullable=True),
        sa.Column("extension_notice_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("legal_basis", sa.String(length=32), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("subject", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_rights_requests_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_rights_requests_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
        sa.UniqueConstraint("uid", name=op.f("uq_rights_requests_uid")),
    )
    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rights_requests_open", ["org_id", "status", "due_on"], unique=False
        )

    op.create_table(
        "rights_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_rights_notes_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_rights_notes_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_notes_request_id_rights_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_notes")),
        sa.UniqueConstraint("uid", name=op.f("uq_rights_notes_uid")),
    )
    with op.batch_alter_table("rights_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rights_notes_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "rights_request_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_rights_request_keys_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_request_keys_request_id_rights_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_rights_request_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_keys")),
    )
    with op.batch_alter_table("rights_request_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rights_request_keys_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rights_request_keys_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "item_restrictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_item_restrictions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_item_restrictions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_item_restrictions_request_id_rights_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_restrictions")),
        sa.UniqueConstraint("case_id", "item_kind", "item_id", name="one_restriction_per_item"),
    )
    with op.batch_alter_table("item_restrictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_restrictions_case_id"), ["case_id"], unique=False)

    op.create_table(
        "persons_concerned",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.LargeBinary(), nullable=False),
        sa.Column("notice_status", sa.String(length=16), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("deferral_basis", sa.String(length=32), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_persons_concerned_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_persons_concerned_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons_concerned")),
        sa.UniqueConstraint("uid", name=op.f("uq_persons_concerned_uid")),
    )
    with op.batch_alter_table("persons_concerned", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_concerned_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_persons_concerned_review_on"), ["review_on"], unique=False
        )

    op.create_table(
        "rights_request_cases",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_rights_request_cases_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_rights_request_cases_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_request_cases_request_id_rights_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "case_id", name=op.f("pk_rights_request_cases")),
    )
    with op.batch_alter_table("rights_request_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rights_request_cases_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rights_request_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_request_cases_case_id"))

    op.drop_table("rights_request_cases")
    with op.batch_alter_table("persons_concerned", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_concerned_review_on"))
        batch_op.drop_index(batch_op.f("ix_persons_concerned_case_id"))

    op.drop_table("persons_concerned")
    with op.batch_alter_table("item_restrictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_restrictions_case_id"))

    op.drop_table("item_restrictions")
    with op.batch_alter_table("rights_request_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_request_keys_user_id"))
        batch_op.drop_index(batch_op.f("ix_rights_request_keys_request_id"))

    op.drop_table("rights_request_keys")
    with op.batch_alter_table("rights_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_notes_request_id"))

    op.drop_table("rights_notes")
    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_rights_requests_open")

    op.drop_table("rights_requests")
