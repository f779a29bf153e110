"""A staff member using the staff pages through the Flask test client, step by step."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.steps.factories import TEST_PASSWORD, Staff
from tests.steps.pages import csrf_token
from whistle.core.clock import FixedClock
from whistle.staff import totp


class StaffMember:
    """One person's browser: signs in with password and the code their app shows."""

    def __init__(self, app: Flask, clock: FixedClock, staff: Staff) -> None:
        self.app = app
        self.clock = clock
        self.staff = staff
        self.client: FlaskClient = app.test_client()
        self.language = "en"  # the browser's Accept-Language

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("headers", {"Accept-Language": self.language})
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> TestResponse:
        kwargs.setdefault("headers", {"Accept-Language": self.language})
        return self.client.post(path, data=data, **kwargs)

    def submit(
        self, path: str, fields: dict[str, Any], *, form_page: str | None = None
    ) -> TestResponse:
        """Open ``form_page`` (default: ``path``), take its CSRF token, post ``fields``."""
        page = self.get(form_page or path)
        return self.post(path, {"csrf_token": csrf_token(page), **fields})

    def current_code(self) -> str:
        assert self.staff.totp_secret is not None
        # Each code works once: move to the next 30-second step, as a person would wait.
        self.clock.advance(timedelta(seconds=30))
        return totp.code_at(self.staff.totp_secret, self.clock.now())

    def sign_in(self, password: str = TEST_PASSWORD) -> TestResponse:
        """Password, then the code; returns the response to the code step."""
        first = self.submit(
            "/staff/sign-in", {"email": self.staff.user.email, "password": password}
        )
        assert first.status_code == 303, first.get_data(as_text=True)
        assert first.headers["Location"].startswith("/staff/sign-in/code")
        return self.submit("/staff/sign-in/code", {"code": self.current_code()})

    def sign_out(self) -> TestResponse:
        page = self.get("/staff/")
        return self.post("/staff/sign-out", {"csrf_token": csrf_token(page)})


# --- the case workspace ----------------------------------------------------------------------

_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_ACTION_RE = re.compile(r'\baction="([^"]*)"')
_TOKEN_RE = re.compile(r'name="([\w-]*csrf_token)" type="hidden" value="([^"]+)"')


def form_token(page: TestResponse, action_path: str) -> tuple[str, str]:
    """(field name, value) of the CSRF token in the form that posts to ``action_path``.

    Prefixed forms name their token ``<prefix>-csrf_token``: the page's own name is used, as a
    browser would.
    """
    html = page.get_data(as_text=True)
    for attributes, body in _FORM_RE.findall(html):
        action = _ACTION_RE.search(attributes)
        if action and unescape(action.group(1)).split("?")[0] == action_path:
            token = _TOKEN_RE.search(body)
            assert token, f"the form for {action_path} has no CSRF token"
            return token.group(1), unescape(token.group(2))
    raise AssertionError(f"the page offers no form for {action_path}")


class CaseWorker(StaffMember):
    """A handler (or lead) at work in organisation ``slug``: inbox, case page, case actions."""

    def __init__(self, app: Flask, clock: FixedClock, staff: Staff, *, slug: str) -> None:
        super().__init__(app, clock, staff)
        self.slug = slug

    def case_path(self, reference: str, action: str = "") -> str:
        path = f"/staff/{self.slug}/cases/{reference}"
        return f"{path}/{action}" if action else path

    def inbox(self, **query: str) -> TestResponse:
        return self.get(f"/staff/{self.slug}/cases", query_string=query)

    def open_case(self, reference: str) -> TestResponse:
        return self.get(self.case_path(reference))

    def case_action(
        self, reference: str, action: str, fields: dict[str, Any] | None = None
    ) -> TestResponse:
        """Open the case page, fill in the form of ``action`` and send it (not followed)."""
        page = self.open_case(reference)
        assert page.status_code == 200, page.status_code
        path = self.case_path(reference, action)
        name, token = form_token(page, path)
        data = {name: token, **(fields or {})}
        multipart = any(isinstance(v, (tuple, list)) for v in data.values())
        return self.client.post(
            path,
            data=data,
            headers={"Accept-Language": self.language},
            content_type="multipart/form-data" if multipart else None,
        )

    def any_token(self) -> str:
        """A valid CSRF token of this browser's session (the home page's sign-out form)."""
        return form_token(self.get("/staff/"), "/staff/sign-out")[1]
