"""The admin console's pages: ``/staff/<slug>/admin``, for the organisation's administrators.

Every view starts with ``admin(slug)`` (:mod:`whistle.admin.views.console`): a person with other
roles gets a 403, one without a role in the organisation a 404. Nothing in the console opens a
case key or reads anything a reporter wrote: the pages are built from memberships, settings
and counts.

This module is what the app registers: the blueprint ``admin`` with the overview here, the
People page from :mod:`whistle.admin.views.people` and the settings pages from
:mod:`whistle.admin.views.settings` (importing them adds their routes), and ``logo_bp``, the
organisation's public logo.
"""

from __future__ import annotations

from whistle.admin import scheme
from whistle.admin.views import people as people_views
from whistle.admin.views import settings as settings_views
from whistle.admin.views.console import admin, bp, page
from whistle.admin.views.settings import logo_bp
from whistle.core.runtime import db, runtime

__all__ = ["bp", "logo_bp", "people_views", "settings_views"]


@bp.get("")
def index(slug: str) -> tuple[str, int]:
    """The console's start: what is set up, and where to change it."""
    ctx = admin(slug)
    return page(
        "admin/index.html", ctx, state=scheme.overview(db(), ctx.org.id, runtime().settings)
    )
