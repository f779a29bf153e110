"""Names a person reads for the reporter's relation to the organisation: the report form,
the receipt and the admin console (a leaf)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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
