"""The bare address (``/``) names no organisation unless the deployment chooses to list them.

One deployment may serve a law firm's clients or a group's companies; by default none of them,
and nobody probing the address, learns which organisations are served here or how many
(README, "list_organisations").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.steps.factories import Unit, make_unit
from tests.steps.pages import text_of
from whistle.app import create_app
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime


@pytest.fixture
def listing_app(
    app_config: dict[str, Any], instance_path: Path, clock: FixedClock, app: Flask
) -> Iterator[Flask]:
    """The same deployment, configured to list its organisations on ``/``."""
    listing = create_app(
        {**app_config, "list_organisations": True}, instance_path=instance_path, clock=clock
    )
    yield listing
    runtime(listing).engine.dispose()
    runtime(listing).keystore.dispose()


def second_unit(app: Flask, clock: FixedClock) -> Unit:
    with app.app_context(), runtime(app).sessions() as session:
        return make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")


def test_by_default_the_front_page_names_no_organisation_and_no_count(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    assert runtime(app).settings.list_organisations is False
    client = app.test_client()
    for organisations in ([unit], [unit, second_unit(app, clock)]):
        front = client.get("/", headers={"Accept-Language": "en"})
        # Not even a redirect to the only organisation: that would name it.
        assert front.status_code == 200
        html = front.get_data(as_text=True)
        page = text_of(front)
        assert "Your organisation gives you its address" in page
        for found in organisations:
            assert found.org.name not in page
            assert found.org.slug not in html
        assert "/o/" not in html
        # The page is the same whatever the number of organisations behind it.
        if len(organisations) == 1:
            one = html
    assert html == one


def test_the_neutral_front_page_speaks_danish(app: Flask, unit: Unit) -> None:
    front = app.test_client().get("/", headers={"Accept-Language": "da"})
    assert "Din organisation giver dig adressen" in text_of(front)


def test_a_deployment_may_list_its_organisations(
    listing_app: Flask, clock: FixedClock, unit: Unit
) -> None:
    client = listing_app.test_client()
    only = client.get("/")
    assert only.status_code == 302
    assert only.headers["Location"].endswith(f"/o/{unit.org.slug}/")
    other = second_unit(listing_app, clock)
    listed = client.get("/")
    assert listed.status_code == 200
    page = text_of(listed)
    assert unit.org.name in page and other.org.name in page


def test_before_setup_the_front_page_still_says_it_is_not_set_up(client: Any) -> None:
    front = client.get("/", headers={"Accept-Language": "en"})
    assert "This reporting service is not set up yet" in text_of(front)
