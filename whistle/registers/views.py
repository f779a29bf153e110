"""The registers as the auditor and the unit lead read them: pages and CSV downloads.

Content-free by construction (the modules of whistle/registers/ read clear-text columns only).
Open to the auditor / DPO and the unit lead; a handler, counsel or administrator gets a 403.
"""

from __future__ import annotations

import math

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core.labels import (
    HEARING_LABELS,
    OUTCOME_LABELS,
    SCOPE_LABELS,
    retention_rule_label,
)
from whistle.core.models import Role
from whistle.core.runtime import db, runtime
from whistle.registers.counts import counts
from whistle.registers.csv_text import to_csv
from whistle.registers.deletions import (
    DELETION_COLUMNS,
    HOLD_COLUMNS,
    count_pending_deletions,
    legal_holds,
    pending_deletions,
)
from whistle.registers.record import REPORT_COLUMNS, count_reports, record_of_reports
from whistle.registers.rights_requests import RIGHTS_COLUMNS, open_rights_requests
from whistle.rights.labels import BASIS_LABELS, DECISION_LABELS, KIND_LABELS
from whistle.web.csv import BadPeriod, csv_response, parse_year
from whistle.web.errors import render_error
from whistle.web.forms import parse_id
from whistle.web.guard import StaffContext, require

bp = Blueprint("registers", __name__, url_prefix="/staff/<slug>/registers")

PAGE = 100
READERS = (Role.AUDITOR, Role.LEAD)


def _page(value: str | None) -> int:
    page = parse_id(value)
    return page if page is not None and page > 0 else 1


def _readers(slug: str) -> StaffContext:
    return require(slug, *READERS)


def _labels() -> dict[str, object]:
    return {
        "outcome_labels": OUTCOME_LABELS,
        "scope_labels": SCOPE_LABELS,
        "hearing_labels": HEARING_LABELS,
        "rule_label": retention_rule_label,
        "english": str(get_locale()) == "en",
    }


@bp.get("/")
def index(slug: str) -> str:
    """The registers of the organisation, with how many rows each holds."""
    ctx = _readers(slug)
    return render_template(
        "registers/index.html",
        ctx=ctx,
        organisation=ctx.org,
        counts=counts(db(), ctx.org.id),
    )


@bp.get("/reports")
def reports(slug: str) -> str | tuple[str, int]:
    """The record of reports (R1), 100 per page, optionally for one year of receipt."""
    ctx = _readers(slug)
    try:
        year = parse_year(request.args.get("year"))
    except BadPeriod as bad:
        refused = render_template(
            "registers/reports.html",
            ctx=ctx,
            organisation=ctx.org,
            error=bad.message,
            year_text=request.args.get("year", ""),
            year=None,
            rows=[],
            total=0,
            page=1,
            pages=1,
            **_labels(),
        )
        return refused, 400
    session = db()
    total = count_reports(session, ctx.org.id, year=year)
    pages = max(1, math.ceil(total / PAGE))
    page = min(_page(request.args.get("page")), pages)
    rows = record_of_reports(session, ctx.org.id, year=year, limit=PAGE, offset=(page - 1) * PAGE)
    return render_template(
        "registers/reports.html",
        ctx=ctx,
        organisation=ctx.org,
        error=None,
        year_text=str(year) if year else "",
        year=year,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        **_labels(),
    )


@bp.get("/deletions")
def deletions(slug: str) -> str:
    """Closed cases and the day each is deleted (R2), the soonest first, 100 per page."""
    ctx = _readers(slug)
    session = db()
    total = count_pending_deletions(session, ctx.org.id)
    pages = max(1, math.ceil(total / PAGE))
    page = min(_page(request.args.get("page")), pages)
    rows = pending_deletions(
        session,
        ctx.org.id,
        runtime().clock.now().date(),
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    return render_template(
        "registers/deletions.html",
        ctx=ctx,
        organisation=ctx.org,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        **_labels(),
    )


@bp.get("/holds")
def holds(slug: str) -> str:
    """Cases on legal hold."""
    ctx = _readers(slug)
    return render_template(
        "registers/holds.html",
        ctx=ctx,
        organisation=ctx.org,
        rows=legal_holds(db(), ctx.org.id),
    )


@bp.get("/rights")
def rights_requests(slug: str) -> str:
    """Data-subject requests not yet answered, with their deadlines."""
    ctx = _readers(slug)
    return render_template(
        "registers/rights.html",
        ctx=ctx,
        organisation=ctx.org,
        rows=open_rights_requests(db(), ctx.org.id, runtime().clock.now().date()),
        kind_labels={k.value: v for k, v in KIND_LABELS.items()},
        decision_labels={k.value: v for k, v in DECISION_LABELS.items()},
        basis_labels=BASIS_LABELS,
    )


@bp.get("/rights.csv")
def rights_csv(slug: str) -> Response:
    ctx = _readers(slug)
    rows = open_rights_requests(db(), ctx.org.id, runtime().clock.now().date())
    return csv_response(to_csv(rows, RIGHTS_COLUMNS), f"rights-requests-{ctx.org.slug}.csv")


@bp.get("/reports.csv")
def reports_csv(slug: str) -> Response | tuple[str, int]:
    ctx = _readers(slug)
    try:
        year = parse_year(request.args.get("year"))
    except BadPeriod as bad:
        return render_error(400, _l("Not a year"), bad.message)
    rows = record_of_reports(db(), ctx.org.id, year=year)
    name = f"record-of-reports-{ctx.org.slug}{f'-{year}' if year else ''}.csv"
    return csv_response(to_csv(rows, REPORT_COLUMNS), name)


@bp.get("/deletions.csv")
def deletions_csv(slug: str) -> Response:
    ctx = _readers(slug)
    rows = pending_deletions(db(), ctx.org.id, runtime().clock.now().date())
    return csv_response(to_csv(rows, DELETION_COLUMNS), f"pending-deletions-{ctx.org.slug}.csv")


@bp.get("/holds.csv")
def holds_csv(slug: str) -> Response:
    ctx = _readers(slug)
    rows = legal_holds(db(), ctx.org.id)
    return csv_response(to_csv(rows, HOLD_COLUMNS), f"legal-holds-{ctx.org.slug}.csv")
