"""Forms of the operator's pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from whistle.web.forms import valid_email

REQUIRED = _l("This field is required.")


class NewOrganisationForm(FlaskForm):
    name = StringField(
        _l("The organisation's name"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    slug = StringField(
        _l("Address (optional)"),
        description=_l(
            "The last part of its reporting page's address, for example nordisk-fjer. Left "
            "empty, it is made from the name."
        ),
        validators=[Optional(), Length(max=64)],
    )
    locale = SelectField(
        _l("Language of its pages"),
        choices=[SelectChoice("da", _l("Danish")), SelectChoice("en", _l("English"))],
    )
    admin_email = EmailField(
        _l("Its first administrator's e-mail address"),
        description=_l(
            "They get an invitation, make the organisation's keys and invite the people who "
            "handle its reports."
        ),
        validators=[DataRequired(REQUIRED), valid_email],
    )


class InviteAdminForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), valid_email])


class SuspendForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, close its reporting channel and its staff pages"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class ReactivateForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, open its reporting channel and its staff pages again"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class DeleteForm(FlaskForm):
    confirm = StringField(
        _l("Type the organisation's address to confirm"),
        validators=[DataRequired(REQUIRED), Length(max=64)],
    )


class FrontPageForm(FlaskForm):
    listed = BooleanField(_l("List the organisations on the front page of this service"))
