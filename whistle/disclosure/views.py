"""The pages for disclosing a named reporter's identity (K2; whistle/disclosure/): the
disclosures and their register, starting one, a lead's approval, and handing the identity
over to a public authority with its document (whistle/disclosure/document.py)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.content import MAX_TEXT
from whistle.core.models import Case, Role
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.disclosure import asking, register, rules
from whistle.disclosure import document as disclosure_document
from whistle.disclosure import handover as handover_steps
from whistle.disclosure.handover import Handover
from whistle.pdf.process import PdfFailed
from whistle.web.case_pages import CaseAction, file_store, open_case, subpage_action
from whistle.web.forms import parse_id, show_refusal
from whistle.web.guard import StaffContext

bp = Blueprint("disclosure", __name__, url_prefix="/staff/<slug>/cases/<reference>/disclosure")

RECIPIENT_LABELS = {
    "authority": _l(
        "A public authority: for example the police, the prosecution service, Datatilsynet "
        "or a court"
    ),
    "counsel": _l("Legal counsel with an account here: only with the reporter's consent"),
}
GROUND_LABELS = {
    "consent": _l("The reporter's explicit consent (asked in their mailbox)"),
    "authority": _l("Necessary to counter violations (to a public authority only)"),
    "defence": _l(
        "Necessary to secure the rights of defence in proceedings (to a public authority only)"
    ),
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
    rules.WITHDRAWN_OLD_RULE: _l(
        "Withdrawn by Whistle: without the reporter's consent the identity may go only to a "
        "public authority, never to counsel"
    ),
}
# The same states, for a disclosure to a public authority, where they differ.
AUTHORITY_STATUS_LABELS = {
    "ready": _l("Ready to be handed over to the authority"),
    "used": _l("Handed over to the authority"),
}


class RequestForm(FlaskForm):
    recipient = RadioField(
        _l("Disclose to"),
        choices=[SelectChoice(k, v) for k, v in RECIPIENT_LABELS.items()],
        default="authority",
        validate_choice=False,
    )
    authority = StringField(
        _l("The public authority"),
        validators=[Length(max=rules.MAX_AUTHORITY)],
        description=_l(
            "Its name as the reporter and the register will show it, for example "
            "Københavns Politi or Datatilsynet. Kept encrypted with the internal notes."
        ),
    )
    counsel = SelectField(_l("Legal counsel"), coerce=str, validate_choice=False)
    ground = RadioField(
        _l("Ground"),
        choices=[SelectChoice(k, v) for k, v in GROUND_LABELS.items()],
        validate_choice=False,
    )
    reasons = TextAreaField(
        _l("Reasons, as the reporter will read them"),
        validators=[Length(max=MAX_TEXT)],
        description=_l(
            "Why the identity is disclosed. Sent to the reporter's mailbox, after the "
            "authority's name."
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
    "handover": DecisionForm,
}


def _page(
    slug: str,
    reference: str,
    *,
    forms: dict[str, FlaskForm] | None = None,
    failed: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    ctx, case, keys = open_case(slug, reference)
    session = db()
    shown = {name: cls(prefix=name, formdata=None) for name, cls in FORMS.items()}
    shown.update(forms or {})
    asking = shown["request"]
    asking.counsel.choices = [SelectChoice("", _l("Choose"))] + [
        SelectChoice(str(u.id), u.display_name) for u in rules.counsel_of(session, case.org_id)
    ]
    page = render_template(
        "disclosure/disclosure.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        steps=register.steps(session, case, keys),
        register=register.register(session, case, keys),
        forms=shown,
        failed=failed,
        can_request=case.identity is not None
        and keys.identity is not None
        and keys.notes is not None,
        can_hand_over=keys.identity is not None and keys.notes is not None,
        is_lead=ctx.has(Role.LEAD),
        me=ctx.staff.user.id,
        ground_labels=GROUND_LABELS,
        notice_labels=NOTICE_LABELS,
        status_labels=STATUS_LABELS,
        authority_status_labels=AUTHORITY_STATUS_LABELS,
        open_states=rules.OPEN,
        notice=request.args.get("done"),
    )
    return page, status


@bp.get("/")
def index(slug: str, reference: str) -> tuple[str, int]:
    _ctx, case, _keys = open_case(slug, reference)
    asking.retire_old_rule(db(), runtime().clock, case)
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
        recipient = form.recipient.data or ""
        asking.request(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            recipient=recipient,
            authority=(form.authority.data or "") if recipient == "authority" else "",
            counsel_id=(parse_id(raw) or 0) if recipient == "counsel" else 0,
            ground=form.ground.data or "",
            reasons=form.reasons.data or "",
            withhold_notice=bool(form.withhold_notice.data),
            withhold_reason=form.withhold_reason.data or "",
        )

    return _act(slug, reference, "request", run)


def _decide(slug: str, reference: str, name: str, approve: bool) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        if not ctx.has(Role.LEAD):
            raise Refused("disclosure", _l("Only a unit lead can approve a disclosure."))
        asking.decide(
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
        asking.withdraw(db(), runtime().clock, case, ctx.staff.user.id, _chosen(form))

    return _act(slug, reference, "withdraw", run)


# --- Handing the identity over to a public authority ------------------------------------------


def _refused(slug: str, reference: str, form: FlaskForm, exc: Refused) -> tuple[str, int]:
    show_refusal(form, exc)
    return _page(slug, reference, forms={"handover": form}, status=400)


@bp.get("/handover/<int:disclosure_id>")
def handover(slug: str, reference: str, disclosure_id: int) -> tuple[str, int]:
    """What is about to be handed over, and to whom: the identity is not shown yet."""
    ctx, case, keys = open_case(slug, reference)
    form = DecisionForm(prefix="handover", formdata=None)
    try:
        pending = handover_steps.handover_for(db(), case, keys, disclosure_id)
    except Refused as exc:
        return _refused(slug, reference, form, exc)
    form.disclosure.data = str(disclosure_id)
    page = render_template(
        "disclosure/handover.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        handover=pending,
        form=form,
        ground_labels=GROUND_LABELS,
        notice_labels=NOTICE_LABELS,
    )
    return page, 200


@bp.post("/handover")
def hand_over(slug: str, reference: str) -> tuple[str, int]:
    """Record the handover and answer with the document: the one time the identity is shown
    for it. Its PDF travels inside this answer, so nothing holding the identity is stored."""
    ctx, case, keys = open_case(slug, reference)
    form = DecisionForm(prefix="handover")
    if not form.validate_on_submit():
        return _page(slug, reference, forms={"handover": form}, status=400)
    drawn: dict[str, Any] = {}

    def prepare(handed: Handover) -> None:
        letter = disclosure_document.letter(handed, ctx.org.name)
        try:
            pdf = disclosure_document.letter_pdf(letter)
        except PdfFailed:
            raise Refused(
                "disclosure",
                _l("The document could not be drawn, so nothing was handed over. Try again."),
            ) from None
        drawn.update(letter=letter, pdf=base64.b64encode(pdf).decode("ascii"))

    try:
        handed = handover_steps.hand_over(
            db(),
            runtime().clock,
            case,
            keys,
            ctx.staff.user.id,
            _chosen(form),
            prepare=prepare,
        )
    except Refused as exc:
        return _refused(slug, reference, form, exc)
    except NoAccess:
        abort(403)
    page = render_template(
        "disclosure/handover_document.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        handover=handed,
        letter=drawn["letter"],
        pdf=drawn["pdf"],
    )
    return page, 200
