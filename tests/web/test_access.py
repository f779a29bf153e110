"""Deny by default: a view nobody marked public is closed to anyone not signed in."""

from __future__ import annotations

from flask import Flask

from tests.steps.pages import csrf_token
from tests.steps.public_routes import EXPECTED_PUBLIC
from tests.steps.templates import TextCollector
from whistle.web.access import PUBLIC_ATTR


def test_public_views_are_exactly_the_expected_ones(app: Flask) -> None:
    public = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint == "static" or getattr(view, PUBLIC_ATTR, False)
    }
    assert public == EXPECTED_PUBLIC


def test_an_unmarked_view_is_refused(app: Flask) -> None:
    """Deny by default: a view nobody marked public and that checks nothing itself is closed
    to a signed-out visitor, a page by a redirect to sign-in and a form post (with a valid
    CSRF token, so that only the login hook can stop it) by a 403."""
    acted: list[str] = []

    @app.route("/test-staff-only", methods=["GET", "POST"])
    def staff_only() -> str:
        acted.append("ran")
        return "case content"

    client = app.test_client()
    page = client.get("/test-staff-only", headers={"Accept-Language": "en"})
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in")
    assert "case content" not in page.get_data(as_text=True)
    token = csrf_token(client.get("/staff/sign-in", headers={"Accept-Language": "en"}))
    posted = client.post(
        "/test-staff-only", data={"csrf_token": token}, headers={"Accept-Language": "en"}
    )
    assert posted.status_code == 403
    assert "case content" not in posted.get_data(as_text=True)
    assert acted == []


def test_template_checker_catches_bare_text() -> None:
    """The translation lint of test_i18n must itself fail on untranslated text."""
    collector = TextCollector()
    collector.feed('<p>Bare words</p><img alt="A picture"><p> </p>')
    assert collector.found == ["Bare words", "img[alt]='A picture'"]
