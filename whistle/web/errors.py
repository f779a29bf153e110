"""Error pages a person can meet, in their language; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from whistle.core.keystore_errors import KeyStoreUnavailable
from whistle.web.ended import render_form_not_taken

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        _l("The request could not be understood"),
        _l("Something in what was sent did not make sense. Go back and try again."),
    ),
    403: (
        _l("Not allowed"),
        _l("You do not have access to this page."),
    ),
    404: (
        _l("Page not found"),
        _l("There is nothing at this address. Check the link or start from the front page."),
    ),
    405: (
        _l("Not allowed this way"),
        _l("This page cannot be used like that. Go back and use the buttons on the page."),
    ),
    413: (
        _l("Too much data"),
        _l(
            "What you sent is larger than this service accepts. Nothing was saved. "
            "Go back, remove or shrink some files, and send again."
        ),
    ),
    429: (
        _l("Too many attempts"),
        _l("Please wait a few minutes before you try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l(
            "An unexpected error happened on our side. Nothing you sent has been shown to "
            "anyone. Please try again in a moment."
        ),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l("The service cannot be reached right now. Please try again in a few minutes."),
    ),
}

CSRF_MESSAGE = (
    _l("The form has expired"),
    _l(
        "For your security the form could not be accepted, usually because the page was open "
        "for a long time or cookies are blocked. Go back, reload the page and send it again."
    ),
)


def render_error(code: int, title: object = None, message: object = None) -> tuple[str, int]:
    default_title, default_message = MESSAGES.get(code, MESSAGES[500])
    return (
        render_template(
            "web/error.html",
            code=code,
            title=title or default_title,
            message=message or default_message,
        ),
        code,
    )


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> tuple[str, int]:
        # Usually a page left open past its session: the person gets what they typed back.
        if request.method == "POST":
            return render_form_not_taken(ended=False, status=400, csrf=True)
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
        code = exc.code or 500
        if code < 400:
            return exc
        response = render_error(code if code in MESSAGES else 500)
        return response[0], code

    @app.errorhandler(OperationalError)
    def database_down(_exc: OperationalError) -> tuple[str, int]:
        log.error("database unavailable")
        return render_error(503)

    @app.errorhandler(KeyStoreUnavailable)
    def keystore_down(_exc: KeyStoreUnavailable) -> tuple[str, int]:
        log.error("key store unavailable")
        return render_error(503)

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError) -> tuple[str, int]:
        # The original exception is logged by Flask; only its type is repeated here, since
        # exception messages can carry user input.
        original = getattr(exc, "original_exception", None)
        log.error("internal error: %s", type(original).__name__ if original else "unknown")
        return render_error(500)
