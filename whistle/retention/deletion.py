"""Retention: the deletion run (REQUIREMENTS.md R2, R4; DESIGN.md "Deadlines and retention").

- **Deletion** (:func:`run`, ``whistle retention run`` daily): every closed case whose day has
  come (whistle/retention/schedule.py) and that is not held (whistle/retention/legal_hold.py)
  loses its keys, ciphertext, files, messages, notes, meetings, sessions and mails, and leaves
  a content-free :class:`~whistle.core.models.CaseTombstone` and a ``case.deleted`` entry in
  the audit log. A batch of cases goes in one transaction that also lists their files in
  ``pending_file_deletions`` and the names of their keys in the key store (the case's and its
  items', whistle/core/shredding.py) in ``pending_key_destructions``; the keys are destroyed
  and the files removed after the commit, and a run first finishes whatever an interrupted run
  left there. So a crash at any point leaves either the whole case or only unreadable files
  and ownerless keys that the next run removes; the app never shows a half-deleted case.
- **Several runs at once** (every machine's timer): each batch is claimed in its deleting
  transaction (:func:`_next_batch`), so each case is deleted by one run only; finishing the
  listed keys and files is idempotent, so two runs may share that work.
- **SQLite**: deleted content is overwritten (``secure_delete``, set on every connection), the
  freed pages are returned to the file system (incremental vacuum: its cost follows what was
  deleted, not the size of the database) and the write-ahead log is truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from whistle.core import audit, shredding
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.joblock import begin_writing, rows_changed
from whistle.core.keystore import KeyStore
from whistle.core.models import (
    Attachment,
    Case,
    CaseExclusion,
    CaseExport,
    CaseKey,
    CaseNote,
    CaseStatus,
    CaseTombstone,
    Disclosure,
    IdentityDisclosure,
    ItemRestriction,
    Meeting,
    Message,
    MinutesVersion,
    OutboxMail,
    PendingFileDeletion,
    PersonConcerned,
    RightsRequestCase,
    WebSession,
)
from whistle.core.storage import Store

BATCH = 200


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# --- Files whose rows are gone ---------------------------------------------------------------

PENDING = cast(Table, PendingFileDeletion.__table__)
TOMBSTONES = cast(Table, CaseTombstone.__table__)


def queue_file_deletions(session: Session, org_id: int, names: Iterable[str], today: date) -> None:
    """List files for removal in the caller's transaction (see :func:`remove_pending_files`)."""
    rows = [{"storage_name": n, "org_id": org_id, "queued_on": today} for n in names]
    if rows:
        session.execute(insert(PENDING), rows)


def remove_pending_files(session: Session, store: Store) -> int:
    """Remove every listed file from the store, then its row, and commit, a unit of work per
    500 files; return how many.

    Idempotent: a file already gone counts as removed, so a run that stopped half-way is
    finished by the next one.
    """
    removed = 0
    while names := _pending_names(session):
        with unit_of_work(session):
            for name in names:
                store.delete(name)
            # Counted by the rows this run deleted: a run on another machine at the same
            # moment may remove the same files (a removed file is no error), not count them.
            removed += rows_changed(
                session.execute(
                    delete(PendingFileDeletion).where(PendingFileDeletion.storage_name.in_(names))
                )
            )
    return removed


def _pending_names(session: Session) -> list[str]:
    """The next 500 files listed for removal."""
    return list(
        session.scalars(
            select(PendingFileDeletion.storage_name)
            .order_by(PendingFileDeletion.storage_name)
            .limit(500)
        )
    )


# --- The run --------------------------------------------------------------------------------


@dataclass
class RunReport:
    """Counts of one run (never content)."""

    deleted: int = 0
    files: int = 0
    keys: int = 0  # keys destroyed in the key store
    keys_unfinished: bool = False  # the key store could not be scrubbed: the next run does it
    held: int = 0  # due but on legal hold: kept


def _due(today: date) -> list[ColumnElement[bool]]:
    return [
        Case.delete_on.is_not(None),
        Case.delete_on <= today,
        Case.hold_since.is_(None),
        Case.status == CaseStatus.CLOSED.value,
    ]


def _tombstone(case: Case, today: date) -> dict[str, object]:
    return {
        "org_id": case.org_id,
        "case_id": case.id,
        "reference": case.reference,
        "category_id": case.category_id,
        "channel": case.channel,
        "anonymous": case.anonymous,
        "received_on": case.received_on,
        "acknowledge_due": case.acknowledge_due,
        "acknowledged_on": case.acknowledged_on,
        "feedback_due": case.feedback_due,
        "feedback_on": case.feedback_on,
        "scope": case.scope,
        "outcome": case.outcome,
        "closed_on": case.closed_on,
        "delete_on": case.delete_on,
        "deleted_on": today,
        "retention_rule": case.retention_rule,
        "assigned_user_id": case.assigned_user_id,
    }


def delete_cases(session: Session, clock: Clock, cases: Sequence[Case]) -> list[str]:
    """Delete ``cases`` whole, in the caller's transaction, leaving tombstones and audit
    entries; return the names of their stored files (listed for removal, not yet removed).
    Their keys in the key store are listed for destruction
    (:func:`whistle.core.shredding.finish_destructions` after the commit). Flushes, never
    commits."""
    if not cases:
        return []
    today = clock.now().date()
    ids = [c.id for c in cases]
    files = _stored_files(session, ids)
    keys = shredding.case_key_names(session, ids)
    for case in cases:
        names = [name for case_id, name in files if case_id == case.id]
        queue_file_deletions(session, case.org_id, names, today)
        shredding.queue_destruction(session, case.org_id, keys[case.id])
        audit.record(
            session,
            clock,
            action="case.deleted",
            org_id=case.org_id,
            case=case,
            detail={
                "rule": case.retention_rule,
                "delete_on": _day(case.delete_on),
                "files": len(names),
            },
        )
    session.execute(insert(TOMBSTONES), [_tombstone(c, today) for c in cases])
    _delete_rows(session, cases, ids)
    for case in cases:
        session.expunge(case)
    return [name for _case_id, name in files]


def _stored_files(session: Session, ids: Sequence[int]) -> list[tuple[int, str]]:
    """(case id, storage name) of the cases' files, and of the server's copies of the bundles
    exported for counsel (the case's content too, under counsel's key; counsel's own downloads
    are theirs to delete)."""
    rows = session.execute(
        select(Attachment.case_id, Attachment.storage_name)
        .where(Attachment.case_id.in_(ids))
        .union_all(
            select(CaseExport.case_id, CaseExport.storage_name).where(CaseExport.case_id.in_(ids))
        )
    ).all()
    return [(case_id, name) for case_id, name in rows]


# Every table with rows of a case, deleted before the case itself.
CASE_TABLES = (
    IdentityDisclosure,
    MinutesVersion,
    Meeting,
    CaseNote,
    Attachment,
    Message,
    CaseKey,
    WebSession,
    RightsRequestCase,
    ItemRestriction,
    PersonConcerned,
    Disclosure,
    CaseExport,
    CaseExclusion,
)


def _delete_rows(session: Session, cases: Sequence[Case], ids: Sequence[int]) -> None:
    """Every row of the cases, their mails, then the cases."""
    for model in CASE_TABLES:
        session.execute(
            delete(model).where(model.case_id.in_(ids)).execution_options(synchronize_session=False)
        )
    # Per organisation, so both databases use the (org_id, case_reference) index.
    for org_id in sorted({c.org_id for c in cases}):
        session.execute(
            delete(OutboxMail)
            .where(
                OutboxMail.org_id == org_id,
                OutboxMail.case_reference.in_([c.reference for c in cases if c.org_id == org_id]),
            )
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(Case).where(Case.id.in_(ids)).execution_options(synchronize_session=False)
    )


Step = Callable[[str], None]


def _finish_keys(session: Session, keystore: KeyStore, report: RunReport) -> None:
    done = shredding.finish_destructions(session, keystore)
    report.keys += done.destroyed
    report.keys_unfinished = report.keys_unfinished or done.incomplete


def run(
    session: Session,
    clock: Clock,
    store: Store,
    *,
    keystore: KeyStore,
    batch: int = BATCH,
    after_step: Step | None = None,
) -> RunReport:
    """Delete every case that is due and not held (see the module's docs), and commit, a unit
    of work per batch of cases.

    ``after_step(name)`` is called after each step ("rows", "committed", "keys", "files") and
    lets the tests simulate a crash there by raising. :class:`~whistle.core.keystore.KeyStoreError`
    when the key store cannot be reached (the deletions committed so far stand; their keys are
    destroyed by the next run).
    """
    report = RunReport()
    # What an interrupted run (or purge) left: keys first, they are what makes data unreadable.
    _finish_keys(session, keystore, report)
    report.files += remove_pending_files(session, store)
    today = clock.now().date()
    while True:
        with unit_of_work(session):
            # The batch is read and deleted in one transaction that no other run's can
            # interleave with (see _next_batch).
            begin_writing(session)
            cases = _next_batch(session, today, batch)
            if cases:
                delete_cases(session, clock, cases)
                _step(after_step, "rows")
        if not cases:
            break
        report.deleted += len(cases)
        _step(after_step, "committed")
        _finish_keys(session, keystore, report)
        _step(after_step, "keys")
        report.files += remove_pending_files(session, store)
        _step(after_step, "files")
    report.held = _count_held(session, today)
    if report.deleted:
        # Ends the read of the held count: VACUUM needs the database without a transaction.
        session.commit()
        compact(session)
    return report


def _next_batch(session: Session, today: date, batch: int) -> list[Case]:
    """Up to ``batch`` due cases, the earliest day first, claimed for the caller's transaction.

    Runs on every machine at once never take the same case: on PostgreSQL the rows are locked
    and rows another run has locked are skipped (``FOR UPDATE SKIP LOCKED``); on SQLite the
    caller's transaction is already the database's one writer (``begin_writing``), so another
    run reads its batch only after this one's deletion has committed. Either way a case is
    deleted by exactly one run, with one tombstone and one ``case.deleted`` entry."""
    return list(
        session.scalars(
            select(Case)
            .where(*_due(today))
            .order_by(Case.delete_on, Case.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )


def _step(after_step: Step | None, name: str) -> None:
    if after_step is not None:
        after_step(name)


def _count_held(session: Session, today: date) -> int:
    """How many cases are due but kept on legal hold."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(
                Case.delete_on.is_not(None),
                Case.delete_on <= today,
                Case.hold_since.is_not(None),
            )
        )
        or 0
    )


def compact(session: Session) -> None:
    """SQLite: return freed pages to the file system and truncate the write-ahead log.

    The first time on a database made without incremental auto-vacuum this is one full
    ``VACUUM`` (which also switches the mode); afterwards only the freed pages are touched.
    PostgreSQL reuses the space of deleted rows through autovacuum; the rows held only
    ciphertext whose keys were deleted with them. The caller has ended its transaction (the
    vacuum runs on a connection of its own, :func:`sqlite_driver`); the session's work is
    never committed here.
    """
    with sqlite_driver(session) as driver:
        if driver is None:
            return
        raw, cursor = driver
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
        if mode != 2:  # 2: incremental
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")
        else:
            # The sqlite3 module steps a PRAGMA once, which frees one page; a script runs it
            # to the end.
            raw.executescript("PRAGMA incremental_vacuum;")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


@contextmanager
def sqlite_driver(session: Session) -> Iterator[tuple[Any, Any] | None]:
    """SQLite: (connection, cursor) of the driver itself on a connection of its own, outside
    any transaction, as ``VACUUM`` and the write-ahead log's checkpoint need; ``None`` on
    other databases."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        yield None
        return
    with engine.connect() as connection:  # type: ignore[union-attr]
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.commit()  # the driver's own implicit transaction, never the session's work
        cursor = raw.cursor()
        try:
            yield raw, cursor
        finally:
            cursor.close()
