"""The statistics of a period as CSV rows: stable English keys for every figure, the
category labels in the reader's language the only text (whistle/statistics/statistics.py
computes the figures)."""

from __future__ import annotations

from whistle.registers.csv_text import csv_table
from whistle.statistics.statistics import Statistics

CSV_COLUMNS = ("figure", "item", "label", "value")


def number_text(value: float | None) -> str:
    """A median as text: whole numbers without decimals, halves with one ("2.5")."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def share_text(value: float | None) -> str:
    """A share as a decimal fraction with four decimals ("0.8571"), empty when undefined."""
    return "" if value is None else f"{value:.4f}"


def csv_rows(stats: Statistics, *, english: bool) -> list[tuple[str, object, object, object]]:
    """Every figure as (figure, item, label, value): stable English keys, the category's label
    in the reader's language (``english`` or Danish) as the only text. A removed category has
    an empty item; a closed report without an outcome the item "none"."""
    rows: list[tuple[str, object, object, object]] = [
        ("period", "first", None, stats.period.first),
        ("period", "last", None, stats.period.last),
        ("reports", "total", None, stats.reports),
        ("reports", "anonymous", None, stats.anonymous),
        ("reports", "anonymous_share", None, share_text(stats.anonymous_share)),
    ]
    rows += [("month", m.month.strftime("%Y-%m"), None, m.reports) for m in stats.by_month]
    rows += [
        ("category", c.code, c.label_en if english else c.label_da, c.reports)
        for c in stats.by_category
    ]
    rows += [("channel", name, None, n) for name, n in stats.by_channel]
    for figure, durations in (
        ("days_to_acknowledgement", stats.to_acknowledgement),
        ("days_to_feedback", stats.to_feedback),
    ):
        rows += [
            (figure, "cases", None, durations.cases),
            (figure, "median", None, number_text(durations.median)),
            (figure, "worst", None, durations.worst),
        ]
    for figure, deadlines in (
        ("acknowledgement_deadline", stats.acknowledgement),
        ("feedback_deadline", stats.feedback),
    ):
        rows += [
            (figure, "met", None, deadlines.met),
            (figure, "missed", None, deadlines.missed),
            (figure, "pending", None, deadlines.pending),
            (figure, "share_met", None, share_text(deadlines.share_met)),
        ]
    rows.append(("closed", "total", None, stats.closed))
    rows += [("outcome", name or "none", None, n) for name, n in stats.outcomes]
    return rows


def to_csv(stats: Statistics, *, english: bool) -> str:
    """:func:`csv_rows` as CSV text with a header row of :data:`CSV_COLUMNS`; every cell
    through :func:`whistle.registers.csv_text.csv_cell` (a category label that looks like a
    formula is defused). Lines end in CRLF (RFC 4180)."""
    return csv_table(CSV_COLUMNS, csv_rows(stats, english=english))
