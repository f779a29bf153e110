"""Danish and English: negotiation, the switch, and catalogs that cannot go stale."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.steps.pages import text_of
from tests.steps.templates import TextCollector

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "whistle" / "translations"
# The page-width block holds a class name (templates/base.html: `main_class`), never text.
JINJA = re.compile(
    r"{%-?\s*block main_class\s*-?%}.*?{%-?\s*endblock\s*-?%}|{{.*?}}|{%.*?%}|{#.*?#}", re.S
)


def test_browser_language_is_honoured(client: FlaskClient) -> None:
    assert "Endnu ikke sat op" in text_of(client.get("/", headers={"Accept-Language": "da"}))
    assert "Not set up yet" in text_of(
        client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    )
    # No preference: the deployment's default language (Danish).
    assert "Endnu ikke sat op" in text_of(client.get("/"))


def test_switch_sets_the_language_and_returns_to_the_page(client: FlaskClient) -> None:
    front = client.get("/", headers={"Accept-Language": "da"})
    assert 'href="/lang/en?next=/"' in front.get_data(as_text=True)
    switched = client.get("/lang/en?next=/healthz", headers={"Accept-Language": "da"})
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/healthz"
    assert "lang=en" in switched.headers["Set-Cookie"]
    assert "Not set up yet" in text_of(client.get("/", headers={"Accept-Language": "da"}))


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:x"]
)
def test_switch_is_not_an_open_redirect(client: FlaskClient, target: str) -> None:
    response = client.get("/lang/da", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_unknown_language_changes_nothing(client: FlaskClient) -> None:
    response = client.get("/lang/xx?next=/")
    assert response.status_code == 303
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "template",
    sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")),
    ids=str,
)
def test_templates_have_no_untranslatable_text(template: Path) -> None:
    source = JINJA.sub(" ", (ROOT / template).read_text(encoding="utf-8"))
    collector = TextCollector()
    collector.feed(source)
    assert collector.found == [], f"text outside the translation layer in {template}"


def _key(value: object) -> object:
    """Plural messages come as lists from .mo files and tuples from .po files."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _translated(value: object) -> bool:
    """A message has a translation (for a plural: every form)."""
    if isinstance(value, list | tuple):
        return all(value)
    return bool(value)


def test_catalogs_are_current_and_complete(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(fresh),
            "--no-location",
            "--omit-header",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    extracted = {m.id for m in read_po(fresh.open("rb")) if m.id}
    committed = {m.id for m in read_po((TRANSLATIONS / "messages.pot").open("rb")) if m.id}
    assert extracted == committed, "messages.pot is stale: run `make catalog`"

    for locale in ("da", "en"):
        po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        catalog = read_po(po_path.open("rb"), locale=locale)
        ids = {m.id for m in catalog if m.id}
        assert ids >= extracted, f"{locale} catalog lacks strings: run `make catalog`"
        compiled = read_mo((po_path.with_suffix(".mo")).open("rb"))
        po_pairs = {
            _key(m.id): _key(m.string)
            for m in catalog
            if m.id and _translated(m.string) and not m.fuzzy
        }
        mo_pairs = {_key(m.id): _key(m.string) for m in compiled if m.id}
        assert po_pairs == mo_pairs, f"{locale} .mo is older than .po: run `make translations`"
        if locale == "da":
            untranslated = sorted(
                str(m.id)
                for m in catalog
                if _key(m.id) in extracted and (not _translated(m.string) or m.fuzzy)
            )
            assert untranslated == [], "Danish translations missing"
