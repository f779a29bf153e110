"""throttles shared by every process, and TOTP codes used once (issue 17)

Throttles lived in each worker's memory: every worker counted on its own, a restart forgot
them, and several app machines each allowed the whole quota. ``throttles`` keeps the counts in
the database (whistle/core/throttle.py), keyed by a keyed hash, never a client address.
``used_totp_steps`` records each TOTP step that signed a user in, under a primary key, so the
same code raced from two sessions signs in only one (whistle/staff/auth.py).

The users' ``failed_sign_ins`` and ``sign_in_blocked_until`` stay, unused: sign-in failures
are counted in ``throttles`` from now on.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("key", sa.LargeBinary(32), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("wait_until", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_throttles")),
    )
    op.create_index("ix_throttles_expires_at", "throttles", ["expires_at"])
    op.create_table(
        "used_totp_steps",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_used_totp_steps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "step", name=op.f("pk_used_totp_steps")),
    )


def downgrade() -> None:
    op.drop_table("used_totp_steps")
    op.drop_index("ix_throttles_expires_at", table_name="throttles")
    op.drop_table("throttles")
