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
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, or_, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from whistle.casefile.holders import holder_rows, holds_clause
from whistle.core.deadlines import ACK_WARN_DAYS, FEEDBACK_WARN_DAYS, Due, case_deadlines
from whistle.core.models import Case, CaseKey, CaseStatus, Category, Organisation

PAGE_SIZE = 50
# Counting stops here: "more than 1,000 cases" is all a person needs to know, and an exact
# count of 100,000 would cost a pass over a handler's whole list on every page.
COUNT_CAP = 1000

DEADLINE_STATES = ("overdue", "due_soon", "on_time")

SORTS: dict[str, tuple[UnaryExpression[Any], ...]] = {
    # What is due first comes first; cases with no deadline running after them, newest first
    # (the rank kept on each case, whistle/core/deadlines.py ``due_rank``, which an index holds).
    "due": (Case.due_rank.asc(), Case.id.asc()),
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
    mine: bool = False  # only the cases the handler is responsible for
    all_cases: bool = False  # unit lead only: every case of the organisation
    sort: str = "due"
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
    deadlines: tuple[Due, Due]  # the acknowledgement's and the feedback's, as of today


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # exact when ``exact``; otherwise COUNT_CAP (there are more)
    page: int
    pages: int  # exact when ``exact``; otherwise the pages known so far
    exact: bool = True
    has_next: bool = False


# Every status but closed has deadlines running. Spelt as a list rather than ``!= closed`` so
# the status indexes can serve it (neither database searches an index for "not equal").
OPEN_STATUSES = tuple(s.value for s in CaseStatus if s is not CaseStatus.CLOSED)


def _deadline_filter(state: str, today: date) -> ColumnElement[bool]:
    ack_soon = today + timedelta(days=ACK_WARN_DAYS)
    feedback_soon = today + timedelta(days=FEEDBACK_WARN_DAYS)
    # A deadline is open while the case is not closed and the act is not done; the status part
    # is shared by every state, so it stands once at the top where an index can use it.
    ack_open, feedback_open = Case.acknowledged_on.is_(None), Case.feedback_on.is_(None)
    # "Either deadline passed", written as a CASE rather than an OR: given an OR, SQLite (which
    # has no statistics) reads it from the two due-date indexes, where "due before today" is
    # nearly every case of the organisation; the status index leaves only the cases not closed.
    overdue = sql_case(
        (and_(ack_open, Case.acknowledge_due < today), true()),
        else_=and_(feedback_open, Case.feedback_due < today),
    )
    soon = or_(
        and_(ack_open, Case.acknowledge_due >= today, Case.acknowledge_due <= ack_soon),
        and_(feedback_open, Case.feedback_due >= today, Case.feedback_due <= feedback_soon),
    )
    running = Case.status.in_(OPEN_STATUSES)
    if state == "overdue":
        return and_(running, overdue)
    if state == "due_soon":
        return and_(running, soon, ~overdue)
    # "On time" means a deadline still ahead: a case whose deadlines are all met is not listed.
    return and_(running, or_(ack_open, feedback_open), ~overdue, ~soon)


def deadlines_of(case: Case, today: date) -> tuple[Due, Due]:
    """The acknowledgement's and the feedback's deadline of ``case`` as of ``today``."""
    return case_deadlines(
        closed=case.status == CaseStatus.CLOSED,
        acknowledge_due=case.acknowledge_due,
        acknowledged_on=case.acknowledged_on,
        feedback_due=case.feedback_due,
        feedback_on=case.feedback_on,
        today=today,
    )


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


def _holds(user_id: int) -> ColumnElement[bool]:
    # Asked of the case, in one place (whistle/casefile/holders.py); it selects case_id (not *), so
    # SQLite answers from the index alone.
    return holds_clause(Case.id, user_id)


def _narrowing(filters: InboxFilters, today: date, user_id: int) -> list[ColumnElement[bool]]:
    """The conditions on the case itself that ``filters`` ask for (none: the whole list)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status in {s.value for s in CaseStatus}:
        conditions.append(Case.status == filters.status)
    if filters.category_id is not None:
        conditions.append(Case.category_id == filters.category_id)
    if filters.scope == "unassessed":
        conditions.append(Case.scope.is_(None))
    elif filters.scope in ("in_scope", "outside_scope"):
        conditions.append(Case.scope == filters.scope)
    if filters.deadline in DEADLINE_STATES:
        conditions.append(_deadline_filter(filters.deadline, today))
    if filters.unread:
        conditions.append(Case.unread_for_handlers.is_(True))
    if filters.mine:
        conditions.append(Case.assigned_user_id == user_id)
    return conditions


def _count(
    session: Session,
    org_id: int,
    user_id: int,
    all_cases: bool,
    conditions: list[ColumnElement[bool]],
) -> int:
    """How many cases match, counted up to ``COUNT_CAP + 1`` (more means "over the cap")."""
    if all_cases:
        matching = select(Case.id).where(Case.org_id == org_id, *conditions)
    elif not conditions:
        # The whole list of a handler is the cases they hold a content key to, so counting
        # their key rows in the organisation (one index range) gives the same number as
        # checking the key of every case, which costs a lookup per case: over 0.1 s at 100,000
        # cases on SQLite. It relies on what every writer of case_keys does: a key row carries
        # its case's org_id, and a holder has exactly one content key of epoch 0 per case.
        matching = select(CaseKey.case_id).where(CaseKey.org_id == org_id, *holder_rows(user_id))
    else:
        # The key check last: it is the dearest test, so it runs on what the rest left.
        matching = select(Case.id).where(Case.org_id == org_id, *conditions, _holds(user_id))
    capped = matching.limit(COUNT_CAP + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def inbox(
    session: Session, org_id: int, user_id: int, filters: InboxFilters, today: date
) -> InboxPage:
    """One page of the inbox for ``user_id`` in ``org_id``.

    Two statements: a count, capped at ``COUNT_CAP`` so that its cost does not grow with the
    list, and the page, one row more than shown to know whether a next page exists. The page
    first picks its case ids in the sort order, which the indexes on ``cases`` (models.py)
    answer without reading a case row, and only then reads those rows with their category and
    key check; sorting or skipping whole rows (ciphertext included) cost hundreds of
    milliseconds at 100,000 cases (bench/inbox_bench.py, docs/benchmarks.md "Inbox").
    """
    conditions = _narrowing(filters, today, user_id)
    counted = _count(session, org_id, user_id, filters.all_cases, conditions)
    exact = counted <= COUNT_CAP
    if exact:
        total, pages = counted, max(1, math.ceil(counted / PAGE_SIZE))
        page = min(max(1, filters.page), pages)
    else:
        total, page = COUNT_CAP, max(1, filters.page)
        pages = page  # known so far; one more row below tells whether there is a next page
    if not counted:
        return InboxPage([], 0, page, pages)
    if not filters.all_cases:
        conditions.append(_holds(user_id))
    order = SORTS.get(filters.sort, SORTS["due"])
    chosen = (
        select(Case.id)
        .where(Case.org_id == org_id, *conditions)
        .order_by(*order)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
        .subquery()
    )
    query = (
        select(Case, Category.label_da, Category.label_en, _holds(user_id).label("holds"))
        .join(chosen, chosen.c.id == Case.id)
        .outerjoin(Category, Category.id == Case.category_id)
        .order_by(*order)
    )
    rows = []
    for case, label_da, label_en, held in session.execute(query):
        state, kind, day = deadline_state(case, today)
        rows.append(
            InboxRow(
                case, label_da, label_en, state, kind, day, bool(held), deadlines_of(case, today)
            )
        )
    has_next = len(rows) > PAGE_SIZE
    return InboxPage(rows[:PAGE_SIZE], total, page, pages, exact, has_next)


@dataclass(frozen=True)
class CombinedRow:
    """A row of a person's combined inbox: the case and the organisation it belongs to."""

    org_slug: str
    org_name: str
    row: InboxRow


@dataclass(frozen=True)
class CombinedPage:
    rows: list[CombinedRow]
    page: int
    has_next: bool


def combined_inbox(
    session: Session, user_id: int, org_ids: list[int], today: date, page: int
) -> CombinedPage:
    """The open cases ``user_id`` holds in every one of ``org_ids`` (the organisations where
    they handle cases), what is due first first, with each case's organisation: the inbox of a
    person who works for several (a law firm's lawyer, a group's unit). Whom a case is sealed
    to stays each organisation's decision: only cases the person holds a key to are listed.
    One page of ``PAGE_SIZE`` and whether a next one exists."""
    if not org_ids:
        return CombinedPage([], 1, False)
    page = max(1, page)
    order = SORTS["due"]
    chosen = (
        select(Case.id)
        .where(Case.org_id.in_(org_ids), Case.status.in_(OPEN_STATUSES), _holds(user_id))
        .order_by(*order)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
        .subquery()
    )
    query = (
        select(Case, Category.label_da, Category.label_en, Organisation.slug, Organisation.name)
        .join(chosen, chosen.c.id == Case.id)
        .join(Organisation, Organisation.id == Case.org_id)
        .outerjoin(Category, Category.id == Case.category_id)
        .order_by(*order)
    )
    rows = []
    for case, label_da, label_en, slug, name in session.execute(query):
        state, kind, day = deadline_state(case, today)
        row = InboxRow(case, label_da, label_en, state, kind, day, True, deadlines_of(case, today))
        rows.append(CombinedRow(str(slug), str(name), row))
    return CombinedPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)
