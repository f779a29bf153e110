"""First-run setup in the browser, reachable only with the one-time token.

Every request without a valid token, and every request once setup is complete, gets a 404:
the form is not merely forbidden, it is gone. The 404 page says why and what to do: sign in
once setup is complete, else print a fresh link with ``whistle setup-link``.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, PasswordField, StringField
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


class SetupForm(FlaskForm):
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


def link_not_valid() -> tuple[str, int]:
    """A used, replaced or mistyped setup link: why it does not open, and the way on."""
    return render_template("setup/link_not_valid.html", done=setup_complete(db())), 404


@bp.route("/<token>", methods=["GET", "POST"])
@public
def setup(token: str) -> str | tuple[str, int]:
    session = db()
    try:
        check_token(session, token)
    except SetupUnavailable:
        return link_not_valid()
    form = SetupForm()
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
