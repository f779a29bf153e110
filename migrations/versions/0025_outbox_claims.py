"""the outbox's claims: which ``notify send`` run is handing a mail over, and since when (issue 18)

Several machines may run ``whistle notify send`` at once. A run claims a mail (``claimed_by``,
``claimed_at``) in a committed transaction just before handing it to the mail server, and
clears the claim when it records the outcome; a claim is never taken by another run, and one
older than an hour is given up, not sent again (whistle/notify/sending.py). Both columns are
empty for every existing row: nothing is being handed over while the schema changes.

Added in place on SQLite (``ALTER TABLE ... ADD COLUMN``), never by batch mode's copy of the
table (see revision 0023 for why a copy is dangerous with foreign keys on).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import whistle.core.models

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_at", whistle.core.models.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
