"""The first-run setup link as a browser opens it: ``/setup/#<token>``, the part after ``#``
never sent, then posted in the body by the page's script (whistle/static/fragment.js)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.steps.pages import csrf_token


def open_setup(client: FlaskClient, token: str, **kwargs: Any) -> TestResponse:
    """The setup form, opened with ``token`` (or the page that says the link does not work)."""
    page = client.get("/setup/", **kwargs)
    if page.status_code != 200:
        return page
    assert 'data-from-fragment="token"' in page.get_data(as_text=True)
    return client.post("/setup/", data={"csrf_token": csrf_token(page), "token": token}, **kwargs)


def submit_setup(
    client: FlaskClient, token: str, fields: dict[str, str], **kwargs: Any
) -> TestResponse:
    """Open the setup link and send the form with ``fields``."""
    page = open_setup(client, token, **kwargs)
    assert page.status_code == 200, page.status_code
    data = {**fields, "token": token, "csrf_token": csrf_token(page)}
    return client.post("/setup/", data=data, **kwargs)
