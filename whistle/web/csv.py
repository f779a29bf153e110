"""CSV downloads of the registers and the statistics, and the period their pages ask for.

:func:`csv_response` sends CSV text (whistle/registers/csv_text.py writes it) as a download;
:func:`parse_year` reads the ``?year=`` of those pages, refusing anything but a year with a
:class:`BadPeriod` whose message the page shows on a 400.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.web.downloads import attachment_disposition
from whistle.web.forms import parse_id

BAD_YEAR = _l("Give the year as four digits, for example 2026.")


class BadPeriod(ValueError):
    """A period in the query string that cannot be used; ``message`` says why, translated."""

    def __init__(self, message: object) -> None:
        super().__init__("bad period")
        self.message = message


def parse_year(value: str | None) -> int | None:
    """The ``?year=`` of a page: empty means none given (``None``); :class:`BadPeriod` with
    :data:`BAD_YEAR` for anything but a year of four digits."""
    text = (value or "").strip()
    if not text:
        return None
    year = parse_id(text) if len(text) == 4 else None
    if year is None or year < 1:
        raise BadPeriod(BAD_YEAR)
    return year


def csv_response(text: str, name: str) -> Response:
    """``text`` as a CSV download named ``name``."""
    # The byte-order mark lets spreadsheet programs read the file as UTF-8 (Danish labels).
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = attachment_disposition(name)
    return response
