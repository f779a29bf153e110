"""identity disclosures go to a named public authority without consent (REQUIREMENTS.md K2)

Without the reporter's consent the Act lets the identity go only to public authorities. Until
now the legal grounds ("authority", "defence") released it to a counsel user. This revision:

- adds ``identity_disclosures.recipient`` ("counsel" for every existing row, "authority" for
  the new kind), ``authority_note_id`` (the authority's name, a case note under the notes
  key), ``handed_over_by`` and ``handed_over_on``, and ``disclosures.identity_disclosure_id``
  (a register entry for a handover points to the disclosure that names the authority);
- withdraws every disclosure to counsel on a legal ground that is not used yet: status
  "withdrawn_old_rule", one audit entry each (``identity.disclosure_withdrawn_old_rule``,
  ids only). This needs no key: the status and the ground are clear columns, and the audit
  chain is SHA-256 over clear fields (docs/audit.md), extended here exactly as
  ``whistle.core.audit.record`` does. Used ones stay as history; the register marks them as made
  under the old rule (whistle/disclosure/register.py ``register``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import whistle.core.models
from whistle.core.audit import GENESIS, HEAD_ID, entry_hash

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OPEN = ("awaiting_consent", "awaiting_approval", "ready")
LEGAL_GROUNDS = ("authority", "defence")
WITHDRAWN = "withdrawn_old_rule"
ACTION = "identity.disclosure_withdrawn_old_rule"


def upgrade() -> None:
    with op.batch_alter_table("identity_disclosures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recipient", sa.String(length=16), server_default="counsel", nullable=False)
        )
        batch_op.add_column(sa.Column("authority_note_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_identity_disclosures_authority_note_id_case_notes"),
            "case_notes",
            ["authority_note_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            op.f("fk_identity_disclosures_handed_over_by_users"),
            "users",
            ["handed_over_by"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_disclosure_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_disclosures_identity_disclosure_id_identity_disclosures"),
            "identity_disclosures",
            ["identity_disclosure_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _withdraw_old_rule(op.get_bind())


def _withdraw_old_rule(connection: sa.Connection) -> None:
    disclosures = sa.table(
        "identity_disclosures",
        sa.column("id", sa.Integer),
        sa.column("org_id", sa.Integer),
        sa.column("case_id", sa.Integer),
        sa.column("recipient", sa.String),
        sa.column("ground", sa.String),
        sa.column("status", sa.String),
    )
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("reference", sa.String))
    rows = connection.execute(
        sa.select(disclosures.c.id, disclosures.c.org_id, disclosures.c.case_id, cases.c.reference)
        .join(cases, cases.c.id == disclosures.c.case_id)
        .where(
            disclosures.c.recipient == "counsel",
            disclosures.c.ground.in_(LEGAL_GROUNDS),
            disclosures.c.status.in_(OPEN),
        )
        .order_by(disclosures.c.id)
    ).all()
    if not rows:
        return
    connection.execute(
        sa.update(disclosures)
        .where(disclosures.c.id.in_([r.id for r in rows]))
        .values(status=WITHDRAWN)
    )
    entries = sa.table(
        "audit_entries",
        sa.column("seq", sa.BigInteger),
        sa.column("at", whistle.core.models.UTCDateTime()),
        sa.column("org_id", sa.Integer),
        sa.column("actor_user_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("case_id", sa.Integer),
        sa.column("case_reference", sa.String),
        sa.column("detail", sa.Text),
        sa.column("prev_hash", sa.LargeBinary),
        sa.column("entry_hash", sa.LargeBinary),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.BigInteger),
        sa.column("entry_hash", sa.LargeBinary),
    )
    # The migration runs alone in its transaction; the head row is read and moved on as
    # whistle.core.audit.record does, so `whistle audit verify` finds an unbroken chain.
    found = connection.execute(
        sa.select(head.c.seq, head.c.entry_hash).where(head.c.id == HEAD_ID)
    ).first()
    if found is None:
        seq, prev = 0, GENESIS
        connection.execute(sa.insert(head).values(id=HEAD_ID, seq=0, entry_hash=GENESIS))
    else:
        seq, prev = int(found.seq), bytes(found.entry_hash)
    at = datetime.now(UTC)
    for row in rows:
        seq += 1
        detail = json.dumps({"disclosure": int(row.id)}, sort_keys=True, separators=(",", ":"))
        digest = entry_hash(
            prev_hash=prev,
            seq=seq,
            at=at,
            org_id=row.org_id,
            actor_user_id=None,
            action=ACTION,
            case_id=row.case_id,
            case_reference=row.reference,
            detail=detail,
        )
        connection.execute(
            sa.insert(entries).values(
                seq=seq,
                at=at,
                org_id=row.org_id,
                actor_user_id=None,
                action=ACTION,
                case_id=row.case_id,
                case_reference=row.reference,
                detail=detail,
                prev_hash=prev,
                entry_hash=digest,
            )
        )
        prev = digest
    connection.execute(sa.update(head).where(head.c.id == HEAD_ID).values(seq=seq, entry_hash=prev))


def downgrade() -> None:
    # The withdrawals stay withdrawn: reopening a disclosure to counsel on a legal ground
    # would release the identity the law keeps from counsel.
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_disclosures_identity_disclosure_id_identity_disclosures"),
            type_="foreignkey",
        )
        batch_op.drop_column("identity_disclosure_id")
    with op.batch_alter_table("identity_disclosures", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_identity_disclosures_handed_over_by_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            op.f("fk_identity_disclosures_authority_note_id_case_notes"), type_="foreignkey"
        )
        batch_op.drop_column("handed_over_on")
        batch_op.drop_column("handed_over_by")
        batch_op.drop_column("authority_note_id")
        batch_op.drop_column("recipient")
