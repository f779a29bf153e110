"""Closing a case and keeping it from deletion: the outcome, its reason and the retention date
(REQUIREMENTS.md D2-D4, R1-R2), the referral of a report outside the scope, and legal holds.

Each public function is a whole unit of work that commits (``unit_of_work``,
whistle/core/db.py), as in whistle/cases/handling.py.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile.access import OpenedKeys
from whistle.casefile.content import (
    required_text,
    write_note,
)
from whistle.cases.handling import message_to_reporter
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work, unit_of_work_with_files
from whistle.core.models import (
    Case,
    CaseOutcome,
    CaseStatus,
    Message,
)
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.retention import legal_hold, schedule


def close_case(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    outcome: str,
    reason: str,
    referral: str = "",
    keep_until: date | None = None,
    nudge_key: bytes | None = None,
) -> None:
    """Close the case with its outcome and its retention date, and commit.

    - Substantiated needs the hearing step first (S6).
    - Outside the scope (§ 12(3), D4) needs a referral text, which goes to the reporter as the
      final outcome with the other channels they can use.
    - Otherwise the reporter must have had the final outcome already (D2, D3).
    - The retention date comes from the organisation's preset for the outcome
      (whistle/retention/schedule.py); ``keep_until`` is the handler's date where the preset
      asks for one, or a later date than the preset gives.
    """
    with unit_of_work_with_files(session, store) as stored:
        chosen, text = _closing_outcome(case, outcome, reason)
        today = clock.now().date()
        kept = schedule.retention_for(
            schedule.presets(session, case.org_id)[chosen],
            chosen,
            closed_on=today,
            told_on=today if chosen is CaseOutcome.OUTSIDE_SCOPE else _told_on(session, case),
            keep_until=keep_until,
        )
        if chosen is CaseOutcome.OUTSIDE_SCOPE:
            _refer_elsewhere(
                session, clock, store, case, keys, user_id, referral, nudge_key, stored=stored
            )
        elif not _final_outcome_sent(session, case):
            raise Refused(
                "outcome", _l("Send the final outcome to the reporter before closing the case.")
            )
        note = write_note(session, clock, case, keys, user_id, "closure", text)
        case.outcome = chosen.value
        case.status = CaseStatus.CLOSED
        case.closed_on = today
        case.delete_on = kept.delete_on
        case.retention_rule = kept.rule
        audit.record(
            session,
            clock,
            action="case.closed",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={
                "outcome": chosen.value,
                "note": note.id,
                "rule": kept.rule,
                "delete_on": kept.delete_on.isoformat(),
            },
        )


def _closing_outcome(case: Case, outcome: str, reason: str) -> tuple[CaseOutcome, str]:
    """The outcome chosen and its reason, if the case may be closed with it."""
    if case.status == CaseStatus.CLOSED:
        raise Refused("outcome", _l("The case is already closed."))
    try:
        chosen = CaseOutcome(outcome)
    except ValueError:
        raise Refused("outcome", _l("Choose an outcome.")) from None
    text = required_text(reason, "reason", _l("Give the reason for the outcome."))
    if chosen is CaseOutcome.SUBSTANTIATED and case.hearing is None:
        raise Refused(
            "outcome",
            _l("Record the hearing of the person concerned (or why none is needed) first."),
        )
    return chosen, text


def _refer_elsewhere(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    referral: str,
    nudge_key: bytes | None,
    *,
    stored: list[str],
) -> None:
    """Outside the scope (§ 12(3), D4): the referral goes to the reporter as the final
    outcome, with the other channels they can use (flushes, never commits)."""
    referral_text = required_text(
        referral, "referral", _l("Tell the reporter where else they can turn.")
    )
    case.scope = "outside_scope"
    if case.status == CaseStatus.NEW:
        case.acknowledged_on = case.acknowledged_on or clock.now().date()
        case.status = CaseStatus.OPEN
    message_to_reporter(
        session,
        clock,
        store,
        case,
        keys,
        user_id,
        kind="final_outcome",
        body=referral_text,
        action="case.final_outcome",
        nudge_key=nudge_key,
        stored=stored,
    )
    if case.feedback_on is None:
        case.feedback_on = clock.now().date()


def place_legal_hold(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, reason: str
) -> None:
    """Stop the case from being deleted until the hold is lifted (R2), and commit."""
    with unit_of_work(session):
        if case.hold_since is not None:
            raise Refused("reason", _l("The case is already on legal hold."))
        text = required_text(reason, "reason", _l("Give the reason for the legal hold."))
        note = write_note(session, clock, case, keys, user_id, "legal_hold", text)
        legal_hold.place_hold(session, clock, case, note.id, user_id)


def lift_legal_hold(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, reason: str
) -> None:
    """Lift the legal hold: the case is deleted on its retention date again, and commit."""
    with unit_of_work(session):
        if case.hold_since is None:
            raise Refused("reason", _l("The case is not on legal hold."))
        text = required_text(reason, "reason", _l("Give the reason for lifting the hold."))
        note = write_note(session, clock, case, keys, user_id, "hold_lifted", text)
        legal_hold.lift_hold(session, clock, case, note.id, user_id)


def _final_outcome_sent(session: Session, case: Case) -> bool:
    return _told_on(session, case) is not None


def _told_on(session: Session, case: Case) -> date | None:
    """The day the reporter was sent the final outcome, if they were."""
    return session.scalar(
        select(Message.sent_on)
        .where(Message.case_id == case.id, Message.kind == "final_outcome")
        .order_by(Message.sent_on)
        .limit(1)
    )
