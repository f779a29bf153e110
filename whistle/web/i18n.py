"""Danish and English, negotiated from Accept-Language, with a visible switch.

The switch stores the choice in a ``lang`` cookie that carries nothing but ``da`` or ``en``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request
from flask_babel import Babel
from werkzeug.wrappers import Response

from whistle.core.runtime import runtime
from whistle.core.settings import LOCALES
from whistle.web.access import public

LANG_COOKIE = "lang"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    best = request.accept_languages.best_match(LOCALES)
    return best or runtime().settings.default_locale


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: the switch must not become an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:
        return "/"
    return target


@bp.get("/lang/<code>")
@public
def switch(code: str) -> Response:
    response = redirect(safe_next(request.args.get("next")), code=303)
    if code in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Strict",
            secure=runtime().settings.secure_cookies,
        )
    return response


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
