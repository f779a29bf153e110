"""Benchmark of the retention run (whistle/retention/deletion.py): deleting 1,000 cases out of
100,000
against 1,000 out of 2,000, on PostgreSQL and SQLite.

Run from the repository root: ``.venv/bin/python bench/retention_bench.py`` (options:
``--quick`` for 200 of 2,000 against 200 of 20,000, ``--only sqlite|postgresql``,
``--totals``, ``--due``, ``--first-vacuum``, ``--explain``; ``--help`` lists them). It takes
about five minutes with the defaults on a 2-core machine, most of it seeding 100,000 cases
(2.5 GB) twice; under half a minute with ``--quick``. This is a script, not a test; the
figures go into docs/benchmarks.md ("Retention").

The issue's yardstick: the run's cost must follow the cases it deletes, not the cases it keeps,
so deleting 1,000 cases out of 100,000 should take about as long as deleting 1,000 out of 2,000.

What it does, all on this machine, for each database and each number of cases:

1. creates a fresh database (PostgreSQL: a random name, dropped at the end, also on error or
   Ctrl-C; SQLite: a file in a temporary folder) and a file store in a temporary folder (in
   /dev/shm when there is one: creating 100,000 files on a virtual disk can take minutes, and
   the run only removes the due cases' files), and migrates the database with
   ``whistle.core.schema.upgrade``. The SQLite file is created in incremental auto-vacuum mode,
   the mode ``deletion.compact`` leaves every database in after its first run
   (``--first-vacuum`` leaves SQLite's default instead, so the timed run includes the
   one-time full ``VACUUM`` that switches the mode);
2. seeds one organisation with three handlers and the given number of cases, each with what a
   handled case has: 12 sealed keys (3 kinds x 3 handlers and the recovery key), 2 messages,
   1 attachment (a real file in the store), 1 internal note, a meeting with minutes for the
   ~5 % whose reporter asked for one, a reporter session for ~2 %, the sent reminders the
   outbox keeps (~2.5 rows a case) and 2-3 audit entries in one valid hash chain. Exactly
   the number to delete (``--due``) are closed with a deletion day in the past, spread at
   random over all ids (the hardest case for page locality); the others are open or closed
   with a deletion day ahead. Ciphertext and sealed keys are random bytes of the sizes the
   real formats have. Rows go in with the driver's bulk paths in batches (``executemany`` on
   SQLite, ``COPY`` on PostgreSQL). PostgreSQL then gets a ``VACUUM (ANALYZE)``, as
   autovacuum would do soon after such a load;
3. takes a fingerprint of the kept cases (row counts, id sums and ciphertext lengths of every
   table), then times one ``deletion.run`` in a fresh session (wall time); on SQLite the
   ``compact`` step (incremental vacuum, WAL truncation) is timed on its own as well. Every
   statement is timed too (SQLAlchemy cursor events), to show where the time goes. On SQLite
   it then reports the pages the run left on the freelist (see :func:`free_pages`);
4. checks that exactly the due cases were deleted, with a tombstone and a ``case.deleted``
   audit entry each (linked into the chain), that none of their rows (keys, messages,
   attachments, notes, meetings, minutes, sessions, outbox mails) or files remain, and that the
   kept cases' rows and files are untouched.

Nothing printed contains report content, identities, case codes, references or keys: only
counts and timings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, cast
from unittest import mock

from benchkit import cpu_model, postgresql, ranked, shielded
from flask import Flask
from flask_babel import Babel
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Table,
    delete,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ClauseElement

from crypto import Argon2Params, KeyKind
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.db import make_engine, make_sessionmaker
from whistle.core.deadlines import acknowledge_due, add_months, feedback_due
from whistle.core.keystore import KeyStore
from whistle.core.models import (
    Attachment,
    AuditEntry,
    AuditHead,
    Case,
    CaseKey,
    CaseNote,
    CaseOutcome,
    CaseStatus,
    CaseTombstone,
    Category,
    Meeting,
    Membership,
    Message,
    MinutesVersion,
    OutboxMail,
    PendingFileDeletion,
    ReferenceCounter,
    Role,
    User,
    WebSession,
)
from whistle.core.organisations import create_organisation
from whistle.core.schema import upgrade
from whistle.core.storage import FileStore
from whistle.notify.outbox import MailKind
from whistle.notify.reminders import reminder_dedup_key
from whistle.retention import deletion
from whistle.staff.passwords import hash_password

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 20261123
CASE_BATCH = 1_000  # cases per round of bulk INSERTs while seeding
AUDIT_BATCH = 5_000  # audit entries per bulk INSERT
TARGET_RATIO = 1.5  # the larger database's run at most this much slower

# Sizes of the real formats (crypto/): an HPKE-sealed case key (ML-KEM-768 + X25519) is
# 1179 bytes, the reporter's wrapped content key 95, the code lookup tag 32; encrypted
# fields are the Padmé-padded plaintext plus 34 bytes (header, nonce, tag).
SEALED_KEY_BYTES = 1179
REPORTER_KEY_BYTES = 95
TAG_BYTES = 32
FIELD_OVERHEAD = 34
STAFF = (
    ("Hanne Handler", (Role.HANDLER,)),
    ("Henrik Handler", (Role.HANDLER,)),
    ("Lise Lead", (Role.LEAD, Role.HANDLER)),
)

# The tables a case's rows live in (besides ``cases``), with a ciphertext column each for the
# fingerprint of the kept cases.
CHILDREN: dict[str, tuple[type[Any], InstrumentedAttribute[Any]]] = {
    "case_keys": (CaseKey, CaseKey.sealed),
    "messages": (Message, Message.body),
    "attachments": (Attachment, Attachment.name),
    "case_notes": (CaseNote, CaseNote.body),
    "meetings": (Meeting, Meeting.uid),
    "minutes_versions": (MinutesVersion, MinutesVersion.body),
    "web_sessions": (WebSession, WebSession.sealed),
}


# --- seeding ---------------------------------------------------------------------------------


def padme(length: int) -> int:
    """The padded length crypto/fields.py gives a plaintext (Padmé), for realistic sizes."""
    length += 1  # the padding mark
    if length <= 32:
        return 32
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


class Noise:
    """Random bytes, cut from one pool: ciphertext looks like this, and one system call per
    value would cost more than the database's work. Not for unique columns (use os.urandom)."""

    def __init__(self, rng: random.Random, size: int = 16 * 2**20) -> None:
        self.rng = rng
        self.pool = os.urandom(size)

    def take(self, length: int) -> bytes:
        start = self.rng.randrange(len(self.pool) - length)
        return self.pool[start : start + length]

    def field(self, median: int, spread: float) -> bytes:
        """Ciphertext of a realistic size for a typed text around ``median`` bytes."""
        plain = max(40, int(self.rng.lognormvariate(0, spread) * median))
        return self.take(padme(plain) + FIELD_OVERHEAD)


def new_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Seeded:
    org_id: int
    total: int
    due_ids: list[int]
    due_references: list[str]
    due_files: list[str]
    kept_files: list[str]
    rows: Counter[str]  # rows seeded per table
    due_rows: Counter[str]  # of which belong to the cases to delete
    audit_seq: int
    audit_hash: bytes
    seconds: float


@dataclass
class Batch:
    """The rows of one round of seeding, by table."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append(row)


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    case_id: int
    reference: str
    action: str
    actor: int | None


class CaseMaker:
    """Makes each case with its rows; counts rows per table, and those of the due cases."""

    def __init__(
        self,
        rng: random.Random,
        org_id: int,
        staff: list[int],
        categories: list[int],
        today: date,
    ) -> None:
        self.rng = rng
        self.noise = Noise(rng)
        self.org_id = org_id
        self.staff = staff
        self.categories = categories
        self.today = today
        self.counters: dict[int, int] = {}
        self.rows: Counter[str] = Counter()
        self.due_rows: Counter[str] = Counter()
        self.events: list[AuditEvent] = []
        self.due_references: list[str] = []
        self.due_files: list[str] = []
        self.kept_files: list[str] = []

    def dates(self, kind: str) -> dict[str, Any]:
        """Received, acknowledged, feedback and closing days, and retention, for ``kind``:
        "due" (closed, deletion day passed), "kept" (closed, deletion day ahead) or "open"."""
        rng, today = self.rng, self.today
        outcome = rule = delete_on = closed = None
        if kind == "due":
            # Not substantiated, deleted 2 months after closure (R2), 1-30 days ago.
            delete_on = today - timedelta(rng.randint(1, 30))
            closed = add_months(delete_on, -2)
            feedback = closed - timedelta(rng.randint(0, 30))
            acknowledged = feedback - timedelta(rng.randint(20, 85))
            received = acknowledged - timedelta(rng.randint(0, 7))
            outcome = CaseOutcome.NOT_SUBSTANTIATED.value
            rule = f"{outcome}:2m"
        elif kind == "kept":
            # Kept until a date a handler set (substantiated or referred: follow-up elsewhere).
            received = today - timedelta(rng.randint(120, 3 * 365))
            acknowledged = received + timedelta(rng.randint(0, 7))
            feedback = acknowledged + timedelta(rng.randint(20, 85))
            closed = min(feedback + timedelta(rng.randint(0, 60)), today - timedelta(1))
            delete_on = today + timedelta(rng.randint(1, 3650))
            outcome = rng.choice((CaseOutcome.SUBSTANTIATED.value, CaseOutcome.REFERRED.value))
            rule = f"{outcome}:date"
        else:
            received = today - timedelta(rng.randint(0, 200))
            acknowledged = received + timedelta(rng.randint(0, 7))
            feedback = acknowledged + timedelta(rng.randint(20, 85))
        return {
            "received_on": received,
            "acknowledged_on": acknowledged if acknowledged <= today else None,
            "feedback_on": feedback if feedback <= today else None,
            "closed_on": closed,
            "outcome": outcome,
            "retention_rule": rule,
            "delete_on": delete_on,
        }

    def make(self, batch: Batch, case_id: int, kind: str) -> None:
        rng, noise, org_id, staff = self.rng, self.noise, self.org_id, self.staff
        days = self.dates(kind)
        received: date = days["received_on"]
        acknowledged: date | None = days["acknowledged_on"]
        self.counters[received.year] = self.counters.get(received.year, 0) + 1
        reference = f"{received.year}-{self.counters[received.year]:04d}"
        closed = days["closed_on"] is not None
        status = CaseStatus.OPEN if acknowledged is not None else CaseStatus.NEW
        if closed:
            status = CaseStatus.CLOSED
        anonymous = rng.random() < 0.6
        meeting = rng.random() < 0.05
        counts_before = {table: len(rows) for table, rows in batch.rows.items()}
        batch.add(
            "cases",
            ranked(
                {
                    "id": case_id,
                    "uid": new_uid(rng),
                    "org_id": org_id,
                    "reference": reference,
                    "status": status.value,
                    "category_id": rng.choice(self.categories),
                    "channel": "web",
                    "anonymous": anonymous,
                    "meeting_requested": meeting,
                    "received_on": received,
                    "acknowledge_due": acknowledge_due(received),
                    "acknowledged_on": acknowledged,
                    "feedback_due": feedback_due(received, acknowledged),
                    "feedback_on": days["feedback_on"],
                    "closed_on": days["closed_on"],
                    "reporter_tag": os.urandom(TAG_BYTES),
                    "reporter_key": noise.take(REPORTER_KEY_BYTES),
                    "report": noise.field(1500, 0.8),
                    "identity": None if anonymous else noise.field(120, 0.4),
                    "nudge_address": noise.field(30, 0.2) if rng.random() < 0.2 else None,
                    "unread_for_handlers": not closed and rng.random() < 0.35,
                    "unread_for_reporter": rng.random() < 0.1,
                    "assigned_user_id": rng.choice(staff),
                    "scope": "in_scope" if acknowledged is not None else None,
                    "hearing": "held" if days["outcome"] == CaseOutcome.SUBSTANTIATED else None,
                    "outcome": days["outcome"],
                    "delete_on": days["delete_on"],
                    "retention_rule": days["retention_rule"],
                    "hold_since": None,
                }
            ),
        )
        # 3 kinds x (3 handlers + the organisation's recovery key).
        for key_kind in KeyKind:
            for user_id in (*staff, None):
                batch.add(
                    "case_keys",
                    {
                        "org_id": org_id,
                        "case_id": case_id,
                        "kind": key_kind.value,
                        "recipient": "recovery" if user_id is None else "user",
                        "user_id": user_id,
                        "sealed": noise.take(SEALED_KEY_BYTES),
                    },
                )
        # The acknowledgement, and a reporter's reply that came with a file.
        sent = acknowledged or received
        handler = rng.choice(staff)
        for offset, author, author_user_id, message_kind in (
            (0, "handler", handler, "acknowledgement"),
            (1, "reporter", None, "message"),
        ):
            batch.add(
                "messages",
                {
                    "id": 2 * case_id - 1 + offset,
                    "uid": new_uid(rng),
                    "org_id": org_id,
                    "case_id": case_id,
                    "author": author,
                    "author_user_id": author_user_id,
                    "kind": message_kind,
                    "sent_on": sent + timedelta(offset),
                    "body": noise.field(900, 0.6),
                    "read_by_reporter_on": sent if offset == 0 else None,
                    "purged_on": None,
                },
            )
        storage_name = FileStore.new_name()
        content = noise.take(rng.randint(512, 4096))
        batch.files.append((storage_name, content))
        batch.add(
            "attachments",
            {
                "org_id": org_id,
                "case_id": case_id,
                "message_id": 2 * case_id,
                "author": "reporter",
                "storage_name": storage_name,
                "name": noise.field(24, 0.3),
                "size": len(content),
                "metadata_outcome": "stripped",
                "added_on": sent + timedelta(1),
                "purged_on": None,
            },
        )
        batch.add(
            "case_notes",
            {
                "uid": new_uid(rng),
                "org_id": org_id,
                "case_id": case_id,
                "author_user_id": handler,
                "kind": "note",
                "created_on": sent,
                "body": noise.field(700, 0.6),
                "purged_on": None,
            },
        )
        if meeting:
            held = received + timedelta(rng.randint(5, 20))
            batch.add(
                "meetings",
                {
                    "id": case_id,
                    "uid": new_uid(rng),
                    "org_id": org_id,
                    "case_id": case_id,
                    "status": "held",
                    "requested_on": received,
                    "due_on": received + timedelta(14),
                    "held_on": held,
                },
            )
            batch.add(
                "minutes_versions",
                {
                    "uid": new_uid(rng),
                    "org_id": org_id,
                    "case_id": case_id,
                    "meeting_id": case_id,
                    "version": 1,
                    "author": "handler",
                    "author_user_id": handler,
                    "created_on": held,
                    "body": noise.field(1500, 0.5),
                    "approved_on": held + timedelta(3),
                },
            )
        if rng.random() < 0.02:  # a reporter signed in to the mailbox lately
            batch.add(
                "web_sessions",
                {
                    "token_hash": os.urandom(32),
                    "kind": "reporter",
                    "case_id": case_id,
                    "user_id": None,
                    "sealed": noise.take(96),
                    "last_seen_at": datetime.combine(self.today, datetime.min.time(), UTC),
                    "created_at": datetime.combine(self.today, datetime.min.time(), UTC),
                },
            )
        # Sent reminders stay in the outbox (their dedup_key blocks repeats) until the case goes.
        for user_id in staff:
            for mail, prefix, due, share in (
                (MailKind.ACK_SOON, "ack-soon", acknowledge_due(received), 0.35),
                (
                    MailKind.FEEDBACK_SOON,
                    "feedback-soon",
                    feedback_due(received, acknowledged),
                    0.5,
                ),
            ):
                if rng.random() < share:
                    at = datetime.combine(due - timedelta(2), datetime.min.time(), UTC)
                    batch.add(
                        "outbox",
                        {
                            "org_id": org_id,
                            "kind": mail.value,
                            "user_id": user_id,
                            "sealed_address": None,
                            "case_reference": reference,
                            "dedup_key": reminder_dedup_key(prefix, case_id, due, user_id),
                            "created_at": at,
                            "attempts": 1,
                            "last_error": None,
                            "sent_at": at + timedelta(minutes=1),
                        },
                    )
        # The audit log: received (the day only), acknowledged, closed.
        start = datetime.combine(received, datetime.min.time(), UTC)
        self.events.append(AuditEvent(start, case_id, reference, "case.received", None))
        for day, action in (
            (acknowledged, "case.acknowledged"),
            (days["closed_on"], "case.closed"),
        ):
            if day is not None:
                at = datetime.combine(day, datetime.min.time(), UTC)
                at += timedelta(seconds=rng.randint(8 * 3600, 17 * 3600))
                self.events.append(AuditEvent(at, case_id, reference, action, handler))
        added = {t: len(rows) - counts_before.get(t, 0) for t, rows in batch.rows.items()}
        self.rows.update(added)
        self.rows["audit_entries"] += 1 + (acknowledged is not None) + closed
        if kind == "due":
            self.due_rows.update(added)
            self.due_references.append(reference)
            self.due_files.append(storage_name)
        else:
            self.kept_files.append(storage_name)


TABLES: dict[str, Table] = {
    cast(Table, model.__table__).name: cast(Table, model.__table__)
    for model in (
        Case,
        CaseKey,
        Message,
        Attachment,
        CaseNote,
        Meeting,
        MinutesVersion,
        WebSession,
        OutboxMail,
    )
}


def seed_staff(session: Session, org_id: int, now: datetime) -> list[int]:
    """Three handlers (one the unit lead); their passwords are random and thrown away."""
    ids = []
    for name, roles in STAFF:
        user = User(
            email=f"{name.lower().replace(' ', '.')}@example.org",
            display_name=name,
            password_hash=hash_password(secrets.token_urlsafe(16), Argon2Params.for_tests()),
            public_key=os.urandom(1216),
            wrapped_private_key=os.urandom(2500),
            is_active=True,
            created_at=now,
            confidentiality_ack_at=now,
        )
        session.add(user)
        session.flush()
        for role in roles:
            session.add(Membership(org_id=org_id, user_id=user.id, role=role, created_at=now))
        ids.append(user.id)
    return ids


def plain_type(column_type: Any) -> type:
    """The Python type of a column's values (a TypeDecorator's: its implementation's)."""
    return cast(type, getattr(column_type, "impl_instance", column_type).python_type)


def copy_type(column_type: Any) -> str:
    """The PostgreSQL type a column's values are sent as in a binary COPY."""
    python_type = plain_type(column_type)
    if python_type is int:
        return "int8" if isinstance(column_type, BigInteger) else "int4"
    names = {bool: "bool", bytes: "bytea", date: "date", datetime: "timestamp", str: "text"}
    return names[python_type]


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """``rows`` (dicts with the same keys) in one ``executemany`` of the driver (SQLite) or one
    ``COPY`` (PostgreSQL), in the session's transaction. Dates and times go through their
    column's bind processor, as SQLAlchemy would send them; skipping SQLAlchemy's per-row
    parameter handling halves the time of seeding a hundred thousand cases."""
    connection = session.connection()
    dialect = connection.dialect
    columns = list(rows[0])
    # Dates and times only: the drivers take bytes, numbers, strings and booleans as they are.
    processors = [
        table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        if plain_type(table.c[c].type) in (date, datetime)
        else None
        for c in columns
    ]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    if any(processors):
        parameters = [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row.values(), processors, strict=True)
            )
            for row in rows
        ]
    else:
        parameters = [tuple(row.values()) for row in rows]
    if dialect.name == "postgresql":
        # COPY: several times faster than an executemany of INSERTs on PostgreSQL.
        raw = cast(Any, connection.connection.dbapi_connection)
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types([copy_type(table.c[c].type) for c in columns])
            for row in parameters:
                copy.write_row(row)
    else:
        connection.exec_driver_sql(statement, parameters)


def insert_rows(session: Session, batch: Batch, store: FileStore) -> None:
    for name, table in TABLES.items():  # parents before children (foreign keys)
        rows = batch.rows.get(name)
        if rows:
            bulk_insert(session, table, rows)
    for name, content in batch.files:
        store.path(name).write_bytes(content)


def seed_audit(session: Session, org_id: int, events: list[AuditEvent]) -> tuple[int, bytes]:
    """The cases' audit entries in time order, in one valid chain; returns the head."""
    events.sort(key=lambda e: (e.at, e.case_id))
    table = cast(Table, AuditEntry.__table__)
    previous, seq, rows = audit.GENESIS, 0, []
    for e in events:
        seq += 1
        digest = audit.entry_hash(
            prev_hash=previous,
            seq=seq,
            at=e.at,
            org_id=org_id,
            actor_user_id=e.actor,
            action=e.action,
            case_id=e.case_id,
            case_reference=e.reference,
            detail="{}",
        )
        rows.append(
            {
                "seq": seq,
                "at": e.at,
                "org_id": org_id,
                "actor_user_id": e.actor,
                "action": e.action,
                "case_id": e.case_id,
                "case_reference": e.reference,
                "detail": "{}",
                "prev_hash": previous,
                "entry_hash": digest,
            }
        )
        previous = digest
        if len(rows) == AUDIT_BATCH:
            bulk_insert(session, table, rows)
            rows = []
    if rows:
        bulk_insert(session, table, rows)
    session.add(AuditHead(id=audit.HEAD_ID, seq=seq, entry_hash=previous))
    return seq, previous


def seed(engine: Engine, store: FileStore, total: int, due: int, today: date) -> Seeded:
    """One organisation, three handlers and ``total`` cases, ``due`` of them due for deletion."""
    start = time.perf_counter()
    rng = random.Random(SEED + total)
    now = datetime.combine(today, datetime.min.time(), UTC)
    # create_organisation renders its category labels in Danish and English (flask-babel).
    app = Flask("whistle", root_path=str(ROOT / "whistle"))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    Babel(app)
    with app.app_context(), Session(engine) as session:
        org = create_organisation(session, FixedClock(now), name="Benchfirma ApS", slug="bench")
        org_id = org.id
        staff = seed_staff(session, org_id, now)
        categories = list(session.scalars(select(Category.id).where(Category.org_id == org_id)))
        session.commit()
    for prefix in range(256):
        (store.root / f"{prefix:02x}").mkdir(parents=True, exist_ok=True)
    due_ids = sorted(rng.sample(range(1, total + 1), due))
    due_set = set(due_ids)
    maker = CaseMaker(rng, org_id, staff, categories, today)
    with Session(engine) as session:
        if engine.dialect.name == "sqlite":
            # For the load only (run_one disposes of this connection, and settle_disk writes
            # everything out before the timed run): a bigger page cache for the random uids
            # in unique indexes, and no waiting for the disk at each checkpoint.
            session.execute(text("PRAGMA cache_size=-262144"))
            session.execute(text("PRAGMA synchronous=OFF"))
        for first in range(1, total + 1, CASE_BATCH):
            batch = Batch()
            for case_id in range(first, min(first + CASE_BATCH, total + 1)):
                kind = "due" if case_id in due_set else rng.choice(("open", "kept", "kept"))
                maker.make(batch, case_id, kind)
            insert_rows(session, batch, store)
        session.execute(
            insert(ReferenceCounter),
            [{"org_id": org_id, "year": y, "last": n} for y, n in maker.counters.items()],
        )
        seq, head = seed_audit(session, org_id, maker.events)
        if engine.dialect.name == "postgresql":
            # Ids were given explicitly: move the sequences past them, as the app would find.
            for table, last in (("cases", total), ("messages", 2 * total), ("meetings", total)):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                    {"n": last},
                )
        session.commit()
    return Seeded(
        org_id=org_id,
        total=total,
        due_ids=due_ids,
        due_references=maker.due_references,
        due_files=maker.due_files,
        kept_files=maker.kept_files,
        rows=maker.rows,
        due_rows=maker.due_rows,
        audit_seq=seq,
        audit_hash=head,
        seconds=time.perf_counter() - start,
    )


# --- timing ----------------------------------------------------------------------------------

VERB = re.compile(r"^\s*(select|insert\s+into|update|delete\s+from)\s+(\w+)?", re.IGNORECASE)
FROM = re.compile(r"\bfrom\s+(\w+)", re.IGNORECASE)


def statement_group(statement: str) -> str:
    """The kind of ``statement`` for the breakdown: "delete messages", "select cases", ..."""
    match = VERB.match(statement)
    if match is None:
        return statement.split(None, 1)[0].lower() if statement.strip() else "?"
    verb = match.group(1).split()[0].lower()
    table = match.group(2) or ""
    if verb == "select":
        found = FROM.search(statement)
        table = found.group(1) if found else ""
    return f"{verb} {table.lower()}"


class StatementClock:
    """Sums the time of each kind of statement on ``engine`` (cursor events) while active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._started = 0.0

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        group = statement_group(statement)
        self.seconds[group] += time.perf_counter() - self._started
        self.calls[group] += 1

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        try:
            yield
        finally:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)


@dataclass
class Result:
    database: str
    total: int
    deleted: int
    files: int
    seconds: float
    compact: float  # of which deletion.compact (SQLite)
    statements: dict[str, float]
    calls: Counter[str]
    size_before: int
    size_after: int
    free_pages: int  # SQLite: pages the run left on the freelist
    freeing: float  # and the seconds returning them to the file system takes
    problems: list[str]

    @property
    def kept(self) -> int:
        return self.total - self.deleted

    @property
    def ms_per_case(self) -> float:
        return 1000 * self.seconds / max(1, self.deleted)


def time_run(
    engine: Engine, store: FileStore, keystore: KeyStore, today: date
) -> tuple[deletion.RunReport, float, float, StatementClock]:
    """One ``deletion.run`` in a fresh session: (report, seconds, compact seconds, clock)."""
    sessions = make_sessionmaker(engine)
    clock = FixedClock(datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=3))
    statements = StatementClock(engine)
    compacted: list[float] = []
    original = deletion.compact

    def timed_compact(session: Session) -> None:
        start = time.perf_counter()
        original(session)
        compacted.append(time.perf_counter() - start)

    # run() looks compact() up in its module when it calls it: patched here, it is timed.
    with (
        mock.patch.object(deletion, "compact", timed_compact),
        statements.active(),
        sessions() as session,
    ):
        start = time.perf_counter()
        report = deletion.run(session, clock, store, keystore=keystore)
        elapsed = time.perf_counter() - start
    return report, elapsed, sum(compacted), statements


# --- checks ----------------------------------------------------------------------------------


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for first in range(0, len(values), size):
        yield values[first : first + size]


def count_in(connection: Connection, column: Any, values: Sequence[Any]) -> int:
    total = 0
    for part in chunks(values):
        total += int(connection.scalar(select(func.count()).where(column.in_(part))) or 0)
    return total


def fingerprint(connection: Connection, seeded: Seeded) -> dict[str, tuple[int, int, int]]:
    """Per table: the kept cases' rows, the sum of their ids and of their ciphertext lengths."""
    due = seeded.due_ids
    found: dict[str, tuple[int, int, int]] = {}

    def take(name: str, model: Any, blob: Any, keep: ColumnElement[bool]) -> None:
        row = connection.execute(
            select(
                func.count(), func.coalesce(func.sum(model.id), 0), func.sum(func.length(blob))
            ).where(keep)
        ).one()
        found[name] = (int(row[0]), int(row[1]), int(row[2] or 0))

    take("cases", Case, Case.report, Case.id.not_in(due))
    for name, (model, blob) in CHILDREN.items():
        take(name, model, blob, model.case_id.not_in(due))
    take(
        "outbox",
        OutboxMail,
        OutboxMail.dedup_key,
        OutboxMail.case_reference.not_in(seeded.due_references),
    )
    return found


def check(
    engine: Engine,
    store: FileStore,
    seeded: Seeded,
    report: deletion.RunReport,
    before: dict[str, tuple[int, int, int]],
) -> list[str]:
    """Everything that must hold after the run; returns what did not (counts, never content)."""
    problems: list[str] = []
    due = len(seeded.due_ids)

    def expect(what: str, got: object, wanted: object) -> None:
        if got != wanted:
            problems.append(f"{what}: {got}, expected {wanted}")

    expect("cases deleted (run report)", report.deleted, due)
    expect("files removed (run report)", report.files, len(seeded.due_files))
    expect("held (run report)", report.held, 0)
    with engine.connect() as c:
        expect("cases left", c.scalar(select(func.count()).select_from(Case)), seeded.total - due)
        expect("due cases left", count_in(c, Case.id, seeded.due_ids), 0)
        tombstones = set(c.scalars(select(CaseTombstone.case_id)))
        expect("tombstones", len(tombstones), due)
        expect("tombstones of the due cases", len(tombstones & set(seeded.due_ids)), due)
        for name, (model, _blob) in CHILDREN.items():
            expect(f"{name} of due cases left", count_in(c, model.case_id, seeded.due_ids), 0)
            expect(
                f"{name} left",
                c.scalar(select(func.count()).select_from(model)),
                seeded.rows[name] - seeded.due_rows[name],
            )
        expect(
            "outbox mails of due cases left",
            count_in(c, OutboxMail.case_reference, seeded.due_references),
            0,
        )
        expect(
            "outbox mails left",
            c.scalar(select(func.count()).select_from(OutboxMail)),
            seeded.rows["outbox"] - seeded.due_rows["outbox"],
        )
        expect("files pending", c.scalar(select(func.count()).select_from(PendingFileDeletion)), 0)
        after = fingerprint(c, seeded)
        for name, wanted in before.items():
            expect(f"kept {name} (rows, id sum, bytes)", after[name], wanted)
        check_audit(c, seeded, problems)
    expect("files of due cases left", sum(store.exists(n) for n in seeded.due_files), 0)
    expect(
        "files of kept cases",
        sum(store.exists(n) for n in seeded.kept_files),
        len(seeded.kept_files),
    )
    expect("files in the store", sum(1 for _ in store.names()), len(seeded.kept_files))
    return problems


def check_audit(c: Connection, seeded: Seeded, problems: list[str]) -> None:
    """The seeded entries unchanged, one ``case.deleted`` entry per deleted case, chained on
    from the seeded head."""
    old = c.scalar(select(func.count()).where(AuditEntry.seq <= seeded.audit_seq))
    if old != seeded.rows["audit_entries"]:
        problems.append(f"seeded audit entries: {old}, expected {seeded.rows['audit_entries']}")
    rows = c.execute(
        select(
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
        .where(AuditEntry.seq > seeded.audit_seq)
        .order_by(AuditEntry.seq)
    ).all()
    deleted = sorted(r.case_id for r in rows if r.action == "case.deleted")
    if deleted != seeded.due_ids or len(rows) != len(seeded.due_ids):
        problems.append(f"case.deleted entries: {len(deleted)} of {len(rows)} new entries")
    previous, seq = seeded.audit_hash, seeded.audit_seq
    for r in rows:
        seq += 1
        digest = audit.entry_hash(
            prev_hash=previous,
            seq=r.seq,
            at=r.at,
            org_id=r.org_id,
            actor_user_id=r.actor_user_id,
            action=r.action,
            case_id=r.case_id,
            case_reference=r.case_reference,
            detail=r.detail,
        )
        if r.seq != seq or bytes(r.prev_hash) != previous or bytes(r.entry_hash) != digest:
            problems.append(f"audit entry {r.seq} does not chain on")
            break
        previous = digest
    head = c.execute(select(AuditHead.seq, AuditHead.entry_hash)).one()
    if head.seq != seq or bytes(head.entry_hash) != previous:
        problems.append("audit head does not match the last entry")


# --- diagnostics -----------------------------------------------------------------------------


def explain(engine: Engine, seeded: Seeded, today: date) -> None:
    """The plans of the run's first batch: the due cases' query and every DELETE, as
    ``deletion.delete_cases`` sends them. PostgreSQL: EXPLAIN ANALYZE in a transaction that
    is rolled back (it shows the time of the foreign-key triggers); SQLite: EXPLAIN QUERY PLAN
    (foreign-key checks do not appear in it)."""
    postgresql = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgresql else "EXPLAIN QUERY PLAN "
    # The same conditions as deletion.run's query (a private helper, read on purpose here).
    due_query = (
        select(Case.id, Case.reference)
        .where(*deletion._due(today))
        .order_by(Case.delete_on, Case.id)
        .limit(deletion.BATCH)
    )
    with engine.connect() as c:
        rows = c.execute(due_query).all()
        ids = [r.id for r in rows]
        pairs = [(seeded.org_id, r.reference) for r in rows]
        statements: list[tuple[str, ClauseElement]] = [
            ("due cases", due_query.with_for_update(skip_locked=True)),
            (
                "file names",
                select(Attachment.case_id, Attachment.storage_name).where(
                    Attachment.case_id.in_(ids)
                ),
            ),
        ]
        for model in (MinutesVersion, Meeting, CaseNote, Attachment, Message, CaseKey, WebSession):
            statements.append(
                (f"delete {model.__tablename__}", delete(model).where(model.case_id.in_(ids)))
            )
        statements.append(
            (
                "delete outbox",
                delete(OutboxMail).where(
                    tuple_(OutboxMail.org_id, OutboxMail.case_reference).in_(pairs)
                ),
            )
        )
        statements.append(("delete cases", delete(Case).where(Case.id.in_(ids))))
        for label, statement in statements:
            sql = str(
                statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            )
            print(f"\n--- {label} ({len(ids)} cases; {engine.dialect.name})")
            for row in c.exec_driver_sql(prefix + sql):
                print("   ", " | ".join(str(v) for v in row))
        c.rollback()


# --- the databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite(workdir: Path, incremental: bool) -> Iterator[tuple[Engine, str]]:
    """A new SQLite file; in incremental auto-vacuum mode unless told otherwise (the mode must
    be set before the first table exists)."""
    path = workdir / f"retention-bench-{secrets.token_hex(4)}.sqlite"
    if incremental:
        # Before make_engine's pragmas: once journal_mode=WAL has written the file's header,
        # the mode can only change through a full VACUUM.
        raw = sqlite3.connect(path)
        try:
            raw.execute("PRAGMA auto_vacuum=INCREMENTAL")
            raw.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            server = connection.scalar(text("SELECT sqlite_version()"))
        yield engine, f"SQLite {server}"
    finally:
        engine.dispose()
        for leftover in workdir.glob(f"{path.name}*"):  # the database and its WAL files
            leftover.unlink(missing_ok=True)


def settle_disk(engine: Engine) -> None:
    """Write the load out before the timed run, so it does not wait for the seeding's writes:
    a PostgreSQL checkpoint (needs a superuser or pg_checkpoint; skipped otherwise) and a sync
    of the file systems."""
    if engine.dialect.name == "postgresql":
        with (
            contextlib.suppress(DBAPIError),
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        ):
            connection.execute(text("CHECKPOINT"))
    os.sync()


def database_bytes(engine: Engine) -> int:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return int(connection.scalar(text("SELECT pg_database_size(current_database())")))
        pages = connection.scalar(text("PRAGMA page_count"))
        page_size = connection.scalar(text("PRAGMA page_size"))
        return int(pages) * int(page_size)


def free_pages(engine: Engine) -> tuple[int, float]:
    """SQLite: the pages the run left on the freelist, and the seconds returning them takes.

    ``compact`` runs ``PRAGMA incremental_vacuum`` through ``cursor.execute``, which Python's
    sqlite3 steps once: that frees one page. ``executescript`` steps it to the end; timed here
    (with the WAL truncation compact does) as the cost compact would have if it did that."""
    if engine.dialect.name != "sqlite":
        return 0, 0.0
    with engine.connect() as connection:
        left = int(connection.scalar(text("PRAGMA freelist_count")) or 0)
        if not left:
            return 0, 0.0
        raw = cast(Any, connection.connection.dbapi_connection)
        start = time.perf_counter()
        raw.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
        return left, time.perf_counter() - start


def sqlite_mode(engine: Engine) -> str:
    with engine.connect() as connection:
        mode = connection.scalar(text("PRAGMA auto_vacuum"))
    return {0: "none", 1: "full", 2: "incremental"}.get(int(mode), str(mode))


def run_one(
    opened: contextlib.AbstractContextManager[tuple[Engine, str]],
    storedir: Path,
    total: int,
    due: int,
    explain_plans: bool,
) -> Result:
    """Migrate, seed, time one retention run and check what it did."""
    today = date.today()
    store_root = storedir / f"files-{secrets.token_hex(4)}"
    store = FileStore(store_root)
    # The seeded cases have no keys in it: the run lists and destroys their names (a no-op).
    keystore = KeyStore(f"sqlite:///{storedir / f'keystore-{secrets.token_hex(4)}.db'}")
    try:
        with opened as (engine, name):
            start = time.perf_counter()
            upgrade(engine)
            migrated = time.perf_counter() - start
            seeded = seed(engine, store, total, due, today)
            engine.dispose()  # the run gets fresh connections, with the app's settings
            settled = 0.0
            if engine.dialect.name == "postgresql":
                start = time.perf_counter()
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("VACUUM (ANALYZE)"))
                settled = time.perf_counter() - start
            size_before = database_bytes(engine)
            with engine.connect() as connection:
                before = fingerprint(connection, seeded)
            settle_disk(engine)
            mode = (
                ""
                if engine.dialect.name == "postgresql"
                else f", auto_vacuum {sqlite_mode(engine)}"
            )
            print(
                f"\n{name}, {total:,} cases ({due:,} due): migrated in {migrated:.1f} s, seeded "
                f"{sum(seeded.rows.values()):,} rows and {total:,} files in {seeded.seconds:.1f} s"
                + (f", VACUUM ANALYZE {settled:.1f} s" if settled else "")
                + f"; database {size_before / 2**20:,.0f} MiB{mode}",
                flush=True,
            )
            if explain_plans:
                explain(engine, seeded, today)
            report, seconds, compact, statements = time_run(engine, store, keystore, today)
            size_after = database_bytes(engine)
            left, freeing = free_pages(engine)
            problems = check(engine, store, seeded, report, before)
            result = Result(
                database=name,
                total=total,
                deleted=report.deleted,
                files=report.files,
                seconds=seconds,
                compact=compact,
                statements=statements.seconds,
                calls=statements.calls,
                size_before=size_before,
                size_after=size_after,
                free_pages=left,
                freeing=freeing,
                problems=problems,
            )
            print_breakdown(result)
            return result
    finally:
        shutil.rmtree(store_root, ignore_errors=True)
        keystore.dispose()


# --- output ----------------------------------------------------------------------------------


def print_breakdown(r: Result) -> None:
    print(
        f"  run {r.seconds:.2f} s ({r.ms_per_case:.2f} ms per deleted case)"
        + (f", of which compact {r.compact:.2f} s" if r.compact else "")
        + f"; database {r.size_before / 2**20:,.0f} -> {r.size_after / 2**20:,.0f} MiB; "
        + ("checks: all passed" if not r.problems else f"checks: {len(r.problems)} FAILED")
    )
    for problem in r.problems:
        print(f"    FAILED: {problem}")
    if r.free_pages:
        print(
            f"  NOTE: compact left {r.free_pages:,} free pages in the file; "
            f"PRAGMA incremental_vacuum through executescript returns them in {r.freeing:.2f} s"
        )
    in_statements = sum(r.statements.values())
    print(f"  {'where the time went':<34} {'calls':>7} {'seconds':>8}")
    for group, seconds in sorted(r.statements.items(), key=lambda g: -g[1])[:8]:
        print(f"  {group:<34} {r.calls[group]:7,d} {seconds:8.3f}")
    rest = r.seconds - in_statements - r.compact
    print(f"  {'(compact, outside statements)':<34} {'':>7} {r.compact:8.3f}")
    print(f"  {'(Python, commits, file removal)':<34} {'':>7} {rest:8.3f}")


def print_table(results: list[Result]) -> bool:
    """The summary, and whether each database's ratio is within the target."""
    print(
        f"\n{'database':<18} {'cases':>9} {'kept':>9} {'deleted':>8} {'run s':>8} "
        f"{'ms/deleted':>11} {'compact s':>10} {'pages left':>11} {'freeing s':>10}"
    )
    for r in results:
        print(
            f"{r.database:<18} {r.total:9,d} {r.kept:9,d} {r.deleted:8,d} {r.seconds:8.2f} "
            f"{r.ms_per_case:11.2f} {r.compact:10.2f} {r.free_pages:11,d} {r.freeing:10.2f}"
        )
    good = True
    by_database: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_database[r.database].append(r)
    for database, runs in by_database.items():
        runs.sort(key=lambda r: r.total)
        small = runs[0]
        for large in runs[1:]:
            ratio = large.seconds / small.seconds
            without = (large.seconds - large.compact) / (small.seconds - small.compact)
            met = ratio <= TARGET_RATIO
            good = good and met
            print(
                f"{database}: {large.total:,} / {small.total:,} cases: run {ratio:.2f}x"
                + (f", without compact {without:.2f}x" if large.compact or small.compact else "")
                + f" (target <= {TARGET_RATIO}x: {'met' if met else 'MISSED'})"
            )
    return good


# --- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="200 of 2,000 cases against 200 of 20,000"
    )
    parser.add_argument("--only", choices=("postgresql", "sqlite"), help="one database only")
    parser.add_argument(
        "--totals",
        type=int,
        nargs="+",
        help="numbers of cases to seed, one fresh database each (default: 2000 100000)",
    )
    parser.add_argument("--due", type=int, help="cases due for deletion (default: 1000)")
    parser.add_argument(
        "--first-vacuum",
        action="store_true",
        help="SQLite: keep SQLite's default auto_vacuum mode, so the run includes compact()'s "
        "one-time full VACUUM (the first run on a database made before that mode was set)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of the run's first batch"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="an existing PostgreSQL database to run CREATE/DROP DATABASE from",
    )
    args = parser.parse_args()
    due, totals = (200, [2_000, 20_000]) if args.quick else (1_000, [2_000, 100_000])
    args.due = args.due or due
    args.totals = sorted(args.totals or totals)
    if args.due < 1 or args.totals[0] < args.due:
        parser.error("--due must be positive and at most the smallest of --totals")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    databases = [args.only] if args.only else ["postgresql", "sqlite"]
    print(
        f"machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu_model()}; "
        f"python {platform.python_version()}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}; retention batches of {deletion.BATCH} cases"
    )
    workdir = Path(tempfile.mkdtemp(prefix="whistle-retention-bench-"))
    # The file store in memory when there is a tmpfs: creating a file on a virtual disk can
    # take 1-2 ms (minutes for 100,000), and the run only removes the due cases' files.
    shm = Path("/dev/shm")
    storedir = Path(
        tempfile.mkdtemp(prefix="whistle-retention-files-", dir=shm if shm.is_dir() else None)
    )
    results: list[Result] = []
    good = True
    started = time.perf_counter()
    try:
        openers: dict[str, Callable[[], contextlib.AbstractContextManager[tuple[Engine, str]]]]
        openers = {
            "postgresql": lambda: postgresql(args.database_url),
            "sqlite": lambda: sqlite(workdir, incremental=not args.first_vacuum),
        }
        for name in databases:
            for total in args.totals:
                results.append(run_one(openers[name](), storedir, total, args.due, args.explain))
        good = print_table(results)
        checked = all(not r.problems for r in results)
        print(
            f"\nchecks: {'all passed' if checked else 'FAILED'}; "
            f"whole run {time.perf_counter() - started:.0f} s"
        )
        good = good and checked
    except KeyboardInterrupt:
        good = False
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        # The PostgreSQL database was dropped on the way out of postgresql() above.
        with shielded():
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(storedir, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
