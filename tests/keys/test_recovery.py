"""The offline recovery procedure: a case nobody can open is given back to a handler."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, select

from crypto import import_recovery_key, unwrap_private_key
from tests.steps.factories import TEST_PASSWORD, make_unit
from tests.steps.reporter import ReportAnswers, Reporter
from whistle.casefile.access import NoAccess, open_keys
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, Case, CaseKey, User
from whistle.core.runtime import runtime


def _orphaned_case(app: Flask, clock: FixedClock) -> tuple[str, str, str, int, str]:
    """A report whose every handler copy of the keys is gone (all recused)."""
    rt = runtime(app)
    with app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        slug, recovery_text = unit.org.slug, unit.recovery_key_text
        henrik = unit.handlers[1]
        henrik_email, henrik_id = henrik.user.email, henrik.user.id
    Reporter(app, slug).report(ReportAnswers(what="Fake case for recovery, Testa Testesen"))
    with rt.sessions() as s:
        case = s.scalars(select(Case)).one()
        s.execute(delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "user"))
        s.commit()
        return slug, case.reference, henrik_email, henrik_id, recovery_text


def test_recovery_key_gives_an_orphaned_case_to_a_handler(app: Flask, clock: FixedClock) -> None:
    slug, reference, email, henrik_id, recovery_text = _orphaned_case(app, clock)
    result = app.test_cli_runner().invoke(
        cli,
        ["recovery", "grant", "--org", slug, "--case", reference, "--to", email],
        input=recovery_text,
    )
    assert result.exit_code == 0, result.output
    assert recovery_text.splitlines()[1] not in result.output  # the key is never echoed
    rt = runtime(app)
    with app.app_context(), rt.sessions() as s:
        case = s.scalars(select(Case)).one()
        henrik = s.get(User, henrik_id)
        assert henrik is not None and henrik.wrapped_private_key is not None
        private = unwrap_private_key(henrik.wrapped_private_key, TEST_PASSWORD)
        keys = open_keys(s, case, henrik_id, private)
        assert keys.notes is not None and keys.identity is not None
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "case.recovered" in actions


def test_a_wrong_or_mistyped_recovery_key_is_refused(app: Flask, clock: FixedClock) -> None:
    slug, reference, email, henrik_id, recovery_text = _orphaned_case(app, clock)
    lines = recovery_text.splitlines()
    typo = [
        line[:-2] + ("A" if line[-2] != "A" else "B") + line[-1] if line[:2].isdigit() else line
        for line in lines
    ]
    runner = app.test_cli_runner()
    base = ["recovery", "grant", "--org", slug, "--case", reference, "--to", email]
    mistyped = runner.invoke(cli, base, input="\n".join(typo))
    assert mistyped.exit_code != 0
    assert "could not be read" in mistyped.output
    with app.app_context():
        other = make_unit(
            runtime(app).sessions(), clock, runtime(app).settings.instance_key, slug="andetfirma"
        )
    foreign = runner.invoke(cli, base, input=other.recovery_key_text)
    assert foreign.exit_code != 0
    assert "not the recovery key of this organisation" in foreign.output
    with runtime(app).sessions() as s:
        case = s.scalars(select(Case)).one()
        assert not s.scalars(
            select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "user")
        ).all()
        with pytest.raises(NoAccess):
            open_keys(s, case, henrik_id, import_recovery_key(recovery_text))
