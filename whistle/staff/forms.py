"""Forms of the staff sign-in and account pages."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, StringField
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


class AcceptInvitationForm(FlaskForm):
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
    # Set by the view: the invited address, and whether it already has an account (whose
    # password is only checked, not chosen).
    invited_email = ""
    organisation_name = ""
    existing = False

    def validate_password(self, field: Field) -> None:
        if not self.existing:
            meets_policy(
                field,
                email=self.invited_email,
                name=self.display_name.data or "",
                organisation=self.organisation_name,
            )

    def validate_confirm(self, field: Field) -> None:
        if not self.existing and field.data != self.password.data:
            raise ValidationError(_l("The two passwords are not the same."))
