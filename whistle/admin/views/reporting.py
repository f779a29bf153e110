"""The console's reporting page: whether anonymous reports are accepted, who may report, and
the upload limits of a report or message.

Each view parses its form and calls :mod:`whistle.admin.channel` or
:mod:`whistle.admin.uploads` (which commit), then redirects, or shows the page again with the
form's errors.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from whistle.admin.channel import change_channel, reporter_groups
from whistle.admin.forms import ChannelForm, UploadsForm
from whistle.admin.uploads import change_upload_limits
from whistle.admin.views.console import admin, bp, done, page
from whistle.casefile.limits import upload_limits
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.web.forms import show_refusal
from whistle.web.guard import StaffContext


def _reporting_page(
    ctx: StaffContext,
    *,
    channel_form: ChannelForm | None = None,
    uploads_form: UploadsForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db()
    if channel_form is None:
        channel_form = ChannelForm(
            formdata=None,
            anonymous="yes" if ctx.org.accepts_anonymous else "no",
            groups=reporter_groups(session, ctx.org.id),
        )
    if uploads_form is None:
        current = upload_limits(session, ctx.org.id)
        uploads_form = UploadsForm(
            prefix="uploads",
            formdata=None,
            file_mb=current.max_file_mb,
            files=current.max_files,
            total_mb=current.max_total_mb,
        )
    return page(
        "admin/reporting.html",
        ctx,
        status,
        channel_form=channel_form,
        uploads_form=uploads_form,
        request_mb=runtime().settings.max_request_mb,
    )


@bp.route("/reporting", methods=["GET", "POST"])
def reporting(slug: str) -> Response | tuple[str, int]:
    """Anonymous reports and who may report."""
    ctx = admin(slug)
    form = ChannelForm()
    if not form.is_submitted():
        return _reporting_page(ctx)
    if not form.validate():
        return _reporting_page(ctx, channel_form=form, status=400)
    try:
        changed = change_channel(
            db(),
            runtime().clock,
            ctx.org,
            ctx.staff.user.id,
            accepts_anonymous=form.anonymous.data == "yes",
            groups=list(form.groups.data or []),
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _reporting_page(ctx, channel_form=form, status=400)
    return done("admin.reporting", ctx.org.slug, "saved" if changed else "unchanged")


@bp.post("/reporting/uploads")
def uploads(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = UploadsForm(prefix="uploads")
    if not form.validate_on_submit():
        return _reporting_page(ctx, uploads_form=form, status=400)
    try:
        changed = change_upload_limits(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            file_mb=form.file_mb.data or 0,
            files=form.files.data or 0,
            total_mb=form.total_mb.data or 0,
            request_mb=runtime().settings.max_request_mb,
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _reporting_page(ctx, uploads_form=form, status=400)
    return done("admin.reporting", ctx.org.slug, "saved" if changed else "unchanged")
