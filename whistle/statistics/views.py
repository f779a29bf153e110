"""Statistics pages for the unit lead and the auditor: figures, SVG charts, CSV, and a yearly
summary to print.

Content-free by construction (whistle/statistics/statistics.py reads clear-text columns only).
Open to the auditor / DPO and the unit lead; a handler, counsel or administrator gets a 403.
The period is ``?year=`` (default: the current year of the injected clock) or ``?from=`` and
``?to=`` (days, ``YYYY-MM-DD``); anything else gets a translated 400 (whistle/web/csv.py reads
the year), never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, render_template, request
from flask_babel import format_date, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response

from whistle.core import dates
from whistle.core.labels import OUTCOME_LABELS
from whistle.core.models import CaseOutcome, Role
from whistle.core.runtime import db, runtime
from whistle.statistics import charts, csv_export, statistics
from whistle.statistics.charts import Bar
from whistle.statistics.statistics import Period, PeriodError, Statistics
from whistle.web.csv import BadPeriod, csv_response, parse_year
from whistle.web.errors import render_error
from whistle.web.guard import StaffContext, require

bp = Blueprint("statistics", __name__, url_prefix="/staff/<slug>/statistics")

READERS = (Role.AUDITOR, Role.LEAD)
BAD_DAY = _l("Give both days of the period as year-month-day, for example 2026-01-31.")
BAD_ORDER = _l("The period must end on or after the day it starts.")
TOO_LONG = _l("A period can be at most %(years)d years.", years=statistics.MAX_YEARS)
NOTHING = "\u2013"  # an en dash: a figure that does not exist (no case took the step)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(BAD_DAY) from None


def _period(args: Mapping[str, str], today: date) -> Period:
    """The period asked for: ``from`` and ``to``, else ``year``, else the current year."""
    first, last = args.get("from", "").strip(), args.get("to", "").strip()
    if first or last:
        if not (first and last):
            raise BadPeriod(BAD_DAY)
        try:
            return Period.between(_day(first), _day(last))
        except PeriodError as refused:
            raise BadPeriod(BAD_ORDER if refused.reason == "order" else TOO_LONG) from None
    return Period.year(parse_year(args.get("year")) or today.year)


def _readers(slug: str) -> StaffContext:
    return require(slug, *READERS)


def _today() -> date:
    return runtime().clock.now().date()


def _english() -> bool:
    return str(get_locale()) == "en"


# --- what the pages show --------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One chart and the table of its numbers."""

    key: str
    title: str
    label_header: str
    rows: tuple[tuple[str, str], ...]  # (label, value) as the table shows them
    chart: Markup


def _count(n: int) -> str:
    return str(format_decimal(n))


def _days(value: float | None) -> str:
    return NOTHING if value is None else str(format_decimal(value, "#,##0.#"))


def _share(value: float | None) -> str:
    return NOTHING if value is None else str(format_percent(value, "#,##0.#%"))


def _figure(
    key: str,
    title: str,
    label_header: str,
    entries: list[tuple[str, int]],
    *,
    vertical: bool = False,
    chart_labels: list[str] | None = None,
) -> Figure:
    labels = chart_labels if chart_labels is not None else [label for label, _n in entries]
    bars = [Bar(label, n, _count(n)) for label, (_row, n) in zip(labels, entries, strict=True)]
    draw = charts.bar_chart if vertical else charts.horizontal_bar_chart
    return Figure(
        key,
        title,
        label_header,
        tuple((label, _count(n)) for label, n in entries),
        draw(bars, title=title, description=_("Number of reports.")),
    )


def _outcome_label(name: str | None) -> str:
    if name is None:
        return str(_("No outcome recorded"))
    try:
        return str(OUTCOME_LABELS[CaseOutcome(name)])
    except ValueError:
        return name


def _deadline_rows(counts: statistics.DeadlineCounts) -> list[tuple[str, int]]:
    return [
        (_("Met"), counts.met),
        (_("Missed"), counts.missed),
        (_("Not yet due"), counts.pending),
    ]


def _figures(stats: Statistics) -> list[Figure]:
    one_year = stats.period.first.year == stats.period.last.year
    english = _english()
    return [
        _figure(
            "months",
            _("Reports received per month"),
            _("Month"),
            [(dates.month(m.month, dates.reader_locale()), m.reports) for m in stats.by_month],
            vertical=True,
            chart_labels=[
                str(format_date(m.month, "LLL" if one_year else "MMM yyyy")) for m in stats.by_month
            ],
        ),
        _figure(
            "categories",
            _("Reports per category"),
            _("Category"),
            [
                (
                    (c.label_en if english else c.label_da) or _("Category removed"),
                    c.reports,
                )
                for c in stats.by_category
            ],
        ),
        _figure(
            "channels",
            _("Reports per channel"),
            _("Channel"),
            [(_("Web form") if name == "web" else name, n) for name, n in stats.by_channel],
        ),
        _figure(
            "anonymity",
            _("Anonymous and named reports"),
            _("Reporter"),
            [(_("Anonymous"), stats.anonymous), (_("Named"), stats.reports - stats.anonymous)],
        ),
        _figure(
            "acknowledgement",
            _("Acknowledgement within seven days"),
            _("Deadline"),
            _deadline_rows(stats.acknowledgement),
        ),
        _figure(
            "feedback",
            _("Feedback within three months"),
            _("Deadline"),
            _deadline_rows(stats.feedback),
        ),
        _figure(
            "outcomes",
            _("Outcomes of closed cases"),
            _("Outcome"),
            [(_outcome_label(name), n) for name, n in stats.outcomes],
        ),
    ]


def _within(counts: statistics.DeadlineCounts) -> str:
    decided = counts.met + counts.missed
    return str(
        _(
            "%(met)s of %(decided)s (%(share)s)",
            met=_count(counts.met),
            decided=_count(decided),
            share=_share(counts.share_met),
        )
    )


def _key_figures(stats: Statistics) -> list[tuple[str, str, str]]:
    """(id, name, value) of the figures in the summary table."""
    ack, feedback = stats.to_acknowledgement, stats.to_feedback
    return [
        ("reports", _("Reports received"), _count(stats.reports)),
        (
            "anonymous",
            _("Anonymous reports"),
            f"{_count(stats.anonymous)} ({_share(stats.anonymous_share)})",
        ),
        ("ack-median", _("Days to acknowledgement, median"), _days(ack.median)),
        ("ack-worst", _("Days to acknowledgement, longest"), _days(ack.worst)),
        ("feedback-median", _("Days to feedback, median"), _days(feedback.median)),
        ("feedback-worst", _("Days to feedback, longest"), _days(feedback.worst)),
        ("ack-met", _("Acknowledgements within the deadline"), _within(stats.acknowledgement)),
        ("feedback-met", _("Feedback within the deadline"), _within(stats.feedback)),
        ("closed", _("Closed cases"), _count(stats.closed)),
    ]


def _period_args(period: Period) -> dict[str, str]:
    """The query that asks for ``period`` again (links to the CSV and the other pages)."""
    year = period.calendar_year
    if year is not None:
        return {"year": str(year)}
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


# --- the pages ------------------------------------------------------------------------------


@bp.get("/")
def index(slug: str) -> str | tuple[str, int]:
    """The statistics of one period, a chart and a table per figure."""
    ctx = _readers(slug)
    today = _today()
    asked = {key: request.args.get(key, "") for key in ("year", "from", "to")}
    try:
        period = _period(request.args, today)
    except BadPeriod as bad:
        page = render_template(
            "statistics/index.html",
            organisation=ctx.org,
            error=bad.message,
            asked=asked,
            stats=None,
        )
        return page, 400
    stats = statistics.compute(db(), ctx.org.id, period, today)
    year = period.calendar_year
    if year is not None:
        asked = {"year": str(year), "from": "", "to": ""}
    else:
        asked = {"year": "", "from": period.first.isoformat(), "to": period.last.isoformat()}
    return render_template(
        "statistics/index.html",
        organisation=ctx.org,
        error=None,
        asked=asked,
        stats=stats,
        year=year,
        query=_period_args(period),
        key_figures=_key_figures(stats),
        figures=_figures(stats),
    )


@bp.get("/summary")
def summary(slug: str) -> str | tuple[str, int]:
    """The yearly summary, laid out to print (``?year=``, default the current year)."""
    ctx = _readers(slug)
    today = _today()
    try:
        year = parse_year(request.args.get("year")) or today.year
    except BadPeriod as bad:
        return render_error(400, _l("Not a year"), bad.message)
    stats = statistics.compute(db(), ctx.org.id, Period.year(year), today)
    return render_template(
        "statistics/summary.html",
        organisation=ctx.org,
        stats=stats,
        year=year,
        today=today,
        key_figures=_key_figures(stats),
        figures=_figures(stats),
    )


@bp.get("/statistics.csv")
def statistics_csv(slug: str) -> Response | tuple[str, int]:
    """Every figure of the period as CSV (stable English keys; see csv_export.csv_rows)."""
    ctx = _readers(slug)
    try:
        period = _period(request.args, _today())
    except BadPeriod as bad:
        return render_error(400, _l("The period could not be used"), bad.message)
    stats = statistics.compute(db(), ctx.org.id, period, _today())
    year = period.calendar_year
    span = str(year) if year is not None else f"{period.first}-{period.last}"
    return csv_response(
        csv_export.to_csv(stats, english=_english()), f"statistics-{ctx.org.slug}-{span}.csv"
    )
