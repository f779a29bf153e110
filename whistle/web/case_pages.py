"""What every page of one case shares, whichever feature draws it (the case page, meetings,
persons concerned, disclosure): the case opened with the signed-in handler's own keys (404 for
no such case, 403 for a handler who holds none), the file store, and a sub-page's POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, redirect, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from whistle.casefile.access import NoAccess, OpenedKeys, open_keys
from whistle.casefile.holders import HANDLING_ROLES
from whistle.core.models import Case
from whistle.core.runtime import db, runtime
from whistle.core.storage import Store
from whistle.web.forms import parse_id, run_action
from whistle.web.guard import StaffContext, require


def open_case(slug: str, reference: str) -> tuple[StaffContext, Case, OpenedKeys]:
    """The staff context, the case ``reference`` of organisation ``slug`` and the handler's
    keys to it; aborts with 404 or 403."""
    ctx = require(slug, *HANDLING_ROLES)
    session = db()
    case = session.scalar(
        select(Case).where(Case.org_id == ctx.org.id, Case.reference == reference)
    )
    if case is None:
        abort(404)
    try:
        keys = open_keys(session, case, ctx.staff.user.id, ctx.staff.private_key)
    except NoAccess:
        abort(403)
    return ctx, case, keys


CaseAction = Callable[[StaffContext, Case, OpenedKeys, Any], None]


def subpage_action(
    slug: str,
    reference: str,
    form: FlaskForm,
    action: CaseAction,
    *,
    endpoint: str,
    done: str,
    item_field: str,
    page: Callable[..., tuple[str, int]],
) -> Response | tuple[str, int]:
    """Run a POST of a case's sub-page (persons concerned, disclosure): back to ``endpoint``
    when done, else the page again (status 400) with the form's errors, marking the item
    (the id in ``item_field``) the form was about."""
    ctx, case, keys = open_case(slug, reference)
    if run_action(form, lambda: action(ctx, case, keys, form)):
        return redirect(url_for(endpoint, slug=slug, reference=reference, done=done), code=303)
    chosen = getattr(form, item_field, None)
    raw = (chosen.data if chosen is not None else "") or ""
    failed = parse_id(raw)
    return page(slug, reference, forms={done: form}, failed=failed, status=400)


def file_store() -> Store:
    return runtime().file_store()
