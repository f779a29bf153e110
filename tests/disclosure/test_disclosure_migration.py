"""Migration 0018 (REQUIREMENTS.md K2): disclosures to counsel on a legal ground that were not
used yet are withdrawn, each with an audit entry that extends the chain; used ones stay as
history and are marked as made under the old rule. On SQLite and PostgreSQL, from a database
at the revision before it, filled as the old code left it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from tests.steps.old_rows import insert
from whistle.core import audit
from whistle.core.db import make_engine
from whistle.core.models import AuditEntry, Case, IdentityDisclosure
from whistle.core.schema import alembic_config, upgrade
from whistle.disclosure import asking, register

REVISION = "0018"


def test_unused_disclosures_to_counsel_on_a_legal_ground_are_withdrawn(blank_url: str) -> None:
    engine = make_engine(blank_url)
    previous = ScriptDirectory.from_config(alembic_config(engine)).get_revision(REVISION)
    assert previous is not None
    upgrade(engine, str(previous.down_revision))
    at = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    with engine.begin() as connection:
        org = insert(connection, "organisations", slug="gammelfirma", name="Gammelfirma ApS")
        conny = insert(connection, "users", email="conny@example.org", display_name="Conny Old")
        hanne = insert(connection, "users", email="hanne@example.org", display_name="Hanne Old")
        case = insert(connection, "cases", org_id=org, reference="2026-0007")
        rows = {}
        for label, ground, status in (
            ("ready_authority", "authority", "ready"),
            ("waiting_defence", "defence", "awaiting_approval"),
            ("used_authority", "authority", "used"),
            ("ready_consent", "consent", "ready"),
            ("withdrawn_defence", "defence", "withdrawn"),
        ):
            rows[label] = insert(
                connection,
                "identity_disclosures",
                uid=f"00000000-0000-4000-8000-{len(rows):012d}",
                org_id=org,
                case_id=case,
                recipient_user_id=conny,
                ground=ground,
                notice="sent",
                status=status,
                requested_by=hanne,
                requested_on=date(2026, 1, 20),
            )
        # One entry in the audit log already, as the old code wrote it.
        detail = json.dumps({}, separators=(",", ":"))
        first = audit.entry_hash(
            prev_hash=audit.GENESIS,
            seq=1,
            at=at,
            org_id=org,
            actor_user_id=hanne,
            action="case.opened",
            case_id=case,
            case_reference="2026-0007",
            detail=detail,
        )
        connection.execute(
            sa.insert(AuditEntry.__table__).values(  # type: ignore[arg-type]
                seq=1,
                at=at,
                org_id=org,
                actor_user_id=hanne,
                action="case.opened",
                case_id=case,
                case_reference="2026-0007",
                detail=detail,
                prev_hash=audit.GENESIS,
                entry_hash=first,
            )
        )
        connection.execute(
            sa.text("INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, 1, :h)"), {"h": first}
        )

    upgrade(engine)

    with Session(engine) as session:
        found = {
            r.id: (r.recipient, r.status)
            for r in session.scalars(sa.select(IdentityDisclosure).order_by(IdentityDisclosure.id))
        }
        assert found == {
            rows["ready_authority"]: ("counsel", "withdrawn_old_rule"),
            rows["waiting_defence"]: ("counsel", "withdrawn_old_rule"),
            rows["used_authority"]: ("counsel", "used"),
            rows["ready_consent"]: ("counsel", "ready"),
            rows["withdrawn_defence"]: ("counsel", "withdrawn"),
        }
        entries = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [(e.seq, e.action) for e in entries] == [
            (1, "case.opened"),
            (2, "identity.disclosure_withdrawn_old_rule"),
            (3, "identity.disclosure_withdrawn_old_rule"),
        ]
        assert [json.loads(e.detail) for e in entries[1:]] == [
            {"disclosure": rows["ready_authority"]},
            {"disclosure": rows["waiting_defence"]},
        ]
        assert {(e.org_id, e.case_id, e.case_reference, e.actor_user_id) for e in entries[1:]} == {
            (org, case, "2026-0007", None)
        }
        assert audit.verify(session).ok, audit.verify(session).problems
        # The old rows keep reading: the used one is marked as made under the old rule.
        old_case = session.get(Case, case)
        assert old_case is not None
        steps = {s.id: s for s in register.steps(session, old_case, None)}
        assert steps[rows["used_authority"]].old_rule
        assert steps[rows["used_authority"]].recipient == "Conny Old"
        assert not steps[rows["ready_consent"]].old_rule
        # The app's own sweep finds nothing left to do after the migration.
        assert asking.retire_old_rule(session, _NoClock(), old_case) == 0
    # Running the migrations again changes nothing (the head is reached).
    upgrade(engine)
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 3
    engine.dispose()


class _NoClock:
    """The sweep must not need the time when there is nothing to do."""

    def now(self) -> datetime:
        raise AssertionError("nothing should have been recorded")
