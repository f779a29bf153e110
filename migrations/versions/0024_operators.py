"""the deployment's operator (issue 18)

``users.is_operator`` marks the people who run the deployment: they create, suspend,
reactivate and delete organisations (whistle/operators/), and read no case. First-run setup
makes its person the operator; on a deployment set up before, ``whistle operator grant EMAIL``
names one.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on SQLite (see revision 0023 for why never by copying the table).
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("is_operator")
