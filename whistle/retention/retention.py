"""Retention and deletion (REQUIREMENTS.md R1-R4; DESIGN.md "Deadlines and retention").

- **Presets.** Closing a case sets the day it is deleted, from the organisation's preset for
  the outcome: a number of days after the reporter was told, a number of months after the
  closure, or a date the handler sets (for cases that go on to disciplinary or legal
  follow-up). Defaults follow R2: outside the scope 30 days after the reporter is told, not
  substantiated 2 months after closure, the others until a set date. Organisations change
  them in their settings (``retention.<outcome>``: ``30d``, ``2m`` or ``date``).
- **Legal hold.** A hold stops deletion until it is lifted; placing and lifting both need a
  reason, kept as an internal note, and both are audited.
- **Deletion** (:func:`run`, ``whistle retention run`` daily): every closed case whose day has
  come and that is not held loses its keys, ciphertext, files, messages, notes, meetings,
  sessions and mails, and leaves a content-free :class:`~whistle.core.models.CaseTombstone` and a
  ``case.deleted`` entry in the audit log. A batch of cases goes in one transaction that also
  lists their files in ``pending_file_deletions`` and the names of their keys in the key store
  (the case's and its items', whistle/core/shredding.py) in ``pending_key_destructions``; the keys
  are destroyed and the files removed after the commit, and a run first finishes whatever an
  interrupted run left there. So a crash at any point leaves either the whole case or only
  unreadable files and ownerless keys that the next run removes; the app never shows a
  half-deleted case.
- **SQLite**: deleted content is overwritten (``secure_delete``, set on every connection), the
  freed pages are returned to the file system (incremental vacuum: its cost follows what was
  deleted, not the size of the database) and the write-ahead log is truncated.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from whistle.core import audit, shredding
from whistle.core.clock import Clock
from whistle.core.deadlines import add_months
from whistle.core.keystore import KeyStore
from whistle.core.models import (
    Attachment,
    Case,
    CaseExclusion,
    CaseExport,
    CaseKey,
    CaseNote,
    CaseOutcome,
    CaseStatus,
    CaseTombstone,
    Disclosure,
    IdentityDisclosure,
    ItemRestriction,
    Meeting,
    Message,
    MinutesVersion,
    OrgSetting,
    OutboxMail,
    PendingFileDeletion,
    PersonConcerned,
    RightsRequestCase,
    WebSession,
)
from whistle.core.refusals import Refused
from whistle.core.storage import FileStore

SETTING_PREFIX = "retention."
# Deletion is announced to the case's handlers (inbox and e-mail) this many days ahead.
WARNING_DAYS = 7
# A date set by hand may lie at most this far ahead: a longer keep is a legal hold.
MAX_KEEP_YEARS = 10
BATCH = 200


class Unit(enum.StrEnum):
    DAYS = "d"  # days after the reporter was told the outcome
    MONTHS = "m"  # months after the closure
    DATE = "date"  # until a date the handler sets at closing


@dataclass(frozen=True)
class Preset:
    unit: Unit
    amount: int = 0

    def __str__(self) -> str:
        return self.unit.value if self.unit is Unit.DATE else f"{self.amount}{self.unit.value}"

    @classmethod
    def parse(cls, value: str) -> Preset:
        """``"30d"``, ``"2m"`` or ``"date"``; ValueError otherwise."""
        value = value.strip().lower()
        if value == Unit.DATE.value:
            return cls(Unit.DATE)
        number, unit = value[:-1], value[-1:]
        if unit not in (Unit.DAYS.value, Unit.MONTHS.value) or not number.isdigit():
            raise ValueError("a retention preset is a number of days (30d), months (2m), or date")
        amount = int(number)
        limit = MAX_KEEP_YEARS * (366 if unit == Unit.DAYS.value else 12)
        if not 0 <= amount <= limit:
            raise ValueError(f"a retention preset keeps a case at most {MAX_KEEP_YEARS} years")
        return cls(Unit(unit), amount)


DEFAULT_PRESETS: dict[CaseOutcome, Preset] = {
    CaseOutcome.OUTSIDE_SCOPE: Preset(Unit.DAYS, 30),
    CaseOutcome.NOT_SUBSTANTIATED: Preset(Unit.MONTHS, 2),
    CaseOutcome.KNOWINGLY_FALSE: Preset(Unit.DATE),
    CaseOutcome.SUBSTANTIATED: Preset(Unit.DATE),
    CaseOutcome.REFERRED: Preset(Unit.DATE),
}


def presets(session: Session, org_id: int) -> dict[CaseOutcome, Preset]:
    """The organisation's preset for every outcome (its settings over the defaults)."""
    found = dict(DEFAULT_PRESETS)
    rows = session.execute(
        select(OrgSetting.key, OrgSetting.value).where(
            OrgSetting.org_id == org_id, OrgSetting.key.startswith(SETTING_PREFIX)
        )
    )
    for key, value in rows:
        try:
            outcome = CaseOutcome(key.removeprefix(SETTING_PREFIX))
            found[outcome] = Preset.parse(value)
        except ValueError:
            continue  # an unknown or damaged setting: the default stands
    return found


def set_preset(session: Session, org_id: int, outcome: CaseOutcome, preset: Preset) -> None:
    """Store the organisation's preset for ``outcome``. Flushes, never commits."""
    key = SETTING_PREFIX + outcome.value
    row = session.get(OrgSetting, (org_id, key))
    if row is None:
        session.add(OrgSetting(org_id=org_id, key=key, value=str(preset)))
    else:
        row.value = str(preset)
    session.flush()


@dataclass(frozen=True)
class Retention:
    delete_on: date
    rule: str  # "outside_scope:30d", "not_substantiated:2m", "substantiated:date", ...


def retention_for(
    preset: Preset,
    outcome: CaseOutcome,
    *,
    closed_on: date,
    told_on: date | None,
    keep_until: date | None,
) -> Retention:
    """The deletion day a closure gets under ``preset`` (Refused for a bad date).

    ``told_on`` is the day the reporter was sent the final outcome (for presets in days);
    ``keep_until`` the date a handler chose, needed when the preset says so and allowed to
    lengthen any preset (never to shorten it: a shorter keep is refused, as the preset is the
    organisation's decision; R3 purges single items that are irrelevant).
    """
    rule = f"{outcome.value}:{preset}"
    latest = add_months(closed_on, 12 * MAX_KEEP_YEARS)
    if keep_until is not None and not closed_on < keep_until <= latest:
        raise Refused(
            "keep_until",
            _l(
                "Choose a date after today and at most %(years)d years ahead; "
                "keep a case longer with a legal hold.",
                years=MAX_KEEP_YEARS,
            ),
        )
    if preset.unit is Unit.DATE:
        if keep_until is None:
            raise Refused(
                "keep_until",
                _l(
                    "Choose the date until which the case is kept (for example, the end of "
                    "the disciplinary or legal follow-up)."
                ),
            )
        return Retention(keep_until, rule)
    if preset.unit is Unit.DAYS:
        computed = (told_on or closed_on) + timedelta(days=preset.amount)
    else:
        computed = add_months(closed_on, preset.amount)
    if keep_until is None or keep_until == computed:
        return Retention(computed, rule)
    if keep_until < computed:
        raise Refused(
            "keep_until",
            _l(
                "For this outcome the case is kept until %(day)s; choose a later date or "
                "leave the field empty.",
                day=computed.isoformat(),
            ),
        )
    return Retention(keep_until, f"{outcome.value}:date")


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass(frozen=True)
class DeletionSoon:
    reference: str
    delete_on: date


def deletions_soon(session: Session, org_id: int, user_id: int, today: date) -> list[DeletionSoon]:
    """Closed cases ``user_id`` holds a key to that are deleted within ``WARNING_DAYS``
    (or are due and wait for the next run), soonest first: the inbox's warning."""
    rows = session.execute(
        select(Case.reference, Case.delete_on)
        .where(
            Case.delete_on.is_not(None),
            Case.delete_on <= today + timedelta(days=WARNING_DAYS),
            Case.hold_since.is_(None),
            Case.org_id == org_id,
            Case.status == CaseStatus.CLOSED.value,
            select(CaseKey.case_id)
            .where(CaseKey.case_id == Case.id, CaseKey.user_id == user_id)
            .exists(),
        )
        .order_by(Case.delete_on, Case.id)
        .limit(100)
    )
    return [DeletionSoon(reference, day) for reference, day in rows if day is not None]


# --- Legal hold -----------------------------------------------------------------------------


def place_hold(session: Session, clock: Clock, case: Case, note_id: int, user_id: int) -> None:
    """Stop the deletion of ``case`` until the hold is lifted; ``note_id`` is the internal note
    that holds the reason. Flushes, never commits (the caller writes the note first)."""
    case.hold_since = clock.now().date()
    audit.record(
        session,
        clock,
        action="case.hold_placed",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={"note": note_id},
    )


def lift_hold(session: Session, clock: Clock, case: Case, note_id: int, user_id: int) -> None:
    """Lift the legal hold; the case is deleted on its day again (or by the next run, if that
    day has passed). Flushes, never commits."""
    case.hold_since = None
    audit.record(
        session,
        clock,
        action="case.hold_lifted",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={
            "note": note_id,
            "delete_on": case.delete_on.isoformat() if case.delete_on else None,
        },
    )


# --- Files whose rows are gone ---------------------------------------------------------------

PENDING = cast(Table, PendingFileDeletion.__table__)
TOMBSTONES = cast(Table, CaseTombstone.__table__)


def queue_file_deletions(session: Session, org_id: int, names: Iterable[str], today: date) -> None:
    """List files for removal in the caller's transaction (see :func:`remove_pending_files`)."""
    rows = [{"storage_name": n, "org_id": org_id, "queued_on": today} for n in names]
    if rows:
        session.execute(insert(PENDING), rows)


def remove_pending_files(session: Session, store: FileStore) -> int:
    """Remove every listed file from the store, then its row; return how many. Commits.

    Idempotent: a file already gone counts as removed, so a run that stopped half-way is
    finished by the next one.
    """
    removed = 0
    while True:
        names = list(
            session.scalars(
                select(PendingFileDeletion.storage_name)
                .order_by(PendingFileDeletion.storage_name)
                .limit(500)
            )
        )
        if not names:
            return removed
        for name in names:
            store.delete(name)
        session.execute(
            delete(PendingFileDeletion).where(PendingFileDeletion.storage_name.in_(names))
        )
        session.commit()
        removed += len(names)


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


def _in_time(done: date | None, due: date) -> bool | None:
    return None if done is None else done <= due


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
    # The case's files, and the server's copies of the bundles exported for counsel (the
    # case's content too, under counsel's key; counsel's own downloads are theirs to delete).
    files = session.execute(
        select(Attachment.case_id, Attachment.storage_name)
        .where(Attachment.case_id.in_(ids))
        .union_all(
            select(CaseExport.case_id, CaseExport.storage_name).where(CaseExport.case_id.in_(ids))
        )
    ).all()
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
    for model in (
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
    ):
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
    for case in cases:
        session.expunge(case)
    return [name for _case_id, name in files]


Step = Callable[[str], None]


def _finish_keys(session: Session, keystore: KeyStore, report: RunReport) -> None:
    done = shredding.finish_destructions(session, keystore)
    report.keys += done.destroyed
    report.keys_unfinished = report.keys_unfinished or done.incomplete


def run(
    session: Session,
    clock: Clock,
    store: FileStore,
    *,
    keystore: KeyStore,
    batch: int = BATCH,
    after_step: Step | None = None,
) -> RunReport:
    """Delete every case that is due and not held (see the module's docs). Commits.

    ``after_step(name)`` is called after each step ("rows", "committed", "keys", "files") and
    lets the tests simulate a crash there by raising.
    :class:`~whistle.core.keystore_errors.KeyStoreError` when the key store cannot be reached
    (the deletions committed so far stand; their keys are destroyed by the next run).
    """
    report = RunReport()
    # What an interrupted run (or purge) left: keys first, they are what makes data unreadable.
    _finish_keys(session, keystore, report)
    report.files += remove_pending_files(session, store)
    today = clock.now().date()
    while True:
        cases = list(
            session.scalars(
                select(Case)
                .where(*_due(today))
                .order_by(Case.delete_on, Case.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        if not cases:
            break
        delete_cases(session, clock, cases)
        if after_step is not None:
            after_step("rows")
        session.commit()
        report.deleted += len(cases)
        if after_step is not None:
            after_step("committed")
        _finish_keys(session, keystore, report)
        if after_step is not None:
            after_step("keys")
        report.files += remove_pending_files(session, store)
        if after_step is not None:
            after_step("files")
    report.held = int(
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
    if report.deleted:
        compact(session)
    return report


def compact(session: Session) -> None:
    """SQLite: return freed pages to the file system and truncate the write-ahead log.

    The first time on a database made without incremental auto-vacuum this is one full
    ``VACUUM`` (which also switches the mode); afterwards only the freed pages are touched.
    PostgreSQL reuses the space of deleted rows through autovacuum; the rows held only
    ciphertext whose keys were deleted with them.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return
    session.commit()
    with engine.connect() as connection:  # type: ignore[union-attr]
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            # VACUUM cannot run inside a transaction: the driver's own cursor, outside one.
            raw.commit()
            mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
            if mode != 2:  # 2: incremental
                cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
                cursor.execute("VACUUM")
            else:
                # The sqlite3 module steps a PRAGMA once, which frees one page; a script
                # runs it to the end.
                raw.executescript("PRAGMA incremental_vacuum;")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            cursor.close()


# --- Command line ---------------------------------------------------------------------------
