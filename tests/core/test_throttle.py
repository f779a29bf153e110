"""The database throttle (whistle/core/throttle.py): its window, its backoff, its keys, its
bound and its atomicity, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from whistle.core import throttle
from whistle.core.db import make_engine, make_sessionmaker
from whistle.core.models import ThrottleEntry
from whistle.core.throttle import Policy, attempt, hashed, prune

SECRET = throttle.derive_key(b"\x01" * 32)
T0 = 1_800_000_000
QUOTA = Policy("test.quota", free=3, window=60)
BACKOFF = Policy("test.backoff", free=2, window=3600, base=10, cap=40)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


def rows(session: Session, scope: str) -> int:
    found = session.scalar(
        select(func.count()).select_from(ThrottleEntry).where(ThrottleEntry.scope == scope)
    )
    session.rollback()
    return int(found or 0)


def test_a_quota_allows_its_attempts_and_refuses_until_the_window_has_passed(
    session: Session,
) -> None:
    for _ in range(3):
        assert attempt(session, SECRET, QUOTA, "198.51.100.1", T0).allowed
    refused = attempt(session, SECRET, QUOTA, "198.51.100.1", T0 + 1)
    assert not refused.allowed and refused.retry_at == T0 + 60
    # One second before the window's end it still refuses; at its end it counts afresh.
    assert not attempt(session, SECRET, QUOTA, "198.51.100.1", T0 + 59).allowed
    again = attempt(session, SECRET, QUOTA, "198.51.100.1", T0 + 60)
    assert again.allowed and again.hits == 1
    # Another key was never held back.
    assert attempt(session, SECRET, QUOTA, "198.51.100.2", T0 + 1).allowed


def test_a_backoff_doubles_the_wait_up_to_its_cap(session: Session) -> None:
    now = T0
    assert attempt(session, SECRET, BACKOFF, "acct", now).allowed
    second = attempt(session, SECRET, BACKOFF, "acct", now)
    assert second.allowed and second.retry_at == now + 10
    waits = []
    for _ in range(4):
        refused = attempt(session, SECRET, BACKOFF, "acct", now)
        assert not refused.allowed
        assert not attempt(session, SECRET, BACKOFF, "acct", refused.retry_at - 1).allowed
        now = refused.retry_at
        allowed = attempt(session, SECRET, BACKOFF, "acct", now)
        assert allowed.allowed
        waits.append(allowed.retry_at - now)
    assert waits == [20, 40, 40, 40]
    assert [BACKOFF.delay(h) for h in range(1, 7)] == [0, 10, 20, 40, 40, 40]


def test_keys_are_sixteen_bytes_of_a_keyed_hash_and_do_not_collide(session: Session) -> None:
    addresses = [f"10.{n // 256}.{n % 256}.7" for n in range(2000)]
    for address in addresses:
        assert attempt(session, SECRET, QUOTA, address, T0).allowed
    keys = session.scalars(select(ThrottleEntry.key).where(ThrottleEntry.scope == QUOTA.scope))
    stored = list(keys)
    assert len(stored) == len(set(stored)) == 2000
    assert {len(k) for k in stored} == {16}
    assert hashed(SECRET, QUOTA.scope, addresses[0]) in stored
    # Keyed: another instance's key (a database copy's owner guessing) finds none of them.
    other = throttle.derive_key(b"\x02" * 32)
    assert not {hashed(other, QUOTA.scope, a) for a in addresses} & set(stored)
    assert all(a.encode() not in k for a in addresses[:50] for k in stored)


def test_a_flood_of_new_keys_stays_within_the_bound(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS_PER_SCOPE", 40)
    monkeypatch.setattr(throttle, "OVERFLOW_BUCKETS", 8)
    for n in range(300):
        attempt(session, SECRET, QUOTA, f"2001:db8:{n:x}::", T0)
    # Forty keys of their own, then the flood shares eight buckets (in the same scope).
    assert rows(session, QUOTA.scope) <= 40 + 8
    # The flood's attempts still count: a bucket it filled makes its keys wait.
    refused = [
        not attempt(session, SECRET, QUOTA, f"2001:db8:{n:x}::", T0).allowed
        for n in range(300, 340)
    ]
    assert any(refused)
    # A known client keeps its own row and its own count.
    assert attempt(session, SECRET, QUOTA, "2001:db8:0::", T0).hits == 2


def test_expired_rows_are_pruned(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        attempt(session, SECRET, QUOTA, f"198.51.100.{n}", T0)
    attempt(session, SECRET, BACKOFF, "acct", T0)
    assert prune(session, T0 + 59) == 0
    assert prune(session, T0 + 60) == 5
    assert rows(session, QUOTA.scope) == 0 and rows(session, BACKOFF.scope) == 1
    # The flood guard prunes too: a full scope of expired rows makes room for a new key.
    monkeypatch.setattr(throttle, "MAX_KEYS_PER_SCOPE", 10)
    for n in range(10):
        attempt(session, SECRET, QUOTA, f"203.0.113.{n}", T0)
    attempt(session, SECRET, QUOTA, "192.0.2.99", T0 + 61)
    own = hashed(SECRET, QUOTA.scope, "192.0.2.99")
    assert session.get(ThrottleEntry, (QUOTA.scope, own)) is not None
    assert rows(session, QUOTA.scope) == 1


def test_parallel_attempts_are_counted_exactly(sessions: sessionmaker[Session]) -> None:
    """Two workers hitting one key at once: exactly the quota gets through, never more."""
    policy = Policy("test.parallel", free=25, window=3600)
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def worker() -> None:
        with sessions() as own:
            start.wait()
            for _ in range(20):
                verdict = attempt(own, SECRET, policy, "192.0.2.1", T0)
                with lock:
                    allowed.append(verdict.allowed)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 40
    assert sum(allowed) == 25
