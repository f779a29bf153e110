"""Forms of the staff sign-in and account pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

REQUIRED = _l("This field is required.")


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


class AcceptInvitationForm(FlaskForm):
    display_name = StringField(
        _l("Your name"),
        validators=[Length(max=200)],
        description=_l("As colleagues know you. Reporters never see it."),
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED)],
        description=_l("At least 12 characters. A few unrelated words make a good password."),
    )
    confirm = PasswordField(_l("Repeat the password"))
