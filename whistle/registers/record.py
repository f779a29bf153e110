"""The record of reports (REQUIREMENTS.md R1, Directive art. 18).

Every report the organisation received, the cases still kept and the tombstones of the deleted
ones, with reference, category, channel, dates and deadlines, scope, hearing, outcome,
closure, retention and how many handlers hold a key.

Everything here reads clear-text columns only: no ciphertext column is even selected, nothing
is decrypted, and no register can show what a person wrote. The record is one ``UNION ALL``
statement filtered by organisation and the handler counts one grouped query, so its cost does
not depend on fetching rows one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Select,
    String,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import QueryableAttribute, Session

from crypto import KeyKind
from whistle.core.models import Case, CaseKey, CaseStatus, CaseTombstone, Category

# The three states a report has in the record.
OPEN = "open"
CLOSED = "closed"
DELETED = "deleted"


@dataclass(frozen=True)
class ReportRow:
    """One report in the record of reports (R1). ``None``: not (yet) done or not known."""

    reference: str
    state: str  # OPEN, CLOSED or DELETED
    category: str | None  # the category's code; None if it was removed
    category_da: str | None
    category_en: str | None
    channel: str
    anonymous: bool
    received_on: date
    acknowledge_due: date
    acknowledged_on: date | None
    acknowledged_in_time: bool | None
    feedback_due: date
    feedback_on: date | None
    feedback_in_time: bool | None
    scope: str | None
    hearing: str | None  # live cases only (tombstones do not keep it)
    outcome: str | None
    closed_on: date | None
    delete_on: date | None
    retention_rule: str | None
    hold_since: date | None  # live cases only
    deleted_on: date | None  # deleted cases only
    handlers: int | None  # handlers holding a content key; None for a deleted case


# The CSV columns of the record, in order: the header row is these keys, stable across
# languages and versions so that a spreadsheet or script can rely on them.
REPORT_COLUMNS = (
    "reference",
    "state",
    "category",
    "category_da",
    "category_en",
    "channel",
    "anonymous",
    "received_on",
    "acknowledge_due",
    "acknowledged_on",
    "acknowledged_in_time",
    "feedback_due",
    "feedback_on",
    "feedback_in_time",
    "scope",
    "hearing",
    "outcome",
    "closed_on",
    "delete_on",
    "retention_rule",
    "hold_since",
    "deleted_on",
    "handlers",
)


def year_range(year: int) -> tuple[date, date]:
    """The first and last day of ``year`` (ValueError outside 1-9999)."""
    return date(year, 1, 1), date(year, 12, 31)


def _received_in(
    column: ColumnElement[date] | QueryableAttribute[date], year: int | None
) -> list[ColumnElement[bool]]:
    # A range rather than a year function: the (org_id, received_on) index answers it.
    if year is None:
        return []
    first, last = year_range(year)
    return [column >= first, column <= last]


def _record(org_id: int, year: int | None, first: int | None) -> CompoundSelect[Any]:
    """Live cases and tombstones as one ``UNION ALL``, same columns in both halves.

    ``first``: only the first this many of each half in the record's order are needed (a page
    and the pages before it). Each half is then cut before the union, so the database finds
    them from the organisation's index by received day instead of sorting every case.
    """
    live = select(
        Case.id.label("case_id"),
        Case.reference.label("reference"),
        sql_case((Case.status == CaseStatus.CLOSED.value, literal(CLOSED)), else_=literal(OPEN))
        .cast(String)
        .label("state"),
        Case.category_id.label("category_id"),
        Case.channel.label("channel"),
        Case.anonymous.label("anonymous"),
        Case.received_on.label("received_on"),
        Case.acknowledge_due.label("acknowledge_due"),
        Case.acknowledged_on.label("acknowledged_on"),
        Case.feedback_due.label("feedback_due"),
        Case.feedback_on.label("feedback_on"),
        Case.scope.label("scope"),
        Case.hearing.label("hearing"),
        Case.outcome.label("outcome"),
        Case.closed_on.label("closed_on"),
        Case.delete_on.label("delete_on"),
        Case.retention_rule.label("retention_rule"),
        Case.hold_since.label("hold_since"),
        cast(null(), Date).label("deleted_on"),
    ).where(Case.org_id == org_id, *_received_in(Case.received_on, year))
    gone = select(
        cast(null(), Integer).label("case_id"),
        CaseTombstone.reference,
        literal(DELETED).cast(String).label("state"),
        CaseTombstone.category_id,
        CaseTombstone.channel,
        CaseTombstone.anonymous,
        CaseTombstone.received_on,
        CaseTombstone.acknowledge_due,
        CaseTombstone.acknowledged_on,
        CaseTombstone.feedback_due,
        CaseTombstone.feedback_on,
        CaseTombstone.scope,
        cast(null(), String).label("hearing"),
        CaseTombstone.outcome,
        CaseTombstone.closed_on,
        CaseTombstone.delete_on,
        CaseTombstone.retention_rule,
        cast(null(), Date).label("hold_since"),
        CaseTombstone.deleted_on,
    ).where(CaseTombstone.org_id == org_id, *_received_in(CaseTombstone.received_on, year))
    if first is None:
        return union_all(live, gone)
    halves = []
    for half, received_on, reference in (
        (live, Case.received_on, Case.reference),
        (gone, CaseTombstone.received_on, CaseTombstone.reference),
    ):
        cut = half.order_by(received_on, reference).limit(first).subquery()
        halves.append(select(cut))
    return union_all(*halves)


def _handler_counts(
    session: Session, org_id: int, case_ids: Sequence[int] | None, year: int | None
) -> dict[int, int]:
    """How many handlers hold a content key, per live case: one grouped query.

    ``case_ids``: the cases of one page; ``None``: every case of the organisation (received
    in ``year``), chosen by a subquery rather than a list of ids (an export can hold more ids
    than a statement may carry parameters).
    """
    if case_ids is not None and not case_ids:
        return {}
    chosen = (
        CaseKey.case_id.in_(case_ids)
        if case_ids is not None
        else CaseKey.case_id.in_(
            select(Case.id).where(Case.org_id == org_id, *_received_in(Case.received_on, year))
        )
    )
    rows = session.connection().execute(
        select(CaseKey.case_id, func.count(func.distinct(CaseKey.user_id)))
        .where(
            CaseKey.org_id == org_id,
            chosen,
            CaseKey.recipient == "user",
            CaseKey.kind == KeyKind.CONTENT.value,
        )
        .group_by(CaseKey.case_id)
    )
    return {case_id: int(count) for case_id, count in rows}


def _in_time(done: date | None, due: date) -> bool | None:
    return None if done is None else done <= due


def count_reports(session: Session, org_id: int, *, year: int | None = None) -> int:
    """How many reports the record of reports holds (live and deleted)."""
    live = select(func.count()).where(Case.org_id == org_id, *_received_in(Case.received_on, year))
    gone = select(func.count()).where(
        CaseTombstone.org_id == org_id, *_received_in(CaseTombstone.received_on, year)
    )
    return int(session.scalar(live.select_from(Case)) or 0) + int(
        session.scalar(gone.select_from(CaseTombstone)) or 0
    )


def record_of_reports(
    session: Session,
    org_id: int,
    *,
    year: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ReportRow]:
    """The record of reports of ``org_id`` (R1): live cases and deleted ones (tombstones),
    ordered by the day received, then the reference.

    ``year`` keeps the reports received that year; ``limit`` and ``offset`` give one page.
    Two statements whatever the size: the rows, and the handler counts of their live cases.
    """
    query = _page(org_id, year, limit, offset)
    # Core rows unpacked by position: an export builds 100,000 of these, and the ORM's result
    # machinery and attribute access by name took most of its time.
    found = session.connection().execute(query).all()
    live_ids = [row[0] for row in found if row[0] is not None]
    handlers = _handler_counts(session, org_id, live_ids if limit is not None else None, year)
    rows = []
    for (
        case_id,
        reference,
        state,
        code,
        label_da,
        label_en,
        channel,
        anonymous,
        received_on,
        acknowledge_due,
        acknowledged_on,
        feedback_due,
        feedback_on,
        scope,
        hearing,
        outcome,
        closed_on,
        delete_on,
        retention_rule,
        hold_since,
        deleted_on,
    ) in found:
        rows.append(
            ReportRow(
                reference,
                state,
                code,
                label_da,
                label_en,
                channel,
                bool(anonymous),
                received_on,
                acknowledge_due,
                acknowledged_on,
                _in_time(acknowledged_on, acknowledge_due),
                feedback_due,
                feedback_on,
                _in_time(feedback_on, feedback_due),
                scope,
                hearing,
                outcome,
                closed_on,
                delete_on,
                retention_rule,
                hold_since,
                deleted_on,
                None if case_id is None else handlers.get(case_id, 0),
            )
        )
    return rows


def _page(org_id: int, year: int | None, limit: int | None, offset: int) -> Select[Any]:
    """The statement of one page of the record (every row when ``limit`` is None), with each
    report's category looked up, in the order of the record."""
    record = _record(org_id, year, None if limit is None else offset + limit).subquery()
    c = record.c
    query = (
        select(
            c.case_id,
            c.reference,
            c.state,
            Category.code,
            Category.label_da,
            Category.label_en,
            c.channel,
            c.anonymous,
            c.received_on,
            c.acknowledge_due,
            c.acknowledged_on,
            c.feedback_due,
            c.feedback_on,
            c.scope,
            c.hearing,
            c.outcome,
            c.closed_on,
            c.delete_on,
            c.retention_rule,
            c.hold_since,
            c.deleted_on,
        )
        .outerjoin(Category, Category.id == c.category_id)
        .order_by(c.received_on, c.reference)
        .offset(offset)
    )
    return query if limit is None else query.limit(limit)
