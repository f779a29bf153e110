"""The inbox's "what is due first" order is a number kept on each case (``cases.due_rank``), so
an index serves it (docs/benchmarks.md, "Inbox"). These check that the number orders cases as
the inbox promises, that every write keeps it, and that migration 0020 filled it by the same
rule."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter
from whistle.core.deadlines import acknowledge_due, due_rank, feedback_due
from whistle.core.models import Case, CaseStatus

migration = importlib.import_module("migrations.versions.0020_inbox_due_rank")


@dataclass(frozen=True)
class State:
    status: str
    received_on: date
    acknowledged_on: date | None
    feedback_on: date | None

    @property
    def dues(self) -> tuple[date, date]:
        return acknowledge_due(self.received_on), feedback_due(
            self.received_on, self.acknowledged_on
        )

    @property
    def next_due(self) -> date | None:
        """Read from the law, not from the rank: the open deadline, if one runs."""
        if self.status == CaseStatus.CLOSED:
            return None
        if self.acknowledged_on is None:
            return self.dues[0]
        return self.dues[1] if self.feedback_on is None else None

    def rank(self) -> int:
        ack, feedback = self.dues
        return due_rank(
            self.status, self.received_on, ack, self.acknowledged_on, feedback, self.feedback_on
        )


@st.composite
def states(draw: st.DrawFn) -> State:
    received = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    acked = draw(st.one_of(st.none(), st.integers(0, 30)))
    acknowledged_on = None if acked is None else received + timedelta(days=acked)
    fed = draw(st.one_of(st.none(), st.integers(1, 120))) if acknowledged_on else None
    feedback_on = (
        None if fed is None or acknowledged_on is None else acknowledged_on + timedelta(fed)
    )
    status = draw(st.sampled_from(list(CaseStatus)))
    if status == CaseStatus.NEW and acknowledged_on is not None:
        status = CaseStatus.OPEN
    return State(status, received, acknowledged_on, feedback_on)


@given(st.lists(states(), min_size=2, max_size=12))
def test_the_rank_puts_what_is_due_first_and_the_rest_newest_first(cases: list[State]) -> None:
    ordered = sorted(cases, key=State.rank)
    running = [c for c in ordered if c.next_due is not None]
    done = [c for c in ordered if c.next_due is None]
    assert ordered == running + done, "a case with a deadline running comes first"
    assert [c.next_due for c in running] == sorted(c.next_due for c in running if c.next_due)
    received = [c.received_on for c in done]
    assert received == sorted(received, reverse=True), "then the newest first"


@given(states())
def test_migration_0020_ranks_by_the_same_rule(state: State) -> None:
    ack, feedback = state.dues
    row = (0, state.status.value, state.received_on, ack, state.acknowledged_on)
    row += (feedback, state.feedback_on)
    assert migration._rank(row) == state.rank()  # type: ignore[arg-type]


def test_every_write_of_a_case_keeps_its_rank(app: Flask, session: Session, unit: Unit) -> None:
    """Through intake, the acknowledgement, feedback and closing, the stored rank is the rank
    of the case as it now stands (watched failing with the update event removed)."""
    Reporter(app, unit.org.slug).report(ReportAnswers())
    case = session.scalars(select(Case)).one()

    def stored() -> int:
        session.expire_all()
        return int(session.scalar(select(Case.due_rank).where(Case.id == case.id)) or 0)

    assert stored() == case.acknowledge_due.toordinal()
    steps = [
        {"acknowledged_on": case.received_on + timedelta(days=2), "status": CaseStatus.OPEN},
        {"feedback_on": case.received_on + timedelta(days=40)},
        {"status": CaseStatus.CLOSED, "closed_on": case.received_on + timedelta(days=60)},
    ]
    for changes in steps:
        for name, value in changes.items():
            setattr(case, name, value)
        if "acknowledged_on" in changes:
            case.feedback_due = feedback_due(case.received_on, case.acknowledged_on)
        session.commit()
        expected = due_rank(
            case.status,
            case.received_on,
            case.acknowledge_due,
            case.acknowledged_on,
            case.feedback_due,
            case.feedback_on,
        )
        assert stored() == expected, changes
    assert stored() > date.max.toordinal(), "a closed case ranks after every deadline"


def test_no_code_changes_cases_behind_the_models_back() -> None:
    """The rank is kept by the model's flush events, which a bulk ``update(Case)`` or a raw
    UPDATE of ``cases`` would skip: none may change a case's status or dates that way."""
    root = Path(__file__).resolve().parents[2] / "whistle"
    bulk = re.compile(r"update\(\s*Case\b|UPDATE\s+cases\b", re.IGNORECASE)
    found = [
        f"{path.relative_to(root.parent)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bulk.search(line)
    ]
    assert found == [], found
