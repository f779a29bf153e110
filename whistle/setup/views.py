"""First-run setup in the browser, reachable only with the one-time token.

The link ``whistle setup-link`` prints is ``/setup/#<token>``: the token is the fragment,
which browsers never send, so no access log, proxy log or Referer holds it. The page's script
(static/fragment.js) posts it in the form's body, or the person pastes it; an address with a
query string is refused unread, and a link of the old form (the token in the path, as access
logs recorded it) opens nothing.

Without a valid token only the page asking for it opens, and once setup is complete every
request gets a 404: the form is not merely forbidden, it is gone. The 404 page says why and
what to do: sign in once setup is complete, else print a fresh link with
``whistle setup-link``.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from whistle.core.organisations import suggest_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.setup.onboarding import (
    SetupRequest,
    SetupUnavailable,
    check_token,
    complete_setup,
    setup_complete,
)
from whistle.staff.forms import meets_policy
from whistle.web.access import public
from whistle.web.forms import show_refusal, valid_email

bp = Blueprint("setup", __name__, url_prefix="/setup")

REQUIRED = _l("This field is required.")


class SetupCodeForm(FlaskForm):
    token = StringField(
        _l("Set-up code"),
        validators=[DataRequired(REQUIRED), Length(max=100)],
        description=_l(
            "The part of the set-up link after the # sign. Your browser fills it in when you "
            "open the link; if not, copy it from the server's output."
        ),
    )


class SetupForm(FlaskForm):
    # The one-time token again, in the body (never in the address): see SetupCodeForm.
    token = HiddenField(validators=[DataRequired(REQUIRED), Length(max=100)])
    org_name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(REQUIRED), Length(max=200)],
        description=_l("As reporters know it, e.g. the company or municipality name."),
    )
    org_slug = StringField(
        _l("Public address"),
        validators=[Length(max=64)],
        description=_l(
            "The last part of the reporting page's address (/o/...). Lower-case letters, "
            "digits and dashes. Leave empty to derive it from the name."
        ),
    )
    admin_name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    admin_email = EmailField(
        _l("Your e-mail address"), validators=[DataRequired(REQUIRED), valid_email]
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED)],
        description=_l("At least 12 characters. A few unrelated words make a good password."),
    )

    def validate_password(self, field: Field) -> None:
        email = (self.admin_email.data or "").strip().lower()
        meets_policy(
            field,
            email=email,
            name=(self.admin_name.data or "").strip(),
            organisation=(self.org_name.data or "").strip(),
        )

    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )


def link_not_valid(*, old_form: bool = False) -> tuple[str, int]:
    """A used, replaced or mistyped setup link: why it does not open, and the way on."""
    return render_template(
        "setup/link_not_valid.html", done=setup_complete(db()), old_form=old_form
    ), (410 if old_form else 404)


@bp.route("/<path:token>", methods=["GET", "POST"])
@public
def old_setup_link(token: str) -> tuple[str, int]:
    """A link of the old form, the token in its path (and so in access logs): it opens
    nothing, and the token is not even looked at (migration 0022 retired such tokens)."""
    del token  # never read, never compared
    return link_not_valid(old_form=True)


@bp.route("/", methods=["GET", "POST"])
@public
def setup() -> str | tuple[str, int]:
    session = db()
    if request.query_string:
        return link_not_valid(old_form=True)
    if setup_complete(session):
        return link_not_valid()
    if "org_name" not in request.form:
        code_form = SetupCodeForm()
        if not code_form.validate_on_submit():
            status = 400 if code_form.is_submitted() else 200
            return render_template("setup/code.html", form=code_form), status
        token = (code_form.token.data or "").strip()
        try:
            check_token(session, token)
        except SetupUnavailable:
            return link_not_valid()
        form = SetupForm(formdata=None)
        form.token.data = token
        return render_template("setup/setup.html", form=form)
    form = SetupForm()
    token = form.token.data or ""
    try:
        check_token(session, token)
    except SetupUnavailable:
        return link_not_valid()
    if form.validate_on_submit():
        slug = (form.org_slug.data or "").strip().lower() or suggest_slug(form.org_name.data or "")
        try:
            result = complete_setup(
                session,
                runtime().clock,
                token,
                SetupRequest(
                    org_name=form.org_name.data or "",
                    org_slug=slug,
                    admin_name=form.admin_name.data or "",
                    admin_email=form.admin_email.data or "",
                    password=form.password.data or "",
                    locale=str(get_locale() or "da"),
                ),
                instance_key=runtime().settings.instance_key,
                argon2=runtime().argon2,
            )
        except Refused as exc:
            show_refusal(form, exc)
        except SetupUnavailable:
            return link_not_valid()
        else:
            return render_template(
                "setup/done.html",
                organisation=result.organisation,
                recovery_key_text=result.recovery_key_text,
                public_url=url_for(
                    "reporting.start", slug=result.organisation.slug, _external=True
                ),
            )
    return render_template("setup/setup.html", form=form)
