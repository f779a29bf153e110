"""drop the users' own sign-in failure counts (issue 17)

Since revision 0021 sign-in failures are counted in ``throttles`` (per account, per address
and per known browser: whistle/staff/sign_in_delay.py), and nothing has written
``users.failed_sign_ins`` or ``users.sign_in_blocked_until`` since. They go; a downgrade
brings them back empty (no failures, no wait), as revision 0004 made them.

On SQLite the columns are dropped in place (``ALTER TABLE ... DROP COLUMN``, SQLite >= 3.35,
which the throttles' ``RETURNING`` needs already), never by batch mode's copy of the table:
with foreign keys on, as Whistle's connections have them, dropping the old ``users`` table
deletes its rows first, and every table that refers to a user with ``ON DELETE CASCADE``
(memberships, sessions, case keys, ...) would lose its rows with them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import whistle.core.models

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("sign_in_blocked_until")
        batch_op.drop_column("failed_sign_ins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("sign_in_blocked_until", whistle.core.models.UTCDateTime(), nullable=True)
        )
