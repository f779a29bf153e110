"""retire the invitation and setup links that access logs could hold (issue 17)

Until this revision an invitation link was ``/staff/invitation/<token>`` and a setup link
``/setup/<token>``: the secret was in the path, which access logs record (the README's own
gunicorn format, ``%(U)s``, among them), so anyone reading a log could accept the invitation
first. Links now carry the secret after ``#``, which browsers never send, and the old paths
open nothing. Their tokens may sit in logs and still work if posted, so every unused one
stops working here: the people invited are invited again (the administrator's People page
no longer lists the invitation), and an unfinished setup prints a new link with
``whistle setup-link``. Used rows stay, as the record of who joined; nothing else changes,
so there is nothing to undo.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

INVITATIONS = sa.table("invitations", sa.column("used_at", sa.DateTime))
SETUP_TOKENS = sa.table("setup_tokens", sa.column("used_at", sa.DateTime))


def upgrade() -> None:
    for table in (INVITATIONS, SETUP_TOKENS):
        op.execute(sa.delete(table).where(table.c.used_at.is_(None)))


def downgrade() -> None:
    # The retired tokens are gone for good: a downgrade cannot, and should not, revive them.
    pass
