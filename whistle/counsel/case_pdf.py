"""The readable PDF in counsel's case file: the case document (whistle/counsel/case_document.py)
rendered in the organisation's language, with the words it needs (:func:`pdf_labels`).
"""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from whistle.pdf.process import render_pdf


def pdf_labels(locale: str) -> dict[str, str]:
    """The words of the PDF in ``locale`` (the organisation's language), for the renderer."""
    from whistle.audit.labels import ACTION_NAMES
    from whistle.core.labels import HEARING_LABELS, OUTCOME_LABELS, SCOPE_LABELS

    with force_locale(locale):
        words: dict[str, object] = {
            "case": _l("Case"),
            "report": _l("The report"),
            "conversation": _l("Conversation with the reporter"),
            "notes": _l("Internal notes"),
            "timeline": _l("Case history"),
            "file": _l("File"),
            "restricted": _l("Restricted items left out"),
            "purged": _l("Removed items left out"),
            "reporter": _l("Reporter"),
            "handler": _l("Unit"),
            "received_on": _l("Received"),
            "category": _l("Category"),
            "channel": _l("Channel"),
            "anonymous": _l("Anonymous"),
            "status": _l("Status"),
            "scope": _l("Scope"),
            "hearing": _l("Hearing"),
            "outcome": _l("Outcome"),
            "acknowledge_due": _l("Acknowledgement due"),
            "acknowledged_on": _l("Acknowledged"),
            "feedback_due": _l("Feedback due"),
            "feedback_on": _l("Feedback given"),
            "closed_on": _l("Closed"),
            "delete_on": _l("To be deleted on"),
            "retention_rule": _l("Rule"),
            "legal_hold_since": _l("Legal hold since"),
            "relation": _l("Relation to the organisation"),
            "what": _l("What happened"),
            "when_where": _l("When and where"),
            "who": _l("Who is involved"),
            "how_known": _l("How the reporter knows"),
            "meeting_requested": _l("asked for a meeting"),
            "identity": _l("The reporter's identity (disclosed)"),
            "identity_name": _l("Name"),
            "identity_contact": _l("Contact details"),
            "ground": _l("Ground"),
            "ground_consent": _l("The reporter's explicit consent"),
            "ground_authority": _l("Required by a public authority to counter violations"),
            "ground_defence": _l("Required to secure the rights of defence"),
            "notice": _l("Notice to the reporter"),
            "notice_consent": _l("Asked for consent, with the reasons"),
            "notice_sent": _l("Told beforehand, with the reasons"),
            "notice_withheld": _l("Not told: it would jeopardise the investigation"),
            "approved_by": _l("Approved by"),
            "message": _l("Message"),
            "question": _l("Question"),
            "acknowledgement": _l("Acknowledgement of receipt"),
            "interim_feedback": _l("Interim feedback"),
            "final_outcome": _l("Final outcome"),
            "consent_request": _l("Request for consent to disclose the identity"),
            "disclosure_notice": _l("Notice of disclosure of the identity"),
            **{k.value: v for k, v in OUTCOME_LABELS.items()},
            **SCOPE_LABELS,
            **HEARING_LABELS,
            **ACTION_NAMES,
        }
        return {key: str(value) for key, value in words.items()}


def case_pdf(document: dict[str, Any], labels: dict[str, str]) -> bytes:
    """A readable PDF of the case document (:func:`render_pdf`)."""
    return render_pdf({"document": document, "labels": labels})
