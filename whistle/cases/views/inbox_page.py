"""The inbox: the cases a handler holds (a lead: every case, on request), filtered, sorted and
paged on the server from clear-text metadata (whistle/cases/inbox.py), with the tasks due.
"""

from __future__ import annotations

from flask import render_template, request
from flask_babel import get_locale
from sqlalchemy import select

from whistle.cases.inbox import DEADLINE_STATES, SORTS, InboxFilters
from whistle.cases.inbox import inbox as listing
from whistle.cases.views.blueprint import HANDLING, bp
from whistle.core.models import Category, Role
from whistle.core.runtime import db, runtime
from whistle.keys import status as key_status
from whistle.meetings.tasks import meetings_due
from whistle.notices import notices
from whistle.retention import schedule
from whistle.web.forms import parse_id
from whistle.web.guard import require

# The inbox's own query parameters, kept in its page links. Only these: anything else would go
# to url_for as a keyword ("slug", "_scheme") and break the page.
INBOX_ARGS = ("status", "category", "scope", "deadline", "unread", "all", "sort")


@bp.get("/cases")
def inbox(slug: str) -> str:
    ctx = require(slug, *HANDLING)
    args = request.args
    filters = InboxFilters(
        status=args.get("status") or None,
        category_id=parse_id(args.get("category")),
        scope=args.get("scope") or None,
        deadline=args.get("deadline") or None,
        unread=args.get("unread") == "1",
        all_cases=args.get("all") == "1" and ctx.has(Role.LEAD),
        sort=args.get("sort", "") if args.get("sort") in SORTS else "received_desc",
        page=parse_id(args.get("page")) or 1,
    )
    session = db()
    page = listing(session, ctx.org.id, ctx.staff.user.id, filters, runtime().clock.now().date())
    categories = session.scalars(
        select(Category).where(Category.org_id == ctx.org.id).order_by(Category.position)
    ).all()
    tasks = meetings_due(
        session, ctx.org.id, runtime().clock.now().date(), user_id=ctx.staff.user.id
    )
    today = runtime().clock.now().date()
    return render_template(
        "cases/inbox.html",
        meeting_tasks=tasks,
        deletions=schedule.deletions_soon(session, ctx.org.id, ctx.staff.user.id, today),
        reviews=notices.reviews_due(session, ctx.org.id, ctx.staff.user.id, today),
        awaiting_certification=key_status.awaiting_certification(
            session, ctx.org.id, ctx.staff.user
        ),
        ctx=ctx,
        organisation=ctx.org,
        page=page,
        filters=filters,
        categories=categories,
        deadline_states=DEADLINE_STATES,
        is_lead=ctx.has(Role.LEAD),
        english=str(get_locale()) == "en",
        query_without_page={k: args[k] for k in INBOX_ARGS if args.get(k)},
    )
