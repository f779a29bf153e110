"""The audit log as people read it: the auditor's page, the names of the actions and the words
of their details.

Entries store short identifiers ("case.acknowledged", whistle/core/audit.py) and details as
JSON; what a person reads is the translated name of the action and each detail in words.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from whistle.audit.labels import ACTION_NAMES, detail_words, people_in
from whistle.casefile.content import user_names
from whistle.core import audit, dates
from whistle.core.models import Role
from whistle.core.runtime import db
from whistle.web.forms import parse_id
from whistle.web.guard import require

bp = Blueprint("audit_log", __name__, url_prefix="/staff/<slug>/audit")

PAGE = 100


@bp.app_template_filter("audit_action")
def action_name(action: str) -> str:
    """The translated name of an audit action; the identifier itself if it has none."""
    return str(ACTION_NAMES.get(action, action))


@bp.app_template_filter("audit_details")
def details(detail: str, people: dict[int, str]) -> list[tuple[str, str]]:
    """An entry's details as (label, value) words in the reader's language, never JSON."""
    return detail_words(detail, people, dates.reader_locale())


@bp.get("")
def index(slug: str) -> str:
    """The organisation's audit log: who did what, when; never content."""
    ctx = require(slug, Role.AUDITOR, Role.LEAD)
    before = request.args.get("before", "")
    entries = audit.entries(db(), org_id=ctx.org.id, before_seq=parse_id(before), limit=PAGE)
    return render_template(
        "audit/audit.html",
        ctx=ctx,
        organisation=ctx.org,
        entries=entries,
        user_names=user_names(
            db(),
            {e.actor_user_id for e in entries if e.actor_user_id}.union(
                *(people_in(e.detail) for e in entries)
            ),
        ),
        next_before=entries[-1].seq if len(entries) == PAGE else None,
    )
