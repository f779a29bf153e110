"""Organisations are first-class: several can live in one deployment, each at its address."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.steps.pages import text_of
from whistle.core.clock import FixedClock
from whistle.core.models import Category
from whistle.core.organisations import create_organisation, suggest_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Nordisk Fjer A/S", "nordisk-fjer-a-s"),
        ("Ærø Kommune", "aeroe-kommune"),
        ("Smørrebrød & Søn ApS", "smoerrebroed-soen-aps"),
        ("!!!", "organisation"),
    ],
)
def test_slug_suggestion(name: str, slug: str) -> None:
    assert suggest_slug(name) == slug


def test_each_organisation_has_its_own_page_and_categories(
    app: Flask, client: FlaskClient, clock: FixedClock
) -> None:
    with app.app_context(), runtime(app).sessions() as session:
        first = create_organisation(session, clock, name="Testfirma Et ApS", slug="et")
        second = create_organisation(session, clock, name="Testfirma To ApS", slug="to")
        session.commit()
        labels = session.execute(
            select(Category.label_da, Category.label_en).where(
                Category.org_id == second.id, Category.code == "not-sure"
            )
        ).one()
        assert tuple(labels) == ("Ved ikke", "Not sure")
        assert first.id != second.id
        with pytest.raises(Refused):
            create_organisation(session, clock, name="Igen", slug="et")

    # Each is reached at its own address (``/`` lists them only where the deployment says so:
    # tests/reporting/test_front_page.py).
    assert "Testfirma Et ApS" in text_of(client.get("/o/et/", headers={"Accept-Language": "en"}))
    assert "Testfirma To ApS" in text_of(client.get("/o/to/"))
    assert client.get("/o/tre/").status_code == 404
