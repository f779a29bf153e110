"""A case's records encrypted and opened under the right keys, in one place.

Each record names the key epoch it was written in (``key_epoch``; whistle/casefile/access.py) and,
for messages, internal notes and files (the items that can be purged one by one, REQUIREMENTS
R3), its format:

- format 1 (before issue 14): under the case key, bound to the case and the record's own id;
- format 2: under a key derived from the case key *and a key of the record's own* kept in the
  key store outside the database (``msg:<uid>``, ``note:<uid>``, ``file:<storage name>``;
  whistle/core/keystore.py, whistle/core/shredding.py), so that purging the record destroys a key
  only
  it used and even an older copy of the database no longer opens it; and bound to the clear
  columns a reader trusts, so that someone who can write the database cannot relabel a
  record: a message's author, kind and day (a reporter's message cannot be turned into the
  handler's final outcome), a note's kind, author and day, a file's author and the message
  (or report) it came with.

The contexts themselves are built in whistle/core/contexts.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field, derive_record_key, encrypt_field
from whistle.casefile.access import KeyRing
from whistle.core.contexts import (
    attachment_context,
    attachment_name_context,
    file_key_context,
    message_context,
    note_context,
)
from whistle.core.keystore import of_session
from whistle.core.models import Attachment, CaseNote, Message
from whistle.core.shredding import file_key_name, message_key_name, note_key_name

CURRENT_FORMAT = 2
# What a file's context names when it came with the report rather than with a message.
REPORT_OWNER = "report"


def new_item_keys(session: Session, names: Collection[str]) -> dict[str, bytes]:
    """Fresh keys of their own for records about to be written, in the key store (durable
    before this returns; a record whose transaction then fails leaves an ownerless key that
    ``whistle doctor`` destroys)."""
    return of_session(session).create(names) if names else {}


def item_keys(session: Session, names: Collection[str]) -> dict[str, bytes]:
    """The keys of records about to be read (absent: destroyed with a purge, or damage)."""
    return of_session(session).get_many(names) if names else {}


def _record_key(
    ring: KeyRing, epoch: int, item_key: bytes | None, context: tuple[str, ...]
) -> bytes:
    if item_key is None:
        raise OpenError("the record's own key is gone")
    return derive_record_key(ring.at(epoch), item_key, context=context)


def _open(
    ring: KeyRing,
    epoch: int,
    name: str | None,
    items: Mapping[str, bytes],
    blob: bytes,
    context: tuple[str, ...],
) -> str:
    """The text of a record of ``epoch``: under the ring's key alone (format 1, ``name`` None)
    or under the key derived with its own key ``items[name]`` (format 2)."""
    key = ring.at(epoch) if name is None else _record_key(ring, epoch, items.get(name), context)
    return decrypt_field(key, blob, context=context).decode()


# --- messages ---------------------------------------------------------------------------------


def message_item(message: Message) -> str | None:
    """The key-store name of a message's own key (None for format 1)."""
    return message_key_name(message.uid) if message.format >= CURRENT_FORMAT else None


def seal_message(
    session: Session, ring: KeyRing, case_uid: str, message: Message, body: str
) -> None:
    """Encrypt ``body`` into ``message`` under the newest content key and a new key of its own
    (its clear columns, author, kind and day, must be set already: they are bound in)."""
    message.key_epoch = ring.epoch
    message.format = CURRENT_FORMAT
    name = message_key_name(message.uid)
    context = message_context(case_uid, message)
    key = _record_key(ring, ring.epoch, new_item_keys(session, [name])[name], context)
    message.body = encrypt_field(key, body.encode(), context=context)


def open_message(ring: KeyRing, case_uid: str, message: Message, items: Mapping[str, bytes]) -> str:
    """The text of ``message``; OpenError if a bound column was changed or its own key is
    gone, NoAccess if the ring lacks its epoch. ``items``: :func:`item_keys` of the
    messages being read."""
    return _open(
        ring,
        message.key_epoch,
        message_item(message),
        items,
        message.body,
        message_context(case_uid, message),
    )


# --- notes ------------------------------------------------------------------------------------


def note_item(note: CaseNote) -> str | None:
    return note_key_name(note.uid) if note.format >= CURRENT_FORMAT else None


def seal_note(session: Session, ring: KeyRing, case_uid: str, note: CaseNote, body: str) -> None:
    """Encrypt ``body`` into ``note`` under the newest notes key and a key of its own (kind,
    author and day set)."""
    note.key_epoch = ring.epoch
    note.format = CURRENT_FORMAT
    name = note_key_name(note.uid)
    context = note_context(case_uid, note)
    key = _record_key(ring, ring.epoch, new_item_keys(session, [name])[name], context)
    note.body = encrypt_field(key, body.encode(), context=context)


def open_note(ring: KeyRing, case_uid: str, note: CaseNote, items: Mapping[str, bytes]) -> str:
    return _open(
        ring, note.key_epoch, note_item(note), items, note.body, note_context(case_uid, note)
    )


# --- files --------------------------------------------------------------------------------------


def file_item(row: Attachment) -> str | None:
    return file_key_name(row.storage_name) if row.format >= CURRENT_FORMAT else None


def file_owner(session: Session, row: Attachment) -> str:
    """What a file's context names as its owner: the uid of the message it came with, or
    "report"."""
    if row.message_id is None:
        return REPORT_OWNER
    uid = session.scalar(select(Message.uid).where(Message.id == row.message_id))
    return str(uid)


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


def new_file_key(content: KeyRing, case_uid: str, storage_name: str, item_key: bytes) -> bytes:
    """The key a new file (stream and name) is encrypted under: the newest content key and
    the file's own key."""
    return _record_key(content, content.epoch, item_key, file_key_context(case_uid, storage_name))


def file_key(content: KeyRing, case_uid: str, row: Attachment, items: Mapping[str, bytes]) -> bytes:
    """The key a stored file (and its name) is encrypted under."""
    name = file_item(row)
    if name is None:
        return content.at(row.key_epoch)
    return _record_key(
        content, row.key_epoch, items.get(name), file_key_context(case_uid, row.storage_name)
    )


def open_file_name(
    content: KeyRing, case_uid: str, row: Attachment, owner: str, items: Mapping[str, bytes]
) -> str:
    return decrypt_field(
        file_key(content, case_uid, row, items),
        row.name,
        context=stored_file_contexts(case_uid, row, owner)[1],
    ).decode()
