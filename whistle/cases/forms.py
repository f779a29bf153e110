"""Forms of the case workspace: one per action, each with its own prefix."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    MultipleFileField,
    RadioField,
    SelectField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from whistle.casefile.content import MAX_TEXT
from whistle.core.labels import HEARING_LABELS, OUTCOME_LABELS, SCOPE_LABELS

TEXT = [Length(max=MAX_TEXT)]


class AcknowledgeForm(FlaskForm):
    body = TextAreaField(
        _l("Acknowledgement to the reporter"),
        validators=TEXT,
        description=_l("Sent to the reporter's mailbox. Edit the suggested text as needed."),
    )


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message to the reporter"), validators=TEXT)
    question = BooleanField(_l("This is a question the reporter should answer"))
    attachments = MultipleFileField(_l("Files for the reporter"))


class FeedbackForm(FlaskForm):
    done = TextAreaField(
        _l("What has been done or will be done"),
        validators=TEXT,
        description=_l("The follow-up: investigation, measures, referral."),
    )
    why = TextAreaField(
        _l("Why"),
        validators=TEXT,
        description=_l("The reasons for that follow-up. Feedback must give both."),
    )
    final = BooleanField(_l("This is the final outcome"))


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Internal note"),
        validators=TEXT,
        description=_l("Only the unit sees notes; the reporter never does."),
    )


class ScopeForm(FlaskForm):
    scope = RadioField(
        _l("Scope assessment"),
        choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()],
        validators=[Optional()],
    )
    reason = TextAreaField(_l("Reason"), validators=TEXT)


class HearingForm(FlaskForm):
    hearing = RadioField(
        _l("Hearing of the person concerned"),
        choices=[SelectChoice(k, v) for k, v in HEARING_LABELS.items()],
        validators=[Optional()],
    )
    account = TextAreaField(_l("What was said, or why no hearing is needed"), validators=TEXT)


class CloseForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice("", _l("Choose"))]
        + [SelectChoice(k.value, v) for k, v in OUTCOME_LABELS.items()],
    )
    reason = TextAreaField(_l("Reason for the outcome (internal)"), validators=TEXT)
    referral = TextAreaField(
        _l("Message to the reporter about other channels (only when outside the scope)"),
        validators=TEXT,
        description=_l(
            "For example the national external whistleblower scheme at Datatilsynet "
            "(whistleblower.dk), the police or another authority."
        ),
    )
    keep_until = DateField(
        _l("Keep the case until (where the outcome asks for a date, or to keep it longer)"),
        validators=[Optional()],
        description=_l(
            "For example the end of the disciplinary or legal follow-up. The case is then "
            "deleted; a record without content stays in the register."
        ),
    )


class HoldForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=TEXT,
        description=_l("Kept as an internal note; placing and lifting a hold are logged."),
    )


class PurgeForm(FlaskForm):
    """Remove one message, file or note as manifestly irrelevant (whistle/retention/purge.py); each
    item's form has its own prefix, ``purge-<kind>-<id>``."""

    reason = TextAreaField(
        _l("Why is this manifestly irrelevant to the report?"),
        validators=TEXT,
        description=_l(
            "The content is deleted for good. The reason is kept as an internal note; the "
            "removal is logged."
        ),
    )
    confirm = BooleanField(_l("I understand that this is deleted for good and cannot be undone"))


def purge_prefix(kind: str, item_id: int) -> str:
    return f"purge-{kind}-{item_id}"


class RevealForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you need to see the reporter's identity?"),
        validators=TEXT,
        description=_l("The reason and your name are recorded in the case and the audit log."),
    )


# The choices depend on the case and are filled when the page is drawn; what is posted is
# checked by the domain (whistle/casefile/sharing.py), which knows who may be chosen.
class GrantForm(FlaskForm):
    grantee = SelectField(_l("Colleague"), coerce=str, validate_choice=False)


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Responsible handler"), coerce=str, validate_choice=False)


class RemoveForm(FlaskForm):
    """A unit lead takes the case away from a handler (a conflict of interest found later)."""

    handler = SelectField(_l("Handler to keep out of this case"), coerce=str, validate_choice=False)
    reason = TextAreaField(
        _l("Why"),
        validators=TEXT,
        description=_l(
            "Recorded as an internal note. The case gets new keys without this person, who "
            "can never be given it again."
        ),
    )


class ExportForm(FlaskForm):
    # The choices are the organisation's counsel, filled when the page is drawn; the domain
    # (whistle/counsel/export.py) checks what is posted.
    counsel = SelectField(_l("Legal counsel"), coerce=str, validate_choice=False)
    include_notes = BooleanField(_l("Include the internal notes"))
    include_identity = BooleanField(
        _l("Include the reporter's identity"),
        description=_l("Only with the reporter's consent to its disclosure to this counsel."),
    )


class RecuseForm(FlaskForm):
    """The handler steps aside: a reason and a confirmation, for the keys are destroyed."""

    reason = TextAreaField(
        _l("Why do you step aside?"),
        validators=TEXT,
        description=_l(
            "For example: you know the people involved, or you are concerned by the report. "
            "Kept as an internal note your colleagues read; stepping aside is logged."
        ),
    )
    confirm = BooleanField(
        _l("I understand that my keys to this case are destroyed and that I can no longer read it")
    )


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (taking the case)."""
