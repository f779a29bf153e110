"""The page for disclosing a named reporter's identity (K2; whistle/disclosure.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from whistle import disclosure
from whistle.cases.views import CaseAction, _case, _store, subpage_action
from whistle.forms import parse_id
from whistle.handling import MAX_TEXT, ActionRefused, OpenedKeys
from whistle.models import Case, Role
from whistle.runtime import db, runtime
from whistle.staff.guard import StaffContext

bp = Blueprint("disclosure", __name__, url_prefix="/staff/<slug>/cases/<reference>/disclosure")

GROUND_LABELS = {
    "consent": _l("The reporter's explicit consent (asked in their mailbox)"),
    "authority": _l("Required by a public authority to counter violations"),
    "defence": _l("Required to secure the rights of defence of a person concerned"),
}
NOTICE_LABELS = {
    "consent": _l("The reporter was asked for consent, with the reasons"),
    "sent": _l("The reporter was told beforehand, with the reasons"),
    "withheld": _l("The reporter was not told: it would jeopardise the investigation"),
}
STATUS_LABELS = {
    "awaiting_consent": _l("Waiting for the reporter's answer"),
    "awaiting_approval": _l("Waiting for a unit lead's approval"),
    "ready": _l("Ready: the next case file to this counsel may include the identity"),
    "used": _l("Disclosed in a case file"),
    "declined": _l("The reporter did not consent"),
    "refused": _l("Not approved"),
    "withdrawn": _l("Withdrawn"),
}


class RequestForm(FlaskForm):
    counsel = SelectField(_l("Disclose to"), coerce=str, validate_choice=False)
    ground = RadioField(
        _l("Ground"),
        choices=[SelectChoice(k, v) for k, v in GROUND_LABELS.items()],
        validate_choice=False,
    )
    reasons = TextAreaField(
        _l("Reasons, as the reporter will read them"),
        validators=[Length(max=MAX_TEXT)],
        description=_l(
            "To whom and why the identity is disclosed. Sent to the reporter's mailbox."
        ),
    )
    withhold_notice = BooleanField(
        _l("Do not tell the reporter: it would jeopardise the investigation"),
        description=_l("Not with consent. A unit lead other than you must then approve."),
    )
    withhold_reason = TextAreaField(
        _l("Why telling the reporter would jeopardise the investigation"),
        validators=[Length(max=MAX_TEXT)],
    )


class DecisionForm(FlaskForm):
    disclosure = HiddenField(_l("Disclosure"))


FORMS: dict[str, type[FlaskForm]] = {
    "request": RequestForm,
    "approve": DecisionForm,
    "refuse": DecisionForm,
    "withdraw": DecisionForm,
}


def _page(
    slug: str,
    reference: str,
    *,
    forms: dict[str, FlaskForm] | None = None,
    failed: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    ctx, case, keys = _case(slug, reference)
    session = db()
    shown = {name: cls(prefix=name, formdata=None) for name, cls in FORMS.items()}
    shown.update(forms or {})
    asking = shown["request"]
    asking.counsel.choices = [SelectChoice("", _l("Choose"))] + [
        SelectChoice(str(u.id), u.display_name) for u in disclosure.counsel_of(session, case.org_id)
    ]
    page = render_template(
        "cases/disclosure.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        steps=disclosure.steps(session, case, keys),
        forms=shown,
        failed=failed,
        can_request=case.identity is not None
        and keys.identity is not None
        and keys.notes is not None,
        is_lead=ctx.has(Role.LEAD),
        me=ctx.staff.user.id,
        ground_labels=GROUND_LABELS,
        notice_labels=NOTICE_LABELS,
        status_labels=STATUS_LABELS,
        open_states=disclosure.OPEN,
        notice=request.args.get("done"),
    )
    return page, status


@bp.get("/")
def index(slug: str, reference: str) -> tuple[str, int]:
    return _page(slug, reference)


def _act(slug: str, reference: str, name: str, action: CaseAction) -> Response | tuple[str, int]:
    return subpage_action(
        slug,
        reference,
        FORMS[name](prefix=name),
        action,
        endpoint="disclosure.index",
        done=name,
        item_field="disclosure",
        page=_page,
    )


def _chosen(form: Any) -> int:
    raw = form.disclosure.data or ""
    return parse_id(raw) or -1


@bp.post("/request")
def ask(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        raw = form.counsel.data or ""
        disclosure.request(
            db(),
            runtime().clock,
            _store(),
            case,
            keys,
            ctx.staff.user.id,
            counsel_id=parse_id(raw) or 0,
            ground=form.ground.data or "",
            reasons=form.reasons.data or "",
            withhold_notice=bool(form.withhold_notice.data),
            withhold_reason=form.withhold_reason.data or "",
        )

    return _act(slug, reference, "request", run)


def _decide(slug: str, reference: str, name: str, approve: bool) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        if not ctx.has(Role.LEAD):
            raise ActionRefused("disclosure", _l("Only a unit lead can approve a disclosure."))
        disclosure.decide(
            db(),
            runtime().clock,
            case,
            keys,
            ctx.staff.user.id,
            _chosen(form),
            approve=approve,
        )

    return _act(slug, reference, name, run)


@bp.post("/approve")
def approve(slug: str, reference: str) -> Response | tuple[str, int]:
    return _decide(slug, reference, "approve", True)


@bp.post("/refuse")
def refuse(slug: str, reference: str) -> Response | tuple[str, int]:
    return _decide(slug, reference, "refuse", False)


@bp.post("/withdraw")
def withdraw(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        disclosure.withdraw(db(), runtime().clock, case, ctx.staff.user.id, _chosen(form))

    return _act(slug, reference, "withdraw", run)
