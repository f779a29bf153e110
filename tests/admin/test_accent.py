"""The organisation's colour (issue 16): set on the profile page, used on its pages only while
it keeps AA contrast, otherwise kept but not used (whistle/admin/accent.py)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.admin import admin_of
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from whistle.admin.accent import contrast, normalise, readable
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry

DARK_GREEN = "#1a6b3c"  # 6.6:1 on white
AMBER = "#f2b600"  # 1.9:1 on white: unreadable as link text


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("#1A6B3C", "#1a6b3c"),
        (" 1a6b3c ", "#1a6b3c"),
        ("#abc", "#aabbcc"),
        ("green", None),
        ("#12345", None),
        ("#1a6b3c00", None),
        ("", None),
    ],
)
def test_a_colour_is_read_as_a_hex_code(typed: str, read: str | None) -> None:
    assert normalise(typed) == read


def test_contrast_is_measured_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast("#0b5cad", "#ffffff") == pytest.approx(6.67, abs=0.01)
    assert readable("#0b5cad") and readable(DARK_GREEN)
    assert not readable(AMBER)
    # 4.6:1 on white, but under 4.5:1 on the panels' grey: not used.
    assert contrast("#737373", "#ffffff") > 4.5 and not readable("#737373")


def theme_link(page_html: str, slug: str) -> bool:
    return f'href="/o/{slug}/theme.css' in page_html


def test_a_dark_colour_is_used_on_the_organisations_pages(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    public = app.test_client()
    assert not theme_link(public.get(f"/o/{slug}/").get_data(as_text=True), slug)
    assert public.get(f"/o/{slug}/theme.css").status_code == 404

    admin = admin_of(app, clock, unit)
    assert admin.send("/profile", "/profile/colour", {"accent": "#1A6B3C"}).status_code == 303

    for path in (f"/o/{slug}/", f"/o/{slug}/report", f"/staff/{slug}/admin/profile"):
        client = admin.client if path.startswith("/staff") else public
        assert theme_link(client.get(path).get_data(as_text=True), slug), path
    theme = public.get(f"/o/{slug}/theme.css")
    assert theme.status_code == 200 and theme.mimetype == "text/css"
    assert f"--accent: {DARK_GREEN};" in theme.get_data(as_text=True)
    # Pages of no organisation keep Whistle's own colour.
    assert "theme.css" not in public.get("/staff/sign-in").get_data(as_text=True)

    profile = admin.page("/profile").get_data(as_text=True)
    assert f'value="{DARK_GREEN}"' in profile and "accent-too-light" not in profile
    session.expire_all()
    details = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "settings.accent_changed")
    ).all()
    assert len(details) == 1

    # Emptied: back to Whistle's own.
    assert admin.send("/profile", "/profile/colour", {"accent": ""}).status_code == 303
    assert public.get(f"/o/{slug}/theme.css").status_code == 404
    assert not theme_link(public.get(f"/o/{slug}/").get_data(as_text=True), slug)


def test_a_colour_too_light_is_kept_but_the_pages_fall_back(
    app: Flask, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    admin = admin_of(app, clock, unit)
    assert admin.send("/profile", "/profile/colour", {"accent": AMBER}).status_code == 303

    public = app.test_client()
    assert not theme_link(public.get(f"/o/{slug}/").get_data(as_text=True), slug)
    assert public.get(f"/o/{slug}/theme.css").status_code == 404
    profile = admin.page("/profile")
    assert f'value="{AMBER}"' in profile.get_data(as_text=True)
    assert "This colour is too light to read on white, so the pages use Whistle's own blue." in (
        text_of(profile)
    )


def test_a_colour_that_is_no_hex_code_is_refused_and_shown_back(
    app: Flask, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    refused = admin.send("/profile", "/profile/colour", {"accent": "dark green"})
    assert refused.status_code == 400
    assert "Give the colour as a hex code: # and six digits, e.g. #1a6b3c." in text_of(refused)
    assert 'value="dark green"' in refused.get_data(as_text=True)
    assert app.test_client().get(f"/o/{unit.org.slug}/theme.css").status_code == 404
