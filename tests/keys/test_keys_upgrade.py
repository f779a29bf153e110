"""The upgrade to keys outside the database: cases stored before it get their key-encryption
key, their sealed keys and reporter key are wrapped under it, and they keep opening."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import CaseWorker
from whistle.casefile import key_wrapping
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.models import Case, CaseKey
from whistle.core.runtime import runtime
from whistle.core.shredding import case_key_name


def make_bare(session: Session, case: Case) -> None:
    """Store the case as before the key store: bare sealed keys and reporter key, no
    key-encryption key."""
    kek = key_wrapping.case_kek(session, case.uid)
    for row in session.scalars(select(CaseKey).where(CaseKey.case_id == case.id)):
        bare = key_wrapping.unwrap_sealed(kek, case.uid, row.sealed)
        session.execute(update(CaseKey).where(CaseKey.id == row.id).values(sealed=bare))
    reporter = key_wrapping.unwrap_reporter_key(session, case)
    assert reporter is not None
    case.reporter_key = reporter
    session.commit()
    session.info["keystore"].destroy([case_key_name(case.uid)])


def test_the_upgrade_wraps_the_keys_of_older_cases_and_they_keep_opening(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers(what="Fake report UPGRADECANARY before the key store."))
    case = session.scalars(select(Case)).one()
    make_bare(session, case)
    rows = session.scalars(select(CaseKey.sealed).where(CaseKey.case_id == case.id)).all()
    assert all(bytes(r[:4]) == b"WHSW" for r in rows)
    hanne = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    hanne.sign_in()
    # Before the upgrade a bare case still opens, for the unit and the reporter.
    assert "UPGRADECANARY" in hanne.open_case(case.reference).get_data(as_text=True)
    assert Reporter(app, unit.org.slug, address="192.0.2.31").open_case(code).status_code == 303

    upgraded = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "wrapped the case keys of 1 case(s)" in upgraded.output
    session.expire_all()
    assert runtime(app).keystore.get(case_key_name(case.uid)) is not None
    rows = session.scalars(select(CaseKey.sealed).where(CaseKey.case_id == case.id)).all()
    assert rows and not any(bytes(r[:4]) == b"WHSW" for r in rows)
    case = session.get(Case, case.id)  # type: ignore[assignment]
    assert case is not None and bytes(case.reporter_key[:4]) != b"WHSR"
    assert "UPGRADECANARY" in hanne.open_case(case.reference).get_data(as_text=True)
    assert Reporter(app, unit.org.slug, address="192.0.2.32").open_case(code).status_code == 303

    again = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0 and "wrapped the case keys" not in again.output
