"""Crypto-shredding: the key-store keys of deleted rows are destroyed, and a crash cannot stop it.

Every case has a key-encryption key in the key store (whistle/core/keystore.py) named
``case:<case uid>``, and each purgeable item may have one of its own: ``msg:<message uid>``,
``note:<note uid>``, ``file:<storage name>``. A row's key is its *owner*'s; the owner is gone
when its row is deleted or purged (``purged_on`` set).

Destruction follows the pattern of stored files (whistle/retention/deletion.py):

1. the transaction that deletes (or purges) the rows lists their key names in
   ``pending_key_destructions`` (:func:`queue_destruction`);
2. after the commit, :func:`finish_destructions` destroys the listed keys and then drops the
   listing. ``whistle retention run`` and ``whistle doctor --repair`` call it first thing,
   so a crash between 1 and 2 leaves the keys alive only until the next run.

A listed key whose owner still exists is not destroyed (that could only come from a bug, and
destroying it would lose the data for good): it stays listed and ``whistle doctor`` reports
it. Keys whose owner is gone but which were never listed (a report whose transaction failed
after its key was made, damage) are found and destroyed by ``whistle doctor``
(:func:`live_names`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from whistle.core.db import upsert_insert
from whistle.core.keystore import BATCH, KeyStore, check_name
from whistle.core.keystore_errors import ScrubIncomplete
from whistle.core.models import (
    Attachment,
    Case,
    CaseExport,
    CaseNote,
    Message,
    PendingKeyDestruction,
)

CASE = "case"
MESSAGE = "msg"
NOTE = "note"
FILE = "file"

PENDING = cast(Table, PendingKeyDestruction.__table__)
# Listed names finished per round: each round costs the key store two synced writes (the
# deletion and its checkpoint or rewrite), so a retention batch of cases goes in one or two.
FINISH_BATCH = 5000


def case_key_name(case_uid: str) -> str:
    """The key-store name of a case's key-encryption key."""
    return check_name(f"{CASE}:{case_uid}")


def message_key_name(message_uid: str) -> str:
    """The key-store name of a message's own key."""
    return check_name(f"{MESSAGE}:{message_uid}")


def note_key_name(note_uid: str) -> str:
    """The key-store name of an internal note's own key."""
    return check_name(f"{NOTE}:{note_uid}")


def file_key_name(storage_name: str) -> str:
    """The key-store name of a stored file's own key."""
    return check_name(f"{FILE}:{storage_name}")


# --- owners ---------------------------------------------------------------------------------


def _live_cases(session: Session, ids: list[str]) -> set[str]:
    return set(session.scalars(select(Case.uid).where(Case.uid.in_(ids))))


def _live_messages(session: Session, ids: list[str]) -> set[str]:
    return set(
        session.scalars(
            select(Message.uid).where(Message.uid.in_(ids), Message.purged_on.is_(None))
        )
    )


def _live_notes(session: Session, ids: list[str]) -> set[str]:
    return set(
        session.scalars(
            select(CaseNote.uid).where(CaseNote.uid.in_(ids), CaseNote.purged_on.is_(None))
        )
    )


def _live_files(session: Session, ids: list[str]) -> set[str]:
    attachments = session.scalars(
        select(Attachment.storage_name).where(
            Attachment.storage_name.in_(ids), Attachment.purged_on.is_(None)
        )
    )
    bundles = session.scalars(
        select(CaseExport.storage_name).where(CaseExport.storage_name.in_(ids))
    )
    return set(attachments) | set(bundles)


# Prefix -> the ids (after the colon) of those given whose owner row is alive. A new kind of
# key gets its line here, or doctor counts its keys as of an unknown kind and leaves them.
OWNERS: dict[str, Callable[[Session, list[str]], set[str]]] = {
    CASE: _live_cases,
    MESSAGE: _live_messages,
    NOTE: _live_notes,
    FILE: _live_files,
}


def kind_of(name: str) -> str:
    """The prefix of a key name (``case``, ``msg``, ...)."""
    return name.partition(":")[0]


def live_names(session: Session, names: Iterable[str]) -> set[str]:
    """Those of ``names`` whose owner row exists and is not purged. A name of a kind not in
    :data:`OWNERS` is never in the answer (its owner is unknown)."""
    by_kind: dict[str, list[str]] = {}
    for name in names:
        kind, _sep, owner = name.partition(":")
        if kind in OWNERS:
            by_kind.setdefault(kind, []).append(owner)
    found: set[str] = set()
    for kind, owners in by_kind.items():
        for start in range(0, len(owners), BATCH):
            alive = OWNERS[kind](session, owners[start : start + BATCH])
            found.update(f"{kind}:{owner}" for owner in alive)
    return found


def case_key_names(session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per case, the names of every key it may hold in the key store: the case's own and
    those of its messages, notes and files (whether or not each was given one)."""
    found: dict[int, list[str]] = {i: [] for i in case_ids}
    if not case_ids:
        return found
    ids = list(case_ids)
    for case_id, uid in session.execute(select(Case.id, Case.uid).where(Case.id.in_(ids))):
        found[case_id].append(case_key_name(uid))
    for case_id, uid in session.execute(
        select(Message.case_id, Message.uid).where(Message.case_id.in_(ids))
    ):
        found[case_id].append(message_key_name(uid))
    for case_id, uid in session.execute(
        select(CaseNote.case_id, CaseNote.uid).where(CaseNote.case_id.in_(ids))
    ):
        found[case_id].append(note_key_name(uid))
    for case_id, storage_name in session.execute(
        select(Attachment.case_id, Attachment.storage_name).where(Attachment.case_id.in_(ids))
    ):
        found[case_id].append(file_key_name(storage_name))
    return found


# --- the pending list -----------------------------------------------------------------------


def queue_destruction(session: Session, org_id: int, names: Iterable[str]) -> None:
    """List the keys ``names`` for destruction, in the caller's transaction (the one that
    deletes or purges their owners). Flushes nothing else, never commits; a name listed
    already stays listed once. Destroyed after the commit by :func:`finish_destructions`."""
    rows = [{"name": check_name(n), "org_id": org_id} for n in sorted(set(names))]
    if not rows:
        return
    statement = upsert_insert(session)(PENDING)
    for start in range(0, len(rows), BATCH):
        session.execute(
            statement.on_conflict_do_nothing(index_elements=["name"]),
            rows[start : start + BATCH],
        )


@dataclass
class Destructions:
    """What :func:`finish_destructions` did (counts only)."""

    listed: int = 0  # listings finished (their keys are gone, whether or not they existed)
    destroyed: int = 0  # of those, keys that were still in the store
    in_use: int = 0  # listings kept: the owner row is alive (reported by whistle doctor)
    incomplete: bool = False  # the store could not be scrubbed: the next run finishes it


def finish_destructions(session: Session, keystore: KeyStore) -> Destructions:
    """Destroy every listed key whose owner is gone, then drop its listing. Commits.

    Call it after the commit of :func:`queue_destruction`'s transaction. Idempotent: a key
    already destroyed counts as done, so a run that stopped half-way is finished by the next.
    A listing is dropped only once the key's bytes are out of the store's files (on
    :class:`~whistle.core.keystore_errors.ScrubIncomplete` they stay listed and ``incomplete``
    is set).
    :class:`~whistle.core.keystore_errors.KeyStoreUnavailable` if the store cannot be reached.
    """
    done = Destructions()
    after = ""
    while True:
        names = list(
            session.scalars(
                select(PendingKeyDestruction.name)
                .where(PendingKeyDestruction.name > after)
                .order_by(PendingKeyDestruction.name)
                .limit(FINISH_BATCH)
            )
        )
        session.commit()  # no transaction stays open while the key store works
        if not names:
            return done
        after = names[-1]
        alive = live_names(session, names)
        session.commit()
        doomed = [n for n in names if n not in alive]
        done.in_use += len(alive)
        if not doomed:
            continue
        try:
            done.destroyed += keystore.destroy(doomed)
        except ScrubIncomplete:
            done.incomplete = True
            return done
        for start in range(0, len(doomed), BATCH):
            chunk = doomed[start : start + BATCH]
            session.execute(
                delete(PendingKeyDestruction).where(PendingKeyDestruction.name.in_(chunk))
            )
        session.commit()
        done.listed += len(doomed)
