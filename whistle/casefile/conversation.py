"""The two-way conversation of a case: messages and files, under the case content key.

Both sides use these functions with a ring of content keys, one per key epoch
(whistle/casefile/access.py): the reporter's (sealed to their own key pair, which their case code
opens) or a handler's (sealed to their public key). New messages and files are encrypted
under the newest key; older ones open with the key of the epoch they name
(whistle/casefile/records.py). Message kinds let the handler side mark
an acknowledgement, a question, interim feedback or the final outcome; the reporter sees them
as messages with a heading.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import (
    STREAM_HEADER_SIZE,
    OpenError,
    decrypt_stream,
    encrypt_field,
    encrypt_stream,
    stream_plaintext_size,
)
from whistle.casefile import records
from whistle.casefile.access import KeyRing
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work_with_files
from whistle.core.models import Attachment, Author, Case, Message
from whistle.core.shredding import file_key_name
from whistle.core.storage import Store

MESSAGE_KINDS = (
    "message",
    "question",
    "acknowledgement",
    "interim_feedback",
    "final_outcome",
    "consent_request",  # asks the reporter's consent to disclose their identity (K2)
    "disclosure_notice",  # tells the reporter, with reasons, that their identity will be disclosed
)


@dataclass(frozen=True, repr=False)
class PreparedFile:
    """An attachment ready to store: metadata already stripped where possible."""

    name: str
    data: BinaryIO
    metadata_outcome: str

    def __repr__(self) -> str:
        return "PreparedFile(<secret>)"


@dataclass(frozen=True, repr=False)
class FileView:
    storage_name: str
    name: str  # "" once purged
    size: int
    metadata_outcome: str
    author: str
    id: int
    purged_on: date | None = None  # purged as manifestly irrelevant (whistle/retention/purge.py)


@dataclass(frozen=True, repr=False)
class MessageView:
    id: int
    author: str
    kind: str
    sent_on: date
    body: str  # "" once purged
    files: list[FileView]
    unread_by_reporter: bool
    purged_on: date | None = None  # purged as manifestly irrelevant (whistle/retention/purge.py)


class FileGone(Exception):
    """The file was purged as manifestly irrelevant (whistle/retention/purge.py): only its date
    is left."""

    def __init__(self, purged_on: date) -> None:
        self.purged_on = purged_on
        super().__init__("file purged")


class FileDamaged(Exception):
    """The stored file's header does not open under the case key, or its size is no stream's:
    found before any response has started."""

    def __init__(self, attachment_id: int) -> None:
        self.attachment_id = attachment_id
        super().__init__(f"attachment {attachment_id} is damaged")


@dataclass(frozen=True, repr=False)
class StoredFile:
    """An attachment already encrypted into the file store, its row not yet added."""

    storage_name: str
    encrypted_name: bytes
    size: int
    metadata_outcome: str
    author: str
    key_epoch: int


def write_files(
    session: Session,
    store: Store,
    case_uid: str,
    content: KeyRing,
    files: Sequence[PreparedFile],
    *,
    stored: list[str],
    author: str,
    owner: str = records.REPORT_OWNER,
) -> list[StoredFile]:
    """Encrypt ``files`` into the store under the newest content key and a key of each file's
    own, made in the key store (no database work).

    ``author`` and ``owner`` (the uid of the message the files come with, or "report") are
    bound into each file (format 2, whistle/casefile/records.py). Appends each name to ``stored`` as
    soon as its file exists, so the caller can remove every file written so far if anything
    (this or its transaction) fails.
    """
    written = []
    names = [store.new_name() for _ in files]
    own = records.new_item_keys(session, [file_key_name(n) for n in names])
    for prepared, name in zip(files, names, strict=True):
        stream_context, name_context = records.file_contexts(
            case_uid, name, fmt=records.CURRENT_FORMAT, author=author, owner=owner
        )
        key = records.new_file_key(content, case_uid, name, own[file_key_name(name)])
        with store.writer(name) as out:
            size = encrypt_stream(prepared.data, out, key, stream_context)
        stored.append(name)
        written.append(
            StoredFile(
                storage_name=name,
                encrypted_name=encrypt_field(key, prepared.name.encode(), context=name_context),
                size=size,
                metadata_outcome=prepared.metadata_outcome,
                author=author,
                key_epoch=content.epoch,
            )
        )
    return written


def add_file_rows(
    session: Session,
    case: Case,
    files: Sequence[StoredFile],
    *,
    added_on: date,
    message_id: int | None = None,
) -> None:
    """Add the rows of files already in the store (not flushed)."""
    for written in files:
        session.add(
            Attachment(
                org_id=case.org_id,
                case_id=case.id,
                message_id=message_id,
                author=written.author,
                storage_name=written.storage_name,
                name=written.encrypted_name,
                size=written.size,
                metadata_outcome=written.metadata_outcome,
                added_on=added_on,
                key_epoch=written.key_epoch,
                format=records.CURRENT_FORMAT,
            )
        )


def post_message(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    content: KeyRing,
    *,
    author: Author,
    body: str,
    files: Sequence[PreparedFile] = (),
    user_id: int | None = None,
    kind: str = "message",
    with_message: Callable[[Message], None] | None = None,
) -> Message:
    """Add a message (and its files) to the conversation, a unit of work of its own, and
    commit; on failure nothing stays (:func:`~whistle.core.db.unit_of_work_with_files`).

    ``with_message`` is called with the flushed message before the commit, for rows that must
    point to it and be stored in the same transaction."""
    with unit_of_work_with_files(session, store) as stored:
        return add_message(
            session,
            clock,
            store,
            case,
            content,
            author=author,
            body=body,
            files=files,
            user_id=user_id,
            kind=kind,
            with_message=with_message,
            stored=stored,
        )


def add_message(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    content: KeyRing,
    *,
    author: Author,
    body: str,
    stored: list[str],
    files: Sequence[PreparedFile] = (),
    user_id: int | None = None,
    kind: str = "message",
    with_message: Callable[[Message], None] | None = None,
) -> Message:
    """Add a message (and its files) inside the caller's unit of work: flushes, never commits.

    Appends each stored file's name to ``stored`` as soon as the file exists (the list
    :func:`~whistle.core.db.unit_of_work_with_files` yields), so a failure removes them."""
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    message_uid = str(uuid.uuid4())
    today = clock.now().date()
    # The files first, before this adds a row: a store in the database (whistle/core/
    # db_storage.py) writes on connections of its own, and on SQLite a flushed row here would
    # hold the write lock they wait for.
    written = write_files(
        session,
        store,
        case.uid,
        content,
        files,
        stored=stored,
        author=author.value,
        owner=message_uid,
    )
    message = Message(
        uid=message_uid,
        org_id=case.org_id,
        case_id=case.id,
        author=author.value,
        author_user_id=user_id,
        kind=kind,
        sent_on=today,
    )
    records.seal_message(session, content, case.uid, message, body)
    session.add(message)
    session.flush()
    add_file_rows(session, case, written, added_on=today, message_id=message.id)
    if with_message is not None:
        with_message(message)
    if author is Author.REPORTER:
        case.unread_for_handlers = True
    else:
        case.unread_for_reporter = True
    session.flush()
    return message


def _file_view(
    case: Case, content: KeyRing, row: Attachment, owner: str, items: Mapping[str, bytes]
) -> FileView:
    if row.purged_on is not None:
        return FileView(row.storage_name, "", 0, "", row.author, row.id, row.purged_on)
    name = records.open_file_name(content, case.uid, row, owner, items)
    return FileView(row.storage_name, name, row.size, row.metadata_outcome, row.author, row.id)


def conversation(session: Session, case: Case, content: KeyRing) -> list[MessageView]:
    """Every message of ``case``, oldest first, decrypted in memory."""
    messages = list(
        session.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.id))
    )
    owners = {m.id: m.uid for m in messages}
    rows = list(
        session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
        )
    )
    items = records.item_keys(
        session,
        [n for m in messages if m.purged_on is None and (n := records.message_item(m))]
        + [n for r in rows if r.purged_on is None and (n := records.file_item(r))],
    )
    files: dict[int | None, list[FileView]] = {}
    for row in rows:
        owner = owners[row.message_id] if row.message_id is not None else records.REPORT_OWNER
        files.setdefault(row.message_id, []).append(_file_view(case, content, row, owner, items))
    views = []
    for message in messages:
        body = (
            ""
            if message.purged_on is not None
            else records.open_message(content, case.uid, message, items)
        )
        views.append(
            MessageView(
                id=message.id,
                author=message.author,
                kind=message.kind,
                sent_on=message.sent_on,
                body=body,
                files=files.get(message.id, []),
                unread_by_reporter=(
                    message.author == Author.HANDLER and message.read_by_reporter_on is None
                ),
                purged_on=message.purged_on,
            )
        )
    return views


def report_files(session: Session, case: Case, content: KeyRing) -> list[FileView]:
    """The files sent with the report itself (not with a later message)."""
    rows = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.case_id == case.id, Attachment.message_id.is_(None))
            .order_by(Attachment.id)
        )
    )
    items = records.item_keys(
        session, [n for r in rows if r.purged_on is None and (n := records.file_item(r))]
    )
    return [_file_view(case, content, row, records.REPORT_OWNER, items) for row in rows]


def open_file(
    session: Session, store: Store, case: Case, content: KeyRing, storage_name: str
) -> tuple[FileView, Iterator[bytes]] | None:
    """A file of ``case`` and an iterator of its authenticated plaintext, or None;
    :class:`FileGone` for a purged file.

    The header is checked before this returns, so a damaged file or a wrong key raises
    :class:`FileDamaged` before any response. The view's ``size`` is the length the stored
    ciphertext holds (crypto.stream_plaintext_size), not the clear ``Attachment.size`` column,
    which only listings use: editing that column cannot cut a download short.
    """
    row = session.scalar(
        select(Attachment).where(
            Attachment.case_id == case.id, Attachment.storage_name == storage_name
        )
    )
    if row is None:
        return None
    if row.purged_on is not None:
        raise FileGone(row.purged_on)
    owner = records.file_owner(session, row)
    name = records.file_item(row)
    items = records.item_keys(session, [name] if name else [])
    try:
        view = _file_view(case, content, row, owner, items)
        key = records.file_key(content, case.uid, row, items)
    except OpenError:
        raise FileDamaged(row.id) from None
    stream_context = records.stored_file_contexts(case.uid, row, owner)[0]
    handle: BinaryIO = store.open(storage_name)
    try:
        head = handle.read(STREAM_HEADER_SIZE)
        size = stream_plaintext_size(head, handle.seek(0, os.SEEK_END))
        handle.seek(0)
        plaintext = decrypt_stream(handle, key, stream_context)
    except OpenError:
        handle.close()
        raise FileDamaged(row.id) from None

    def chunks() -> Iterator[bytes]:
        try:
            yield from plaintext
        finally:
            handle.close()

    return replace(view, size=size), chunks()
