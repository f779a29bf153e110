"""``whistle doctor``, the key store: check, and with ``--repair`` restore, that every key
in the key store (whistle/core/keystore.py, whistle/core/shredding.py) has its owner row.

- **ownerless keys**: keys named after a case, message, note or file whose row is gone (or
  purged), and not listed for destruction: a report whose transaction failed after its key
  was made, or damage. Destroyed (the data they opened is gone already).
- **pending key destructions**: keys that a deletion or purge listed, where the destruction
  did not happen yet (a crash after the commit, a key store that could not be reached).
  Destroyed, as the next retention run would. A listed key whose owner row still exists is
  never destroyed: the listing is dropped.
- **keys of an unknown kind** are counted and never touched.
- **setup**: a PostgreSQL key store on the same server (cluster) as the application's
  database is a problem (every backup and WAL archive of that server holds both, so a
  database backup would open deleted cases); a key store whose server archives its WAL is
  named (the archive must expire like key-store backups, docs/operations.md).

Keys younger than an hour (``MIN_AGE``, as files in whistle/maintenance/doctor_files.py) are left
alone unless ``--all`` is given (the key store keeps no creation times: "younger than an hour"
means created after the newest doctor run that is at least an hour old,
whistle/core/keystore.py). The output names kinds and counts, never key names or bytes; the
repair is recorded in the audit log as ``keystore.repaired`` (counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from whistle.core import audit, shredding
from whistle.core.clock import Clock
from whistle.core.keystore import KeyStore
from whistle.core.keystore_errors import KeyStoreError, ScrubIncomplete
from whistle.core.models import PendingKeyDestruction
from whistle.maintenance.doctor_files import MIN_AGE


@dataclass
class KeyFindings:
    """The outcome of :func:`check_keys`: counts, and the names the repair needs."""

    keys: int = 0
    orphans: list[str] = field(default_factory=list)  # owner gone, not listed
    recent_orphans: int = 0  # owner not (yet) there, but the key may be in flight
    unknown: int = 0  # of a kind no owner is known for: never touched
    pending: list[str] = field(default_factory=list)
    pending_in_use: list[str] = field(default_factory=list)
    unreachable: str = ""  # why the key store could not be checked
    setup: list[str] = field(default_factory=list)  # configuration problems
    notes: list[str] = field(default_factory=list)  # worth knowing, not problems

    @property
    def repairable(self) -> int:
        return len(self.orphans) + len(self.pending) + len(self.pending_in_use)

    @property
    def unrepairable(self) -> int:
        return len(self.setup) + (1 if self.unreachable else 0)

    @property
    def problems(self) -> int:
        return self.repairable + self.unrepairable


@dataclass
class KeyRepairs:
    """What :func:`repair_keys` did (counts only)."""

    orphans: int = 0
    pending: int = 0
    pending_dropped: int = 0
    incomplete: bool = False


def _server_identity(session: Session) -> str | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    found = session.scalar(text("SELECT system_identifier FROM pg_control_system()"))
    session.rollback()
    return str(found)


SHARED_SERVER = (
    "the key store is on the same PostgreSQL server (cluster) as the application database: "
    "every backup and WAL archive of that server holds both, so a database backup would still "
    "open deleted cases; move the key store to a server of its own (docs/operations.md)"
)
ARCHIVING = (
    "the key store's PostgreSQL server archives its write-ahead log: the archive holds every "
    "key ever made, so keep it no longer than key-store backups (docs/operations.md)"
)


def check_keys(
    session: Session, keystore: KeyStore, *, now: datetime, min_age: timedelta = MIN_AGE
) -> KeyFindings:
    """Compare the key store with the database; change nothing but the key store's marks.

    The key store is listed before the database is read, so a key whose row commits in
    between is found with its owner, never taken for an orphan.
    """
    findings = KeyFindings()
    try:
        server = keystore.server()
        settled, recent = keystore.settled_names(now=now, min_age=min_age)
    except KeyStoreError as exc:
        findings.unreachable = str(exc)
        return findings
    if server is not None:
        identifier, archiving = server
        if identifier == _server_identity(session):
            findings.setup.append(SHARED_SERVER)
        if archiving:
            findings.notes.append(ARCHIVING)
    findings.keys = len(settled) + len(recent)
    pending = set(session.scalars(select(PendingKeyDestruction.name)))
    listed_alive = shredding.live_names(session, pending)
    findings.pending = sorted(pending - listed_alive)
    findings.pending_in_use = sorted(pending & listed_alive)

    known = [n for n in settled + recent if shredding.kind_of(n) in shredding.OWNERS]
    findings.unknown = findings.keys - len(known)
    alive = shredding.live_names(session, known)
    session.rollback()
    recent_names = set(recent)
    for name in known:
        if name in alive or name in pending:
            continue
        if name in recent_names:
            findings.recent_orphans += 1
        else:
            findings.orphans.append(name)
    return findings


def repair_keys(
    session: Session, clock: Clock, keystore: KeyStore, findings: KeyFindings
) -> KeyRepairs:
    """Destroy what :func:`check_keys` found destroyable and finish the pending
    destructions, and commit. Owners are looked up again just before: a key whose row appeared
    meanwhile is kept. :class:`~whistle.core.keystore_errors.KeyStoreError` if the key store
    cannot be reached."""
    done = KeyRepairs()
    if findings.pending_in_use:
        still = shredding.live_names(session, findings.pending_in_use)
        session.execute(
            delete(PendingKeyDestruction).where(PendingKeyDestruction.name.in_(sorted(still)))
        )
        session.commit()
        done.pending_dropped = len(still)
    finished = shredding.finish_destructions(session, keystore)
    done.pending = finished.listed
    done.incomplete = finished.incomplete
    if findings.orphans:
        alive = shredding.live_names(session, findings.orphans)
        session.rollback()
        doomed = [n for n in findings.orphans if n not in alive]
        try:
            keystore.destroy(doomed)
        except ScrubIncomplete:
            done.incomplete = True
        done.orphans = len(doomed)
    if done.orphans or done.pending or done.pending_dropped:
        audit.record(
            session,
            clock,
            action="keystore.repaired",
            org_id=None,  # the key store is the deployment's, not one organisation's
            detail={
                "orphans": done.orphans,
                "pending": done.pending,
                "pending_dropped": done.pending_dropped,
            },
        )
        session.commit()
    return done


def describe_keys(findings: KeyFindings, min_age: timedelta) -> list[str]:
    """The key store's findings as lines for a person (kinds and counts only)."""
    if findings.unreachable:
        return [f"key store: not checked: {findings.unreachable}"]
    hours = min_age.total_seconds() / 3600
    lines = [f"key store: {findings.keys} keys"]
    rows = [
        ("keys whose case, message, note or file is gone", len(findings.orphans)),
        ("keys listed for destruction, not yet destroyed", len(findings.pending)),
        ("keys listed for destruction but still in use", len(findings.pending_in_use)),
    ]
    lines += [f"{label}: {count}" for label, count in rows]
    if findings.recent_orphans:
        lines.append(
            f"left alone, younger than {hours:g} h (reports may be in flight; --all to "
            f"include): {findings.recent_orphans} keys"
        )
    if findings.unknown:
        lines.append(f"keys of an unknown kind, not touched: {findings.unknown}")
    lines += [f"problem: {problem}" for problem in findings.setup]
    lines += [f"note: {note}" for note in findings.notes]
    return lines
