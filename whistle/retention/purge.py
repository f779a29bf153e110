"""Purging a single item as manifestly irrelevant (REQUIREMENTS.md R3; Directive art. 17).

A handler who holds the case keys removes one message, one file or one internal note, with a
reason. The content goes for good; what stays is that something was removed, when and why:

- the row stays, its ciphertext replaced by ``b""`` and ``purged_on`` set, so the conversation
  keeps its shape and both sides read "removed on <date> as irrelevant" where it was;
- a file's encrypted name goes too (its size becomes 0) and the stored file is listed in
  ``pending_file_deletions`` in the same transaction, then removed from the file store after
  the commit (a crash in between leaves only a file that the next retention run removes);
- the item's keys in the key store (its own, and its files'; whistle/core/shredding.py) are listed
  in ``pending_key_destructions`` in the same transaction and destroyed after the commit (a
  crash in between leaves them to the next retention run);
- a message takes its files with it;
- the reason is an internal note of kind ``purge`` (encrypted under the notes key), and the
  audit entry ``case.item_purged`` names the item and the note, never the content.

What may be purged is limited so that nobody can erase the record of the handling itself:

- messages of kind ``message`` or ``question`` (from either side); the acknowledgement, the
  feedback and the final outcome are how the unit shows it met D1-D3 and stay;
- any file (with the report or with a message): files are where irrelevant material usually
  comes in (a photo of bystanders, a whole mailbox export);
- internal notes of kind ``note`` only: scope, hearing, closure, identity reveal, access,
  legal hold and purge notes hold the reasons for decisions the audit log points to.

The report itself is not an item: what it says is the case.

SQLite overwrites the freed bytes (``secure_delete``); the write-ahead log, which still holds
the earlier page versions, is checkpointed and truncated after the purge (best effort: a
reader in the middle of a long transaction can keep it, and the next checkpoint clears it).
PostgreSQL keeps the old row version until autovacuum reuses its space; the ciphertext in it
is unreadable without the case keys.
"""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.content import required_text, write_note
from whistle.core import audit, shredding
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.keystore import KeyStore
from whistle.core.keystore_errors import KeyStoreError
from whistle.core.models import Attachment, Case, CaseNote, Message
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.retention import deletion

log = logging.getLogger(__name__)

KINDS = ("message", "file", "note")
MESSAGE_KINDS = ("message", "question")
NOTE_KINDS = ("note",)

NO_SUCH_ITEM = _l("There is no such item in this case.")
ALREADY_PURGED = _l("This item has already been removed.")


def purge_item(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    kind: str,
    item_id: int,
    reason: str,
    keystore: KeyStore,
) -> CaseNote:
    """Remove item ``item_id`` of ``kind`` ("message", "file", "note") from ``case`` for the
    reason given; return the reason's note. Commits, then removes the stored files.

    :class:`Refused` (field ``reason``) for an item that is not in the case, is already
    purged or may not be purged, and for an empty reason; :class:`NoAccess` without the
    notes key (the reason could not be kept).
    """
    if keys.notes is None:
        raise NoAccess
    with unit_of_work(session):
        today = clock.now().date()
        files: list[Attachment] = []
        item = _locked_item(session, case, kind, item_id)
        if item is None:
            raise Refused("reason", NO_SUCH_ITEM)
        if item.purged_on is not None:
            raise Refused("reason", ALREADY_PURGED)
        text = required_text(
            reason, "reason", _l("Give the reason why the item is manifestly irrelevant.")
        )

        if isinstance(item, Attachment):
            files = [item]
        else:
            if isinstance(item, Message):  # its files go with it
                files = list(
                    session.scalars(
                        select(Attachment)
                        .where(Attachment.message_id == item.id, Attachment.purged_on.is_(None))
                        .order_by(Attachment.id)
                        .with_for_update()
                    )
                )
            item.body = b""
            item.purged_on = today
        for row in files:
            row.name = b""
            row.size = 0
            row.purged_on = today
        deletion.queue_file_deletions(session, case.org_id, [f.storage_name for f in files], today)
        key_names = [shredding.file_key_name(f.storage_name) for f in files]
        if isinstance(item, Message):
            key_names.append(shredding.message_key_name(item.uid))
        elif isinstance(item, CaseNote):
            key_names.append(shredding.note_key_name(item.uid))
        shredding.queue_destruction(session, case.org_id, key_names)
        note = write_note(session, clock, case, keys, user_id, "purge", text)
        detail: dict[str, str | int] = {"item": kind, "id": item.id, "note": note.id}
        if kind == "message":
            detail["files"] = len(files)
        audit.record(
            session,
            clock,
            action="case.item_purged",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail=detail,
        )
    _destroy_keys(session, keystore)
    _remove_files(session, store)
    _checkpoint(session)
    return note


def _locked_item(
    session: Session, case: Case, kind: str, item_id: int
) -> Message | Attachment | CaseNote | None:
    """The item to purge, its row locked; :class:`Refused` for a record that must stay."""
    # Each row is locked, so a second purge of the same item (another tab, a double click)
    # waits and then finds it purged (PostgreSQL; SQLite writes one at a time anyway).
    item: Message | Attachment | CaseNote | None
    if kind == "message":
        item = session.scalar(
            select(Message)
            .where(Message.id == item_id, Message.case_id == case.id)
            .with_for_update()
        )
        if item is not None and item.purged_on is None and item.kind not in MESSAGE_KINDS:
            raise Refused(
                "reason",
                _l(
                    "The acknowledgement, feedback and final outcome are the record of the "
                    "handling and cannot be removed."
                ),
            )
    elif kind == "file":
        item = session.scalar(
            select(Attachment)
            .where(Attachment.id == item_id, Attachment.case_id == case.id)
            .with_for_update()
        )
    elif kind == "note":
        item = session.scalar(
            select(CaseNote)
            .where(CaseNote.id == item_id, CaseNote.case_id == case.id)
            .with_for_update()
        )
        if item is not None and item.purged_on is None and item.kind not in NOTE_KINDS:
            raise Refused(
                "reason",
                _l("Only ordinary notes can be removed: the reasons for decisions stay."),
            )
    else:
        raise Refused("reason", NO_SUCH_ITEM)
    return item


def _destroy_keys(session: Session, keystore: KeyStore) -> None:
    """Destroy the listed keys now; if the key store refuses, the next retention run does."""
    try:
        shredding.finish_destructions(session, keystore)
    except KeyStoreError as exc:
        session.rollback()
        log.warning(
            "purged item's key not destroyed yet (%s); the retention run destroys it",
            type(exc).__name__,
        )


def _remove_files(session: Session, store: Store) -> None:
    """Remove the listed files now; if the store refuses, the next retention run does it."""
    try:
        deletion.remove_pending_files(session, store)
    except OSError as exc:
        session.rollback()
        log.warning(
            "purged file not removed yet (%s); the retention run removes it", type(exc).__name__
        )


def _checkpoint(session: Session) -> None:
    """SQLite: copy the write-ahead log into the database and truncate it, so the earlier
    page versions holding the purged ciphertext do not stay in the log file.

    Waits at most a second for readers: a purge never hangs on a long read elsewhere.
    """
    with deletion.sqlite_driver(session) as driver:
        if driver is None:
            return
        cursor = driver[1]
        timeout = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        cursor.execute("PRAGMA busy_timeout=1000")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
