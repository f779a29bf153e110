"""Retention: the legal hold (REQUIREMENTS.md R2).

A hold stops the deletion of a case until it is lifted; placing and lifting both need a reason,
kept as an internal note (written first by the caller, whistle/cases/handling.py), and both are
audited. The deletion run (whistle/retention/deletion.py) passes over a held case.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.models import Case


def place_hold(session: Session, clock: Clock, case: Case, note_id: int, user_id: int) -> None:
    """Stop the deletion of ``case`` until the hold is lifted; ``note_id`` is the internal note
    that holds the reason. Flushes, never commits (the caller writes the note first)."""
    case.hold_since = clock.now().date()
    audit.record(
        session,
        clock,
        action="case.hold_placed",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={"note": note_id},
    )


def lift_hold(session: Session, clock: Clock, case: Case, note_id: int, user_id: int) -> None:
    """Lift the legal hold; the case is deleted on its day again (or by the next run, if that
    day has passed). Flushes, never commits."""
    case.hold_since = None
    audit.record(
        session,
        clock,
        action="case.hold_lifted",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={
            "note": note_id,
            "delete_on": case.delete_on.isoformat() if case.delete_on else None,
        },
    )
