"""Forms of the staff sign-in and account pages."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from whistle.staff.passwords import policy_problems

REQUIRED = _l("This field is required.")


def meets_policy(
    field: Field, *, email: str, name: str, organisation: str | Sequence[str] = ""
) -> None:
    """The body of a password field's inline validator: every problem of the password at
    once, beside the form's other errors (the domain checks the policy again)."""
    problems = policy_problems(field.data or "", email=email, name=name, organisation=organisation)
    if problems:
        field.errors.extend(problems[:-1])
        raise ValidationError(problems[-1])


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        description=_l("Six digits. A new code appears every 30 seconds."),
    )


class ConfidentialityForm(FlaskForm):
    accept = BooleanField(
        _l(
            "I will keep the identity of reporters, of persons concerned and of anyone named "
            "in a report confidential, and use what I learn only to handle the report."
        ),
        validators=[DataRequired(_l("You must accept the duty of confidentiality to go on."))],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(REQUIRED)],
        description=_l("At least 12 characters. A few unrelated words make a good password."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("new", message=_l("The two passwords are not the same.")),
        ],
    )
    # Whose password it is (set by the view): the policy refuses one containing their name.
    owner_email = ""
    owner_name = ""
    owner_organisations: Sequence[str] = ()

    def validate_new(self, field: Field) -> None:
        meets_policy(
            field,
            email=self.owner_email,
            name=self.owner_name,
            organisation=self.owner_organisations,
        )


class InvitationCodeForm(FlaskForm):
    """The invitation's secret, posted in the body: the link carries it after ``#``, which
    the browser never sends; the page's script moves it here (whistle/static/fragment.js), or
    the person pastes it."""

    token = StringField(
        _l("Invitation code"),
        validators=[DataRequired(REQUIRED), Length(max=100)],
        description=_l(
            "The part of the invitation link after the # sign. Your browser fills it in when "
            "you open the link; if not, copy it from the e-mail or message."
        ),
    )


class AcceptInvitationForm(FlaskForm):
    # The invitation's secret again, in the body (never in the address): see InvitationCodeForm.
    token = HiddenField(validators=[DataRequired(REQUIRED), Length(max=100)])
    display_name = StringField(
        _l("Your name"),
        validators=[Length(max=200)],
        description=_l("As colleagues know you."),
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED)],
        description=_l("At least 12 characters. A few unrelated words make a good password."),
    )
    confirm = PasswordField(_l("Repeat the password"))
    # Set by the view: the invited address (the policy refuses a password containing it).
    invited_email = ""
    organisation_name = ""

    def validate_password(self, field: Field) -> None:
        meets_policy(
            field,
            email=self.invited_email,
            name=self.display_name.data or "",
            organisation=self.organisation_name,
        )

    def validate_confirm(self, field: Field) -> None:
        if field.data != self.password.data:
            raise ValidationError(_l("The two passwords are not the same."))


class JoinForm(FlaskForm):
    """Accepting an invitation from one's own start page (CSRF only)."""
