"""The append-only, hash-chained audit log: who did what, when, to which case (P1, R3).

Every entry carries SHA-256 over the previous entry's hash and its own fields (the encoding is
in docs/audit.md), so editing, removing, reordering or inserting an entry breaks the chain
where it happened, and the head row (the last sequence number and hash) shows when entries
were cut off the end. A database administrator can still rewrite the whole chain from the
point of tampering onwards; the chain makes that a deliberate forgery, not a quiet edit, and
an exported head hash kept elsewhere pins everything before it.

The log never holds content or identity: ``detail`` takes only numbers, booleans and short
identifiers. A free-text reason is stored encrypted as a case note and referenced here by the
note's id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Select, Table, exists, insert, select, update
from sqlalchemy.orm import Session

from whistle.core.clock import Clock
from whistle.core.db import upsert_insert
from whistle.core.models import AuditEntry, AuditHead, Case

FORMAT = "whistle-audit-v1"  # first element of every hashed record; a new format gets v2
GENESIS = bytes(32)  # the "previous hash" of entry 1
HEAD_ID = 1
BATCH = 1000  # entries per query while verifying: memory stays flat however long the log
MAX_PAGE = 1000

# Used with fullmatch: "$" alone would let a trailing newline through.
ACTION_RE = re.compile(r"[a-z][a-z0-9_.]{2,63}")
DETAIL_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Identifiers, kinds and reference numbers only: no spaces, so no sentences and no names
# typed by a person. It is a guard against mistakes, not a proof: callers pass ids.
DETAIL_VALUE_RE = re.compile(r"[A-Za-z0-9_.:-]{0,64}")

# What :func:`verify` reports, one phrase per kind of damage.
HASH_MISMATCH = "hash does not match its content"
LINK_MISMATCH = "links to a different previous entry"
GAP = "missing entry (gap in sequence)"
BAD_SEQ = "sequence number out of order"
HEAD_MISMATCH = "head does not match the last entry"
HEAD_MISSING = "head is missing"

DetailValue = str | int | bool | None


class AuditLogError(Exception):
    """The chain cannot be extended safely (its head row is gone while entries remain)."""


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of :func:`verify`: ``problems`` are ``(seq, what)`` pairs in seq order."""

    ok: bool
    checked: int
    problems: list[tuple[int, str]]


def _canonical_detail(detail: Mapping[str, DetailValue] | None) -> str:
    """Validate ``detail`` and return it as canonical JSON (sorted keys, no spaces, ASCII).

    Error messages name the key, never the value: a refused value may be exactly the content
    that must not leak into a log.
    """
    clean: dict[str, DetailValue] = {}
    for key, value in (detail or {}).items():
        if not isinstance(key, str) or not DETAIL_KEY_RE.fullmatch(key):
            raise ValueError("audit detail keys are lower-case identifiers")
        # bool is an int too; strings only as identifiers
        allowed = value is None or isinstance(value, int)
        allowed = allowed or (isinstance(value, str) and bool(DETAIL_VALUE_RE.fullmatch(value)))
        if not allowed:
            raise ValueError(
                f"audit detail {key!r} must be a number, a boolean, empty or a short identifier"
                " (free text belongs in an encrypted case note, referenced by its id)"
            )
        clean[key] = value
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit entries need a timezone-aware time")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    prev_hash: bytes,
    seq: int,
    at: datetime,
    org_id: int | None,
    actor_user_id: int | None,
    action: str,
    case_id: int | None,
    case_reference: str | None,
    detail: str,
) -> bytes:
    """SHA-256 over the canonical encoding of one entry (docs/audit.md, "The chain").

    The encoding is a JSON array with no spaces and ASCII escapes, the format tag first, so
    every field has one spelling and no field can run into the next. ``detail`` is hashed as
    the stored text, byte for byte.
    """
    record = [
        FORMAT,
        prev_hash.hex(),
        seq,
        _timestamp(at),
        org_id,
        actor_user_id,
        action,
        case_id,
        case_reference,
        detail,
    ]
    encoded = json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hashlib.sha256(encoded).digest()


def _take_head(session: Session) -> tuple[int, bytes]:
    """Lock the head, move it on by one and return (new seq, previous entry's hash).

    The first statement is a write on purpose: it takes PostgreSQL's row lock (like
    ``SELECT ... FOR UPDATE``, waiting for a concurrent writer and then seeing its commit) and
    SQLite's database write lock. A plain SELECT first would not do on SQLite, where a read
    starts no write transaction: two writers could read the same head and fork the chain.
    """
    bump = (
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.entry_hash)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(bump).one_or_none()
    if row is None:
        # First entry ever (rare path). The head is made first: a concurrent first writer's
        # head makes this insert wait for its commit and then do nothing (it is not ours), so
        # two first writers both append, one after the other. Only a head this writer really
        # made can mean it was missing: if entries exist then, the head vanished while
        # entries remained, which is tampering; starting again at 1 would hide it, so refuse
        # (the rollback takes the new head away again).
        made = session.execute(
            upsert_insert(session)(AuditHead)
            .values(id=HEAD_ID, seq=0, entry_hash=GENESIS)
            .on_conflict_do_nothing()
            .returning(AuditHead.id)
        ).first()
        if made is not None and session.scalar(select(exists().where(AuditEntry.seq > 0))):
            raise AuditLogError("the audit log's head is missing; run `whistle audit verify`")
        row = session.execute(bump).one()
    return int(row.seq), bytes(row.entry_hash)


def reporter_time(at: datetime) -> datetime:
    """The time kept for what a reporter did: the start of its (UTC) day. A reporter's time of
    day could point to them (who was awake at 01:31, who was on the night shift); the case keeps
    only days, and so does everything else that records their acts (the audit log here, the
    outbox in whistle/notify/outbox.py)."""
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def record(
    session: Session,
    clock: Clock,
    *,
    action: str,
    org_id: int | None,
    actor_user_id: int | None = None,
    case: Case | None = None,
    detail: Mapping[str, DetailValue] | None = None,
    day_only: bool = False,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction; flushes, never commits.

    ``day_only`` records the time as the start of the (UTC) day: for what a reporter did, whose
    time of day could point to them (the case itself keeps only days).

    The action and its entry commit together or not at all, and a rolled-back entry gives its
    sequence number back, so the chain has no gaps from failures. The head stays locked until
    the caller's transaction ends: keep that transaction short. Cost: one locking update of
    the head, one insert, one update of the head.

    ``action`` is a short dotted identifier ("case.acknowledged"); ``detail`` holds only
    numbers, booleans and identifiers (ValueError otherwise).
    """
    if not ACTION_RE.fullmatch(action):
        raise ValueError("audit actions are short dotted identifiers such as 'case.closed'")
    detail_text = _canonical_detail(detail)
    case_id: int | None = None
    case_reference: str | None = None
    if case is not None:
        if case.id is None:
            raise ValueError("flush the case before auditing it")
        if org_id != case.org_id:
            raise ValueError("the audited case belongs to another organisation")
        case_id, case_reference = case.id, case.reference
    at = clock.now()
    if day_only:
        at = reporter_time(at)
    _timestamp(at)  # refuse a naive time before taking the lock
    seq, prev_hash = _take_head(session)
    digest = entry_hash(
        prev_hash=prev_hash,
        seq=seq,
        at=at,
        org_id=org_id,
        actor_user_id=actor_user_id,
        action=action,
        case_id=case_id,
        case_reference=case_reference,
        detail=detail_text,
    )
    values = {
        "seq": seq,
        "at": at,
        "org_id": org_id,
        "actor_user_id": actor_user_id,
        "action": action,
        "case_id": case_id,
        "case_reference": case_reference,
        "detail": detail_text,
        "prev_hash": prev_hash,
        "entry_hash": digest,
    }
    # A Core insert: the ORM's unit of work costs more than the statement, on every action.
    session.execute(insert(cast(Table, AuditEntry.__table__)).values(values))
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(entry_hash=digest)
        .execution_options(synchronize_session=False)
    )
    return AuditEntry(**values)


_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.org_id,
    AuditEntry.actor_user_id,
    AuditEntry.action,
    AuditEntry.case_id,
    AuditEntry.case_reference,
    AuditEntry.detail,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def verify(session: Session) -> AuditVerification:
    """Walk the whole chain in seq order and report every break, with its seq.

    Detects edited entries (their hash no longer matches), inserted or reordered ones (their
    link or seq is wrong), removed ones (a gap) and entries cut off the end (the head is
    further on than the last entry). Reads plain rows in batches of :data:`BATCH` by seq
    (keyset pagination), so memory stays flat; entries appended while it runs are walked too.
    """
    problems: list[tuple[int, str]] = []
    checked = 0
    last_seq = 0
    last_hash = GENESIS
    while True:
        while True:
            rows = session.execute(
                select(*_COLUMNS)
                .where(AuditEntry.seq > last_seq)
                .order_by(AuditEntry.seq)
                .limit(BATCH)
            ).all()
            for row in rows:
                checked += 1
                if row.seq > last_seq + 1:
                    missing = row.seq - last_seq - 1
                    what = GAP if missing == 1 else f"missing {missing} entries (gap in sequence)"
                    problems.append((last_seq + 1, what))
                elif row.prev_hash != last_hash:
                    # After a gap the entry it should link to is gone: nothing to compare.
                    problems.append((row.seq, LINK_MISMATCH))
                computed = entry_hash(
                    prev_hash=bytes(row.prev_hash),
                    seq=row.seq,
                    at=row.at,
                    org_id=row.org_id,
                    actor_user_id=row.actor_user_id,
                    action=row.action,
                    case_id=row.case_id,
                    case_reference=row.case_reference,
                    detail=row.detail,
                )
                if computed != row.entry_hash:
                    problems.append((row.seq, HASH_MISMATCH))
                last_seq, last_hash = row.seq, bytes(row.entry_hash)
            if len(rows) < BATCH:
                break
        # Read after the walk: an entry and the head commit together, so a head further on
        # than the walk means either new entries (walk on) or entries cut off the end.
        head = session.execute(select(AuditHead.seq, AuditHead.entry_hash)).first()
        if head is None:
            if checked:
                problems.append((last_seq, HEAD_MISSING))
            break
        if head.seq > last_seq and session.scalar(
            select(exists().where(AuditEntry.seq > last_seq))
        ):
            continue
        if head.seq != last_seq or head.entry_hash != last_hash:
            problems.append((max(head.seq, last_seq), HEAD_MISMATCH))
        break
    _check_low_seqs(session, problems)
    problems.sort(key=lambda p: p[0])
    return AuditVerification(ok=not problems, checked=checked, problems=problems)


def _check_low_seqs(session: Session, problems: list[tuple[int, str]]) -> None:
    """Entries numbered below 1 are never written; the walk above starts after 0."""
    for seq in session.scalars(
        select(AuditEntry.seq).where(AuditEntry.seq < 1).order_by(AuditEntry.seq)
    ):
        problems.append((seq, BAD_SEQ))


def newest_first(
    query: Select[AuditEntry], before_seq: int | None, limit: int
) -> Select[AuditEntry]:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"page size must be between 1 and {MAX_PAGE}")
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return query.order_by(AuditEntry.seq.desc()).limit(limit)


def entries(
    session: Session,
    *,
    org_id: int,
    case_id: int | None = None,
    action_prefix: str | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """One page of an organisation's entries, newest first.

    For the next page pass the last entry's ``seq`` as ``before_seq`` (keyset pagination: no
    OFFSET, so a page costs the same however deep). ``action_prefix`` matches literally
    ("case." for every case action).
    """
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return list(session.scalars(newest_first(query, before_seq, limit)))


def case_trail(session: Session, case_id: int) -> list[AuditEntry]:
    """Every entry about one case, oldest first: the case's history for the auditor."""
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
        )
    )


# --- CLI: ``whistle audit ...`` (registered in whistle/cli.py) ------------------------------
