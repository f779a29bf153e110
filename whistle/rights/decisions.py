"""Data-subject rights: the decision and the answer (REQUIREMENTS.md S3-S5; GDPR art. 12-21).

**Decisions act.** A granted erasure or objection sets the linked (closed) cases' retention
date to today, so the next ``whistle retention run`` deletes them; a granted rectification
adds the person's statement to each linked case as a note, never rewriting the report (S5); a
restriction flags items (whistle/rights/linked_cases.py), which every export then leaves out.
The answer, and each release of the access export, is recorded with its day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from crypto import PrivateKey
from whistle.casefile import content
from whistle.casefile.access import KeyRing, open_keys
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, CaseStatus, RightsRequest
from whistle.core.refusals import Refused
from whistle.rights.linked_cases import linked_cases
from whistle.rights.requests import (
    LEGAL_BASES,
    Decision,
    Kind,
    answer_due,
    record,
    require_open,
    write_note,
)


def decide(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    private_key: PrivateKey,
    *,
    decision: str,
    legal_basis: str,
    assessment: str,
    statement: str = "",
) -> None:
    """Record the assessment and the decision with its legal basis, carry it out, and commit.

    - erasure or objection granted (or partly): every linked case must be closed; each gets
      today as its retention date (rule ``erasure_request`` / ``objection_request``), so the
      next retention run deletes it unless a legal hold stands;
    - rectification granted (or partly): ``statement``, the person's own account, is added to
      each linked case as an internal note (the report is never rewritten, S5).
    """
    with unit_of_work(session):
        require_open(request)
        chosen = _decision(decision, legal_basis)
        text = content.required_text(
            assessment, "assessment", _l("Write down the assessment behind the decision.")
        )
        cases = linked_cases(session, request)
        granted = chosen is not Decision.REFUSED
        today = clock.now().date()
        if granted and request.kind in (Kind.ERASURE, Kind.OBJECTION):
            _delete_today(request, cases, today)
        written = ""
        if granted and request.kind == Kind.RECTIFICATION:
            written = content.required_text(
                statement, "statement", _l("Give the person's statement to add to the cases.")
            )
            _add_statement(session, clock, request, cases, user_id, private_key, written)
        note = write_note(session, clock, request, key, user_id, "assessment", text)
        if written:
            write_note(session, clock, request, key, user_id, "statement", written)
        request.status = "decided"
        request.decision = chosen.value
        request.legal_basis = legal_basis
        request.decided_on = today
        record(
            session,
            clock,
            request,
            user_id,
            "rights.decided",
            decision=chosen.value,
            basis=legal_basis,
            note=note.id,
        )


def _decision(decision: str, legal_basis: str) -> Decision:
    """The decision chosen; Refused unless it and its legal basis are known."""
    try:
        chosen = Decision(decision)
    except ValueError:
        raise Refused("decision", _l("Choose the decision.")) from None
    if legal_basis not in LEGAL_BASES:
        raise Refused("legal_basis", _l("Choose the legal basis of the decision."))
    return chosen


def _delete_today(request: RightsRequest, cases: Sequence[Case], today: date) -> None:
    """Erasure or objection granted: the linked cases, all closed, are deleted from today."""
    if not cases:
        raise Refused("decision", _l("Link the cases the request concerns first."))
    if any(c.status != CaseStatus.CLOSED for c in cases):
        raise Refused(
            "decision",
            _l("Close the cases first: a case still being handled cannot be deleted."),
        )
    for case in cases:
        case.delete_on = today
        case.retention_rule = f"{request.kind}_request"


def _add_statement(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    cases: Sequence[Case],
    user_id: int,
    private_key: PrivateKey,
    written: str,
) -> None:
    """Rectification granted: the person's statement becomes a note of each linked case."""
    if not cases:
        raise Refused("decision", _l("Link the cases the request concerns first."))
    for case in cases:
        keys = open_keys(session, case, user_id, private_key)
        added = content.write_note(
            session, clock, case, keys, user_id, "rectification_statement", written
        )
        audit.record(
            session,
            clock,
            action="case.statement_added",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"note": added.id, "request": request.id},
        )


def record_answer(session: Session, clock: Clock, request: RightsRequest, user_id: int) -> None:
    """Record that the answer (the export, or the refusal with the right to complain) went
    out, and commit."""
    with unit_of_work(session):
        if request.status != "decided":
            raise Refused("answer", _l("Record the assessment and the decision before answering."))
        if request.answered_on is None:
            request.answered_on = clock.now().date()
            record(
                session,
                clock,
                request,
                user_id,
                "rights.answered",
                late=request.answered_on > answer_due(request),
            )


def record_release(session: Session, clock: Clock, request: RightsRequest, user_id: int) -> None:
    """Record that the access export was downloaded for the requester (audited each time),
    and commit."""
    with unit_of_work(session):
        if request.decision not in (Decision.GRANTED, Decision.PARTLY_GRANTED):
            raise Refused("answer", _l("Access has not been granted."))
        record(session, clock, request, user_id, "rights.export_released")
