"""Forms of the admin console. Labels and messages are translatable and plain-spoken."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from whistle.admin.channel import REPORTER_GROUPS
from whistle.admin.texts import MAX_TEXT, TEXT_KEYS, TOO_LONG
from whistle.core.labels import ROLE_LABELS
from whistle.core.models import CaseOutcome
from whistle.core.settings import LOCALES
from whistle.web.forms import valid_email

REQUIRED = _l("This field is required.")
WHOLE_NUMBER = _l("Give a whole number.")

# The headings reporters see on the start page (templates/reporting/start.html).
TEXT_TITLES = {
    "how_it_works": _l("How the scheme works"),
    "who_handles": _l("Who handles your report"),
    "report_internally": _l("Reporting internally"),
    "external_channel": _l("Reporting externally"),
    "protection": _l("Protection against retaliation"),
    "privacy": _l("Your personal data"),
}
LANGUAGE_NAMES = {"da": _l("Danish"), "en": _l("English")}
# The texts page's short help: what an administrator types, shown next to what reporters see.
MARKDOWN_EXAMPLES = (
    _l("First paragraph.\n\nAn empty line starts a new paragraph."),
    _l("*important* and **very important**"),
    _l("- a point\n- another point"),
    _l("1. first step\n2. second step"),
    _l("[our whistleblower policy](https://example.org/policy)"),
    _l("## A heading"),
)
TEXT_ROWS = 12


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A group of boxes: the label names the group, it is for no single control (as
        # WTForms does for radio buttons; valid HTML, tests/browser/test_markup.py).
        self.label.field_id = False


class EmptyForm(FlaskForm):
    """A button and its CSRF token."""


class RolesForm(FlaskForm):
    roles = CheckboxList(
        _l("Roles"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
    )


class InviteForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(REQUIRED), valid_email, Length(max=254)]
    )
    roles = CheckboxList(
        _l("Roles"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired(_l("Choose at least one role."))],
    )


class DeactivateForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, end this person's access"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class ResetTwoStepForm(FlaskForm):
    confirm = BooleanField(
        _l(
            "I have made sure, in person or by phone, that the person asking is the account's owner"
        ),
        validators=[DataRequired(_l("Confirm that you have checked who is asking."))],
    )


class WithdrawForm(FlaskForm):
    invitation = IntegerField(_l("Invitation"), validators=[InputRequired(REQUIRED)])


class ProfileForm(FlaskForm):
    name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(REQUIRED), Length(max=200)],
        description=_l("As reporters know it. It heads the reporting page and every mail."),
    )
    locale = RadioField(
        _l("Language of mails to staff"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in LOCALES],
        validators=[DataRequired(REQUIRED)],
    )


class AccentForm(FlaskForm):
    accent = StringField(
        _l("Colour"),
        description=_l(
            "A hex code such as #1a6b3c, used for links, buttons and the line above each page. "
            "Leave it empty for Whistle's own blue. A colour too light to read on white is kept "
            "but not used."
        ),
    )


class LogoForm(FlaskForm):
    logo = FileField(
        _l("Logo"),
        description=_l(
            "A PNG or JPEG image of at most 1 MB. It is redrawn at most 600 by 200 pixels, "
            "without any of the file's metadata."
        ),
    )


def texts_form(data: dict[tuple[str, str], str] | None = None) -> FlaskForm:
    """One text area per text and language, named ``<text>_<language>``."""

    class TextsForm(FlaskForm):
        pass

    for key in TEXT_KEYS:
        for locale in LOCALES:
            setattr(
                TextsForm,
                f"{key}_{locale}",
                TextAreaField(
                    _l(
                        "%(title)s (%(language)s)",
                        title=TEXT_TITLES.get(key, key),
                        language=LANGUAGE_NAMES[locale],
                    ),
                    validators=[Length(max=MAX_TEXT, message=TOO_LONG)],
                    render_kw={"rows": TEXT_ROWS},
                ),
            )
    if data is None:
        return TextsForm()
    return TextsForm(formdata=None, data={f"{k}_{loc}": v for (k, loc), v in data.items()})


def text_fields(form: FlaskForm) -> dict[tuple[str, str], str]:
    """What the texts form holds, by (text, language)."""
    return {
        (key, locale): form[f"{key}_{locale}"].data or "" for key in TEXT_KEYS for locale in LOCALES
    }


class CategoryForm(FlaskForm):
    label_da = StringField(
        _l("Name in Danish"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    label_en = StringField(
        _l("Name in English"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )


class MoveForm(FlaskForm):
    direction = SelectField(
        _l("Order"),
        choices=[SelectChoice("up", _l("Move up")), SelectChoice("down", _l("Move down"))],
        validators=[DataRequired(REQUIRED)],
    )


class CategoryStateForm(FlaskForm):
    active = SelectField(
        _l("Offered to reporters"),
        choices=[SelectChoice("1", _l("Offer again")), SelectChoice("0", _l("Deactivate"))],
        validators=[DataRequired(REQUIRED)],
    )


class ChannelForm(FlaskForm):
    anonymous = RadioField(
        _l("Anonymous reports"),
        choices=[
            SelectChoice("yes", _l("Accepted: reporters may leave their name out")),
            SelectChoice("no", _l("Not accepted: reporters must give their name")),
        ],
        validators=[DataRequired(_l("Choose whether anonymous reports are accepted."))],
        description=_l(
            "The Act leaves this to the organisation. Either way, the identity of a named "
            "reporter is known only to the handlers of the case."
        ),
    )
    groups = CheckboxList(
        _l("Who can report"),
        choices=[SelectChoice(code, label) for code, label in REPORTER_GROUPS],
        description=_l("Listed on the reporting page. The Act names all of these groups."),
    )


class UploadsForm(FlaskForm):
    file_mb = IntegerField(_l("Largest file (MB)"), validators=[InputRequired(WHOLE_NUMBER)])
    files = IntegerField(_l("Most files at once"), validators=[InputRequired(WHOLE_NUMBER)])
    total_mb = IntegerField(
        _l("Most in one report or message, all files together (MB)"),
        validators=[InputRequired(WHOLE_NUMBER)],
    )


UNIT_CHOICES = [
    SelectChoice("d", _l("days after the reporter is told the outcome")),
    SelectChoice("m", _l("months after the case is closed")),
    SelectChoice("date", _l("until a date the handler sets at closing")),
]


def retention_form(presets: dict[CaseOutcome, str] | None = None) -> FlaskForm:
    """For each outcome an amount and a unit, named ``<outcome>_amount`` / ``<outcome>_unit``."""

    class RetentionForm(FlaskForm):
        pass

    for outcome in CaseOutcome:
        setattr(
            RetentionForm,
            f"{outcome.value}_amount",
            IntegerField(_l("Days or months"), validators=[Optional()]),
        )
        setattr(
            RetentionForm,
            f"{outcome.value}_unit",
            RadioField(
                _l("Kept"),
                choices=UNIT_CHOICES,
                validators=[DataRequired(_l("Choose how long cases are kept."))],
            ),
        )
    if presets is None:
        return RetentionForm()
    data: dict[str, Any] = {}
    for outcome, value in presets.items():
        unit = "date" if value == "date" else value[-1]
        data[f"{outcome.value}_unit"] = unit
        data[f"{outcome.value}_amount"] = None if unit == "date" else int(value[:-1])
    return RetentionForm(formdata=None, data=data)


def chosen_presets(form: FlaskForm) -> dict[CaseOutcome, str]:
    """The presets the retention form holds, as ``30d``, ``2m`` or ``date`` (an amount that
    is missing stays missing, so the domain refuses it with its message)."""
    chosen = {}
    for outcome in CaseOutcome:
        unit = form[f"{outcome.value}_unit"].data
        amount = form[f"{outcome.value}_amount"].data
        chosen[outcome] = "date" if unit == "date" else f"{'' if amount is None else amount}{unit}"
    return chosen


class MailForm(FlaskForm):
    host = StringField(
        _l("Mail server"),
        validators=[Length(max=253)],
        description=_l(
            "For example smtp.example.org. Leave empty to use the settings in the "
            "installation's config file."
        ),
    )
    port = IntegerField(
        _l("Port"), validators=[Optional()], description=_l("Usually 587 (STARTTLS) or 465 (TLS).")
    )
    security = SelectField(
        _l("Connection"),
        choices=[
            SelectChoice("starttls", _l("STARTTLS (refuses a server without it)")),
            SelectChoice("tls", _l("TLS from the start")),
            SelectChoice("none", _l("Unencrypted (only for a server on the same machine)")),
        ],
    )
    sender = EmailField(
        _l("Sender address"),
        validators=[Length(max=254)],
        description=_l("The address mails come from, for example whistle@example.org."),
    )
    username = StringField(_l("User name"), validators=[Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[Length(max=1000)],
        description=_l("Leave empty to keep the stored password. It is never shown again."),
    )
