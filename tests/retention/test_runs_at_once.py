"""``whistle retention run`` on two machines at the same moment (issue 18): two real processes,
each with its own engine, on one database (SQLite and PostgreSQL), started together by
tests/steps/two_machines.py. Every due case is deleted once, whole: one tombstone, one audit
entry, its keys and files gone, nothing of it left."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, make_unit
from tests.steps.two_machines import job_environment, overlapped, run_twice_at_once
from whistle.casefile.conversation import PreparedFile
from whistle.core import audit, shredding
from whistle.core.clock import FixedClock
from whistle.core.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseTombstone,
    Category,
    PendingFileDeletion,
    PendingKeyDestruction,
)
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.reporting.intake import ReportInput, submit_report

CASES = 50
WITH_FILE_EVERY = 5  # every fifth case has an attachment
BATCH = 5  # cases per batch in the commands (200 in production): ten batches to share


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), runtime(app).sessions() as s:
        yield s


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    return make_unit(session, clock, runtime(app).settings.instance_key)


def due_cases(app: Flask, session: Session, unit: Unit) -> list[int]:
    """``CASES`` fake reports received 100 days ago (the command runs on the real clock),
    closed, their retention date yesterday; every fifth with a file. Returns their ids."""
    rt = runtime(app)
    today = datetime.now(UTC).date()
    clock = FixedClock(datetime.now(UTC) - timedelta(days=100))
    category = session.scalars(select(Category.id).where(Category.org_id == unit.org.id)).first()
    assert category is not None
    for number in range(CASES):
        files = (
            [PreparedFile("fake.txt", io.BytesIO(b"fake evidence %d" % number), "not_needed")]
            if number % WITH_FILE_EVERY == 0
            else []
        )
        submit_report(
            session,
            clock,
            unit.org,
            ReportInput(category_id=category, what=f"Fake report number {number}."),
            files,
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=FileStore(rt.settings.file_store),
        )
    session.execute(
        update(Case).values(
            status="closed",
            outcome="not_substantiated",
            closed_on=today - timedelta(days=60),
            delete_on=today - timedelta(days=1),
            retention_rule="fake-rule",
        )
    )
    session.commit()
    return list(session.scalars(select(Case.id).order_by(Case.id)))


def test_two_runs_at_once_delete_each_of_50_due_cases_once_and_whole(
    app: Flask,
    session: Session,
    unit: Unit,
    instance_path: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    ids = due_cases(app, session, unit)
    assert len(ids) == CASES
    files = list(session.scalars(select(Attachment.storage_name)))
    assert len(files) == CASES // WITH_FILE_EVERY
    key_names = [n for names in shredding.case_key_names(session, ids).values() for n in names]
    keystore = runtime(app).keystore
    assert len(keystore.get_many(key_names)) >= CASES
    store = FileStore(runtime(app).settings.file_store)
    assert all(store.exists(name) for name in files)

    env = job_environment(instance_path, database_url, test_retention_batch=str(BATCH))
    runs = run_twice_at_once(tmp_path / "retention", env, "retention", "run")

    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    deleted = [int(run.stdout.split()[1]) for run in runs]
    assert sum(deleted) == CASES, [run.stdout for run in runs]
    # Both runs really worked at once: each deleted some batches while the other ran.
    assert overlapped(runs) and min(deleted) > 0, deleted
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    tombstones = Counter(session.scalars(select(CaseTombstone.case_id)))
    assert tombstones == Counter(ids), "a case has no tombstone, or two"
    entries = Counter(
        session.scalars(select(AuditEntry.case_id).where(AuditEntry.action == "case.deleted"))
    )
    assert entries == Counter(ids), "a case's deletion is audited twice, or not at all"
    assert audit.verify(session).ok
    assert keystore.get_many(key_names) == {}
    assert not any(store.exists(name) for name in files)
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    assert session.scalar(select(func.count()).select_from(PendingKeyDestruction)) == 0
