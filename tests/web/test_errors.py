"""Error pages exist in Danish and English and never show a stack trace."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from tests.steps.pages import text_of
from whistle.web.access import public

CODES = [400, 403, 404, 405, 413, 429, 500, 503]


@pytest.fixture
def raising_app(app: Flask) -> Flask:
    @app.get("/test-abort/<int:code>")
    @public
    def abort_with(code: int) -> str:
        abort(code)

    @app.get("/test-crash")
    @public
    def crash() -> str:
        raise RuntimeError("secret report text that must not be logged")

    @app.get("/test-db-down")
    @public
    def db_down() -> str:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    return app


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize(("lang", "word"), [("da", "Fejl"), ("en", "Error")])
def test_error_pages_in_both_languages(raising_app: Flask, code: int, lang: str, word: str) -> None:
    client = raising_app.test_client()
    response = client.get(f"/test-abort/{code}", headers={"Accept-Language": lang})
    assert response.status_code == code
    page = text_of(response)
    assert f"{word} {code}" in page
    assert '<html lang="' + lang + '"' in response.get_data(as_text=True)


def test_crash_shows_a_friendly_page_and_logs_no_message(
    raising_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    raising_app.config["TESTING"] = False
    raising_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = raising_app.test_client()
    with caplog.at_level(logging.DEBUG):
        response = client.get("/test-crash", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "Traceback" not in body and "RuntimeError" not in body
    assert "RuntimeError" in caplog.text  # the type is logged, so it can be found
    assert "secret report text" not in caplog.text


def test_database_outage_gives_503(raising_app: Flask) -> None:
    response = raising_app.test_client().get("/test-db-down", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "Temporarily unavailable" in text_of(response)


def test_wrong_method_gives_405_page(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
