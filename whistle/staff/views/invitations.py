"""Accepting an invitation: the link's page, and the start page's "accept" for someone who
already has an account (whistle/staff/invitations.py says why there are two ways).

The link is ``/staff/invitation#<token>``. Its secret is the fragment, which browsers never
send: no request line, access log, proxy log or Referer holds it. The page's script
(whistle/static/fragment.js) posts it in a form's body, or the person pastes it; an address
carrying it in its query string, or in its path as links did before, is refused unread.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core.labels import ROLE_LABELS
from whistle.core.models import Invitation, Organisation, Role
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.staff.auth import SignInRefused, record_sign_out
from whistle.staff.forms import AcceptInvitationForm, InvitationCodeForm, JoinForm
from whistle.staff.invitations import (
    InvitationUnavailable,
    accept_invitation,
    find_invitation,
    invitation_roles,
    join_with_account,
)
from whistle.staff.views import WRONG_PASSWORD, bp
from whistle.web import staff_session
from whistle.web.access import public
from whistle.web.forms import show_refusal
from whistle.web.guard import signed_in


@bp.route("/invitation", methods=["GET", "POST"])
@public
def invitation() -> Response | str | tuple[str, int]:
    """An invitation, opened from its link ``/staff/invitation#<token>``.

    The token is the link's fragment, which browsers never send: no request line, access log,
    proxy log or Referer holds it. The page's script (static/fragment.js) posts it in a
    form's body, or the person pastes it. An address that tries to carry it in the query
    string is refused without reading it. The page looks the same whether or not the invited
    address already has an account (whistle/staff/invitations.py).
    """
    if request.query_string:
        return _invitation_link_refused()
    if request.method == "GET" or "display_name" not in request.form:
        return _open_invitation()
    return _accept_invitation()


def _open_invitation() -> str | tuple[str, int]:
    """Step one: the code from the link's fragment (or pasted), then the invitation itself."""
    code_form = InvitationCodeForm()
    if not code_form.validate_on_submit():
        status = 400 if code_form.is_submitted() else 200
        return render_template("staff/invitation_code.html", form=code_form), status
    token = (code_form.token.data or "").strip()
    try:
        found = find_invitation(db(), runtime().clock, token)
    except InvitationUnavailable:
        return _invitation_unavailable()
    form = AcceptInvitationForm(formdata=None)
    form.token.data = token
    return _accept_page(form, found)


def _accept_invitation() -> Response | str | tuple[str, int]:
    """Step two: a new account's name and password."""
    session = db()
    rt = runtime()
    form = AcceptInvitationForm()
    token = form.token.data or ""
    try:
        found = find_invitation(session, rt.clock, token)
    except InvitationUnavailable:
        return _invitation_unavailable()
    form.invited_email = found.email
    invited_to = session.get(Organisation, found.org_id)
    # The organisation's name is among the person's own words: a password built on it is weak.
    form.organisation_name = invited_to.name if invited_to is not None else ""
    if form.validate_on_submit():
        try:
            checked = accept_invitation(
                session,
                rt.clock,
                token,
                display_name=form.display_name.data or "",
                password=form.password.data or "",
                argon2=rt.argon2,
            )
        except Refused as exc:
            show_refusal(form, exc)
        except InvitationUnavailable:
            return _invitation_unavailable()
        except SignInRefused:
            # Cannot happen to an account made a moment ago; said plainly if it ever does.
            form.password.errors = [WRONG_PASSWORD]
        else:
            staff_session.start_pending(checked.user, checked.private_key)
            return redirect(url_for("staff.enrol"), code=303)
    return _accept_page(form, found)


def _accept_page(form: AcceptInvitationForm, found: Invitation) -> str:
    form.display_name.description = _name_seen_by(invitation_roles(found))
    return render_template(
        "staff/accept.html",
        form=form,
        invitation=found,
        organisation=db().get(Organisation, found.org_id),
        roles=[ROLE_LABELS[r] for r in invitation_roles(found)],
    )


@bp.route("/invitation/<path:token>", methods=["GET", "POST"])
@public
def old_invitation_link(token: str) -> tuple[str, int]:
    """A link of the old form, with the token in the path: such links were written to access
    logs, so they no longer open anything (migration 0022 retired them). The token is not
    even looked at; the page says to use a newer link or ask for a new invitation."""
    del token  # never read, never compared
    return _invitation_link_refused()


def _invitation_link_refused() -> tuple[str, int]:
    return render_template("staff/invitation_unavailable.html", old_form=True), 410


@bp.post("/invitations/<int:invitation_id>/accept")
def join(invitation_id: int) -> Response | tuple[str, int]:
    """Someone already signed in accepts an invitation to their own address (start page)."""
    staff = signed_in()
    form = JoinForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        needs_key = join_with_account(db(), runtime().clock, staff.user.id, invitation_id)
    except InvitationUnavailable:
        # Withdrawn or expired meanwhile, or not to this account: one answer for all.
        return render_template("staff/invitation_unavailable.html", old_form=False), 409
    if needs_key:
        # The key pair is made from the password, at sign-in (whistle/staff/auth.py).
        record_sign_out(db(), runtime().clock, staff.user)
        staff_session.end()
        return redirect(url_for("staff.sign_in", joined=1), code=303)
    return redirect(url_for("staff.home", joined=1), code=303)


def _invitation_unavailable() -> tuple[str, int]:
    """A used, withdrawn, expired or mistyped invitation: why, and what to do."""
    return render_template("staff/invitation_unavailable.html", old_form=False), 404


NAME_SEEN_BY_REPORTERS = _l(
    "As colleagues know you. Reporters see it too: the report form lists the handlers and "
    "unit leads by name, so that a reporter can keep someone out of their case."
)
NAME_NOT_SEEN_BY_REPORTERS = _l(
    "As colleagues know you. Reporters do not see it (they see the names of handlers and unit "
    "leads only, so that they can keep someone out of their case)."
)


def _name_seen_by(roles: list[Role]) -> object:
    """What the invitation page says about who sees the name: reporters see handlers' and
    leads' names on the report form and in the mailbox (to keep one out of their case),
    never counsel's, auditors' or administrators'."""
    if {Role.HANDLER, Role.LEAD} & set(roles):
        return NAME_SEEN_BY_REPORTERS
    return NAME_NOT_SEEN_BY_REPORTERS
