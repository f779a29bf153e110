"""The combined inbox (``/staff/all/cases``) of a person who handles cases for several
organisations: every open case they hold in each of them, what is due first first, the
organisation named on every row. Each organisation's own inbox stays where it was; a row
leads to the case page in its organisation, where that organisation's checks apply.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale

from whistle.cases.inbox import combined_inbox
from whistle.cases.views.blueprint import HANDLING
from whistle.core.labels import STATUS_LABELS
from whistle.core.runtime import db, runtime
from whistle.web.forms import parse_id
from whistle.web.guard import organisations_of, signed_in

all_bp = Blueprint("all_cases", __name__, url_prefix="/staff/all")


@all_bp.get("/cases")
def inbox() -> str:
    staff = signed_in()
    handled = [org for org, roles in organisations_of(staff.user.id) if roles & set(HANDLING)]
    if not handled:
        abort(404)
    page = combined_inbox(
        db(),
        staff.user.id,
        [org.id for org in handled],
        runtime().clock.now().date(),
        parse_id(request.args.get("page")) or 1,
    )
    return render_template(
        "cases/combined.html",
        page=page,
        organisations=handled,
        status_labels=STATUS_LABELS,
        english=str(get_locale()) == "en",
    )
