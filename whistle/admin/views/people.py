"""The console's People page: everyone with a role in the organisation, inviting someone
(the link is mailed if mail is set up, and shown once otherwise), withdrawing an open invitation,
changing roles, deactivating and reactivating an account, resetting two-step sign-in.

Each view parses its form and calls :mod:`whistle.admin.people` (or
:func:`whistle.staff.invitations.invite`), which commit, then redirects, or shows the page
again with the form's errors. The page is built from memberships and invitations:
nothing here opens a case key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import abort, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from whistle.admin import people
from whistle.admin.forms import (
    DeactivateForm,
    EmptyForm,
    InviteForm,
    ResetTwoStepForm,
    RolesForm,
    WithdrawForm,
)
from whistle.admin.people import NotAMember
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.labels import ROLE_LABELS
from whistle.core.models import Role
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.keys import status as key_status
from whistle.notify.sending import mail_invitation_now
from whistle.staff.invitations import invite
from whistle.web.forms import MAX_ID, show_refusal
from whistle.web.guard import StaffContext

log = logging.getLogger(__name__)


def _users_page(
    ctx: StaffContext,
    *,
    invite_form: InviteForm | None = None,
    override: dict[str, FlaskForm] | None = None,
    failed: int | None = None,
    refusal: object = None,
    issued_link: str | None = None,
    sent_to: str | None = None,
    mail_state: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db()
    found = people.people(session, ctx.org.id, ctx.staff.user.id)
    forms: dict[str, FlaskForm] = {}
    for person in found:
        roles = RolesForm(prefix=f"user-{person.id}", formdata=None)
        roles.roles.data = sorted(r.value for r in person.roles)
        forms[f"roles-{person.id}"] = roles
        forms[f"deactivate-{person.id}"] = DeactivateForm(
            prefix=f"deactivate-{person.id}", formdata=None
        )
        forms[f"reset-{person.id}"] = ResetTwoStepForm(prefix=f"reset-{person.id}", formdata=None)
    forms.update(override or {})
    invitations = people.open_invitations(session, runtime().clock, ctx.org.id)
    return page(
        "admin/users.html",
        ctx,
        status,
        people=found,
        forms=forms,
        failed=failed,
        refusal=refusal,
        invite_form=invite_form or InviteForm(formdata=None),
        withdraw_form=forms.get("withdraw") or WithdrawForm(formdata=None),
        invitations=invitations,
        issued_link=issued_link,
        sent_to=sent_to,
        mail_state=mail_state,
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        Role=Role,
        # Whose key no lead has certified yet: they receive nothing of that role.
        awaiting_keys={k.user_id for k in key_status.unit_keys(session, ctx.org.id) if k.pending},
    )


def _mail_invitation(ctx: StaffContext, email: str, link: str) -> str:
    """Send the invitation by e-mail if mail is set up: "sent", "off" or "failed"."""
    rt = runtime()
    return mail_invitation_now(db(), rt.settings, ctx.org, to=email, link=link, now=rt.clock.now())


@bp.route("/users", methods=["GET", "POST"])
def users(slug: str) -> tuple[str, int]:
    """Everyone with a role here, and inviting someone (the link is shown once)."""
    ctx = admin(slug)
    form = InviteForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return _users_page(ctx, invite_form=form, status=status)
    try:
        issued = invite(
            db(),
            runtime().clock,
            ctx.org,
            email=form.email.data or "",
            roles=[Role(r) for r in form.roles.data or []],
            invited_by=ctx.staff.user.id,
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _users_page(ctx, invite_form=form, status=400)
    # The secret goes after "#": a browser never sends that part, so no access log, proxy
    # log or Referer holds it (whistle/staff/views/invitations.py).
    link = url_for("staff.invitation", _external=True) + "#" + issued.token
    mail_state = _mail_invitation(ctx, issued.invitation.email, link)
    # Mailed, the link goes to the person only: the administrator never holds it, so cannot
    # use it themselves, nor try it to see whether the address has an account elsewhere.
    # The answer is the same either way (whistle/staff/invitations.py).
    return _users_page(
        ctx,
        issued_link=None if mail_state == "sent" else link,
        sent_to=issued.invitation.email if mail_state == "sent" else None,
        mail_state=mail_state,
    )


@bp.post("/users/invitations/withdraw")
def withdraw(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _users_page(ctx, override={"withdraw": form}, status=400)
    invitation_id = form.invitation.data or 0
    if not 0 < invitation_id <= MAX_ID:  # no such invitation, nor a number the database takes
        abort(404)
    try:
        people.withdraw_invitation(
            db(), runtime().clock, ctx.org.id, ctx.staff.user.id, invitation_id
        )
    except LookupError:
        abort(404)
    return done("admin.users", ctx.org.slug, "withdrawn")


def _person_action(
    slug: str,
    user_id: int,
    name: str,
    form: FlaskForm,
    action: Callable[[StaffContext], str],
) -> Response | tuple[str, int]:
    """Run ``action`` (a unit of work: it commits, or rolls back when refused) on a person of
    the organisation if ``form`` is valid; the page again with the form's errors otherwise.
    ``action`` returns the ``done`` code."""
    ctx = admin(slug)
    try:
        people.member(db(), ctx.org.id, user_id)
    except NotAMember:
        abort(404)
    override = {f"{name}-{user_id}": form}
    if not form.validate_on_submit():
        return _users_page(ctx, override=override, failed=user_id, status=400)
    try:
        code = action(ctx)
    except Refused as exc:
        # Shown at the top of the person's section: the form refused may not be on the page
        # (your own account offers no deactivation).
        return _users_page(ctx, override=override, failed=user_id, refusal=exc.message, status=409)
    return done("admin.users", ctx.org.slug, code, anchor=f"person-{user_id}")


@bp.post("/users/<int:user_id>/roles")
def roles(slug: str, user_id: int) -> Response | tuple[str, int]:
    form = RolesForm(prefix=f"user-{user_id}")

    def change(ctx: StaffContext) -> str:
        changed = people.change_roles(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            user_id,
            [Role(r) for r in form.roles.data or []],
        )
        return "roles" if changed else "unchanged"

    return _person_action(slug, user_id, "roles", form, change)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(slug: str, user_id: int) -> Response | tuple[str, int]:
    form = DeactivateForm(prefix=f"deactivate-{user_id}")
    return _person_action(
        slug,
        user_id,
        "deactivate",
        form,
        lambda ctx: people.end_access(
            db(), runtime().clock, ctx.org.id, ctx.staff.user.id, user_id
        ),
    )


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(slug: str, user_id: int) -> Response | tuple[str, int]:
    form = EmptyForm(prefix=f"reactivate-{user_id}")

    def act(ctx: StaffContext) -> str:
        changed = people.reactivate(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, user_id)
        return "reactivated" if changed else "unchanged"

    return _person_action(slug, user_id, "reactivate", form, act)


@bp.post("/users/<int:user_id>/two-step")
def reset_two_step(slug: str, user_id: int) -> Response | tuple[str, int]:
    form = ResetTwoStepForm(prefix=f"reset-{user_id}")

    def act(ctx: StaffContext) -> str:
        people.reset_two_step(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, user_id)
        return "two_step"

    return _person_action(slug, user_id, "reset", form, act)
