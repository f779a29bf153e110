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
from whistle.admin.views.console import admin, bp, page
from whistle.admin.views.profile import logo_bp
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
    return page("admin/index.html", ctx, state=overview(db(), ctx.org.id, runtime().settings))
