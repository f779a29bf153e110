"""The console's retention page: how long closed cases are kept, per outcome.

The view parses the form and calls :func:`whistle.admin.retention_presets.change_presets`
(which commits), then redirects, or shows the page again with the form's errors.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from whistle.admin.forms import chosen_presets, retention_form
from whistle.admin.retention_presets import change_presets
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.labels import OUTCOME_LABELS
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.retention import schedule
from whistle.web.forms import show_refusal


@bp.route("/retention", methods=["GET", "POST"])
def retention_presets(slug: str) -> Response | tuple[str, int]:
    """How long closed cases are kept, per outcome."""
    ctx = admin(slug)
    session = db()
    form = retention_form()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                changed = change_presets(
                    session, runtime().clock, ctx.org.id, ctx.staff.user.id, chosen_presets(form)
                )
            except Refused as exc:
                show_refusal(form, Refused(f"{exc.field}_amount", exc.message))
            else:
                return done(
                    "admin.retention_presets", ctx.org.slug, "saved" if changed else "unchanged"
                )
    else:
        current = schedule.presets(session, ctx.org.id)
        form = retention_form({outcome: str(preset) for outcome, preset in current.items()})
    return page(
        "admin/retention.html",
        ctx,
        status,
        form=form,
        outcomes=list(OUTCOME_LABELS.items()),
        warning_days=schedule.WARNING_DAYS,
    )
