"""Names a person reads for the values every feature shares: staff roles, a case's outcome,
scope and hearing, the reporter's relation to the organisation.

A leaf (it imports only the models' enums and the translation layer), so pages, commands and
the counsel PDF alike take their labels from here. A feature's own labels live in its
package's ``labels.py`` (whistle/rights/labels.py, whistle/audit/labels.py).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from whistle.core.models import CaseOutcome, Role

OUTCOME_LABELS = {
    CaseOutcome.SUBSTANTIATED: _l("Substantiated"),
    CaseOutcome.NOT_SUBSTANTIATED: _l("Not substantiated"),
    CaseOutcome.OUTSIDE_SCOPE: _l("Outside the scope of the scheme (§ 12(3))"),
    CaseOutcome.KNOWINGLY_FALSE: _l("Knowingly false report"),
    CaseOutcome.REFERRED: _l("Referred to a public authority"),
}


SCOPE_LABELS = {
    "in_scope": _l("Within the scope of the scheme"),
    "outside_scope": _l("Outside the scope of the scheme"),
}


HEARING_LABELS = {
    "held": _l("The person concerned has been heard"),
    "not_needed": _l("No hearing is needed"),
}


ROLE_LABELS = {
    Role.HANDLER: _l("Case handler"),
    Role.LEAD: _l("Unit lead"),
    Role.COUNSEL: _l("Legal counsel"),
    Role.AUDITOR: _l("Auditor"),
    Role.ADMIN: _l("Administrator"),
}


RELATION_LABELS = (
    ("employee", _l("Employee")),
    ("former-employee", _l("Former employee")),
    ("applicant", _l("Job applicant")),
    ("self-employed", _l("Self-employed, consultant or freelancer")),
    ("shareholder-board", _l("Shareholder, board or management member")),
    ("volunteer-trainee", _l("Volunteer or trainee")),
    ("contractor-supplier", _l("Working for a contractor or supplier")),
    ("other", _l("Other")),
)


STATUS_LABELS = {
    "new": _l("New, not yet acknowledged"),
    "open": _l("Open, under follow-up"),
    "closed": _l("Closed"),
}


CHANNEL_LABELS = {
    "web": _l("Online reporting channel"),
    "phone": _l("Telephone"),
    "meeting": _l("Meeting"),
    "letter": _l("Letter"),
}


AUTHOR_LABELS = {
    "reporter": _l("The reporter"),
    "handler": _l("The whistleblower unit"),
}


MESSAGE_KIND_LABELS = {
    "message": _l("Message"),
    "question": _l("Question"),
    "acknowledgement": _l("Acknowledgement of receipt"),
    "interim_feedback": _l("Interim feedback"),
    "final_outcome": _l("Final outcome"),
    "consent_request": _l("Request for consent to disclose the identity"),
    "disclosure_notice": _l("Notice of disclosure of the identity"),
}


NOTE_KIND_LABELS = {
    "note": _l("Internal note"),
    "statement": _l("Statement of a person concerned"),
    "minutes": _l("Minutes of a meeting"),
}
