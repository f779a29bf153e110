"""The console's mail page: the deployment's mail server, and a test mail to the
administrator's own address.

Each view parses its form and calls :mod:`whistle.admin.mail_server` (which commits), then
redirects, or shows the page again with the form's errors or the kind of failure.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Response

from whistle.admin import people
from whistle.admin.forms import EmptyForm, MailForm
from whistle.admin.mail_server import change_mail, send_test_mail
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.notify import mail
from whistle.web.forms import show_refusal
from whistle.web.guard import StaffContext

log = logging.getLogger(__name__)


def _mail_page(
    ctx: StaffContext, *, form: MailForm | None = None, status: int = 200, failure: str = ""
) -> tuple[str, int]:
    session = db()
    saved = mail.stored(session)
    settings = runtime().settings
    if form is None:
        form = MailForm(formdata=None)
        if saved is not None:
            form.host.data = saved.host
            form.port.data = saved.port
            form.security.data = saved.security
            form.sender.data = saved.sender
            form.username.data = saved.username
        else:
            form.port.data = 587
            form.security.data = "starttls"
    return page(
        "admin/mail.html",
        ctx,
        status,
        form=form,
        saved=saved,
        file_host=settings.smtp_host,
        may_change=people.administers_installation(session, ctx.staff.user.id),
        test_form=EmptyForm(prefix="test", formdata=None),
        failure=failure,
        own_address=ctx.staff.user.email,
    )


def _submitted(form: MailForm) -> mail.StoredMail:
    return mail.StoredMail(
        host=(form.host.data or "").strip(),
        port=form.port.data or 0,
        security=form.security.data or "",
        sender=(form.sender.data or "").strip(),
        username=(form.username.data or "").strip(),
        has_password=False,
    )


@bp.route("/mail", methods=["GET", "POST"])
def mail_settings(slug: str) -> Response | tuple[str, int]:
    """The deployment's mail server. It serves every organisation here, so only someone who
    administers all of them changes it; everyone else sees it."""
    ctx = admin(slug)
    form = MailForm()
    if not form.is_submitted():
        return _mail_page(ctx)
    session = db()
    if not people.administers_installation(session, ctx.staff.user.id):
        return _mail_page(ctx, status=409)
    if not form.validate():
        return _mail_page(ctx, form=form, status=400)
    rt = runtime()
    try:
        change_mail(
            session,
            rt.clock,
            ctx.org.id,
            ctx.staff.user.id,
            _submitted(form),
            form.password.data or "",
            instance_key=rt.settings.instance_key,
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _mail_page(ctx, form=form, status=400)
    return done("admin.mail_settings", ctx.org.slug, "saved")


@bp.post("/mail/test")
def mail_test(slug: str) -> Response | tuple[str, int]:
    """Send a test mail to the administrator's own address."""
    ctx = admin(slug)
    form = EmptyForm(prefix="test")
    if not form.validate_on_submit():
        return _mail_page(ctx, status=400)
    session = db()
    rt = runtime()
    try:
        config = mail.deployment_config(session, rt.settings)
    except mail.MailNotConfigured:
        return _mail_page(ctx, status=409, failure="off")
    failure = send_test_mail(
        session, rt.clock, ctx.org, ctx.staff.user.id, config, to=ctx.staff.user.email
    )
    if failure is not None:
        log.warning("test mail not sent: %s", failure)
        return _mail_page(ctx, status=409, failure=failure)
    return done("admin.mail_settings", ctx.org.slug, "mail_sent")
