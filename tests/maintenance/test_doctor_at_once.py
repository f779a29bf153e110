"""``whistle doctor --repair`` on two machines at the same moment (issue 18): two real
processes, each with its own engine, on one database (SQLite and PostgreSQL), started
together by tests/steps/two_machines.py. Each repair is done once and audited once, and both
runs end with the same verdict."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, make_unit
from tests.steps.two_machines import job_environment, overlapped, run_twice_at_once
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, Case, CaseKey, Category
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.reporting.intake import ReportInput, submit_report

CASES = 6
HALF_STORED = 3
ORPHANS = 40


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), runtime(app).sessions() as s:
        yield s


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    return make_unit(session, clock, runtime(app).settings.instance_key)


def damage(app: Flask, session: Session, unit: Unit) -> tuple[list[int], list[str]]:
    """Fake reports, ``HALF_STORED`` of them without their keys (as damage would leave
    them), and ``ORPHANS`` two-hour-old files no row refers to. Returns the half-stored
    cases' ids and the orphans' names."""
    rt = runtime(app)
    store = FileStore(rt.settings.file_store)
    clock = FixedClock(datetime.now(UTC) - timedelta(hours=2))
    category = session.scalars(select(Category.id).where(Category.org_id == unit.org.id)).first()
    assert category is not None
    for number in range(CASES):
        submit_report(
            session,
            clock,
            unit.org,
            ReportInput(category_id=category, what=f"Fake report number {number}."),
            [],
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=store,
        )
    broken = list(session.scalars(select(Case.id).order_by(Case.id).limit(HALF_STORED)))
    session.execute(delete(CaseKey).where(CaseKey.case_id.in_(broken)))
    session.commit()
    orphans = []
    two_hours_ago = time.time() - 7200
    for _number in range(ORPHANS):
        name = secrets.token_hex(16)
        path = store.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"fake orphan ciphertext")
        os.utime(path, (two_hours_ago, two_hours_ago))
        orphans.append(name)
    return broken, orphans


def test_two_doctors_at_once_repair_once_and_agree(
    app: Flask,
    session: Session,
    unit: Unit,
    instance_path: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    broken, orphans = damage(app, session, unit)
    store = FileStore(runtime(app).settings.file_store)

    env = job_environment(instance_path, database_url)
    runs = run_twice_at_once(tmp_path / "doctor", env, "doctor", "--repair")

    assert [run.returncode for run in runs] == [0, 0], [run.stdout + run.stderr for run in runs]
    assert overlapped(runs)
    # The same verdict from both: the state after the repair.
    verdicts = {run.stdout.strip().splitlines()[-1] for run in runs}
    assert len(verdicts) == 1, [run.stdout for run in runs]
    # One of them repaired everything; the other found nothing left to repair.
    repaired = [run for run in runs if "repaired:" in run.stdout]
    assert len(repaired) == 1, [run.stdout for run in runs]
    assert (
        f"removed {ORPHANS} orphan files, 0 .partial files, 0 listed files and "
        f"{HALF_STORED} half-stored cases" in repaired[0].stdout
    )
    session.expire_all()
    removed = Counter(
        session.scalars(
            select(AuditEntry.case_id).where(AuditEntry.action == "case.removed_incomplete")
        )
    )
    assert removed == Counter(broken), "a half-stored case's removal is audited twice"
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "store.repaired")
        )
        == 1
    )
    assert audit.verify(session).ok
    assert session.scalar(select(func.count()).select_from(Case)) == CASES - HALF_STORED
    assert not any(store.exists(name) for name in orphans)
