"""The registers of retention (REQUIREMENTS.md R2): pending deletions and legal holds.

- **Pending deletions**: every closed case with its retention date, soonest first.
- **Legal holds**: every case whose deletion is stopped.

Both read clear-text columns of the cases only, one statement each, filtered by organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from whistle.core.models import Case, CaseStatus


@dataclass(frozen=True)
class PendingDeletion:
    """A closed case waiting for its retention date (R2)."""

    reference: str
    closed_on: date | None
    outcome: str | None
    delete_on: date
    retention_rule: str | None
    hold_since: date | None
    days_left: int  # negative: the day has passed (on hold, or the daily run has not run yet)

    @property
    def on_hold(self) -> bool:
        return self.hold_since is not None


@dataclass(frozen=True)
class LegalHold:
    """A case whose deletion is stopped by a legal hold."""

    reference: str
    hold_since: date
    status: str  # the case's status: new, open or closed
    delete_on: date | None


# The CSV columns of each register, in order (stable keys, never translated).
DELETION_COLUMNS = (
    "reference",
    "closed_on",
    "outcome",
    "delete_on",
    "retention_rule",
    "on_hold",
    "hold_since",
    "days_left",
)
HOLD_COLUMNS = ("reference", "hold_since", "status", "delete_on")


def _pending(org_id: int) -> list[ColumnElement[bool]]:
    return [
        Case.org_id == org_id,
        Case.status == CaseStatus.CLOSED.value,
        Case.delete_on.is_not(None),
    ]


def count_pending_deletions(session: Session, org_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Case).where(*_pending(org_id))) or 0)


def pending_deletions(
    session: Session,
    org_id: int,
    today: date,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[PendingDeletion]:
    """Closed cases of ``org_id`` with a retention date, the soonest first (held ones too)."""
    query = (
        select(
            Case.reference,
            Case.closed_on,
            Case.outcome,
            Case.delete_on,
            Case.retention_rule,
            Case.hold_since,
        )
        .where(*_pending(org_id))
        .order_by(Case.delete_on, Case.reference)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        PendingDeletion(
            reference=r.reference,
            closed_on=r.closed_on,
            outcome=r.outcome,
            delete_on=r.delete_on,
            retention_rule=r.retention_rule,
            hold_since=r.hold_since,
            days_left=(r.delete_on - today).days,
        )
        for r in session.execute(query)
    ]


def count_legal_holds(session: Session, org_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.org_id == org_id, Case.hold_since.is_not(None))
        )
        or 0
    )


def legal_holds(session: Session, org_id: int) -> list[LegalHold]:
    """Cases of ``org_id`` on legal hold, the oldest hold first."""
    rows = session.execute(
        select(Case.reference, Case.hold_since, Case.status, Case.delete_on)
        .where(Case.org_id == org_id, Case.hold_since.is_not(None))
        .order_by(Case.hold_since, Case.reference)
    )
    return [LegalHold(r.reference, r.hold_since, r.status, r.delete_on) for r in rows]
