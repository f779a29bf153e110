"""key certification: certification key copies, key certifications, key warnings

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

The tables only. Existing keys are certified, and the organisation keys pinned in the
instance folder, by the upgrade step that ``whistle init`` and ``whistle db upgrade`` run
after the migrations (whistle/keys/first_use.py ``upgrade_trust``): it needs the instance
folder, which a migration does not see.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from whistle.core.models import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "certification_key_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("org_key_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _fk("certification_key_copies", "org_id", "organisations", "CASCADE"),
        _fk("certification_key_copies", "org_key_id", "org_keys", "CASCADE"),
        _fk("certification_key_copies", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_key_copies")),
        sa.UniqueConstraint("org_key_id", "recipient", "user_id", name="certification_copy"),
    )
    op.create_index(
        op.f("ix_certification_key_copies_org_key_id"),
        "certification_key_copies",
        ["org_key_id"],
    )
    op.create_index(
        op.f("ix_certification_key_copies_user_id"), "certification_key_copies", ["user_id"]
    )
    op.create_table(
        "key_certifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("certified_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _fk("key_certifications", "org_id", "organisations", "CASCADE"),
        _fk("key_certifications", "user_id", "users", "CASCADE"),
        _fk("key_certifications", "certified_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_certifications")),
        sa.UniqueConstraint("org_id", "user_id", "role", name="key_certification"),
    )
    op.create_index(op.f("ix_key_certifications_user_id"), "key_certifications", ["user_id"])
    op.create_table(
        "key_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("dismissed_at", UTCDateTime(), nullable=True),
        sa.Column("dismissed_by", sa.Integer(), nullable=True),
        _fk("key_warnings", "org_id", "organisations", "CASCADE"),
        _fk("key_warnings", "user_id", "users", "CASCADE"),
        _fk("key_warnings", "dismissed_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_warnings")),
    )
    op.create_index("ix_key_warnings_open", "key_warnings", ["org_id", "dismissed_at"])


def downgrade() -> None:
    op.drop_index("ix_key_warnings_open", table_name="key_warnings")
    op.drop_table("key_warnings")
    op.drop_index(op.f("ix_key_certifications_user_id"), table_name="key_certifications")
    op.drop_table("key_certifications")
    op.drop_index(
        op.f("ix_certification_key_copies_user_id"), table_name="certification_key_copies"
    )
    op.drop_index(
        op.f("ix_certification_key_copies_org_key_id"), table_name="certification_key_copies"
    )
    op.drop_table("certification_key_copies")
