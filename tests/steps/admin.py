"""An admin of an organisation, signed in and using the admin console."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from tests.steps.factories import Staff, Unit
from tests.steps.staff import StaffMember, form_token
from whistle.core.clock import FixedClock


class Admin(StaffMember):
    """An administrator at the console of organisation ``slug``."""

    def __init__(self, app: Flask, clock: FixedClock, staff: Staff, slug: str) -> None:
        super().__init__(app, clock, staff)
        self.slug = slug
        self.base = f"/staff/{slug}/admin"

    def page(self, name: str = "") -> TestResponse:
        return self.get(f"{self.base}{name}")

    def forced(
        self, action: str, fields: dict[str, Any], *, token_name: str = "csrf_token"
    ) -> TestResponse:
        """Post to ``action`` though the page offers no such form (a page left open, a forged
        post): with a valid token of this session, so only the console's own checks stop it."""
        token = form_token(self.get("/staff/"), "/staff/sign-out")[1]
        return self.post(f"{self.base}{action}", {token_name: token, **fields})

    def send(
        self, page: str, action: str, fields: dict[str, Any], *, multipart: bool = False
    ) -> TestResponse:
        """Open the console page ``page``, fill in the form posting to ``action``, send it."""
        shown = self.page(page)
        assert shown.status_code == 200, shown.status_code
        name, token = form_token(shown, f"{self.base}{action}")
        return self.client.post(
            f"{self.base}{action}",
            data={name: token, **fields},
            headers={"Accept-Language": "en"},
            content_type="multipart/form-data" if multipart else None,
        )


def admin_of(app: Flask, clock: FixedClock, unit: Unit) -> Admin:
    admin = Admin(app, clock, unit.admin, unit.org.slug)
    assert admin.sign_in().status_code == 303
    return admin
