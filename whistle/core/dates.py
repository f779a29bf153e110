"""Dates and times as a person reads them, in the reader's language: "7. december 2026" in
Danish, "7 December 2026" in English (the British order, never the US one). Running text,
pages, mails and PDFs use these; CSV files and machine formats keep ISO 8601.

A leaf (Babel and the translation layer only), so pages, mails, commands and PDFs take their
dates from here. The templates reach it through the ``day``, ``moment`` and ``month`` filters
(whistle/web/templating.py); Python code that formats for whoever reads now uses
:func:`reader_locale`, and a refusal built by domain code (which knows no reader) carries a
:class:`ShownDay`, formatted when the message is shown.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time
from flask_babel import get_locale, ngettext

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


def reader_locale() -> str:
    """The language of whoever reads now: the request's, or the one forced for a mail or a
    PDF (``flask_babel.force_locale``); Danish outside any request."""
    try:
        current = get_locale()
    except RuntimeError:  # no application context
        current = None
    return str(current or "da")


class ShownDay:
    """A day written into a message when the message is shown, in its reader's language
    (``%(day)s`` in a lazy translation calls ``str`` then): domain code raises refusals
    before anyone knows who reads them."""

    __slots__ = ("short", "value")

    def __init__(self, value: date, *, short: bool = False) -> None:
        self.value = value
        self.short = short

    def __str__(self) -> str:
        return day(self.value, reader_locale(), short=self.short)

    def __repr__(self) -> str:
        return f"ShownDay({self.value!r})"


__all__ = ["FORMAT_LOCALES", "ShownDay", "ShownWait", "day", "moment", "month", "reader_locale"]


class ShownWait:
    """A throttle's wait (whistle/core/throttle.py) written into a message when it is shown:
    "30 seconds", "4 minutes" (rounded up, so trying after the time said is never early), in
    its reader's language. No clock time: the server knows its own time zone, not the
    reader's, and a time of day in the wrong zone would send someone back an hour early."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __str__(self) -> str:
        if self.seconds < 60:
            return str(ngettext("%(num)d second", "%(num)d seconds", self.seconds))
        return str(ngettext("%(num)d minute", "%(num)d minutes", (self.seconds + 59) // 60))

    def __repr__(self) -> str:
        return f"ShownWait({self.seconds})"
