"""Names a person reads for the audit log's actions: the audit pages and the counsel case
file's PDF (a leaf), and the words for an entry's details."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date

from flask_babel import lazy_gettext as _l

from whistle.core import dates
from whistle.core.labels import (
    HEARING_LABELS,
    OUTCOME_LABELS,
    ROLE_LABELS,
    SCOPE_LABELS,
    preset_label,
    retention_rule_label,
)

ACTION_NAMES = {
    "case.received": _l("Report received"),
    "case.opened": _l("Case opened"),
    "case.acknowledged": _l("Receipt acknowledged"),
    "case.message_sent": _l("Message sent to the reporter"),
    "case.interim_feedback": _l("Interim feedback given"),
    "case.final_outcome": _l("Final outcome given"),
    "case.note_added": _l("Internal note added"),
    "case.scope_assessed": _l("Scope assessed"),
    "case.hearing_recorded": _l("Hearing recorded"),
    "case.closed": _l("Case closed"),
    "case.hold_placed": _l("Legal hold placed"),
    "case.hold_lifted": _l("Legal hold lifted"),
    "case.deleted": _l("Case deleted (retention)"),
    "case.item_purged": _l("Item removed as irrelevant"),
    "case.keys_renewed": _l("Case keys renewed (someone left the case)"),
    "case.handler_excluded": _l("Handler kept out of the case"),
    "case.reporter_key_pair": _l("Reporter's key pair created"),
    "rights.keys_renewed": _l("Request key renewed (someone left)"),
    "settings.retention_changed": _l("Retention preset changed"),
    "case.statement_added": _l("Statement of a person concerned added"),
    "person.added": _l("Person concerned recorded"),
    "person.notified": _l("Person concerned told"),
    "person.notice_deferred": _l("Notice to a person concerned deferred"),
    "rights.registered": _l("Data-subject request registered"),
    "rights.extended": _l("Request deadline extended"),
    "rights.case_linked": _l("Case linked to a request"),
    "rights.case_unlinked": _l("Case unlinked from a request"),
    "rights.item_restricted": _l("Item restricted"),
    "rights.redactions_set": _l("Redactions set"),
    "rights.decided": _l("Request decided"),
    "rights.answered": _l("Request answered"),
    "rights.export_released": _l("Access export released"),
    "case.exported": _l("Case file exported for counsel"),
    "export.read": _l("Case file read by counsel in the browser"),
    "export.downloaded": _l("Case file downloaded by counsel"),
    "user.key_file_downloaded": _l("Key file downloaded"),
    "case.file_downloaded": _l("File downloaded"),
    "case.access_granted": _l("Access given to a colleague"),
    "case.recused": _l("Stepped aside from the case"),
    "case.assigned": _l("Case assigned"),
    "case.recovered": _l("Access restored with the recovery key"),
    "case.removed_incomplete": _l("Half-stored case removed by the consistency check"),
    "store.repaired": _l("File store repaired by the consistency check"),
    "keystore.repaired": _l("Key store repaired by the consistency check"),
    "identity.revealed": _l("Reporter's identity revealed"),
    "identity.disclosure_requested": _l("Disclosure of the reporter's identity started"),
    "identity.disclosure_approved": _l("Disclosure without notice approved"),
    "identity.disclosure_refused": _l("Disclosure without notice not approved"),
    "identity.disclosure_withdrawn": _l("Disclosure of the identity withdrawn"),
    "identity.consent_given": _l("Reporter consented to the disclosure"),
    "identity.consent_refused": _l("Reporter did not consent to the disclosure"),
    "identity.disclosed": _l("Reporter's identity disclosed to counsel"),
    "identity.handed_over": _l("Reporter's identity handed over to a public authority"),
    "identity.disclosure_withdrawn_old_rule": _l(
        "Disclosure to counsel on a legal ground withdrawn: no longer allowed"
    ),
    "meeting.opened": _l("Meeting opened"),
    "meeting.held": _l("Meeting recorded as held"),
    "meeting.cancelled": _l("Meeting cancelled"),
    "meeting.minutes_written": _l("Minutes written"),
    "user.signed_in": _l("Signed in"),
    "user.signed_out": _l("Signed out"),
    "user.sign_in_failed": _l("Failed sign-in attempt"),
    "user.two_step_enrolled": _l("Two-step sign-in set up"),
    "user.confidentiality_accepted": _l("Duty of confidentiality accepted"),
    "user.password_changed": _l("Password changed"),
    "user.invited": _l("Person invited"),
    "user.invitation_accepted": _l("Invitation accepted"),
    "user.invitation_withdrawn": _l("Invitation withdrawn"),
    "user.roles_changed": _l("Roles changed"),
    "user.deactivated": _l("Account deactivated"),
    "user.reactivated": _l("Account reactivated"),
    "user.removed": _l("Person removed from the organisation"),
    "user.two_step_reset": _l("Two-step sign-in reset"),
    "settings.profile_changed": _l("Organisation profile changed"),
    "settings.logo_changed": _l("Logo changed"),
    "settings.logo_removed": _l("Logo removed"),
    "settings.accent_changed": _l("Organisation colour changed"),
    "settings.text_changed": _l("Reporting page text changed"),
    "settings.category_added": _l("Category added"),
    "settings.category_renamed": _l("Category renamed"),
    "settings.category_moved": _l("Category moved"),
    "settings.category_deactivated": _l("Category deactivated"),
    "settings.category_reactivated": _l("Category offered again"),
    "settings.category_deleted": _l("Category deleted"),
    "settings.anonymous_changed": _l("Anonymous reports setting changed"),
    "settings.reporters_changed": _l("Who can report changed"),
    "settings.uploads_changed": _l("Upload limits changed"),
    "settings.mail_changed": _l("Mail server changed"),
    "settings.mail_reset": _l("Mail server set back to the config file"),
    "settings.mail_tested": _l("Test mail sent"),
    "key.certified": _l("Key certified by a unit lead"),
    "key.first_lead_trusted": _l("First unit lead's key trusted on first use"),
    "key.certified_at_upgrade": _l("Existing keys certified at the upgrade (trust on first use)"),
    "key.key_mismatch": _l("Sign-in refused: the key did not match the stored public key"),
    "key.pins_mismatch": _l("Organisation keys do not match the pins: report refused"),
    "key.warning_dismissed": _l("Key warning dismissed by a unit lead"),
    "key.certified_with_recovery": _l("Key certified with the recovery key (offline)"),
}


# --- The details of an entry, as words -------------------------------------------------------
# An entry's ``detail`` is canonical JSON of short identifiers, numbers and booleans
# (whistle/core/audit.py). A person reads each as "Step: password", "Paused: yes": a label per
# known key, and per known value; an unknown key or value is shown as it is, never as JSON.

DETAIL_NAMES = {
    "accepted": _l("Accepted"),
    "added": _l("Roles added"),
    "assignee": _l("Assigned to"),
    "authority_note": _l("Internal note on the authority"),
    "basis": _l("Basis"),
    "by": _l("By"),
    "bytes": _l("Size in bytes"),
    "case": _l("Case"),
    "cases": _l("Cases"),
    "category": _l("Category"),
    "certifications": _l("Certifications"),
    "counsel": _l("Legal counsel"),
    "decision": _l("Decision"),
    "default": _l("Back to the standard text"),
    "delete_on": _l("To be deleted on"),
    "departed": _l("People who left"),
    "disclosure": _l("Disclosure"),
    "epoch": _l("Key generation"),
    "export": _l("Case file"),
    "file_mb": _l("Largest file (MB)"),
    "files": _l("Files"),
    "grantee": _l("Given to"),
    "ground": _l("Ground"),
    "hearing": _l("Hearing"),
    "height": _l("Height (pixels)"),
    "id": _l("Number"),
    "identity": _l("With the reporter's identity"),
    "invitation": _l("Invitation"),
    "item": _l("Item"),
    "keys": _l("Keys"),
    "kind": _l("Kind"),
    "late": _l("Late"),
    "leads": _l("Unit leads"),
    "locale": _l("Language"),
    "login": _l("Signs in to the mail server"),
    "meeting": _l("Meeting"),
    "new_password": _l("New password"),
    "note": _l("Internal note"),
    "notes": _l("With internal notes"),
    "notice": _l("Reporter told first"),
    "on": _l("On"),
    "orphans": _l("Leftovers removed"),
    "outcome": _l("Outcome"),
    "part": _l("Part"),
    "partials": _l("Half-written files removed"),
    "paused": _l("Paused"),
    "pending": _l("Pending"),
    "pending_dropped": _l("Pending dropped"),
    "person": _l("Person concerned"),
    "port": _l("Port"),
    "preset": _l("Retention"),
    "reason": _l("Reason"),
    "recipient": _l("Recipient"),
    "register": _l("Register entry"),
    "removed": _l("Roles removed"),
    "renamed": _l("Renamed"),
    "report": _l("Report"),
    "request": _l("Request"),
    "review_on": _l("Review on"),
    "roles": _l("Roles"),
    "rule": _l("Retention"),
    "scope": _l("Scope"),
    "security": _l("Connection security"),
    "sent": _l("Sent"),
    "sessions": _l("Sessions ended"),
    "step": _l("Step"),
    "text": _l("Text"),
    "total_mb": _l("All files of a report (MB)"),
    "until": _l("Until"),
    "user": _l("Person"),
    "warning": _l("Warning"),
    "width": _l("Width (pixels)"),
}

# Values that are identifiers, in words (shared across keys: "kind" is a message's kind, a
# key warning's or a data-subject request's; "reason" is why someone left a case).
DETAIL_VALUES = {
    "password": _l("password"),
    "code": _l("two-step code"),
    "reporter": _l("the reporter"),
    "lead": _l("a unit lead"),
    "recused": _l("stepped aside"),
    "excluded": _l("kept out"),
    "role_removed": _l("role removed"),
    "deactivated": _l("account deactivated"),
    "reporter_key_pair": _l("the reporter's key pair"),
    "case_linked": _l("case linked"),
    "message": _l("message"),
    "question": _l("question"),
    "acknowledgement": _l("acknowledgement of receipt"),
    "interim_feedback": _l("interim feedback"),
    "final_outcome": _l("final outcome"),
    "file": _l("file"),
    "key_mismatch": _l("a staff key did not match"),
    "pins_mismatch": _l("the organisation's keys did not match"),
    "access": _l("access"),
    "rectification": _l("rectification"),
    "erasure": _l("erasure"),
    "restriction": _l("restriction"),
    "objection": _l("objection"),
    "granted": _l("granted"),
    "partly_granted": _l("partly granted"),
    "refused": _l("refused"),
    "consent": _l("the reporter's consent"),
    "authority": _l("necessary to counter violations"),
    "defence": _l("rights of defence"),
    "pdf": _l("PDF"),
    "bundle": _l("bundle"),
    "starttls": _l("STARTTLS"),
    "tls": _l("TLS"),
    "how_it_works": _l("How reporting works"),
    "who_handles": _l("Who handles reports"),
    "report_internally": _l("Why report internally"),
    "external_channel": _l("External reporting"),
    "protection": _l("Protection"),
    "privacy": _l("Privacy"),
}

LANGUAGES = {"da": "Dansk", "en": "English"}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

_PEOPLE = frozenset({"user", "grantee", "assignee", "counsel"})
_ROLE_LISTS = frozenset({"roles", "added", "removed"})
_ROLE_NAMES = {role.value: label for role, label in ROLE_LABELS.items()}
_OUTCOME_NAMES = {outcome.value: label for outcome, label in OUTCOME_LABELS.items()}


def _value_words(key: str, value: object, people: Mapping[int, str], locale: str) -> str:
    if value is None or value == "":
        return str(_l("none"))
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, int):
        return people.get(value, str(value)) if key in _PEOPLE else str(value)
    text = str(value)
    if key in _ROLE_LISTS:
        roles = [str(_ROLE_NAMES.get(r, r)) for r in text.split(":")]
        return ", ".join(roles)
    if key == "outcome" and text in _OUTCOME_NAMES:
        return str(_OUTCOME_NAMES[text])
    if key == "scope" and text in SCOPE_LABELS:
        return str(SCOPE_LABELS[text])
    if key == "hearing" and text in HEARING_LABELS:
        return str(HEARING_LABELS[text])
    if key == "rule":
        return retention_rule_label(text)
    if key == "preset":
        return preset_label(text)
    if key == "locale":
        return LANGUAGES.get(text, text)
    if ISO_DAY.fullmatch(text):
        return dates.day(date.fromisoformat(text), locale)
    return str(DETAIL_VALUES.get(text, text))


def detail_words(detail: str, people: Mapping[int, str], locale: str) -> list[tuple[str, str]]:
    """An entry's details as (label, value) pairs in ``locale``'s words; a detail that is not
    a JSON object is one pair with an empty label."""
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return [("", detail)]
    if not isinstance(data, dict):
        return [("", str(data))]
    known = {k: v for k, v in data.items() if k in DETAIL_NAMES}
    ordered = [*known, *sorted(k for k in data if k not in DETAIL_NAMES)]
    return [
        (
            str(DETAIL_NAMES.get(key, key.replace("_", " ").capitalize())),
            _value_words(key, data[key], people, locale),
        )
        for key in ordered
    ]


def people_in(detail: str) -> set[int]:
    """The staff members an entry's details name by number (to show their names)."""
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return set()
    if not isinstance(data, dict):
        return set()
    return {v for k, v in data.items() if k in _PEOPLE and isinstance(v, int)}
