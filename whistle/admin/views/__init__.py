"""The admin console's pages: ``/staff/<slug>/admin``, for the organisation's administrators.

Every view starts with ``admin(slug)`` (:mod:`whistle.admin.views.console`): a person with other
roles gets a 403, one without a role in the organisation a 404. Nothing in the console opens a
case key or reads anything a reporter wrote: the pages are built from memberships, settings
and counts.

This module is what the app registers: the blueprint ``admin`` with the overview here and the
pages of the modules beside it (importing them adds their routes): the People page
(:mod:`~whistle.admin.views.people`), the profile and logo
(:mod:`~whistle.admin.views.profile`), the texts (:mod:`~whistle.admin.views.texts`), the
categories (:mod:`~whistle.admin.views.categories`), the reporting channel and upload limits
(:mod:`~whistle.admin.views.reporting`), retention
(:mod:`~whistle.admin.views.retention_presets`), the mail server
(:mod:`~whistle.admin.views.mail_server`) and the record of processing
(:mod:`~whistle.admin.views.record`); and ``logo_bp``, the organisation's public logo.
"""

from __future__ import annotations

from flask import url_for
from werkzeug.wrappers import Response

from whistle.admin.first_keys import make_first_keys
from whistle.admin.forms import EmptyForm
from whistle.admin.overview import overview
from whistle.admin.views import (
    categories,
    mail_server,
    people,
    profile,
    record,
    reporting,
    retention_presets,
    texts,
)
from whistle.admin.views.console import admin, bp, done, page
from whistle.admin.views.profile import logo_bp
from whistle.core.org_keys import has_keys
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime

__all__ = [
    "bp",
    "categories",
    "logo_bp",
    "mail_server",
    "people",
    "profile",
    "record",
    "reporting",
    "retention_presets",
    "texts",
]


@bp.get("")
def index(slug: str) -> tuple[str, int]:
    """The console's start: what is set up, and where to change it."""
    ctx = admin(slug)
    return page(
        "admin/index.html",
        ctx,
        state=overview(db(), ctx.org.id, runtime().settings),
        keys_made=has_keys(db(), ctx.org.id),
        form=EmptyForm(),
    )


@bp.post("/keys")
def make_keys(slug: str) -> Response | tuple[str, int]:
    """An organisation the operator made gets its keys from its first administrator, who is
    shown the recovery key once (whistle/admin/first_keys.py)."""
    ctx = admin(slug)
    form = EmptyForm()
    if not form.validate_on_submit():
        return done("admin.index", slug, "unchanged")
    rt = runtime()
    try:
        recovery = make_first_keys(
            db(),
            rt.clock,
            ctx.org.id,
            instance_key=rt.settings.instance_key,
            actor_id=ctx.staff.user.id,
        )
    except Refused:
        return done("admin.index", slug, "unchanged")
    return page(
        "admin/keys_made.html",
        ctx,
        recovery_key_text=recovery,
        public_url=url_for("reporting.start", slug=ctx.org.slug, _external=True),
    )
