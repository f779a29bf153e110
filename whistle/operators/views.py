"""The operator's pages (``/operator``): the deployment's organisations and their life cycle.

Only a signed-in operator reaches them; for anyone else they do not exist (404). Nothing here
opens a key or reads a case: the pages are made of organisations, counts and states.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core.models import Organisation
from whistle.core.organisations import lists_organisations, suggest_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.notify.sending import mail_invitation_now
from whistle.operators import organisations
from whistle.operators.forms import (
    DeleteForm,
    FrontPageForm,
    InviteAdminForm,
    NewOrganisationForm,
    ReactivateForm,
    SuspendForm,
)
from whistle.web.forms import show_refusal
from whistle.web.guard import signed_in

bp = Blueprint("operators", __name__, url_prefix="/operator")

DONE = {
    "suspended": _l("The organisation is suspended: its reporting channel says it is closed."),
    "reactivated": _l("The organisation is active again."),
    "unchanged": _l("Nothing was changed."),
    "front_page": _l("The front page is changed."),
}


@bp.before_request
def operators_only() -> None:
    staff = signed_in()
    if not organisations.is_operator(db(), staff.user.id):
        abort(404)


def _actor() -> int:
    return signed_in().user.id


def _hand_over(org: Organisation, email: str, token: str) -> dict[str, str | None]:
    """Mail the invitation if mail is set up; otherwise its link is shown once, for the
    operator to pass on. The secret is after "#", which a browser never sends, so no log holds
    it (whistle/staff/views/invitations.py)."""
    rt = runtime()
    link = url_for("staff.invitation", _external=True) + "#" + token
    state = mail_invitation_now(db(), rt.settings, org, to=email, link=link, now=rt.clock.now())
    return {
        "invitation_url": None if state == "sent" else link,
        "mail_state": state,
        "sent_to": email,
    }


@bp.route("/", methods=["GET", "POST"])
def index() -> str:
    form = NewOrganisationForm()
    if form.validate_on_submit():
        name = form.name.data or ""
        try:
            made = organisations.create(
                db(),
                runtime().clock,
                name=name,
                slug=(form.slug.data or "").strip().lower() or suggest_slug(name),
                locale=form.locale.data or "da",
                admin_email=form.admin_email.data or "",
                actor_id=_actor(),
            )
        except Refused as refused:
            show_refusal(form, refused)
        else:
            email = (form.admin_email.data or "").strip().lower()
            return render_template(
                "operators/created.html",
                organisation=made.organisation,
                public_url=url_for("reporting.start", slug=made.organisation.slug, _external=True),
                **_hand_over(made.organisation, email, made.invitation_token),
            )
    listed = lists_organisations(db(), runtime().settings.list_organisations)
    return render_template(
        "operators/index.html",
        form=form,
        rows=organisations.summaries(db()),
        notice=DONE.get(request.args.get("done", "")),
        front_page_form=FrontPageForm(formdata=None, listed=listed),
    )


@bp.post("/front-page")
def front_page() -> Response:
    form = FrontPageForm()
    if not form.validate_on_submit():
        return redirect(url_for("operators.index", done="unchanged"), code=303)
    organisations.set_front_page_list(
        db(), runtime().clock, on=bool(form.listed.data), actor_id=_actor()
    )
    return redirect(url_for("operators.index", done="front_page"), code=303)


def _organisation_page(slug: str, invite_form: InviteAdminForm, **values: Any) -> str:
    try:
        org = organisations.find(db(), slug)
    except Refused:
        abort(404)
    row = organisations.summary(db(), org)
    return render_template(
        "operators/organisation.html",
        row=row,
        organisation=org,
        invite_form=invite_form,
        suspend_form=values.pop("suspend_form", None) or SuspendForm(formdata=None),
        reactivate_form=values.pop("reactivate_form", None) or ReactivateForm(formdata=None),
        notice=DONE.get(request.args.get("done", "")),
        **values,
    )


@bp.get("/<slug>/")
def organisation(slug: str) -> str:
    return _organisation_page(slug, InviteAdminForm(formdata=None))


@bp.post("/<slug>/invite")
def invite_admin(slug: str) -> str:
    form = InviteAdminForm()
    handed: dict[str, str | None] = {}
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        try:
            token = organisations.invite_admin(
                db(), runtime().clock, slug, email=email, actor_id=_actor()
            )
        except Refused as refused:
            show_refusal(form, refused)
        else:
            handed = _hand_over(organisations.find(db(), slug), email, token)
            form = InviteAdminForm(formdata=None)
    return _organisation_page(slug, form, **handed)


def _change(slug: str, suspend: bool) -> Response | tuple[str, int]:
    form = SuspendForm() if suspend else ReactivateForm()
    if not form.validate_on_submit():
        # The box was not ticked: the page again, with the reason under it.
        name = "suspend_form" if suspend else "reactivate_form"
        return _organisation_page(slug, InviteAdminForm(formdata=None), **{name: form}), 400
    change = organisations.suspend if suspend else organisations.reactivate
    try:
        change(db(), runtime().clock, slug, actor_id=_actor())
    except Refused:
        # Already in that state (another operator was quicker): the domain's unit of work has
        # rolled back.
        return redirect(url_for("operators.organisation", slug=slug, done="unchanged"), code=303)
    done = "suspended" if suspend else "reactivated"
    return redirect(url_for("operators.organisation", slug=slug, done=done), code=303)


@bp.post("/<slug>/suspend")
def suspend(slug: str) -> Response | tuple[str, int]:
    return _change(slug, suspend=True)


@bp.post("/<slug>/reactivate")
def reactivate(slug: str) -> Response | tuple[str, int]:
    return _change(slug, suspend=False)


@bp.route("/<slug>/delete", methods=["GET", "POST"])
def delete(slug: str) -> str | tuple[str, int]:
    try:
        org = organisations.find(db(), slug)
    except Refused:
        abort(404)
    form = DeleteForm()
    if form.validate_on_submit():
        rt = runtime()
        try:
            gone = organisations.delete_for_good(
                db(),
                rt.clock,
                slug,
                confirm=form.confirm.data or "",
                store=rt.file_store(),
                keystore=rt.keystore,
                actor_id=_actor(),
            )
        except Refused as refused:
            show_refusal(form, refused)
        else:
            return render_template("operators/deleted.html", deletion=gone)
    row = organisations.summary(db(), org)
    return render_template("operators/delete.html", form=form, organisation=org, row=row)
