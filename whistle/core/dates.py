"""Dates and times as a person reads them, in the reader's language: "7. december 2026" in
Danish, "7 December 2026" in English (the British order, never the US one). Running text,
pages, mails and PDFs use these; CSV files and machine formats keep ISO 8601.

A leaf (Babel only), so pages, mails, commands and PDFs take their dates from here. The
templates reach it through the ``day``, ``moment`` and ``month`` filters
(whistle/web/templating.py).
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time

# The Babel locale that formats each of Whistle's languages.
FORMAT_LOCALES = {"da": "da_DK", "en": "en_GB"}


def _babel_locale(locale: str | None) -> str:
    return FORMAT_LOCALES.get((locale or "da").split("_")[0].split("-")[0], "da_DK")


def day(value: date | datetime | None, locale: str | None, *, short: bool = False) -> str:
    """A day: "7. december 2026" / "7 December 2026" (``short``: "7. dec. 2026" /
    "7 Dec 2026"). Empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "medium" if short else "long", locale=_babel_locale(locale))


def moment(value: datetime | None, locale: str | None) -> str:
    """A day and a time of day, to the minute: "7. december 2026 kl. 14.05" /
    "7 December 2026, 14:05". Empty for None."""
    if value is None:
        return ""
    babel_locale = _babel_locale(locale)
    when = format_time(value, "short", locale=babel_locale)
    joint = " kl. " if babel_locale == "da_DK" else ", "
    return f"{day(value, locale)}{joint}{when}"


def month(value: date | None, locale: str | None) -> str:
    """A month: "december 2026" / "December 2026"."""
    if value is None:
        return ""
    return format_date(value, "MMMM yyyy", locale=_babel_locale(locale))


__all__ = ["FORMAT_LOCALES", "day", "moment", "month"]
