"""The registers and statistics as CSV text: stable English column keys, values written so
that a spreadsheet shows them as data, never runs them (OWASP "CSV injection").

The web kit sends the text as a download (whistle/web/csv.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date

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
    """``rows`` as CSV text: a header row of ``columns`` (the stable English keys of a
    register, such as :data:`whistle.registers.record.REPORT_COLUMNS`, never translated), then
    one line per row with the attribute of each column (:func:`csv_table`)."""
    return csv_table(columns, ([getattr(row, column) for column in columns] for row in rows))


def csv_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header row, then each row with every value through :func:`csv_cell`. Lines end in
    CRLF (RFC 4180); encode as UTF-8 to send it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()
