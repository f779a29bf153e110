"""The admin console's blueprint (``admin``, ``/staff/<slug>/admin``) and the frame every
console page shares: the admin check, the page with its notice, the redirect after a change.

The views are in the modules beside this one, one per page (people, profile, texts,
categories, reporting, retention presets, mail server, record); :mod:`whistle.admin.views`
puts them together for the app.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core.models import Role
from whistle.web.guard import StaffContext, require

bp = Blueprint("admin", __name__, url_prefix="/staff/<slug>/admin")

# What a page says after a change (``?done=<code>``): only these texts, never the URL's.
DONE = {
    "roles": _l("The roles are changed."),
    "deactivated": _l("The account is deactivated and its sessions have ended."),
    "removed": _l("The person no longer has a role in this organisation."),
    "reactivated": _l("The account can sign in again."),
    "two_step": _l(
        "Two-step sign-in is reset. At the next sign-in the person sets up their "
        "authenticator app again."
    ),
    "withdrawn": _l("The invitation is withdrawn."),
    "saved": _l("Saved."),
    "unchanged": _l("Nothing was changed."),
    "mail_sent": _l("The test mail was handed to the mail server. Check your inbox."),
}


def admin(slug: str) -> StaffContext:
    """The organisation's context if the signed-in person administers it (403/404 if not)."""
    return require(slug, Role.ADMIN)


def done(endpoint: str, slug: str, code: str, anchor: str | None = None) -> Response:
    """Back to ``endpoint`` after a change, with the notice ``DONE[code]``."""
    return redirect(url_for(endpoint, slug=slug, done=code, _anchor=anchor), code=303)


def _notice() -> object:
    return DONE.get(request.args.get("done", ""))


def page(template: str, ctx: StaffContext, status: int = 200, **values: Any) -> tuple[str, int]:
    """A console page, with the organisation, the notice of the last change and the section
    the console's menu marks as current."""
    return (
        render_template(
            template, ctx=ctx, organisation=ctx.org, notice=_notice(), section=template, **values
        ),
        status,
    )
