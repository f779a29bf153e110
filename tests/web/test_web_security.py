"""Baseline web security is set by the app itself, on every kind of response."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.steps.pages import csrf_token
from tests.steps.setup_link import open_setup
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime
from whistle.setup.onboarding import issue_token


def assert_baseline_headers(headers: object) -> None:
    csp = headers["Content-Security-Policy"]  # type: ignore[index]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert "http" not in csp, "no third-party origin may be allowed"
    assert headers["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]
    assert headers["Referrer-Policy"] == "no-referrer"  # type: ignore[index]


@pytest.mark.parametrize("path", ["/", "/healthz", "/no-such-page", "/setup/nothing"])
def test_every_response_carries_the_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert_baseline_headers(response.headers)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_static_files_are_cacheable_but_still_protected(client: FlaskClient) -> None:
    response = client.get("/static/whistle.css")
    assert response.status_code == 200
    assert_baseline_headers(response.headers)
    assert response.headers.get("Cache-Control") != "no-store"


def test_hsts_and_secure_cookies_over_https(
    app_config: dict[str, object], instance_path: object, clock: FixedClock
) -> None:
    from whistle.app import create_app

    app = create_app(
        {**app_config, "base_url": "https://whistle.example.org"},
        instance_path=instance_path,  # type: ignore[arg-type]
        clock=clock,
    )
    client = app.test_client()
    with runtime(app).sessions() as session:
        issue_token(session, clock)
    response = client.get("/setup/", base_url="https://whistle.example.org")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    cookie = cookies[0]
    assert cookie.startswith("whistle_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict"):
        assert flag in cookie
    runtime(app).engine.dispose()


def test_session_cookie_flags_over_http(app: Flask, client: FlaskClient, clock: FixedClock) -> None:
    with runtime(app).sessions() as session:
        token = issue_token(session, clock)
    cookies = client.get("/setup/").headers.getlist("Set-Cookie")
    assert open_setup(client, token).status_code == 200
    assert len(cookies) == 1, cookies
    cookie = cookies[0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain-HTTP development address


def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, clock: FixedClock
) -> None:
    with runtime(app).sessions() as session:
        token = issue_token(session, clock)
    open_setup(client, token)
    refused = client.post("/setup/", data={"org_name": "Fake Org", "token": token})
    assert refused.status_code == 400
    assert "expired" in refused.get_data(as_text=True) or "udløbet" in refused.get_data(
        as_text=True
    )
    forged = client.post(
        "/setup/", data={"org_name": "Fake Org", "token": token, "csrf_token": "x" * 40}
    )
    assert forged.status_code == 400


def test_oversized_request_gets_a_clear_413_page(
    app: Flask, client: FlaskClient, clock: FixedClock
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024
    with runtime(app).sessions() as session:
        token = issue_token(session, clock)
    page = open_setup(client, token, headers={"Accept-Language": "en"})
    response = client.post(
        "/setup/",
        data={"csrf_token": csrf_token(page), "token": token, "org_name": "x" * 5000},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert_baseline_headers(response.headers)
