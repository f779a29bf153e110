"""Pages for the persons concerned of a case and their notices (art. 14;
whistle/notices/notices.py): blueprint ``notices``, whose URLs stay under ``.../persons``,
as staff have bookmarked them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from whistle.casefile.access import OpenedKeys
from whistle.casefile.content import MAX_TEXT
from whistle.core.models import Case
from whistle.core.runtime import db, runtime
from whistle.notices import notices
from whistle.web.case_pages import CaseAction, open_case, subpage_action
from whistle.web.forms import parse_id
from whistle.web.guard import StaffContext

bp = Blueprint("notices", __name__, url_prefix="/staff/<slug>/cases/<reference>/persons")

BASIS_LABELS = {
    "gdpr_14_5_b": _l("GDPR art. 14(5)(b): the notice would seriously impair the investigation"),
    "dpa_22": _l("Data Protection Act § 22: to protect the reporter or the investigation"),
}
STATUS_LABELS = {
    "pending": _l("Not yet told"),
    "notified": _l("Told"),
    "deferred": _l("Notice deferred"),
}


class AddForm(FlaskForm):
    label = StringField(
        _l("Person concerned"),
        validators=[Length(max=500)],
        description=_l("Name and role, as the unit knows them. Encrypted with the case."),
    )


class NotifiedForm(FlaskForm):
    person = HiddenField()
    notified_on = DateField(_l("Told on"), validators=[Optional()])


class DeferForm(FlaskForm):
    person = HiddenField()
    basis = SelectField(
        _l("Basis for deferring"),
        choices=[SelectChoice("", _l("Choose"))]
        + [SelectChoice(k, v) for k, v in BASIS_LABELS.items()],
    )
    review_on = DateField(_l("Review on"), validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=MAX_TEXT)])


FORMS: dict[str, type[FlaskForm]] = {"add": AddForm, "notified": NotifiedForm, "defer": DeferForm}


def _page(
    slug: str,
    reference: str,
    *,
    forms: dict[str, FlaskForm] | None = None,
    failed: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    ctx, case, keys = open_case(slug, reference)
    shown = {name: cls(prefix=name, formdata=None) for name, cls in FORMS.items()}
    shown.update(forms or {})
    page = render_template(
        "notices/persons.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        persons=notices.persons(db(), case, keys),
        forms=shown,
        failed=failed,
        basis_labels=BASIS_LABELS,
        status_labels=STATUS_LABELS,
        today=runtime().clock.now().date(),
        notice=request.args.get("done"),
    )
    return page, status


@bp.get("/")
def index(slug: str, reference: str) -> tuple[str, int]:
    return _page(slug, reference)


@bp.get("/notice")
def notice_text(slug: str, reference: str) -> str:
    """The notice for a person concerned: drawn from the organisation alone, so it cannot
    name the reporter (it is given nothing about the case but its reference)."""
    ctx, case, _keys = open_case(slug, reference)
    return render_template(
        "notices/notice.html",
        ctx=ctx,
        organisation=ctx.org,
        reference=case.reference,
    )


def _act(slug: str, reference: str, name: str, action: CaseAction) -> Response | tuple[str, int]:
    return subpage_action(
        slug,
        reference,
        FORMS[name](prefix=name),
        action,
        endpoint="notices.index",
        done=name,
        item_field="person",
        page=_page,
    )


def _person_id(form: Any) -> int:
    raw = form.person.data or ""
    return parse_id(raw) or -1


@bp.post("/add")
def add(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        notices.add_person(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.label.data or ""
        )

    return _act(slug, reference, "add", run)


@bp.post("/notified")
def notified(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        notices.mark_notified(
            db(),
            runtime().clock,
            case,
            ctx.staff.user.id,
            _person_id(form),
            form.notified_on.data,
        )

    return _act(slug, reference, "notified", run)


@bp.post("/defer")
def defer(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        notices.defer(
            db(),
            runtime().clock,
            case,
            keys,
            ctx.staff.user.id,
            _person_id(form),
            basis=form.basis.data or "",
            review_on=form.review_on.data,
            reason=form.reason.data or "",
        )

    return _act(slug, reference, "defer", run)
