"""The console's texts page: the texts of the reporting page, in both languages, in Markdown.

The view parses the form and either shows how the texts would look (``preview``: nothing is
saved) or calls :func:`whistle.admin.texts.save_texts` (which commits), then redirects, or
shows the page again with the form's errors and everything typed.
"""

from __future__ import annotations

from flask import request
from markupsafe import Markup
from werkzeug.wrappers import Response

from whistle.admin.forms import (
    LANGUAGE_NAMES,
    MARKDOWN_EXAMPLES,
    TEXT_TITLES,
    text_fields,
    texts_form,
)
from whistle.admin.markup import render
from whistle.admin.texts import TEXT_KEYS, previews, save_texts, text_drafts
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.settings import LOCALES
from whistle.web.forms import show_refusal


def _examples() -> list[tuple[str, Markup]]:
    """The syntax help: each example as typed and as reporters see it."""
    return [(str(source), render(str(source))) for source in MARKDOWN_EXAMPLES]


@bp.route("/texts", methods=["GET", "POST"])
def texts(slug: str) -> Response | tuple[str, int]:
    """The texts of the reporting page, in both languages."""
    ctx = admin(slug)
    session = db()
    form = texts_form()
    shown = None
    if form.is_submitted():
        if form.validate() and "preview" in request.form:
            shown = previews(text_fields(form))
            status = 200
        elif form.errors:
            status = 400
        else:
            try:
                changed = save_texts(
                    session, runtime().clock, ctx.org.id, ctx.staff.user.id, text_fields(form)
                )
            except Refused as exc:
                show_refusal(form, exc)
                status = 400
            else:
                return done("admin.texts", ctx.org.slug, "saved" if changed else "unchanged")
    else:
        form = texts_form(text_drafts(session, ctx.org.id))
        status = 200
    return page(
        "admin/texts.html",
        ctx,
        status,
        form=form,
        keys=TEXT_KEYS,
        locales=LOCALES,
        titles=TEXT_TITLES,
        languages=LANGUAGE_NAMES,
        previews=shown,
        examples=_examples(),
    )
