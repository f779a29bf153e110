"""Retention steps: a case closed with a preset, the deletion run, and what is left of a case."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.cases import (
    OUTCOME_DONE,
    OUTCOME_WHY,
    keys_of,
)
from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from whistle.cases import closing, handling
from whistle.core.clock import FixedClock
from whistle.core.models import (
    Base,
    Case,
)
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.retention import deletion

EVIDENCE = Upload("fake-evidence.txt", b"Fake evidence of the pallets, line by line.\n" * 400)


def store_of(app: Flask) -> FileStore:
    return FileStore(runtime(app).settings.file_store)


def close(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    case: Case,
    outcome: str = "not_substantiated",
    keep_until: date | None = None,
) -> Case:
    """Acknowledge, give the final outcome and close ``case`` as Hanne Handler."""
    staff = unit.handlers[0]
    store = store_of(app)
    with app.app_context():
        keys = keys_of(session, case, staff)
        if outcome == "outside_scope":
            closing.close_case(
                session,
                clock,
                store,
                case,
                keys,
                staff.user.id,
                outcome=outcome,
                reason="Fake reason: not a matter for the scheme.",
                referral="Fake referral: the police.",
                keep_until=keep_until,
            )
            return case
        handling.acknowledge(session, clock, store, case, keys, staff.user.id, "Fake ack.")
        handling.give_feedback(
            session,
            clock,
            store,
            case,
            keys,
            staff.user.id,
            done=OUTCOME_DONE,
            why=OUTCOME_WHY,
            final=True,
        )
        if outcome == "substantiated":
            handling.record_hearing(
                session, clock, case, keys, staff.user.id, hearing="held", account="Fake hearing."
            )
        closing.close_case(
            session,
            clock,
            store,
            case,
            keys,
            staff.user.id,
            outcome=outcome,
            reason="Fake reason for the outcome.",
            keep_until=keep_until,
        )
    return case


def reported_with_file(app: Flask, session: Session, unit: Unit, what: str) -> tuple[Case, str]:
    """A report with an attachment through the public form; returns the case and its code."""
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers(what=what, files=[EVIDENCE]))
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one(), code


def run(app: Flask, session: Session, clock: FixedClock, **kwargs: object) -> deletion.RunReport:
    with app.app_context():
        return deletion.run(  # type: ignore[arg-type]
            session, clock, store_of(app), keystore=runtime(app).keystore, **kwargs
        )


def everything_of(session: Session, case_id: int) -> dict[str, int]:
    """Rows of every table that points at the case (found from the schema, so a table added
    later is checked too)."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "cases":
                column = fk.parent
                counts[table.name] = int(
                    session.scalar(select(func.count()).select_from(table).where(column == case_id))
                    or 0
                )
    return counts
