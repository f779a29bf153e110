"""The console's texts page: the texts of the reporting page, in both languages.

The view parses the form and calls :func:`whistle.admin.texts.save_texts` (which commits),
then redirects, or shows the page again with the form's errors.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from whistle.admin.forms import LANGUAGE_NAMES, TEXT_TITLES, text_fields, texts_form
from whistle.admin.texts import TEXT_KEYS, save_texts, text_drafts
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.settings import LOCALES
from whistle.web.forms import show_refusal


@bp.route("/texts", methods=["GET", "POST"])
def texts(slug: str) -> Response | tuple[str, int]:
    """The texts of the reporting page, in both languages."""
    ctx = admin(slug)
    session = db()
    form = texts_form()
    if form.is_submitted():
        if form.validate():
            try:
                changed = save_texts(
                    session, runtime().clock, ctx.org.id, ctx.staff.user.id, text_fields(form)
                )
            except Refused as exc:
                show_refusal(form, exc)
            else:
                return done("admin.texts", ctx.org.slug, "saved" if changed else "unchanged")
        status = 400
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
    )
