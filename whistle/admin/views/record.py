"""The console's record of processing (GDPR art. 30), generated from the settings by
:mod:`whistle.admin.record`; printable. It changes nothing."""

from __future__ import annotations

from flask import url_for
from flask_babel import get_locale

from whistle.admin import record
from whistle.admin.views.console import admin, bp, page
from whistle.core.runtime import db, runtime


@bp.get("/record")
def processing_record(slug: str) -> tuple[str, int]:
    """The record of processing (GDPR art. 30), generated from the settings; printable."""
    ctx = admin(slug)
    rt = runtime()
    made = record.processing_record(
        db(),
        ctx.org,
        rt.settings,
        today=rt.clock.now().date(),
        english=str(get_locale()) == "en",
        reporting_page=url_for("reporting.start", slug=ctx.org.slug, _external=True),
    )
    return page("admin/record.html", ctx, record=made)
