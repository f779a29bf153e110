"""Names a person reads for a case's outcome, scope and hearing: shared by the case pages,
the admin record, the registers and the counsel PDF (a leaf: it imports only core)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from whistle.core.models import CaseOutcome

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
