"""The inbox: the cases a handler holds (a lead: every case, on request), filtered, sorted and
paged on the server from clear-text metadata (whistle/cases/inbox.py), with the tasks due.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import get_locale
from sqlalchemy import select
from werkzeug.wrappers import Response

from whistle.casefile.content import user_names
from whistle.cases.inbox import DEADLINE_STATES, SORTS, InboxFilters
from whistle.cases.inbox import inbox as listing
from whistle.cases.views.blueprint import HANDLING, bp
from whistle.core.labels import STATUS_LABELS
from whistle.core.models import CATEGORY_ORDER, Category, Role
from whistle.core.runtime import db, runtime
from whistle.keys import status as key_status
from whistle.meetings.tasks import meetings_due
from whistle.notices import notices
from whistle.retention import schedule
from whistle.web.forms import parse_id
from whistle.web.guard import StaffContext, require

# The inbox's own query parameters, kept in its page links. Only these: anything else would go
# to url_for as a keyword ("slug", "_scheme") and break the page.
INBOX_ARGS = ("status", "category", "scope", "deadline", "unread", "mine", "all", "sort")
# The filters last chosen, kept in the browser session for this sign-in only (the staff
# session's id is stored with them): coming back to the inbox shows the same list.
REMEMBERED = "inbox_filters"


def _this_sign_in(ctx: StaffContext) -> str:
    # The row id alone could come again (SQLite reuses the id of a row deleted at sign-out).
    return f"{ctx.staff.session_id}:{ctx.staff.ends_at.timestamp():.0f}"


def _remembered(ctx: StaffContext) -> dict[str, str] | None:
    kept = cookie.get(REMEMBERED)
    if not isinstance(kept, dict) or kept.get("session") != _this_sign_in(ctx):
        return None
    query = kept.get("query", {}).get(ctx.org.slug)
    return {k: str(v) for k, v in query.items() if k in INBOX_ARGS} if query else None


def _remember(ctx: StaffContext, query: dict[str, str]) -> None:
    kept = cookie.get(REMEMBERED)
    if not isinstance(kept, dict) or kept.get("session") != _this_sign_in(ctx):
        kept = {"session": _this_sign_in(ctx), "query": {}}
    kept["query"] = {**kept.get("query", {}), ctx.org.slug: query}
    cookie[REMEMBERED] = kept


@bp.get("/cases")
def inbox(slug: str) -> str | Response:
    ctx = require(slug, *HANDLING)
    args = request.args
    query = {k: args[k] for k in INBOX_ARGS if args.get(k)}
    if args.get("reset"):
        _remember(ctx, {})
    elif not args:
        # The inbox opened afresh (from the menu, back from a case): the filters last chosen
        # in this session, in the address so that the page says what it shows.
        kept = _remembered(ctx)
        if kept:
            address = url_for("cases.inbox", slug=ctx.org.slug) + "?" + urlencode(kept)
            return redirect(address, code=303)
    elif "filtered" in args or any(k in args for k in INBOX_ARGS):
        _remember(ctx, query)
    filters = InboxFilters(
        status=args.get("status") or None,
        category_id=parse_id(args.get("category")),
        scope=args.get("scope") or None,
        deadline=args.get("deadline") or None,
        unread=args.get("unread") == "1",
        mine=args.get("mine") == "1",
        all_cases=args.get("all") == "1" and ctx.has(Role.LEAD),
        sort=args.get("sort", "") if args.get("sort") in SORTS else "due",
        page=parse_id(args.get("page")) or 1,
    )
    session = db()
    page = listing(session, ctx.org.id, ctx.staff.user.id, filters, runtime().clock.now().date())
    categories = session.scalars(
        select(Category).where(Category.org_id == ctx.org.id).order_by(*CATEGORY_ORDER)
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
        query_without_page=query,
        filtered=bool(query),
        status_labels=STATUS_LABELS,
        assignees=user_names(
            session, {r.case.assigned_user_id for r in page.rows if r.case.assigned_user_id}
        ),
        me=ctx.staff.user.id,
    )
