"""Small readers for HTML responses, so tests read like a person using the page."""

from __future__ import annotations

import re
from html import unescape

from werkzeug.test import TestResponse

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(response: TestResponse) -> str:
    """The CSRF token of the (first) form on the page."""
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, "the page has no form with a CSRF token"
    return unescape(match.group(1))


def text_of(response: TestResponse) -> str:
    """The page's visible text, tags stripped and white space folded."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
