"""Throttles shared by every app process and machine: counts in the database, not in memory.

A throttle counts attempts per key (a client address, an account, an organisation) in the
``throttles`` table (whistle/core/models.py ``ThrottleEntry``), so every gunicorn worker and
every app machine sees the same counts, and a restart forgets nothing (DESIGN.md: "Throttles,
sessions and queues live in the database").

How a scope counts is its :class:`Policy`: ``free`` attempts in a ``window``; after that either
no attempt until the window ends (a quota), or each further attempt must wait, ``base``
seconds doubling with every attempt up to ``cap`` (a backoff). A wait never refuses for good:
it ends, and the page says when.

**Atomic.** :func:`attempt` is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE wait_until <=
now RETURNING`` (SQLite >= 3.35 and PostgreSQL both have it): it counts the attempt and sets
the next wait in the same statement, or returns no row when the key must still wait. Parallel
requests in any number of processes are serialised on the row by the database; none can slip
between a check and a count.

**No address in clear.** Keys are HMAC-SHA256 under a key derived from the instance key (the
instance folder, not the database), over the scope and the value, truncated to
:data:`KEY_BYTES` = 16 bytes (128 bits: no collision between two clients in any table this
size). A copy of the database cannot test whether an address is in it.

**Bounded.** Rows end at ``expires_at`` (the later of the window's end and the wait's end)
and are pruned: by :func:`prune` (``whistle maintenance`` runs it), and in the flood guard.
A scope holds at most :data:`MAX_KEYS_PER_SCOPE` keys: when a new key finds its scope full,
expired rows are pruned first; if it is still full, the new key is counted in one of
:data:`OVERFLOW_BUCKETS` shared buckets (chosen by its hash) instead of a row of its own. So a
flood of fresh addresses (an IPv6 block has billions) grows the table by at most the buckets,
the flooder's own attempts still count (in buckets they share with each other), and a
legitimate client arriving during the flood is counted in a bucket too: at worst it waits as
its bucket waits (capped, and told when), it is never refused for good, and every client
already known keeps its own row.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal, select
from sqlalchemy.orm import Session

from whistle.core.db import unit_of_work, upsert_insert
from whistle.core.models import ThrottleEntry

KEY_BYTES = 16
MAX_KEYS_PER_SCOPE = 50_000
OVERFLOW_BUCKETS = 1024
_KEY_LABEL = b"WHS throttle keys v1"


@dataclass(frozen=True)
class Policy:
    """How one scope counts (see the module's docstring).

    ``base == 0``: a quota, at most ``free`` attempts per ``window`` seconds. ``base > 0``: a
    backoff, ``free`` attempts per ``window``, then a wait of ``base`` seconds before the next,
    doubling with each attempt, never more than ``cap``.
    """

    scope: str
    free: int
    window: int
    base: int = 0
    cap: int = 0

    def __post_init__(self) -> None:
        if self.free < 1 or self.window < 1 or self.base < 0 or self.cap < self.base:
            raise ValueError("a throttle policy needs free >= 1, window >= 1, base <= cap")

    def delay(self, hits: int) -> int:
        """The backoff's wait (seconds) after the ``hits``-th attempt of a window."""
        if hits < self.free or self.base == 0:
            return 0
        return min(self.cap, self.base << min(hits - self.free, 32))

    def next_wait_sql(self, hits: Any, start: Any, now: int) -> ColumnElement[int]:
        """SQL: when the next attempt may come, after ``hits`` attempts in the window that
        began at ``start`` (both SQL expressions)."""
        if self.base == 0:
            return case((hits >= self.free, start + self.window), else_=literal(0))
        ladder = []
        step = 0
        while self.base << step < self.cap:
            ladder.append((hits == self.free + step, literal(now + (self.base << step))))
            step += 1
        return case((hits < self.free, literal(0)), *ladder, else_=literal(now + self.cap))


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`attempt`: ``allowed``, or else the moment (Unix seconds) the key
    may try again; ``hits`` is the attempts counted in the current window."""

    allowed: bool
    retry_at: int
    hits: int

    def wait_seconds(self, now: int) -> int:
        return max(0, self.retry_at - now)


def derive_key(instance_key: bytes) -> bytes:
    """The throttle's HMAC key, derived from the instance key (a separate key for a separate
    use: nothing else is keyed with it)."""
    return hmac.new(instance_key, _KEY_LABEL, hashlib.sha256).digest()


def hashed(secret: bytes, scope: str, value: str) -> bytes:
    """The stored key for ``value`` in ``scope``: :data:`KEY_BYTES` of HMAC-SHA256."""
    message = scope.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()[:KEY_BYTES]


def seconds(moment: datetime) -> int:
    """The throttle's time: whole Unix seconds."""
    return int(moment.timestamp())


def attempt(session: Session, secret: bytes, policy: Policy, value: str, now: int) -> Verdict:
    """Count one attempt of ``value`` in ``policy``'s scope, unless it must wait. Commits.

    Atomic: the count and the next wait are set by one statement (module docstring)."""
    with unit_of_work(session):
        key = _stored_key(session, secret, policy, value, now)
        start = case(
            (ThrottleEntry.window_start <= now - policy.window, literal(now)),
            else_=ThrottleEntry.window_start,
        )
        hits = case(
            (ThrottleEntry.window_start <= now - policy.window, literal(1)),
            else_=ThrottleEntry.hits + 1,
        )
        wait_until = policy.next_wait_sql(hits, start, now)
        if policy.base:
            first_wait = now + policy.delay(1) if policy.delay(1) else 0
        else:
            first_wait = now + policy.window if policy.free <= 1 else 0
        insert = upsert_insert(session)(ThrottleEntry).values(
            scope=policy.scope,
            key=key,
            hits=1,
            window_start=now,
            wait_until=first_wait,
            expires_at=max(first_wait, now + policy.window),
        )
        statement = insert.on_conflict_do_update(
            index_elements=[ThrottleEntry.scope, ThrottleEntry.key],
            set_={
                "hits": hits,
                "window_start": start,
                "wait_until": wait_until,
                "expires_at": case(
                    (wait_until > start + policy.window, wait_until),
                    else_=start + policy.window,
                ),
            },
            where=ThrottleEntry.wait_until <= now,
        ).returning(ThrottleEntry.hits, ThrottleEntry.wait_until)
        row = session.execute(statement).first()
        if row is not None:
            return Verdict(allowed=True, retry_at=int(row.wait_until), hits=int(row.hits))
        found = session.execute(
            select(ThrottleEntry.hits, ThrottleEntry.wait_until).where(
                ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key
            )
        ).first()
        retry_at, count = (int(found.wait_until), int(found.hits)) if found else (now, 0)
        return Verdict(allowed=False, retry_at=retry_at, hits=count)


def waiting(session: Session, secret: bytes, policy: Policy, value: str, now: int) -> int:
    """Seconds ``value`` must still wait in ``policy``'s scope (0: it may try); counts
    nothing. For telling a person, never to decide: deciding is :func:`attempt`'s."""
    key = hashed(secret, policy.scope, value)
    with unit_of_work(session):  # a read, ended at once (no snapshot held into a write)
        found = session.scalar(
            select(ThrottleEntry.wait_until).where(
                ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key
            )
        )
        if found is None:
            found = session.scalar(
                select(ThrottleEntry.wait_until).where(
                    ThrottleEntry.scope == policy.scope, ThrottleEntry.key == _bucket(secret, key)
                )
            )
    return max(0, int(found) - now) if found is not None else 0


def hits_in_window(session: Session, secret: bytes, policy: Policy, value: str, now: int) -> int:
    """The attempts counted for ``value`` in its current window (0 once it has passed)."""
    key = hashed(secret, policy.scope, value)
    with unit_of_work(session):  # a read, ended at once (no snapshot held into a write)
        found = session.execute(
            select(ThrottleEntry.hits, ThrottleEntry.window_start).where(
                ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key
            )
        ).first()
    if found is None or found.window_start <= now - policy.window:
        return 0
    return int(found.hits)


def refund(session: Session, secret: bytes, policy: Policy, value: str, now: int) -> None:
    """Take back one attempt that turned out right (a correct case code): it should not bring
    the next wait closer. The wait it set, if any, is lifted. Commits."""
    with unit_of_work(session):
        key = hashed(secret, policy.scope, value)
        entry = session.get(ThrottleEntry, (policy.scope, key), with_for_update=True)
        if entry is None:
            return
        entry.hits = max(0, entry.hits - 1)
        entry.wait_until = min(entry.wait_until, now + policy.delay(entry.hits))
        if entry.hits < policy.free:
            entry.wait_until = min(entry.wait_until, now)


def forget(session: Session, secret: bytes, policy: Policy, value: str) -> None:
    """Drop ``value``'s count in ``policy``'s scope (a successful sign-in). Commits."""
    with unit_of_work(session):
        session.execute(
            delete(ThrottleEntry).where(
                ThrottleEntry.scope == policy.scope,
                ThrottleEntry.key == hashed(secret, policy.scope, value),
            )
        )


def prune(session: Session, now: int) -> int:
    """Delete every row that no longer says anything; the number deleted. Commits."""
    with unit_of_work(session):
        result = session.execute(delete(ThrottleEntry).where(ThrottleEntry.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def _stored_key(session: Session, secret: bytes, policy: Policy, value: str, now: int) -> bytes:
    """The key to count under: the value's own, or (its scope full of live rows) its
    overflow bucket's. The flood guard of the module's docstring."""
    key = hashed(secret, policy.scope, value)
    known = session.scalar(
        select(ThrottleEntry.hits).where(
            ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key
        )
    )
    if known is not None or _rows(session, policy.scope) < MAX_KEYS_PER_SCOPE:
        return key
    session.execute(
        delete(ThrottleEntry).where(
            ThrottleEntry.scope == policy.scope, ThrottleEntry.expires_at <= now
        )
    )
    if _rows(session, policy.scope) < MAX_KEYS_PER_SCOPE:
        return key
    return _bucket(secret, key)


def _bucket(secret: bytes, key: bytes) -> bytes:
    index = int.from_bytes(key[:4], "big") % OVERFLOW_BUCKETS
    return hashed(secret, "overflow", str(index))


def _rows(session: Session, scope: str) -> int:
    """Live rows of ``scope``, counted no further than the bound (an index-only count)."""
    limited = (
        select(literal(1))
        .select_from(ThrottleEntry)
        .where(ThrottleEntry.scope == scope)
        .limit(MAX_KEYS_PER_SCOPE)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)
