"""The reporter's forms. Every label and help text is translatable and plain-spoken."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from whistle.meetings.minutes import MAX_MINUTES_LENGTH
from whistle.web.forms import valid_email

REQUIRED = _l("This field is required.")
LONG_TEXT = 20_000


def optional_email(form: FlaskForm, field: EmailField) -> None:
    if field.data:
        valid_email(form, field)


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A group of boxes: the label names the group, it is for no single control (as
        # WTForms does for radio buttons; valid HTML, tests/browser/test_markup.py).
        self.label.field_id = False


def _category_id(value: object) -> int:
    """The chosen category's id; 0 for the empty "Choose…" placeholder (refused as missing)."""
    return int(value) if value not in ("", None) else 0  # type: ignore[call-overload]


class ReportForm(FlaskForm):
    category = SelectField(
        _l("What is your report about?"),
        coerce=_category_id,
        validators=[DataRequired(_l("Choose a category. If unsure, choose “Not sure”."))],
        description=_l("Choose the closest match. “Not sure” is always fine."),
    )
    relation = SelectField(
        _l("Your relation to the organisation (optional)"),
        validators=[Optional()],
        description=_l("This helps us judge whether the whistleblower scheme covers you."),
    )
    what = TextAreaField(
        _l("What happened?"),
        validators=[DataRequired(_l("Describe what happened.")), Length(max=LONG_TEXT)],
        description=_l(
            "Describe the matter as precisely as you can. Do not include more personal "
            "information than needed, and do not write your own name here if you want to "
            "stay anonymous."
        ),
    )
    when_where = TextAreaField(
        _l("When and where did it happen? (optional)"),
        validators=[Length(max=LONG_TEXT)],
    )
    who = TextAreaField(
        _l("Who is involved? (optional)"),
        validators=[Length(max=LONG_TEXT)],
        description=_l("Names, roles or departments of the people involved, and any witnesses."),
    )
    how_known = TextAreaField(
        _l("How do you know about it? (optional)"),
        validators=[Length(max=LONG_TEXT)],
        description=_l(
            "For example: you saw it yourself, someone told you, or you found documents."
        ),
    )
    attachments = MultipleFileField(
        _l("Files (optional)"),
        description=_l(
            "You can choose several files. Hidden information such as the author, the camera "
            "or the location is removed from images, PDF and Office files before they are "
            "stored."
        ),
    )
    identity = RadioField(
        _l("Do you want to give your name?"),
        choices=[
            SelectChoice("anonymous", _l("No, I want to stay anonymous")),
            SelectChoice("named", _l("Yes, I give my name")),
        ],
        default="anonymous",
    )
    name = StringField(
        _l("Your name"),
        validators=[Length(max=200)],
        description=_l("Only if you chose to give your name. It is kept apart from the report."),
    )
    contact = StringField(
        _l("How can we reach you? (optional)"),
        validators=[Length(max=500)],
        description=_l("A phone number or address. Only if you chose to give your name."),
    )
    exclude = CheckboxList(
        _l("Leave these people out of your case (optional)"),
        coerce=int,
        description=_l(
            "If one of the people who handle reports is involved in what you report, tick "
            "them. They will not be able to read your report."
        ),
    )
    meeting = BooleanField(
        _l("I would like to meet in person to tell about this"),
        description=_l("The case handler will contact you through your case page to agree a time."),
    )
    nudge_email = EmailField(
        _l("E-mail for notifications (optional)"),
        validators=[Optional(), optional_email, Length(max=254)],
        description=_l(
            "We will only write “there is news in your case”, never anything about the case. "
            "Use a private address, not your work address, if you want to stay anonymous."
        ),
    )
    # Honeypot: hidden from people by CSS; automated form-fillers tend to fill it.
    website = StringField(_l("Leave this field empty"), validators=[Length(max=200)])
    # One-time: the same form sent twice (Back, then Send) is recognised
    # (whistle/web/submissions.py).
    submission = HiddenField(validators=[Length(max=64)])


class CodeConfirmForm(FlaskForm):
    written_down = BooleanField(
        _l("I have written down or printed my case code"),
        validators=[DataRequired(_l("Tick the box when you have written down your case code."))],
    )


class FollowUpForm(FlaskForm):
    code = StringField(
        _l("Case code"),
        validators=[DataRequired(REQUIRED), Length(max=64)],
        # Codes of format 2 have five groups, older ones four (crypto/case_codes.py).
        description=_l(
            "The code you were given, in groups of four characters, for example "
            "ABCD-EFGH-JKMN-PQRS-TVWX."
        ),
    )


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your message"),
        validators=[Length(max=LONG_TEXT)],
    )
    attachments = MultipleFileField(_l("Add files (optional)"))


class MinutesCorrectionForm(FlaskForm):
    """The reporter's corrected version of the minutes, shown filled with the handler's text.

    Give it ``prefix=minutes_form_prefix(version_uid)``: every version awaiting review has a form
    of its own on the mailbox page, and none may share field names with the reply form.
    """

    body = TextAreaField(
        _l("Your corrected version of the minutes"),
        validators=[
            DataRequired(_l("Write your corrected version of the minutes.")),
            Length(max=MAX_MINUTES_LENGTH),
        ],
        description=_l(
            "Change the text so that it says what was said. The case handler sees your version "
            "next to theirs, and every version is kept."
        ),
        render_kw={"rows": 12},
    )


def minutes_form_prefix(version_uid: str) -> str:
    """The field prefix of the correction form for one version of the minutes."""
    return f"minutes-{version_uid}"


class KeepOutForm(FlaskForm):
    """The reporter keeps a case handler out of their case after sending it (K3)."""

    handler = RadioField(
        _l("Who should be kept out of your case?"),
        coerce=int,
        validate_choice=False,
        description=_l(
            "They will not be able to read anything of your case from now on, and cannot be "
            "given it later."
        ),
    )
