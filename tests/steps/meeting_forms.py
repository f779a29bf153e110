"""The reporter's meeting forms: find the form with a given button and press it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from werkzeug.test import TestResponse

from tests.steps.reporter import Reporter


@dataclass
class PageForm:
    action: str
    values: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _FormReader(HTMLParser):
    """The forms of a page as a browser would send them: fields, values and button labels."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PageForm] = []
        self._textarea: str | None = None
        self._button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(PageForm(action=a.get("action") or ""))
        elif tag == "input" and self.forms and a.get("name") and a.get("type") != "file":
            self.forms[-1].values[a["name"] or ""] = a.get("value") or ""
        elif tag == "textarea" and self.forms:
            self._textarea = a.get("name")
            self.forms[-1].values[self._textarea or ""] = ""
        elif tag == "button" and self.forms:
            self._button = True
            self.forms[-1].buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            # A browser drops the one line break that follows <textarea>.
            value = self.forms[-1].values[self._textarea]
            self.forms[-1].values[self._textarea] = re.sub(r"^\r?\n", "", value)
            self._textarea = None
        elif tag == "button":
            self._button = False

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.forms[-1].values[self._textarea] += data
        elif self._button:
            self.forms[-1].buttons[-1] += data.strip()


def form_with_button(page: TestResponse, label: str) -> PageForm:
    reader = _FormReader()
    reader.feed(page.get_data(as_text=True))
    found = [f for f in reader.forms if label in f.buttons]
    assert len(found) == 1, f"the page has {len(found)} forms with a {label!r} button"
    return found[0]


def textarea_of(form: PageForm) -> str:
    [name] = [n for n in form.values if n.endswith("body")]
    return name


def press(reporter: Reporter, page: TestResponse, label: str, **typed: str) -> TestResponse:
    """Press the button ``label`` on ``page``, after typing ``typed`` into the text box."""
    form = form_with_button(page, label)
    values = dict(form.values)
    if "body" in typed:
        values[textarea_of(form)] = typed["body"]
    return reporter.post(form.action, values)
