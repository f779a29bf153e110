"""an index for reading an organisation's deleted cases by period (statistics, register)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_tombstones_org_received", "case_tombstones", ["org_id", "received_on"])


def downgrade() -> None:
    op.drop_index("ix_case_tombstones_org_received", table_name="case_tombstones")
