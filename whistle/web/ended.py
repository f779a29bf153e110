"""A form that arrives after its session ended is not lost: the page that answers it says why,
shows back what the person typed in its free-text fields so they can copy it, and leads to
signing in again (staff: back to the page the form was on; reporter: to the code page).

What is shown back is only ever echoed into that one answer: never stored, never logged. A
field that could hold a secret is never shown back: passwords, codes, tokens, keys, and any
value that looks like a case code or a key in groups. Choices (a select's value, a date, a
number) are not free text and are left out too: the page would show internal values.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

# Field names whose values are never shown back, whatever they hold.
_SECRET_NAME = re.compile(
    r"(password|passphrase|confirm|current|^new$|code|token|secret|key|recovery|website)",
    re.IGNORECASE,
)
# A case code or a key written in groups (ABCD-EFGH-... or ABCD EFGH ...).
_GROUPED_SECRET = re.compile(r"^[A-Za-z0-9]{4,8}(?:[\s-]+[A-Za-z0-9]{4,8}){2,}$")


def typed_texts(form: MultiDict[str, str]) -> list[str]:
    """The free text of a posted form, in the order sent: values of a few words at least,
    never a secret (see the module's docstring)."""
    found: list[str] = []
    for name, value in form.items(multi=True):
        text = value.strip()
        if _SECRET_NAME.search(name) or not text or _GROUPED_SECRET.match(text):
            continue
        if not any(ch.isspace() for ch in text):
            continue  # one word: a choice or a value, not something a person wrote
        found.append(text)
    return found


def _page_of(path: str) -> str | None:
    """The page a form at ``path`` was posted from: the path itself if it can be opened,
    else the nearest opening one above it (``/cases/R/message`` -> ``/cases/R``)."""
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return None
    parts = path.rstrip("/").split("/")
    while len(parts) > 2:
        candidate = "/".join(parts)
        for attempt in (candidate, candidate + "/"):
            try:
                adapter.match(attempt, method="GET")
            except RequestRedirect:
                continue
            except (NotFound, MethodNotAllowed):
                continue
            return attempt
        parts.pop()
    return None


def staff_sign_in_url() -> str:
    """Sign in again, then back to the page the form was on."""
    page = _page_of(urlsplit(request.path).path)
    return url_for("staff.sign_in", next=page) if page else url_for("staff.sign_in")


def _reporter_code_page() -> str | None:
    """The code page of the organisation whose mailbox form this was, if it was one."""
    parts = request.path.split("/")
    if len(parts) > 3 and parts[1] == "o" and parts[3] == "case":
        return url_for("mailbox.enter", slug=parts[2])
    return None


def render_form_not_taken(*, ended: bool, status: int, csrf: bool = False) -> tuple[str, int]:
    """The answer to a form that no session can take any more: why, what was typed, and the
    way back in (staff or reporter, by the address the form was sent to)."""
    staff = request.path.startswith("/staff/")
    reporter_page = None if staff else _reporter_code_page()
    return (
        render_template(
            "web/form_not_taken.html",
            staff=staff,
            ended=ended,
            csrf=csrf,
            texts=typed_texts(request.form),
            sign_in_url=staff_sign_in_url() if staff else None,
            code_page=reporter_page,
            files=bool(request.files and any(f.filename for f in request.files.values())),
        ),
        status,
    )
