"""What each ciphertext is bound to, in one place: every context Whistle passes to crypto/.

A context is authenticated with the ciphertext (crypto/), so a blob copied to another case,
another record or another field fails to open instead of showing the wrong text. Records of
format 2 (whistle/casefile/records.py) also bind the clear columns a reader trusts, so editing
them makes the record fail to open rather than say something else.

Here, in this order: a case's report, identity, messages, notes and files; persons concerned
and exclusions; data-subject requests; the outbox; a case's stored key rows; the vault of
sessions; the organisation's keys; meeting minutes; case files for counsel; a staff member's
TOTP secret; the SMTP password; the upload spool. The known-answer vectors of
tests/app_vectors/ pin them, and a test fails when a module outside this one passes a literal
context to crypto/.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol


class _MessageLike(Protocol):
    uid: str
    author: str
    kind: str
    sent_on: date
    format: int


class _NoteLike(Protocol):
    uid: str
    kind: str
    author_user_id: int | None
    created_on: date
    format: int


def report_context(case_uid: str) -> tuple[str, str]:
    return ("report", case_uid)


def identity_context(case_uid: str) -> tuple[str, str]:
    return ("identity", case_uid)


def nudge_context(case_uid: str) -> tuple[str, str]:
    return ("nudge-address", case_uid)


def message_context(case_uid: str, message: _MessageLike) -> tuple[str, ...]:
    """Format 1: the case and the message's uid. Format 2: also its author, kind and day."""
    if message.format == 1:
        return ("message", case_uid, message.uid)
    return (
        "message",
        case_uid,
        message.uid,
        message.author,
        message.kind,
        message.sent_on.isoformat(),
    )


def note_context(case_uid: str, note: _NoteLike) -> tuple[str, ...]:
    """Format 1: the case and the note's uid. Format 2: also its kind, author and day."""
    if note.format == 1:
        return ("note", case_uid, note.uid)
    return (
        "note",
        case_uid,
        note.uid,
        note.kind,
        str(note.author_user_id or 0),
        note.created_on.isoformat(),
    )


def attachment_context(
    case_uid: str, storage_name: str, fmt: int = 1, author: str = "", owner: str = ""
) -> tuple[str, ...]:
    """A stored file's stream. Format 2 also binds its author and the message (or "report")
    it came with."""
    if fmt == 1:
        return ("attachment", case_uid, storage_name)
    return ("attachment", case_uid, storage_name, author, owner)


def file_key_context(case_uid: str, storage_name: str) -> tuple[str, str, str]:
    """The derivation of a stored file's own key (stream and name) from the case key and the
    file's item key (whistle/casefile/records.py)."""
    return ("file", case_uid, storage_name)


def attachment_name_context(
    case_uid: str, storage_name: str, fmt: int = 1, author: str = "", owner: str = ""
) -> tuple[str, ...]:
    if fmt == 1:
        return ("attachment-name", case_uid, storage_name)
    return ("attachment-name", case_uid, storage_name, author, owner)


def person_context(case_uid: str, person_uid: str) -> tuple[str, str, str]:
    """A person concerned's label (under the notes key)."""
    return ("person-concerned", case_uid, person_uid)


def exclusion_context(case_uid: str, exclusion_uid: str) -> tuple[str, str, str]:
    """An exclusion after intake (under the content key: the reporter reads their own)."""
    return ("exclusion", case_uid, exclusion_uid)


def rights_request_context(uid: str) -> str:
    """What the request key, sealed to a person, is bound to (with its epoch)."""
    return f"rights-request:{uid}"


def rights_subject_context(uid: str) -> tuple[str, str]:
    return ("rights-subject", uid)


def rights_note_context(uid: str, note_uid: str) -> tuple[str, str, str]:
    return ("rights-note", uid, note_uid)


def outbox_address_context(org_id: int) -> tuple[str, str]:
    """What a sealed nudge address is bound to: the outbox's purpose and the organisation."""
    return ("outbox-nudge-address", str(org_id))


def case_key_row_context(case_uid: str) -> tuple[str, str]:
    return ("case-key-row", case_uid)


def reporter_key_row_context(case_uid: str) -> tuple[str, str]:
    return ("reporter-key-row", case_uid)


def vault_context(kind: str, token_hash: bytes) -> tuple[str, str, bytes]:
    return ("web-session", kind, token_hash)


def org_signing_context(org_id: int) -> tuple[str, int]:
    return ("org-signing-key", org_id)


def certification_signing_context(org_id: int, org_key_id: int) -> tuple[str, int, int]:
    """What the certification signing key's encryption is bound to."""
    return ("org-certification-key", org_id, org_key_id)


def certification_copy_context(org_id: int, org_key_id: int) -> str:
    """The HPKE context of a sealed copy of the certification wrapping key (never a case's:
    case ids are UUIDs)."""
    return f"certification-key/{org_id}/{org_key_id}"


def certification_bootstrap_context(org_id: int, org_key_id: int) -> tuple[str, int, int]:
    """What the bootstrap copy (under the instance key) of the wrapping key is bound to."""
    return ("org-certification-bootstrap", org_id, org_key_id)


SMTP_PASSWORD_CONTEXT = ("smtp-password",)


UPLOAD_SPOOL_CONTEXT = ("upload-spool",)
# A file the upload helper stripped, in a temporary file until the case's store takes it, under
# a fresh key per file (whistle/casefile/sandbox.py).
UPLOAD_CLEANED_CONTEXT = ("upload-cleaned",)


def minutes_context(
    case_uid: str, meeting_uid: str, minutes_uid: str, version: int, author: str
) -> tuple[str, str, str, str, int, str]:
    """What one version of the minutes is bound to.

    Beyond the case and the version's own uid (so a blob copied to another row fails to
    open), the meeting, the version number and the author are bound too: whoever can edit the
    database cannot present the reporter's correction as the handler's text, or reorder the
    versions, without the version failing to open.
    """
    return ("minutes", case_uid, meeting_uid, minutes_uid, version, author)


def export_preview_context(uid: str, part: str) -> tuple[str, str, str]:
    return ("export-preview", uid, part)


def export_key_context(export_id: str) -> str:
    """What the bundle key, sealed to counsel's public key, is bound to."""
    return f"export:{export_id}"


def export_bundle_context(export_id: str) -> tuple[str, str]:
    """What the encrypted archive of the bundle is bound to."""
    return ("export-bundle", export_id)


def totp_secret_context(user_id: int) -> tuple[str, int]:
    return ("totp-secret", user_id)
