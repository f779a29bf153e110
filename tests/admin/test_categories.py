"""The categories page (issue 16): one compact row per category with its rename, its up and down
buttons (each a small form: no JavaScript needed), offered or not, and delete when no case has
it; "Not sure" stays last on the report form whatever is added or moved."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.admin import admin_of
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from whistle.core.clock import FixedClock
from whistle.core.models import Category


def report_form_labels(app: Flask, slug: str) -> list[str]:
    page = Reporter(app, slug).get(f"/o/{slug}/report").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="category"[^>]*>(.*?)</select>', page, re.S)
    assert select_html
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select_html.group(1))
    return [unescape(label) for label in options][1:]


def rows_of(html: str) -> dict[str, str]:
    """The categories table's rows by the English name shown in them."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body
    rows = re.findall(r'<tr id="category-\d+">(.*?)</tr>', body.group(1), re.S)
    return {unescape(re.search(r"<strong>(.*?)</strong>", row).group(1)): row for row in rows}  # type: ignore[union-attr]


def test_not_sure_stays_last_whatever_is_added_or_moved(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    not_sure = session.scalars(
        select(Category).where(Category.org_id == unit.org.id, Category.code == "not-sure")
    ).one()
    admin = admin_of(app, clock, unit)
    for da, en in (("Snyd med timer", "Time fraud"), ("Havearbejde", "Fake gardening")):
        added = admin.send("/categories", "/categories", {"add-label_da": da, "add-label_en": en})
        assert added.status_code == 303
    labels = report_form_labels(app, slug)
    assert labels[-3:] == ["Time fraud", "Fake gardening", "Not sure"]
    assert list(rows_of(admin.page("/categories").get_data(as_text=True)))[-1] == "Not sure"

    # "Not sure" does not move, and nothing moves below it.
    assert admin.forced(f"/categories/{not_sure.id}/move", {"direction": "up"}).status_code == 303
    gardening = session.scalars(select(Category).where(Category.code == "fake-gardening")).one()
    down = admin.forced(f"/categories/{gardening.id}/move", {"direction": "down"})
    assert down.status_code == 303
    assert "Nothing was changed." in text_of(admin.get(down.headers["Location"]))
    assert report_form_labels(app, slug) == labels

    # Left somewhere else by an older version, it is put back last at the next change.
    not_sure.position = 0
    session.commit()
    assert list(rows_of(admin.page("/categories").get_data(as_text=True)))[-1] == "Not sure"
    up = admin.send("/categories", f"/categories/{gardening.id}/move", {"direction": "up"})
    assert up.status_code == 303
    assert report_form_labels(app, slug)[-3:] == ["Fake gardening", "Time fraud", "Not sure"]


def test_the_categories_page_is_one_row_each_with_small_forms(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    slug = unit.org.slug
    Reporter(app, slug).report(ReportAnswers(category="harassment"))
    admin = admin_of(app, clock, unit)
    html = admin.page("/categories").get_data(as_text=True)
    assert '<table class="data categories" aria-labelledby="order">' in html
    rows = rows_of(html)
    ordered = [
        c.label_en
        for c in session.scalars(
            select(Category).where(Category.org_id == unit.org.id).order_by(Category.position)
        )
    ]
    assert list(rows) == ordered  # one row per category, in the form's order
    first, *_, before_last, last = rows.values()
    move = re.compile(r'<form method="post" action="[^"]*/move"')
    up, down = 'value="up"', 'value="down"'
    assert up not in first and down in first and len(move.findall(first)) == 1
    assert up in before_last and down not in before_last
    assert not move.search(last) and "Always last" in last and "Always offered" in last
    assert "Deactivate" not in last and "Delete" not in last
    harassment_label = "Sexual harassment or other serious harassment"
    harassment = rows[harassment_label]
    assert "Reports have this category" in harassment and "Delete" not in harassment
    assert '<span class="badge ok">✓ Offered</span>' in harassment
    unused = next(row for name, row in rows.items() if name not in (harassment_label, "Not sure"))
    assert "<summary>Rename or delete</summary>" in unused
    assert '<button type="submit" class="danger">Delete the category</button>' in unused
    for row in rows.values():  # every change is a small form of its own: no script needed
        assert "<details>" in row and "<summary>Rename" in row
        assert "onclick" not in row and "<script" not in row

    # A rename refused keeps what was typed, shown open in its row with the reason.
    category = session.scalars(select(Category).where(Category.code == "harassment")).one()
    refused = admin.send(
        "/categories",
        f"/categories/{category.id}",
        {f"cat-{category.id}-label_da": "X", f"cat-{category.id}-label_en": "Fake bullying"},
    )
    assert refused.status_code == 409
    row = rows_of(refused.get_data(as_text=True))[harassment_label]
    assert "<details open>" in row
    assert 'value="Fake bullying"' in row
    assert "Give a name of 2 to 200 characters." in text_of(refused)

    # And it is all in Danish for a Danish administrator.
    danish = text_of(admin.get(f"{admin.base}/categories", headers={"Accept-Language": "da"}))
    for words in ("Omdøb", "Kan vælges", "Altid sidst", "Handlinger", "Deaktivér"):
        assert words in danish, words
    danish_html = admin.get(f"{admin.base}/categories", headers={"Accept-Language": "da"}).get_data(
        as_text=True
    )
    assert 'aria-label="Flyt “Offentlige udbud” ned"' in danish_html
    # Offered no more: the badge says so in words.
    off = admin.send("/categories", f"/categories/{category.id}/active", {"active": "0"})
    assert off.status_code == 303
    row = rows_of(admin.page("/categories").get_data(as_text=True))[harassment_label]
    assert '<span class="badge closed">✕ Not offered</span>' in row
    assert "Offer again" in row
