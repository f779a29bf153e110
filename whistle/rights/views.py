"""The data-subject rights workbench: pages over the modules of whistle/rights/ (S1-S5).

Handlers and unit leads holding the request's key use it. Names are only ever posted (the
search too), never put in a URL, so no access log or browser history holds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from whistle.casefile import request_keys
from whistle.casefile.access import KeyRing, NoAccess, open_keys
from whistle.casefile.content import MAX_TEXT
from whistle.casefile.holders import HANDLING_ROLES
from whistle.core.models import Case, Message, RightsRequest
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.rights import access_export, case_search, decisions, linked_cases, requests
from whistle.rights.labels import (
    BASIS_LABELS,
    DECISION_LABELS,
    ITEM_LABELS,
    KIND_LABELS,
    NOTE_LABELS,
    PLACE_LABELS,
)
from whistle.web.downloads import attachment_disposition
from whistle.web.forms import parse_id, run_action, show_refusal
from whistle.web.guard import StaffContext, require

bp = Blueprint("rights", __name__, url_prefix="/staff/<slug>/rights")

TEXT = [Length(max=MAX_TEXT)]


class RegisterForm(FlaskForm):
    kind = SelectField(
        _l("The person asks for"),
        choices=[SelectChoice("", _l("Choose"))]
        + [SelectChoice(k.value, v) for k, v in KIND_LABELS.items()],
    )
    subject = TextAreaField(
        _l("Who made the request"),
        validators=TEXT,
        description=_l("Name and how to reach them. Encrypted: only the unit can read it."),
    )
    received_on = DateField(_l("Received on"), validators=[Optional()])


class ExtendForm(FlaskForm):
    until = DateField(_l("New deadline"), validators=[Optional()])
    reason = TextAreaField(_l("Reasons for the extension"), validators=TEXT)
    notice_on = DateField(
        _l("Day the requester was told of the extension and its reasons"),
        validators=[Optional()],
    )


class SearchForm(FlaskForm):
    term = StringField(
        _l("Name to look for"),
        validators=[Length(max=200)],
        description=_l(
            "Searches the reports, conversations and notes of the cases you can read. Nothing "
            "is stored: the cases are decrypted in memory for the search only."
        ),
    )


class CaseForm(FlaskForm):
    case_id = HiddenField()


class RedactionForm(FlaskForm):
    terms = TextAreaField(
        _l("Texts to blank out of the export, one per line"),
        validators=TEXT,
        description=_l(
            "Always the reporter's name and anything else that could identify them, and "
            "other people's personal data. The reporter's identity itself is never exported."
        ),
    )


class RestrictForm(FlaskForm):
    case_id = HiddenField()
    item = HiddenField()


class DecideForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=[SelectChoice("", _l("Choose"))]
        + [SelectChoice(k.value, v) for k, v in DECISION_LABELS.items()],
    )
    legal_basis = SelectField(
        _l("Legal basis"),
        choices=[SelectChoice("", _l("Choose"))]
        + [SelectChoice(k, v) for k, v in BASIS_LABELS.items()],
    )
    assessment = TextAreaField(
        _l("Assessment"),
        validators=TEXT,
        description=_l(
            "The individual assessment behind the decision (for access: what is limited and "
            "why). Recorded before anything is released or refused."
        ),
    )
    statement = TextAreaField(
        _l("The person's statement (rectification only)"),
        validators=TEXT,
        description=_l("Added to each linked case as a note; the report itself is not changed."),
    )


class AnswerForm(FlaskForm):
    """Records that the answer went out."""


FORMS: dict[str, type[FlaskForm]] = {
    "extend": ExtendForm,
    "search": SearchForm,
    "link": CaseForm,
    "unlink": CaseForm,
    "redactions": RedactionForm,
    "restrict": RestrictForm,
    "decide": DecideForm,
    "answer": AnswerForm,
}


def _context(slug: str) -> StaffContext:
    return require(slug, *HANDLING_ROLES)


def _request(ctx: StaffContext, request_id: int) -> tuple[RightsRequest, KeyRing]:
    found = db().get(RightsRequest, request_id)
    if found is None or found.org_id != ctx.org.id:
        abort(404)
    try:
        key = request_keys.open_key(db(), found, ctx.staff.user.id, ctx.staff.private_key)
    except NoAccess:
        abort(403)
    return found, key


@bp.route("/", methods=["GET", "POST"])
def index(slug: str) -> Response | tuple[str, int]:
    ctx = _context(slug)
    form = RegisterForm(prefix="new")
    status = 200
    made: list[RightsRequest] = []

    def register() -> None:
        made.append(
            requests.register(
                db(),
                runtime().clock,
                ctx.org.id,
                ctx.staff.user.id,
                kind=form.kind.data or "",
                subject=form.subject.data or "",
                received_on=form.received_on.data,
            )
        )

    if run_action(form, register):
        return redirect(url_for("rights.show", slug=slug, request_id=made[0].id), code=303)
    if form.errors:
        status = 400
    elif not form.is_submitted():
        form.received_on.data = runtime().clock.now().date()
    page = render_template(
        "rights/index.html",
        ctx=ctx,
        organisation=ctx.org,
        requests=requests.open_requests(db(), ctx.org.id, ctx.staff.user.id),
        form=form,
        kind_labels={k.value: v for k, v in KIND_LABELS.items()},
        today=runtime().clock.now().date(),
        answer_due=requests.answer_due,
    )
    return page, status


def _render(
    ctx: StaffContext,
    found: RightsRequest,
    key: KeyRing,
    *,
    forms: dict[str, FlaskForm] | None = None,
    matches: list[case_search.Match] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db()
    shown = {name: cls(prefix=name, formdata=None) for name, cls in FORMS.items()}
    shown.update(forms or {})
    private = ctx.staff.private_key
    export = None
    if found.kind == requests.Kind.ACCESS and private is not None:
        export = access_export.access_export(session, found, key, ctx.staff.user.id, private)
    terms = access_export.redactions(session, found, key)
    redaction = shown["redactions"]
    if not redaction.is_submitted():
        redaction.terms.data = "\n".join(terms)
    linked = linked_cases.linked_cases(session, found)
    page = render_template(
        "rights/request.html",
        ctx=ctx,
        organisation=ctx.org,
        request=found,
        subject=requests.subject_of(found, key),
        notes=[
            (NOTE_LABELS.get(n.kind, n.kind), n.created_on, _note_text(n))
            for n in requests.notes(session, found, key)
        ],
        linked=linked,
        restricted={c.id: linked_cases.restricted_items(session, c.id) for c in linked},
        messages={c.id: _message_ids(c) for c in linked} if found.kind == "restriction" else {},
        matches=matches,
        export=export,
        forms=shown,
        kind_labels={k.value: v for k, v in KIND_LABELS.items()},
        decision_labels={k.value: v for k, v in DECISION_LABELS.items()},
        basis_labels=BASIS_LABELS,
        place_labels=PLACE_LABELS,
        item_labels=ITEM_LABELS,
        due=requests.answer_due(found),
        today=runtime().clock.now().date(),
        notice=request.args.get("done"),
    )
    return page, status


def _note_text(note: requests.NoteView) -> str:
    if note.kind == "redactions":
        return "\n".join(json.loads(note.body))
    return note.body


def _message_ids(case: Case) -> list[tuple[int, str, Any]]:
    return [
        (m.id, m.kind, m.sent_on)
        for m in db().scalars(
            select(Message).where(Message.case_id == case.id).order_by(Message.id)
        )
    ]


@bp.get("/<int:request_id>")
def show(slug: str, request_id: int) -> tuple[str, int]:
    ctx = _context(slug)
    found, key = _request(ctx, request_id)
    return _render(ctx, found, key)


def _case_of(ctx: StaffContext, raw: str | None) -> Case:
    case_id = parse_id(raw)
    case = db().get(Case, case_id) if case_id is not None else None
    if case is None or case.org_id != ctx.org.id:
        raise Refused("case_id", _l("Choose a case from the list."))
    return case


Action = Callable[[StaffContext, RightsRequest, KeyRing, Any], None]


def _act(slug: str, request_id: int, name: str, action: Action) -> Response | tuple[str, int]:
    ctx = _context(slug)
    found, key = _request(ctx, request_id)
    form = FORMS[name](prefix=name)
    if run_action(form, lambda: action(ctx, found, key, form)):
        return redirect(
            url_for("rights.show", slug=slug, request_id=found.id, done=name) + "#top",
            code=303,
        )
    db().refresh(found)
    return _render(ctx, found, key, forms={name: form}, status=400)


def _private(ctx: StaffContext) -> Any:
    if ctx.staff.private_key is None:
        raise NoAccess
    return ctx.staff.private_key


@bp.post("/<int:request_id>/extend")
def extend(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        requests.extend(
            db(),
            runtime().clock,
            found,
            key,
            ctx.staff.user.id,
            until=form.until.data,
            reason=form.reason.data or "",
            notice_on=form.notice_on.data,
        )

    return _act(slug, request_id, "extend", run)


@bp.post("/<int:request_id>/search")
def search(slug: str, request_id: int) -> tuple[str, int]:
    ctx = _context(slug)
    found, key = _request(ctx, request_id)
    form = SearchForm(prefix="search")
    matches: list[case_search.Match] | None = None
    if form.validate_on_submit():
        try:
            matches = case_search.search_cases(
                db(), ctx.org.id, ctx.staff.user.id, _private(ctx), form.term.data or ""
            )
        except Refused as exc:
            show_refusal(form, exc)
        except NoAccess:
            abort(403)
    status = 400 if form.errors else 200
    return _render(ctx, found, key, forms={"search": form}, matches=matches, status=status)


@bp.post("/<int:request_id>/link")
def link(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        case = _case_of(ctx, form.case_id.data)
        open_keys(db(), case, ctx.staff.user.id, ctx.staff.private_key)  # must be readable
        linked_cases.link_case(db(), runtime().clock, found, case, ctx.staff.user.id)

    return _act(slug, request_id, "link", run)


@bp.post("/<int:request_id>/unlink")
def unlink(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        case = _case_of(ctx, form.case_id.data)
        linked_cases.unlink_case(db(), runtime().clock, found, case.id, ctx.staff.user.id)

    return _act(slug, request_id, "unlink", run)


@bp.post("/<int:request_id>/redactions")
def redactions(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        access_export.set_redactions(
            db(), runtime().clock, found, key, ctx.staff.user.id, form.terms.data or ""
        )

    return _act(slug, request_id, "redactions", run)


@bp.post("/<int:request_id>/restrict")
def restrict(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        case = _case_of(ctx, form.case_id.data)
        kind, _sep, item = (form.item.data or "").partition(":")
        linked_cases.restrict(
            db(),
            runtime().clock,
            found,
            case,
            ctx.staff.user.id,
            item_kind=kind,
            item_id=parse_id(item) or -1,
        )

    return _act(slug, request_id, "restrict", run)


@bp.post("/<int:request_id>/decide")
def decide(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        decisions.decide(
            db(),
            runtime().clock,
            found,
            key,
            ctx.staff.user.id,
            _private(ctx),
            decision=form.decision.data or "",
            legal_basis=form.legal_basis.data or "",
            assessment=form.assessment.data or "",
            statement=form.statement.data or "",
        )

    return _act(slug, request_id, "decide", run)


@bp.post("/<int:request_id>/answer")
def answer(slug: str, request_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, found: RightsRequest, key: KeyRing, form: Any) -> None:
        decisions.record_answer(db(), runtime().clock, found, ctx.staff.user.id)

    return _act(slug, request_id, "answer", run)


@bp.get("/<int:request_id>/export.txt")
def export(slug: str, request_id: int) -> Response:
    """The access export as text, once access has been decided (granted or partly)."""
    ctx = _context(slug)
    found, key = _request(ctx, request_id)
    if found.kind != requests.Kind.ACCESS or found.decision not in ("granted", "partly_granted"):
        abort(404)
    try:
        made = access_export.access_export(db(), found, key, ctx.staff.user.id, _private(ctx))
    except NoAccess:
        abort(403)
    text = render_template(
        "rights/export.txt",
        organisation=ctx.org,
        request=found,
        export=made,
        item_labels=ITEM_LABELS,
        today=runtime().clock.now().date(),
    )
    decisions.record_release(db(), runtime().clock, found, ctx.staff.user.id)
    response = Response(text.encode(), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Content-Disposition"] = attachment_disposition(f"access-{found.id}.txt")
    return response
