"""The blueprint of the case workspace, which each module of whistle/cases/views adds its
routes to, and the roles that handle cases."""

from __future__ import annotations

from flask import Blueprint

from whistle.core.models import Role

bp = Blueprint("cases", __name__, url_prefix="/staff/<slug>")

HANDLING = (Role.HANDLER, Role.LEAD)
