"""``whistle doctor``, the database and the file store: check, and with ``--repair`` restore,
that every file has its row, every row its file, and every case what it needs to be opened.

Writes are ordered so that a crash, a killed worker, a full disk or a lost database connection
never leaves a readable half of anything (whistle/core/storage.py, whistle/reporting/intake.py,
whistle/casefile/conversation.py, whistle/retention/deletion.py); what they can leave is listed
here, with what
the repair does about it:

- **orphan files**: complete files in the store that no row refers to. An upload is written
  before the transaction that adds its row, so a worker killed (or a database lost) in between
  leaves the file alone; its key was never stored, so nobody can read it. Removed.
- **unfinished files** (``.partial``): a worker killed while writing a file (the writer's
  own cleanup never ran). With the store in the database (whistle/core/db_storage.py), the
  rows of a write that was never marked complete, listed under the same name. Removed.
- **pending file deletions**: files that retention or a purge listed for removal, where the
  removal did not happen yet (a crash, a store that refused). Removed, as the next retention
  run would. A listed file that a live row still uses is never removed: the listing is dropped.
- **half-stored cases**: a case row without its report or the keys to open it (no content key
  sealed to anyone), still new and untouched (no message, no legal hold). Intake writes a case
  in one transaction, so these only come from damage. Removed whole, with their files, and
  audited. A case with the same damage that was worked on (a message, a status, a hold) is
  only reported: something in it may still be readable, so restore it from a backup.
- **missing files**: a live attachment or a counsel bundle whose file is not in the store.
  Not repairable here (the content is gone from this machine): restore the file store from
  a backup. They keep the exit code non-zero.

Files younger than an hour (``MIN_AGE``) that no row refers to yet may be uploads in flight and
are left alone unless ``--all`` is given (only safe while the app is stopped). The output names
kinds and counts, never content, case codes or file names; the repair is recorded in the audit
log as ``store.repaired`` (counts) and ``case.removed_incomplete`` (one per removed case). The
key store's half of the doctor is whistle/maintenance/doctor_keys.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from whistle.core import audit, shredding
from whistle.core.clock import Clock
from whistle.core.models import (
    Attachment,
    Case,
    CaseExport,
    CaseKey,
    CaseStatus,
    Message,
    OutboxMail,
    PendingFileDeletion,
)
from whistle.core.storage import Store, StoreEntries
from whistle.retention import deletion

MIN_AGE = timedelta(hours=1)
BATCH = 500  # names per IN (...) query


# What is in the file store, by kind: the folder's files and ``.partial`` files with their
# modification times, or the database backend's complete and incomplete rows with theirs.
StoreScan = StoreEntries


@dataclass
class Findings:
    """The outcome of :func:`check`: counts, and the names the repair needs."""

    stored_files: int = 0
    orphans: list[str] = field(default_factory=list)
    recent_orphans: int = 0
    partials: list[str] = field(default_factory=list)  # ".partial" file names
    recent_partials: int = 0
    foreign: int = 0
    pending: list[str] = field(default_factory=list)
    pending_in_use: list[str] = field(default_factory=list)
    missing_attachments: int = 0
    missing_exports: int = 0
    cases_without_keys: list[int] = field(default_factory=list)
    cases_without_report: list[int] = field(default_factory=list)
    # Of those, the ones intake could have left (new, no message, no hold): removable. The
    # others were worked on and are only reported (restore them from a backup).
    half_stored: list[int] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)

    @property
    def repairable(self) -> int:
        return (
            len(self.orphans)
            + len(self.partials)
            + len(self.pending)
            + len(self.pending_in_use)
            + len(self.half_stored)
        )

    @property
    def unrepairable(self) -> int:
        return self.missing_attachments + self.missing_exports + len(self.damaged)

    @property
    def problems(self) -> int:
        return self.repairable + self.unrepairable


@dataclass
class Repairs:
    """What :func:`repair` removed (counts only)."""

    orphans: int = 0
    partials: int = 0
    pending: int = 0
    pending_dropped: int = 0
    cases: int = 0
    case_files: int = 0


def scan_store(store: Store) -> StoreScan:
    """Every entry of the store with its modification time (the database backend: when it
    was written); none of the application's rows are read."""
    return store.scan()


def _batches(names: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(names), BATCH):
        yield names[start : start + BATCH]


def _live_names(session: Session, names: list[str]) -> set[str]:
    """Those of ``names`` that a live row uses: an attachment not purged, or a bundle."""
    found: set[str] = set()
    for chunk in _batches(names):
        found.update(
            session.scalars(
                select(Attachment.storage_name).where(
                    Attachment.storage_name.in_(chunk), Attachment.purged_on.is_(None)
                )
            )
        )
        found.update(
            session.scalars(
                select(CaseExport.storage_name).where(CaseExport.storage_name.in_(chunk))
            )
        )
    return found


def check(
    session: Session, store: Store, *, min_age: timedelta = MIN_AGE, now: float | None = None
) -> Findings:
    """Compare the store with the database; change nothing.

    The store is listed before the database is read, so a file whose row commits in between
    is young and left alone, never taken for an orphan.
    """
    scan = scan_store(store)
    cutoff = (time.time() if now is None else now) - min_age.total_seconds()
    findings = Findings(stored_files=len(scan.files), foreign=scan.foreign)
    _check_files(session, store, scan, cutoff, findings)
    _check_cases(session, findings)
    return findings


def _check_files(
    session: Session, store: Store, scan: StoreScan, cutoff: float, findings: Findings
) -> None:
    """Orphan, unfinished, listed and missing files."""
    attachments = set(
        session.scalars(select(Attachment.storage_name).where(Attachment.purged_on.is_(None)))
    )
    bundles = set(session.scalars(select(CaseExport.storage_name)))
    live = attachments | bundles
    purged = set(
        session.scalars(select(Attachment.storage_name).where(Attachment.purged_on.is_not(None)))
    )
    pending = set(session.scalars(select(PendingFileDeletion.storage_name)))

    for name, mtime in sorted(scan.files.items()):
        if name in live or name in pending:
            continue
        # A purged file left in the store without its listing is as dead as an orphan (its
        # row says it is gone), whatever its age.
        if mtime <= cutoff or name in purged:
            findings.orphans.append(name)
        else:
            findings.recent_orphans += 1
    for name, mtime in sorted(scan.partials.items()):
        if mtime <= cutoff:
            findings.partials.append(name)
        else:
            findings.recent_partials += 1
    findings.pending_in_use = sorted(pending & live)
    findings.pending = sorted(pending - live)

    # Looked at again: a file written and taken up after the listing is not missing.
    findings.missing_attachments = sum(
        1 for name in attachments - scan.files.keys() if not store.exists(name)
    )
    findings.missing_exports = sum(
        1 for name in bundles - scan.files.keys() if not store.exists(name)
    )


def _check_cases(session: Session, findings: Findings) -> None:
    """Cases without a key to open them or without their report, half-stored or damaged."""
    content_key = exists().where(CaseKey.case_id == Case.id, CaseKey.kind == "content")
    findings.cases_without_keys = list(
        session.scalars(select(Case.id).where(~content_key).order_by(Case.id))
    )
    findings.cases_without_report = list(
        session.scalars(
            select(Case.id)
            .where(
                (func.length(Case.report) == 0)
                | (func.length(Case.reporter_key) == 0)
                | (func.length(Case.reporter_tag) == 0)
            )
            .order_by(Case.id)
        )
    )
    incomplete = sorted(set(findings.cases_without_keys) | set(findings.cases_without_report))
    if incomplete:
        untouched = set(
            session.scalars(
                select(Case.id).where(
                    Case.id.in_(incomplete),
                    Case.status == CaseStatus.NEW.value,
                    Case.hold_since.is_(None),
                    ~exists().where(Message.case_id == Case.id),
                )
            )
        )
        findings.half_stored = [i for i in incomplete if i in untouched]
        findings.damaged = [i for i in incomplete if i not in untouched]


def repair(session: Session, clock: Clock, store: Store, findings: Findings) -> Repairs:
    """Remove what :func:`check` found removable (see the module's docs), and commit.

    Names are checked against the database again just before removal: a file that a row took
    up meanwhile is kept.
    """
    done = Repairs()
    # Half-stored cases first: their files become pending deletions like a retention run's.
    for case_id in findings.half_stored:
        _remove_half_stored(session, clock, case_id, findings, done)
    if findings.pending_in_use:
        still = _live_names(session, findings.pending_in_use)
        session.execute(
            delete(PendingFileDeletion).where(PendingFileDeletion.storage_name.in_(sorted(still)))
        )
        done.pending_dropped = len(still)
    session.commit()
    removed_pending = deletion.remove_pending_files(session, store)
    done.pending = removed_pending - done.case_files
    _remove_files(session, store, findings, done)
    if done.orphans or done.partials or done.pending or done.pending_dropped or done.cases:
        audit.record(
            session,
            clock,
            action="store.repaired",
            org_id=None,  # the store is the deployment's, not one organisation's
            detail={
                "orphans": done.orphans,
                "partials": done.partials,
                "pending": done.pending,
                "pending_dropped": done.pending_dropped,
                "cases": done.cases,
            },
        )
        session.commit()
    return done


def _remove_half_stored(
    session: Session, clock: Clock, case_id: int, findings: Findings, done: Repairs
) -> None:
    """Remove a half-stored case with its rows; list its files and keys for removal."""
    case = session.get(Case, case_id)
    if case is None:
        return
    names = list(
        session.scalars(select(Attachment.storage_name).where(Attachment.case_id == case.id))
    )
    deletion.queue_file_deletions(session, case.org_id, names, clock.now().date())
    # Destroyed by repair_keys (or the next retention run) once the rows are gone.
    shredding.queue_destruction(
        session, case.org_id, shredding.case_key_names(session, [case.id])[case.id]
    )
    audit.record(
        session,
        clock,
        action="case.removed_incomplete",
        org_id=case.org_id,
        case=case,
        detail={
            "files": len(names),
            "keys": case_id not in findings.cases_without_keys,
            "report": case_id not in findings.cases_without_report,
        },
    )
    session.execute(
        delete(OutboxMail).where(
            OutboxMail.org_id == case.org_id, OutboxMail.case_reference == case.reference
        )
    )
    # Every row that belongs to the case goes with it (ON DELETE CASCADE); a bundle
    # already given to counsel stays theirs (SET NULL).
    session.execute(
        delete(Case).where(Case.id == case.id).execution_options(synchronize_session=False)
    )
    session.expunge(case)
    done.cases += 1
    done.case_files += len(names)


def _remove_files(session: Session, store: Store, findings: Findings, done: Repairs) -> None:
    """Remove the orphan files no row took up meanwhile, and the unfinished ones."""
    live = _live_names(session, findings.orphans)
    for name in findings.orphans:
        if name not in live:
            store.delete(name)
            done.orphans += 1
    for partial in findings.partials:
        store.delete_partial(partial)
        done.partials += 1


def describe(findings: Findings, min_age: timedelta) -> list[str]:
    """The findings as lines for a person (kinds and counts only)."""
    hours = min_age.total_seconds() / 3600
    lines = [f"file store: {findings.stored_files} files"]
    rows = [
        ("orphan files (no row refers to them)", len(findings.orphans)),
        ("unfinished uploads (.partial files)", len(findings.partials)),
        ("files listed for deletion, not yet removed", len(findings.pending)),
        ("files listed for deletion but still in use", len(findings.pending_in_use)),
        ("cases without a key to open them", len(findings.cases_without_keys)),
        ("cases without their report or reporter key", len(findings.cases_without_report)),
        ("  of these, half-stored (new, untouched): removable", len(findings.half_stored)),
        ("  of these, worked on: not removed", len(findings.damaged)),
        ("attachments whose file is missing", findings.missing_attachments),
        ("counsel bundles whose file is missing", findings.missing_exports),
    ]
    lines += [f"{label}: {count}" for label, count in rows]
    if findings.recent_orphans or findings.recent_partials:
        lines.append(
            f"left alone, younger than {hours:g} h (uploads may be in flight; --all to "
            f"include): {findings.recent_orphans} files, {findings.recent_partials} "
            ".partial files"
        )
    if findings.foreign:
        lines.append(f"other entries in the store, not touched: {findings.foreign}")
    return lines
