"""The register of data-subject requests not yet answered (REQUIREMENTS.md S2).

Kind, dates, deadline and decision of each request, never who asked: that stays encrypted
under the request's key (whistle/rights/requests.py) and is not even selected here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.core.models import RightsRequest


@dataclass(frozen=True)
class RightsRow:
    """A data-subject request not yet answered (S2): kind, dates and decision, never who."""

    request_id: int
    kind: str
    received_on: date
    due_on: date  # the deadline in force: extended or not
    extended: bool
    status: str  # open, decided
    decision: str | None
    legal_basis: str | None
    days_left: int


# The CSV columns of the register, in order (stable keys, never translated).
RIGHTS_COLUMNS = (
    "request_id",
    "kind",
    "received_on",
    "due_on",
    "extended",
    "status",
    "decision",
    "legal_basis",
    "days_left",
)


def open_rights_requests(session: Session, org_id: int, today: date) -> list[RightsRow]:
    """Data-subject requests of ``org_id`` not yet answered, the most urgent first. Reads the
    clear-text columns only: who asked stays encrypted."""
    due = func.coalesce(RightsRequest.extended_to, RightsRequest.due_on)
    rows = session.execute(
        select(
            RightsRequest.id,
            RightsRequest.kind,
            RightsRequest.received_on,
            due.label("due"),
            RightsRequest.extended_to,
            RightsRequest.status,
            RightsRequest.decision,
            RightsRequest.legal_basis,
        )
        .where(RightsRequest.org_id == org_id, RightsRequest.answered_on.is_(None))
        .order_by(due, RightsRequest.id)
    )
    return [
        RightsRow(
            r.id,
            r.kind,
            r.received_on,
            r.due,
            r.extended_to is not None,
            r.status,
            r.decision,
            r.legal_basis,
            (r.due - today).days,
        )
        for r in rows
    ]


def count_rights_requests(session: Session, org_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(RightsRequest)
            .where(RightsRequest.org_id == org_id, RightsRequest.answered_on.is_(None))
        )
        or 0
    )
