"""Names a person reads for data-subject requests: their kinds, decisions, legal bases, places,
notes and items; shared by the rights pages and the registers (a leaf: it imports only the
requests' kinds)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from whistle.rights import requests

KIND_LABELS = {
    requests.Kind.ACCESS: _l("Access (see the data, art. 15)"),
    requests.Kind.RECTIFICATION: _l("Rectification (art. 16)"),
    requests.Kind.ERASURE: _l("Erasure (art. 17)"),
    requests.Kind.RESTRICTION: _l("Restriction of processing (art. 18)"),
    requests.Kind.OBJECTION: _l("Objection (art. 21)"),
}


DECISION_LABELS = {
    requests.Decision.GRANTED: _l("Granted"),
    requests.Decision.PARTLY_GRANTED: _l("Partly granted"),
    requests.Decision.REFUSED: _l("Refused"),
}


BASIS_LABELS = {
    "gdpr_15": _l("GDPR art. 15: access given"),
    "gdpr_16": _l("GDPR art. 16: rectification by the person's statement"),
    "gdpr_17": _l("GDPR art. 17(1): erasure"),
    "gdpr_17_3": _l("GDPR art. 17(3): needed for legal claims or a legal obligation"),
    "gdpr_18": _l("GDPR art. 18: restriction"),
    "gdpr_21": _l("GDPR art. 21: objection weighed against compelling legitimate grounds"),
    "gdpr_12_5": _l("GDPR art. 12(5): manifestly unfounded or excessive"),
    "dpa_22": _l("Data Protection Act § 22: limited to protect the reporter or the investigation"),
    "act_22": _l("Whistleblower Act § 22: needed to handle the report"),
}


PLACE_LABELS = {
    "report": _l("the report"),
    "message": _l("the conversation"),
    "note": _l("internal notes"),
}


NOTE_LABELS = {
    "assessment": _l("Assessment"),
    "extension": _l("Extension, reasons"),
    "redactions": _l("Texts to blank out"),
    "statement": _l("The person's statement"),
}


ITEM_LABELS = {
    "what": _l("What happened"),
    "when_where": _l("When and where"),
    "who": _l("Who is involved"),
    "how_known": _l("How the reporter knows"),
}
