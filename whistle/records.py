"""A case's records encrypted and opened under the right key of the right epoch, in one place.

Each record names the key epoch it was written in (``key_epoch``; whistle/case_access.py) and,
for messages, internal notes and files, its format:

- format 1 (before issue 14): bound to the case and the record's own id only;
- format 2: also bound to the clear columns a reader trusts, so that someone who can write the
  database cannot relabel a record: a message's author, kind and day (a reporter's message
  cannot be turned into the handler's final outcome), a note's kind, author and day, a file's
  author and the message (or report) it came with.

The contexts themselves are built in whistle/contexts.py.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import decrypt_field, encrypt_field
from whistle.case_access import KeyRing
from whistle.contexts import (
    attachment_context,
    attachment_name_context,
    message_context,
    note_context,
)
from whistle.models import Attachment, CaseNote, Message

CURRENT_FORMAT = 2
# What a file's context names when it came with the report rather than with a message.
REPORT_OWNER = "report"


def seal_message(ring: KeyRing, case_uid: str, message: Message, body: str) -> None:
    """Encrypt ``body`` into ``message`` under the newest content key (its clear columns,
    author, kind and day, must be set already: they are bound in)."""
    message.key_epoch = ring.epoch
    message.format = CURRENT_FORMAT
    message.body = encrypt_field(
        ring.current, body.encode(), context=message_context(case_uid, message)
    )


def open_message(ring: KeyRing, case_uid: str, message: Message) -> str:
    """The text of ``message``; OpenError if any bound column was changed, NoAccess if the
    ring lacks its epoch."""
    return decrypt_field(
        ring.at(message.key_epoch), message.body, context=message_context(case_uid, message)
    ).decode()


def seal_note(ring: KeyRing, case_uid: str, note: CaseNote, body: str) -> None:
    """Encrypt ``body`` into ``note`` under the newest notes key (kind, author and day set)."""
    note.key_epoch = ring.epoch
    note.format = CURRENT_FORMAT
    note.body = encrypt_field(ring.current, body.encode(), context=note_context(case_uid, note))


def open_note(ring: KeyRing, case_uid: str, note: CaseNote) -> str:
    return decrypt_field(
        ring.at(note.key_epoch), note.body, context=note_context(case_uid, note)
    ).decode()


def file_owner(session: Session, row: Attachment) -> str:
    """What a file's context names as its owner: the uid of the message it came with, or
    "report"."""
    if row.message_id is None:
        return REPORT_OWNER
    uid = session.scalar(select(Message.uid).where(Message.id == row.message_id))
    return str(uid)


def file_key(ring: KeyRing, row: Attachment) -> bytes:
    """The content key a stored file (and its name) is encrypted under."""
    return ring.at(row.key_epoch)


def file_contexts(
    case_uid: str, storage_name: str, *, fmt: int, author: str, owner: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stream context, name context) of a stored file."""
    return (
        attachment_context(case_uid, storage_name, fmt, author, owner),
        attachment_name_context(case_uid, storage_name, fmt, author, owner),
    )


def stored_file_contexts(
    case_uid: str, row: Attachment, owner: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stream context, name context) of a file's row."""
    return file_contexts(case_uid, row.storage_name, fmt=row.format, author=row.author, owner=owner)


def open_file_name(ring: KeyRing, case_uid: str, row: Attachment, owner: str) -> str:
    return decrypt_field(
        file_key(ring, row), row.name, context=stored_file_contexts(case_uid, row, owner)[1]
    ).decode()
