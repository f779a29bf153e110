"""the inbox's "what is due first" order from an index (issue 16)

The inbox lists by default what is due first. Computed at each query from the status and the
four deadline columns, that order cost a sort of a handler's whole list: 110-130 ms for the
first page at 100,000 cases, against 8 ms for "newest first" (bench/inbox_bench.py). This
revision keeps the order on each case as one number, ``cases.due_rank``
(``whistle.core.deadlines.due_rank``: the day of the next open deadline, or, with none running,
after every such day, the newest first), fills it for the cases there are, and indexes it like
the other inbox orders. The server default only lets the column be added NOT NULL; every write
of a case sets the rank (a flush event of the model).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The rule as this revision knows it (frozen here; the model's function is the live one).
NO_DEADLINE_RANK = 2 * date.max.toordinal() + 1
CASES = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("received_on", sa.Date),
    sa.column("acknowledge_due", sa.Date),
    sa.column("acknowledged_on", sa.Date),
    sa.column("feedback_due", sa.Date),
    sa.column("feedback_on", sa.Date),
    sa.column("due_rank", sa.Integer),
)
FILTER_COLUMNS = [
    "status",
    "category_id",
    "scope",
    "unread_for_handlers",
    "acknowledged_on",
    "feedback_on",
    "acknowledge_due",
    "feedback_due",
]
BATCH = 2000


def _rank(row: sa.Row[tuple[object, ...]]) -> int:
    status, received_on, ack_due, acked_on, feedback_due, feedback_on = row[1:]
    if status != "closed" and acked_on is None:
        return ack_due.toordinal()  # type: ignore[attr-defined,no-any-return]
    if status != "closed" and feedback_on is None:
        return feedback_due.toordinal()  # type: ignore[attr-defined,no-any-return]
    return NO_DEADLINE_RANK - received_on.toordinal()  # type: ignore[attr-defined,no-any-return]


def upgrade() -> None:
    op.add_column(
        "cases", sa.Column("due_rank", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            CASES.c.id,
            CASES.c.status,
            CASES.c.received_on,
            CASES.c.acknowledge_due,
            CASES.c.acknowledged_on,
            CASES.c.feedback_due,
            CASES.c.feedback_on,
        ).order_by(CASES.c.id)
    ).all()
    update = (
        sa.update(CASES)
        .where(CASES.c.id == sa.bindparam("case_id"))
        .values(due_rank=sa.bindparam("rank"))
    )
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        connection.execute(update, [{"case_id": r[0], "rank": _rank(r)} for r in batch])
    op.create_index(
        "ix_cases_inbox_due_rank", "cases", ["org_id", "due_rank", "id", *FILTER_COLUMNS]
    )


def downgrade() -> None:
    op.drop_index("ix_cases_inbox_due_rank", table_name="cases")
    # A plain DROP COLUMN (SQLite 3.35 and later): a batch copy of the table would drop the
    # old one, which the foreign keys of every case's rows would follow.
    op.drop_column("cases", "due_rank")
