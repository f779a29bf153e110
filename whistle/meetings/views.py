"""The handler's side of meetings and oral reports (C1, C2): the task, and the minutes.

A meeting the reporter asked for is a task with a due date (whistle/meetings/tasks.py). The
handler records it as held (or opens one for an oral report), writes the minutes
(whistle/meetings/minutes.py), and sees every version, the reporter's corrections and
approval included. Everything is under the case content key, so only handlers holding the
case read it.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, TextAreaField
from wtforms.validators import Optional

from whistle.core.models import Meeting
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.meetings import minutes as minutes_steps
from whistle.meetings import tasks
from whistle.web.case_pages import open_case
from whistle.web.forms import show_refusal

bp = Blueprint("meetings", __name__, url_prefix="/staff/<slug>/cases/<reference>/meetings")


class HeldForm(FlaskForm):
    held_on = DateField(_l("Held on"), validators=[Optional()])


class MinutesForm(FlaskForm):
    body = TextAreaField(
        _l("Minutes"),
        description=_l(
            "What was said, as exactly as you can. The reporter reads, corrects and approves "
            "the minutes; every version is kept."
        ),
    )


class OpenForm(FlaskForm):
    """Opens a meeting task for an oral report or a meeting the handler offers."""


def _meeting(case_id: int, meeting_id: int) -> Meeting:
    meeting = db().get(Meeting, meeting_id)
    if meeting is None or meeting.case_id != case_id:
        abort(404)
    return meeting


def _page(
    slug: str,
    reference: str,
    *,
    forms: dict[int, dict[str, FlaskForm]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    ctx, case, keys = open_case(slug, reference)
    history = minutes_steps.minutes_history(db(), case, keys.content)
    forms = forms or {}
    for view in history:
        forms.setdefault(view.id, {})
        forms[view.id].setdefault("held", HeldForm(prefix=f"held{view.id}", formdata=None))
        if "minutes" not in forms[view.id]:
            minutes = MinutesForm(prefix=f"min{view.id}", formdata=None)
            if view.latest is not None:
                minutes.body.data = view.latest.body
            forms[view.id]["minutes"] = minutes
    page = render_template(
        "meetings/meetings.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        history=history,
        forms=forms,
        open_form=OpenForm(prefix="open", formdata=None),
        notice=request.args.get("done"),
    )
    return page, status


@bp.get("/")
def index(slug: str, reference: str) -> tuple[str, int]:
    return _page(slug, reference)


def _back(slug: str, reference: str, done: str) -> Response:
    return redirect(url_for("meetings.index", slug=slug, reference=reference, done=done), 303)


@bp.post("/open")
def open_task(slug: str, reference: str) -> Response:
    ctx, case, _keys = open_case(slug, reference)
    if not OpenForm(prefix="open").validate_on_submit():
        abort(400)
    tasks.record_opened(db(), runtime().clock, case, ctx.staff.user.id)
    return _back(slug, reference, "opened")


@bp.post("/<int:meeting_id>/held")
def held(slug: str, reference: str, meeting_id: int) -> Response | tuple[str, int]:
    ctx, case, _keys = open_case(slug, reference)
    meeting = _meeting(case.id, meeting_id)
    form = HeldForm(prefix=f"held{meeting.id}")
    if form.validate_on_submit():
        clock = runtime().clock
        day: date = form.held_on.data or clock.now().date()
        try:
            tasks.record_held(db(), clock, case, meeting, ctx.staff.user.id, day)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            return _back(slug, reference, "held")
    return _page(slug, reference, forms={meeting.id: {"held": form}}, status=400)


@bp.post("/<int:meeting_id>/cancel")
def cancel(slug: str, reference: str, meeting_id: int) -> Response | tuple[str, int]:
    ctx, case, _keys = open_case(slug, reference)
    meeting = _meeting(case.id, meeting_id)
    if not OpenForm(prefix="open").validate_on_submit():
        abort(400)
    try:
        tasks.record_cancelled(db(), runtime().clock, case, meeting, ctx.staff.user.id)
    except Refused:
        # Only a stale page offers to cancel a meeting held or cancelled already.
        abort(409)
    return _back(slug, reference, "cancelled")


@bp.post("/<int:meeting_id>/minutes")
def minutes(slug: str, reference: str, meeting_id: int) -> Response | tuple[str, int]:
    ctx, case, keys = open_case(slug, reference)
    meeting = _meeting(case.id, meeting_id)
    form = MinutesForm(prefix=f"min{meeting.id}")
    if form.validate_on_submit():
        try:
            minutes_steps.write_minutes(
                db(),
                runtime().clock,
                case,
                keys.content,
                meeting,
                form.body.data or "",
                user_id=ctx.staff.user.id,
            )
        except Refused as exc:
            show_refusal(form, exc)
        else:
            return _back(slug, reference, "minutes")
    return _page(slug, reference, forms={meeting.id: {"minutes": form}}, status=400)
