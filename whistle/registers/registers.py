"""The registers the auditor and the data-protection officer keep (REQUIREMENTS.md R1, R2, R4).

- **Record of reports** (R1, Directive art. 18): every report the organisation received, the
  cases still kept and the tombstones of the deleted ones, with reference, category, channel,
  dates and deadlines, scope, hearing, outcome, closure, retention and how many handlers hold
  a key.
- **Pending deletions** (R2): every closed case with its retention date, soonest first.
- **Legal holds** (R2): every case whose deletion is stopped.

Everything here reads clear-text columns only: no ciphertext column is even selected, nothing
is decrypted, and no register can show what a person wrote. Each register is one or two SQL
statements filtered by organisation (the handler counts are one grouped query), so their
cost does not depend on fetching rows one by one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
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
from whistle.core.models import Case, CaseKey, CaseStatus, CaseTombstone, Category, RightsRequest

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


@dataclass(frozen=True)
class RegisterCounts:
    reports: int
    pending_deletions: int
    legal_holds: int
    rights_requests: int = 0


# The CSV columns of each register, in order: the header row is these keys, stable across
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
    if limit is not None:
        query = query.limit(limit)
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


def counts(session: Session, org_id: int) -> RegisterCounts:
    """How many rows each register of ``org_id`` holds."""
    return RegisterCounts(
        reports=count_reports(session, org_id),
        pending_deletions=count_pending_deletions(session, org_id),
        legal_holds=count_legal_holds(session, org_id),
        rights_requests=count_rights_requests(session, org_id),
    )


# --- CSV ------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """One value as CSV text: dates ISO, booleans ``true``/``false``, ``None`` empty.

    Text that a spreadsheet would read as a formula gets a leading apostrophe. Every value in
    the registers is system-generated, but category labels are typed by an administrator, and
    the guard costs nothing. Numbers are written as they are ("-3" is a number, not a formula).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(rows: Iterable[object], columns: Sequence[str]) -> str:
    """``rows`` as CSV text: a header row of ``columns`` (the stable English keys of
    :data:`REPORT_COLUMNS`, :data:`DELETION_COLUMNS` or :data:`HOLD_COLUMNS`, never
    translated), then one line per row with the attribute of each column (:func:`csv_cell`).
    Lines end in CRLF (RFC 4180); encode as UTF-8 to send it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(getattr(row, column)) for column in columns])
    return out.getvalue()
