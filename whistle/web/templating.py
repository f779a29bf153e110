"""What every template can use: the active language and the language-switch links."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, request
from flask_babel import get_locale

from whistle.core import dates
from whistle.core.settings import LOCALES
from whistle.web import upload_words

LANGUAGE_NAMES = {"da": "Dansk", "en": "English"}


def _template_context() -> dict[str, Any]:
    current = str(get_locale() or "da")
    here = request.full_path if request.query_string else request.path
    return {
        "current_locale": current,
        "other_languages": [
            {"code": code, "name": LANGUAGE_NAMES[code], "next": here}
            for code in LOCALES
            if code != current
        ],
    }


def _autoescape(template_name: str | None) -> bool:
    """Escape every template except plain-text ones (``.txt``), which are served as
    ``text/plain`` with ``nosniff``: escaping there would corrupt them (a signed receipt's
    JSON would no longer verify)."""
    return not (template_name or "").endswith(".txt")


def _reader() -> str:
    return str(get_locale() or "da")


def _day(value: date | datetime | None, short: bool = False) -> str:
    return dates.day(value, _reader(), short=short)


def _moment(value: datetime | None) -> str:
    return dates.moment(value, _reader())


def _month(value: date | None) -> str:
    return dates.month(value, _reader())


def init_templating(app: Flask) -> None:
    app.context_processor(_template_context)
    # Dates in the reader's language (whistle/core/dates.py), never ISO in running text.
    app.jinja_env.filters["day"] = _day
    app.jinja_env.filters["moment"] = _moment
    app.jinja_env.filters["month"] = _month
    app.jinja_env.globals["upload_batch_texts"] = upload_words.batch_texts
    app.jinja_env.autoescape = _autoescape
