"""sessions: an absolute lifetime (created_at) and indexes for sweeping ended sessions

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01

Existing sessions get ``created_at = last_seen_at``: none then lives longer than one lifetime
after its last request before the upgrade (so at the latest one lifetime after the upgrade),
and none is cut short, as no session began after it was last used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import whistle.core.models

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_at", whistle.core.models.UTCDateTime(), nullable=True)
        )
    op.execute("UPDATE web_sessions SET created_at = last_seen_at")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "created_at", existing_type=whistle.core.models.UTCDateTime(), nullable=False
        )
        batch_op.create_index("ix_web_sessions_kind_last_seen", ["kind", "last_seen_at"])
        batch_op.create_index("ix_web_sessions_kind_created", ["kind", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_kind_created")
        batch_op.drop_index("ix_web_sessions_kind_last_seen")
        batch_op.drop_column("created_at")
