"""Who answers for a case: a handler takes responsibility for it himself, or steps aside.

Taking the case makes the handler its assignee, as a unit lead could (whistle/casefile/sharing.py
``assign``), but only for himself and only for a case he holds. Stepping aside (K3) destroys
the handler's keys to the case for good, so it asks for a confirmation and a reason, kept as an
internal note like every other reason. Both are whole units of work and are logged.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.casefile.access import OpenedKeys
from whistle.casefile.content import required_text, write_note
from whistle.casefile.holders import holder_ids
from whistle.casefile.sharing import depart
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, CaseStatus
from whistle.core.refusals import Refused

RECUSAL_NOTE = "recusal"


def take_case(session: Session, clock: Clock, case: Case, user_id: int) -> None:
    """The handler becomes responsible for ``case``, which he holds; logged as an assignment
    to himself. Commits."""
    with unit_of_work(session):
        if case.status == CaseStatus.CLOSED:
            raise Refused("take", _l("The case is closed."))
        if user_id not in holder_ids(session, case.id):
            raise Refused("take", _l("You hold no key to this case."))
        if case.assigned_user_id == user_id:
            raise Refused("take", _l("You are already responsible for this case."))
        case.assigned_user_id = user_id
        audit.record(
            session,
            clock,
            action="case.assigned",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"assignee": user_id},
        )


def step_aside(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    reason: str,
    confirmed: bool,
) -> None:
    """The handler steps aside (K3): with ``confirmed`` and a reason, the case moves to a new
    key epoch without him, his copies of the keys are destroyed, and the reason is kept as an
    internal note his colleagues read. Commits.

    If nobody else holds the case, the organisation's recovery key still does (docs/recovery.md);
    a unit lead can give it back to him later.
    """
    with unit_of_work(session):
        text = required_text(reason, "reason", _l("Say why you step aside."))
        if not confirmed:
            raise Refused(
                "confirm",
                _l("Confirm that you understand you will no longer be able to read the case."),
            )
        renewed = depart(session, clock, case, {user_id}, actor_user_id=user_id, reason="recused")
        note = write_note(
            session,
            clock,
            case,
            renewed.joined(keys) if renewed else keys,
            user_id,
            RECUSAL_NOTE,
            text,
        )
        audit.record(
            session,
            clock,
            action="case.recused",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"note": note.id},
        )
