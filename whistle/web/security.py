"""Baseline web security, set and tested in the app itself (not only in a reverse proxy).

- A strict Content-Security-Policy: no inline script or style, nothing from a third party, no
  framing. Reporter pages must work in Tor Browser's safest mode, so nothing depends on script.
- ``Referrer-Policy: no-referrer``: a link clicked from a case page never tells another site
  which case (or which setup token) the reader was on.
- ``Cache-Control: no-store`` on every dynamic page: a shared or seized computer keeps no copy
  of a report page in its browser cache.
- HSTS whenever the request arrived over HTTPS.
- Session cookies ``HttpOnly``, ``SameSite=Strict``, and ``Secure`` when the public address is
  HTTPS; CSRF tokens on every form (Flask-WTF).
"""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from whistle.core.settings import Settings

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

csrf = CSRFProtect()


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def _refuse_nul() -> None:
    """No person types a NUL character, and PostgreSQL refuses text holding one (a server
    error at the first clear-text field or filter it reached): such a request is refused."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def init_security(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    app.config.update(
        SESSION_COOKIE_NAME="whistle_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Strict",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=settings.max_request_mb * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, no shorter
        WTF_CSRF_SSL_STRICT=True,
    )
    csrf.init_app(app)
    app.before_request(_refuse_nul)
    app.after_request(_set_headers)
