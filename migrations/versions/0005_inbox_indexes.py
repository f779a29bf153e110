"""inbox indexes

The handlers' inbox picks its page of 50 inside an index of the organisation's cases in the
chosen order that carries every column it filters on, so filtering never reads a case row
(mostly ciphertext); a handler's whole list is counted from an index of their keys. Figures:
docs/benchmarks.md, "Inbox".

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_keys_holder", "case_keys", ["user_id", "org_id", "kind", "case_id"])
    op.create_index(
        "ix_cases_inbox_received",
        "cases",
        [
            "org_id",
            "received_on",
            "id",
            "status",
            "category_id",
            "scope",
            "unread_for_handlers",
            "acknowledged_on",
            "feedback_on",
            "acknowledge_due",
            "feedback_due",
        ],
    )
    op.create_index(
        "ix_cases_inbox_status",
        "cases",
        [
            "org_id",
            "status",
            "received_on",
            "id",
            "category_id",
            "scope",
            "unread_for_handlers",
            "acknowledged_on",
            "feedback_on",
            "acknowledge_due",
            "feedback_due",
        ],
    )
    op.create_index(
        "ix_cases_inbox_unread",
        "cases",
        [
            "org_id",
            "unread_for_handlers",
            "received_on",
            "id",
            "status",
            "category_id",
            "scope",
            "acknowledged_on",
            "feedback_on",
            "acknowledge_due",
            "feedback_due",
        ],
    )
    op.create_index(
        "ix_cases_inbox_ack_due",
        "cases",
        [
            "org_id",
            "acknowledge_due",
            "id",
            "status",
            "category_id",
            "scope",
            "unread_for_handlers",
            "acknowledged_on",
            "feedback_on",
            "feedback_due",
        ],
    )
    op.create_index(
        "ix_cases_inbox_feedback_due",
        "cases",
        [
            "org_id",
            "feedback_due",
            "id",
            "status",
            "category_id",
            "scope",
            "unread_for_handlers",
            "acknowledged_on",
            "feedback_on",
            "acknowledge_due",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_inbox_feedback_due", table_name="cases")
    op.drop_index("ix_cases_inbox_ack_due", table_name="cases")
    op.drop_index("ix_cases_inbox_unread", table_name="cases")
    op.drop_index("ix_cases_inbox_status", table_name="cases")
    op.drop_index("ix_cases_inbox_received", table_name="cases")
    op.drop_index("ix_case_keys_holder", table_name="case_keys")
