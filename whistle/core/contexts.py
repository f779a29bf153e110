"""What each ciphertext of a case is bound to, in one place.

A context is authenticated with the ciphertext (crypto/), so a blob copied to another case,
another record or another field fails to open instead of showing the wrong text. Records of
format 2 (whistle/casefile/records.py) also bind the clear columns a reader trusts, so editing them
makes the record fail to open rather than say something else.
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
