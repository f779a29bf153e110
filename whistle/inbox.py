"""The unit's inbox: cases by clear-text metadata only, filtered, sorted and paginated in SQL.

Nothing here decrypts: a list of 100,000 cases costs one indexed query and a count, never a
key operation (unlike peers that decrypt every report to draw the list). A handler sees the
cases they hold a key for; a unit lead may widen the list to every case of the organisation
(metadata only) to assign work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Exists, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from crypto import KeyKind
from whistle.models import Case, CaseKey, CaseStatus, Category

ACK_WARN_DAYS = 2
FEEDBACK_WARN_DAYS = 14
PAGE_SIZE = 50

DEADLINE_STATES = ("overdue", "due_soon", "on_time")
SORTS = {
    "received_desc": (Case.received_on.desc(), Case.id.desc()),
    "received_asc": (Case.received_on.asc(), Case.id.asc()),
    "ack_due": (Case.acknowledge_due.asc(), Case.id.asc()),
    "feedback_due": (Case.feedback_due.asc(), Case.id.asc()),
}


@dataclass(frozen=True)
class InboxFilters:
    status: str | None = None
    category_id: int | None = None
    scope: str | None = None  # "in_scope", "outside_scope", "unassessed"
    deadline: str | None = None  # one of DEADLINE_STATES
    unread: bool = False
    all_cases: bool = False  # unit lead only: every case of the organisation
    sort: str = "received_desc"
    page: int = 1


@dataclass(frozen=True)
class InboxRow:
    case: Case
    category_da: str | None
    category_en: str | None
    deadline: str  # "overdue", "due_soon", "on_time" or "met"
    deadline_kind: str | None  # "acknowledgement" or "feedback" (the open one), or None
    deadline_day: date | None
    holds_key: bool


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int


def _open_ack() -> ColumnElement[bool]:
    return and_(Case.status != CaseStatus.CLOSED, Case.acknowledged_on.is_(None))


def _open_feedback() -> ColumnElement[bool]:
    return and_(Case.status != CaseStatus.CLOSED, Case.feedback_on.is_(None))


def _deadline_filter(state: str, today: date) -> ColumnElement[bool]:
    ack_soon = today + timedelta(days=ACK_WARN_DAYS)
    feedback_soon = today + timedelta(days=FEEDBACK_WARN_DAYS)
    ack_open, feedback_open = _open_ack(), _open_feedback()
    overdue = or_(
        and_(ack_open, Case.acknowledge_due < today),
        and_(feedback_open, Case.feedback_due < today),
    )
    soon = or_(
        and_(ack_open, Case.acknowledge_due >= today, Case.acknowledge_due <= ack_soon),
        and_(feedback_open, Case.feedback_due >= today, Case.feedback_due <= feedback_soon),
    )
    if state == "overdue":
        return overdue
    if state == "due_soon":
        return and_(soon, ~overdue)
    return and_(Case.status != CaseStatus.CLOSED, ~overdue, ~soon)


def deadline_state(case: Case, today: date) -> tuple[str, str | None, date | None]:
    """(state, which deadline, its day) of the next open deadline of ``case``."""
    if case.status != CaseStatus.CLOSED and case.acknowledged_on is None:
        kind, day, warn = "acknowledgement", case.acknowledge_due, ACK_WARN_DAYS
    elif case.status != CaseStatus.CLOSED and case.feedback_on is None:
        kind, day, warn = "feedback", case.feedback_due, FEEDBACK_WARN_DAYS
    else:
        return "met", None, None
    if day < today:
        return "overdue", kind, day
    if day <= today + timedelta(days=warn):
        return "due_soon", kind, day
    return "on_time", kind, day


def _holds(user_id: int) -> Exists:
    return exists().where(
        CaseKey.case_id == Case.id,
        CaseKey.user_id == user_id,
        CaseKey.kind == KeyKind.CONTENT.value,
    )


def inbox(
    session: Session, org_id: int, user_id: int, filters: InboxFilters, today: date
) -> InboxPage:
    """One page of the inbox for ``user_id`` in ``org_id``."""
    holds = _holds(user_id)
    query = (
        select(Case, Category.label_da, Category.label_en, holds.label("holds"))
        .outerjoin(Category, Category.id == Case.category_id)
        .where(Case.org_id == org_id)
    )
    if not filters.all_cases:
        query = query.where(holds)
    if filters.status in {s.value for s in CaseStatus}:
        query = query.where(Case.status == filters.status)
    if filters.category_id is not None:
        query = query.where(Case.category_id == filters.category_id)
    if filters.scope == "unassessed":
        query = query.where(Case.scope.is_(None))
    elif filters.scope in ("in_scope", "outside_scope"):
        query = query.where(Case.scope == filters.scope)
    if filters.deadline in DEADLINE_STATES:
        query = query.where(_deadline_filter(filters.deadline, today))
    if filters.unread:
        query = query.where(Case.unread_for_handlers.is_(True))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    rows = []
    for case, label_da, label_en, held in session.execute(
        query.order_by(*SORTS.get(filters.sort, SORTS["received_desc"]))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ):
        state, kind, day = deadline_state(case, today)
        rows.append(InboxRow(case, label_da, label_en, state, kind, day, bool(held)))
    return InboxPage(rows, int(total), page, pages)
