"""The texts of the reporting page (issue 16): written in Markdown, rendered and sanitised with
bleach, previewed before saving, with a short help on the syntax in the reader's language; the
texts stored as HTML before are converted by migration 0019 and show as they did."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape as html_escape
from html import unescape

import pytest
import sqlalchemy as sa
from alembic.command import downgrade
from alembic.script import ScriptDirectory
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.admin import admin_of
from tests.steps.factories import Unit
from tests.steps.pages import text_of
from tests.steps.reporter import Reporter
from whistle.admin.markup import escape, html_to_markdown, normalised, render, sanitise
from whistle.core.clock import FixedClock
from whistle.core.db import make_engine
from whistle.core.models import AuditEntry, OrgText
from whistle.core.schema import alembic_config, upgrade

# --- Rendering and sanitising -----------------------------------------------------------------


def test_markdown_becomes_paragraphs_emphasis_lists_links_and_headings() -> None:
    shown = str(
        render(
            "# Who we are\n\nWe are *two* **fake** lawyers.\nSame paragraph.\n\n"
            "## Steps\n\n- one\n- two\n\n1. first\n2. second\n\n"
            "Write to [the unit](https://example.org/unit) or [mail](mailto:unit@example.org)."
            "\\\nA new line."
        )
    )
    assert "<h2>Who we are</h2>" in shown  # a text's headings sit under the page's h2
    assert "<h3>Steps</h3>" in shown
    assert "<p>We are <em>two</em> <strong>fake</strong> lawyers.\nSame paragraph.</p>" in shown
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in shown
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in shown
    assert '<a href="https://example.org/unit" rel="noopener noreferrer">the unit</a>' in shown
    assert '<a href="mailto:unit@example.org" rel="noopener noreferrer">mail</a>' in shown
    assert "<br>\nA new line." in shown
    assert "<h4>Deep</h4>" in str(render("#### Deep")) == str(render("###### Deep"))


@pytest.mark.parametrize(
    ("source", "forbidden", "kept"),
    [
        ("Hi <script>alert(1)</script> there", ["<script", "alert(1)"], "Hi  there"),
        ('Look <img src=x onerror="alert(1)"> here', ["<img", "onerror"], "Look  here"),
        ("[click](javascript:alert(1))", ["javascript:", "href"], ">click</a>"),
        ('<a href="JaVaScRiPt:alert(1)">click</a>', ["avascript", "href"], ">click</a>"),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", ["data:", "href"], ">data</a>"),
        ("![a picture](https://example.org/x.png)", ["<img", "x.png"], ""),
        ('<p style="color:red" onclick="x()">red</p>', ["style", "onclick"], "<p>red</p>"),
        ('<iframe src="https://example.org"></iframe>ok', ["iframe"], "ok"),
        ("<h1>Big</h1><h5>small</h5>", ["<h1", "<h5"], "Big"),
        ("<!-- a comment --> after", ["comment", "<!--"], "after"),
    ],
)
def test_sanitising_removes_what_is_not_allowed(
    source: str, forbidden: list[str], kept: str
) -> None:
    shown = str(render(source))
    for bad in forbidden:
        assert bad.lower() not in shown.lower(), (bad, shown)
    assert kept in shown
    assert sanitise(shown) == shown  # sanitising its own result changes nothing


def test_html_typed_among_the_markdown_keeps_its_allowed_tags() -> None:
    shown = str(render('<p>Old <em>style</em> <a href="https://example.org">link</a></p>'))
    assert shown == (
        '<p>Old <em>style</em> <a href="https://example.org" rel="noopener noreferrer">link</a></p>'
    )


_PIECES = st.sampled_from(
    [*"ab 1.)-+=#>*_`[]()<>&;!\\~|:/\"'", "&amp;", "<p>", "<em>", "http://x.y", "9.", "\t"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=20).map("".join))
def test_plain_text_escaped_as_markdown_shows_exactly_as_typed(text: str) -> None:
    text = " ".join(text.split())
    if text:
        want = f"<p>{html_escape(text, quote=False)}</p>"
        assert normalised(str(render(escape(text)))) == normalised(want)


# --- Texts saved as HTML before: converted ------------------------------------------------------

OLD_TEXTS = [
    '<p>Our unit: <a href="https://example.org/unit" rel="noopener noreferrer">two fake '
    "lawyers</a>, see <em>our policy</em>.</p><ul><li><strong>fast</strong></li><li>fair</li>"
    "</ul>",
    "<p>Costs 3 * 4 = 12 &amp; more_than &lt;that&gt;.</p><p>1. Not a list<br>- nor this</p>",
    "<ol><li>first<ul><li>inner</li></ul></li><li>second</li></ol><ol><li>again</li></ol>",
    "Plain text saved without a paragraph # [not a link]",
]


@pytest.mark.parametrize("old", OLD_TEXTS)
def test_an_old_html_text_becomes_markdown_that_shows_the_same(old: str) -> None:
    markdown = html_to_markdown(old)
    assert "<p>" not in markdown and "<li>" not in markdown  # Markdown, not HTML
    shown = normalised(str(render(markdown)))
    assert shown == normalised(old if old.startswith("<") else f"<p>{old}</p>")


_WORD = st.sampled_from(["ab", "x*y", "1.", "- z", "#h", "[q]", "a_b", "&amp;", "&lt;i&gt;", "9)"])
_TEXT = st.lists(_WORD, min_size=1, max_size=4).map(" ".join)
_INLINE = st.recursive(
    _TEXT,
    lambda inner: st.one_of(
        st.tuples(_TEXT, inner).map(lambda t: f"<em>{t[0]}</em> {t[1]}"),
        st.tuples(_TEXT, inner).map(lambda t: f"<strong>{t[0]}</strong> {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}<br>{t[1]}"),
        _TEXT.map(lambda t: f'<a href="https://example.org/a(b)">{t}</a>'),
    ),
    max_leaves=4,
)
_BLOCK = st.one_of(
    _INLINE.map(lambda t: f"<p>{t}</p>"),
    st.tuples(st.sampled_from(["ul", "ol"]), st.lists(_INLINE, min_size=1, max_size=3)).map(
        lambda t: f"<{t[0]}>" + "".join(f"<li>{i}</li>" for i in t[1]) + f"</{t[0]}>"
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_BLOCK, min_size=1, max_size=4).map("".join))
def test_any_old_html_text_shows_the_same_after_conversion(old: str) -> None:
    assert normalised(str(render(html_to_markdown(old)))) == normalised(old)


def test_migration_0019_turns_stored_html_texts_into_markdown(blank_url: str) -> None:
    engine = make_engine(blank_url)
    revision = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0019")
    assert revision is not None
    upgrade(engine, str(revision.down_revision))
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO organisations (slug, name, default_locale, accepts_anonymous,"
                " is_active, created_at) VALUES ('gammel', 'Gammel ApS', 'da', :t, :t, :at)"
            ),
            {"t": True, "at": datetime(2026, 1, 5, 9, 0)},
        )
        org_id = connection.execute(sa.text("SELECT id FROM organisations")).scalar_one()
        for n, body in enumerate(OLD_TEXTS[:3]):
            connection.execute(
                sa.text(
                    "INSERT INTO org_texts (org_id, key, locale, body) VALUES (:o, :k, :l, :b)"
                ),
                {
                    "o": org_id,
                    "k": ["who_handles", "privacy", "protection"][n],
                    "l": "en",
                    "b": body,
                },
            )

    upgrade(engine)

    with Session(engine) as session:
        stored = {row.key: row.body for row in session.scalars(select(OrgText))}
        assert stored["who_handles"] == (
            "Our unit: [two fake lawyers](<https://example.org/unit>), see *our policy*.\n\n"
            "- **fast**\n- fair"
        )
        for key, old in zip(["who_handles", "privacy", "protection"], OLD_TEXTS, strict=False):
            assert normalised(str(render(stored[key]))) == normalised(old)
        assert session.scalar(select(sa.func.count()).select_from(AuditEntry)) == 0
    # Going back turns them into the HTML they show as.
    downgrade(alembic_config(engine), "0018")
    with engine.connect() as connection:
        back = dict(connection.execute(sa.text("SELECT key, body FROM org_texts")).all())
    assert back["who_handles"].startswith("<p>Our unit: <a href=")
    for key, old in zip(["who_handles", "privacy", "protection"], OLD_TEXTS, strict=False):
        assert normalised(back[key]) == normalised(old)
    engine.dispose()


# --- The admin's page -------------------------------------------------------------------------


def _textareas(html: str) -> dict[str, str]:
    return {
        name: unescape(body)
        for name, body in re.findall(
            r'<textarea[^>]*name="([a-z_]+)"[^>]*>\s*(.*?)</textarea>', html, re.S
        )
    }


def test_texts_are_written_in_markdown_and_shown_sanitised_in_both_languages(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    form = admin.page("/texts")
    html = form.get_data(as_text=True)
    fields = _textareas(html)
    assert len(fields) == 12
    assert "impartial whistleblower unit" in fields["who_handles_en"]  # the default, ready to edit
    assert "upartisk whistleblowerenhed" in fields["who_handles_da"]  # and in Danish
    assert "<p>" not in fields["who_handles_en"]  # Markdown, not HTML
    assert all(
        re.search(r'<textarea[^>]*rows="12"', t) for t in re.findall(r"<textarea[^>]*>", html)
    )
    assert "How to format the texts" in text_of(form)

    saved = admin.send(
        "/texts",
        "/texts",
        {
            "who_handles_en": (
                "Our unit: [two fake lawyers](https://example.org/unit), "
                "[x](javascript:alert(1))\n\n<script>alert(1)</script>\n\n- *fast*\n- fair\n\n"
                '## Contact\n\n<img src=x onerror="alert(1)">'
            ),
            "who_handles_da": "Vores enhed: [to advokater](mailto:enhed@example.org)",
        },
    )
    assert saved.status_code == 303
    stored = session.get(OrgText, (unit.org.id, "who_handles", "en"))
    assert stored is not None
    assert stored.body.startswith("Our unit: [two fake lawyers](https://example.org/unit)")
    assert _textareas(admin.page("/texts").get_data(as_text=True))["who_handles_en"] == stored.body

    reporter = Reporter(app, unit.org.slug)
    english = reporter.get(f"/o/{unit.org.slug}/").get_data(as_text=True)
    assert (
        '<a href="https://example.org/unit" rel="noopener noreferrer">two fake lawyers</a>'
        in english
    )
    assert "<ul>\n<li><em>fast</em></li>\n<li>fair</li>\n</ul>" in english
    assert "<h3>Contact</h3>" in english
    for bad in ("alert(1)", "javascript:", "onerror", "<img"):
        assert bad not in english, bad
    assert "impartial whistleblower unit" not in english
    reporter.headers = {"Accept-Language": "da"}
    danish = reporter.get(f"/o/{unit.org.slug}/").get_data(as_text=True)
    assert '<a href="mailto:enhed@example.org" rel="noopener noreferrer">to advokater</a>' in danish

    # An emptied field brings the default back.
    back = admin.send("/texts", "/texts", {"who_handles_en": "", "who_handles_da": " \r\n"})
    assert back.status_code == 303
    assert session.scalars(select(OrgText).where(OrgText.org_id == unit.org.id)).all() == []
    reporter.headers = {"Accept-Language": "en"}
    assert "impartial whistleblower unit" in text_of(reporter.get(f"/o/{unit.org.slug}/"))
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == unit.org.id))
    assert [a for a in actions if a == "settings.text_changed"] == ["settings.text_changed"] * 4


def test_a_preview_shows_the_texts_as_reporters_will_and_saves_nothing(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    typed = "We are **two fake lawyers**.\n\n<script>alert(1)</script>- one\n- two"
    preview = admin.send("/texts", "/texts", {"privacy_en": typed, "preview": "1"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "This is a preview: nothing is saved yet." in text_of(preview)
    assert "<p>We are <strong>two fake lawyers</strong>.</p>" in html  # rendered
    assert "alert(1)" not in html.replace(html_escape(typed), "")  # only in the box as typed
    assert _textareas(html)["privacy_en"] == typed  # nothing typed is lost
    assert "impartial whistleblower unit" in text_of(preview)  # empty fields preview the default
    assert session.scalars(select(OrgText)).all() == []


def test_the_texts_page_helps_in_danish_and_keeps_a_text_too_long(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    page = text_of(admin.get(f"{admin.base}/texts", headers={"Accept-Language": "da"}))
    assert "Sådan formaterer du teksterne" in page
    assert "Du skriver" in page and "Indberetterne ser" in page
    assert "<em>vigtigt</em>" in admin.get(
        f"{admin.base}/texts", headers={"Accept-Language": "da"}
    ).get_data(as_text=True)
    too_long = "Fake text. " * 2000
    refused = admin.send("/texts", "/texts", {"protection_en": too_long})
    assert refused.status_code == 400
    assert "A text may be at most 20000 characters long." in text_of(refused)
    assert _textareas(refused.get_data(as_text=True))["protection_en"] == too_long
    assert session.scalars(select(OrgText)).all() == []


def test_a_text_saved_unchanged_keeps_following_the_default(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    admin = admin_of(app, clock, unit)
    fields = _textareas(admin.page("/texts").get_data(as_text=True))
    assert len(fields) == 12
    saved = admin.send("/texts", "/texts", fields)
    assert saved.status_code == 303
    assert "Nothing was changed." in text_of(admin.get(saved.headers["Location"]))
    assert session.scalars(select(OrgText)).all() == []
