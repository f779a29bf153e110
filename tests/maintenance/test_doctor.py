"""`whistle doctor`: each kind of inconsistency a crash, a killed worker or damage can leave
between the database and the file store is found, named by kind and count only, and repaired
where it can be; a healthy store reports clean (whistle/maintenance/doctor_files.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.steps.factories import Staff, Unit, add_staff, certify
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from whistle.casefile.access import open_keys
from whistle.casefile.conversation import PreparedFile
from whistle.cli import cli
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseExport,
    CaseKey,
    CaseTombstone,
    Category,
    Message,
    PendingFileDeletion,
    Role,
)
from whistle.core.org_keys import signing_key
from whistle.core.runtime import runtime
from whistle.core.storage import PARTIAL_SUFFIX, FileStore
from whistle.counsel import export
from whistle.reporting.intake import ReportInput, submit_report
from whistle.retention.purge import purge_item

REPORT = "Fake report DOCTORMARKER: forklifts are driven without training."
EVIDENCE = Upload("fake-evidence.txt", b"Fake evidence, nothing real.\n" * 200)
TWO_HOURS = 2 * 3600


def store_of(app: Flask) -> FileStore:
    return FileStore(runtime(app).settings.file_store)


def doctor(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, ["doctor", *args])


def age(path: Path, seconds: float = TWO_HOURS) -> None:
    """Make ``path`` look as old as an upload abandoned ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def stray_file(store: FileStore, *, old: bool = True) -> str:
    """A complete file in the store with no row: what a crash after the write leaves."""
    name = store.new_name()
    with store.writer(name) as out:
        out.write(b"\x00fake ciphertext\x00" * 64)
    if old:
        age(store.path(name))
    return name


def reported(app: Flask, unit: Unit, *, files: bool = True) -> tuple[str, Case]:
    code = Reporter(app, unit.org.slug).report(
        ReportAnswers(what=REPORT, files=[EVIDENCE] if files else [])
    )
    with runtime(app).sessions() as s:
        case = s.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()
    return code, case


def names_of(session: Session, case: Case) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(select(Attachment.storage_name).where(Attachment.case_id == case.id))
    )


def actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def assert_no_secrets(result: Result, *secrets: str) -> None:
    for secret in (REPORT, "DOCTORMARKER", *secrets):
        assert secret not in result.output


def line(result: Result, label: str) -> str:
    found = [row for row in result.output.splitlines() if row.startswith(label)]
    assert found, f"no line {label!r} in the output"
    return found[0]


def counsel_export(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case
) -> CaseExport:
    with app.app_context():
        to: Staff = add_staff(
            session,
            clock,
            unit.org,
            "Carla Counsel",
            [Role.COUNSEL],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, to)  # a lead checked her key
        staff = unit.handlers[0]
        case = session.get(Case, case.id)
        assert case is not None
        keys = open_keys(session, case, staff.user.id, staff.private_key)
        return export.export_case(
            session,
            clock,
            store_of(app),
            unit.org,
            case,
            keys,
            staff.user.id,
            counsel_id=to.user.id,
            include_notes=False,
            signing_key=signing_key(session, unit.org.id, runtime(app).settings.instance_key),
        )


def test_a_healthy_store_reports_clean(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Reports with files, a reply with a file, a purged file and a bundle for counsel."""
    code, case = reported(app, unit)
    reporter = Reporter(app, unit.org.slug, address="192.0.2.11")
    reporter.open_case(code)
    assert reporter.reply("Fake reply.", [EVIDENCE]).status_code == 303
    reported(app, unit, files=False)
    staff = unit.handlers[0]
    case = session.get(Case, case.id)
    assert case is not None
    with app.app_context():
        keys = open_keys(session, case, staff.user.id, staff.private_key)
        first = session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
        ).first()
        assert first is not None
        purge_item(
            session,
            clock,
            store_of(app),
            case,
            keys,
            staff.user.id,
            kind="file",
            item_id=first.id,
            reason="Fake reason: irrelevant.",
            keystore=runtime(app).keystore,
        )
    counsel_export(app, session, clock, unit, case)
    for name in store_of(app).names():  # old files are checked like any other
        age(store_of(app).path(name))

    result = doctor(app, "--all")
    assert result.exit_code == 0, result.output
    assert line(result, "file store:") == "file store: 2 files"  # reply's file and the bundle
    assert "orphan files (no row refers to them): 0" in result.output
    assert "the database, the file store and the key store are consistent" in result.output
    repaired = doctor(app, "--repair", "--all")
    assert repaired.exit_code == 0, repaired.output
    assert "store.repaired" not in actions(session)
    assert sorted(store_of(app).names()) == sorted(
        [
            *session.scalars(select(Attachment.storage_name).where(Attachment.purged_on.is_(None))),
            *session.scalars(select(CaseExport.storage_name)),
        ]
    )


def test_an_orphan_file_is_found_then_removed_and_the_removal_audited(
    app: Flask, session: Session, unit: Unit
) -> None:
    _code, case = reported(app, unit)
    kept = names_of(session, case)
    store = store_of(app)
    orphan = stray_file(store)

    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, "orphan files") == "orphan files (no row refers to them): 1"
    assert "1 problems found" in found.output
    assert store.exists(orphan), "a dry run removes nothing"
    assert_no_secrets(found, orphan, case.reference, *kept)

    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "removed 1 orphan files" in repaired.output
    assert not store.exists(orphan)
    assert all(store.exists(name) for name in kept), "a referenced file was removed"
    assert "store.repaired" in actions(session)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "store.repaired")).one()
    assert '"orphans":1' in entry.detail and orphan not in entry.detail
    assert_no_secrets(repaired, orphan, case.reference, *kept)
    assert doctor(app).exit_code == 0


def test_a_recent_orphan_may_be_an_upload_in_flight_and_is_left_alone(app: Flask) -> None:
    store = store_of(app)
    young = stray_file(store, old=False)

    result = doctor(app, "--repair")
    assert result.exit_code == 0, result.output
    assert "left alone, younger than 1 h" in result.output
    assert "1 files, 0 .partial files" in result.output
    assert "apart from the recent files and keys left alone" in result.output
    assert store.exists(young)

    everything = doctor(app, "--repair", "--all")
    assert everything.exit_code == 0, everything.output
    assert not store.exists(young)


def test_a_partial_file_from_a_killed_upload_is_removed(app: Flask) -> None:
    store = store_of(app)
    name = store.new_name()
    partial = store.path(name).with_name(name + PARTIAL_SUFFIX)
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"\x00half an upload")
    age(partial)

    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, "unfinished uploads") == "unfinished uploads (.partial files): 1"
    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert not partial.exists()


def test_a_report_whose_worker_died_before_the_commit_leaves_only_a_file_the_doctor_removes(
    app: Flask, session: Session, unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intake writes the file, then dies before its transaction commits and before its own
    cleanup (a kill -9 runs no except clause): no case, one unreadable file."""
    store = store_of(app)
    rt = runtime(app)
    category = session.scalars(select(Category.id).where(Category.org_id == unit.org.id)).first()
    assert category is not None

    class Killed(BaseException):
        pass

    def killed(*_args: object) -> None:
        raise Killed

    monkeypatch.setattr(FileStore, "delete", lambda self, name: None)  # cleanup never ran
    with app.app_context(), pytest.raises(Killed):
        submit_report(
            session,
            rt.clock,
            unit.org,
            ReportInput(category_id=category, what=REPORT),
            [PreparedFile("fake.txt", EVIDENCE.as_form_value()[0], "not_needed")],
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=store,
            before_commit=killed,
        )
    monkeypatch.undo()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    left = list(store.names())
    assert len(left) == 1

    result = doctor(app, "--repair", "--all")
    assert result.exit_code == 0, result.output
    assert "removed 1 orphan files" in result.output
    assert list(store.names()) == []


def test_pending_deletions_are_finished_and_a_listed_file_still_in_use_is_kept(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    _code, case = reported(app, unit)
    (in_use,) = names_of(session, case)
    store = store_of(app)
    leftover = stray_file(store)
    today = clock.now().date()
    session.add_all(
        [
            PendingFileDeletion(storage_name=leftover, org_id=unit.org.id, queued_on=today),
            PendingFileDeletion(storage_name=in_use, org_id=unit.org.id, queued_on=today),
        ]
    )
    session.commit()

    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, "files listed for deletion, not") == (
        "files listed for deletion, not yet removed: 1"
    )
    assert line(found, "files listed for deletion but") == (
        "files listed for deletion but still in use: 1"
    )
    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert not store.exists(leftover)
    assert store.exists(in_use), "a file a live attachment uses was removed"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0


def test_missing_files_are_reported_and_cannot_be_repaired_here(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    _code, case = reported(app, unit)
    (attached,) = names_of(session, case)
    bundle = counsel_export(app, session, clock, unit, case)
    store = store_of(app)
    store.delete(attached)
    store.delete(bundle.storage_name)

    for args in ((), ("--repair", "--all")):
        result = doctor(app, *args)
        assert result.exit_code == 1, result.output
        assert line(result, "attachments whose") == "attachments whose file is missing: 1"
        assert line(result, "counsel bundles") == "counsel bundles whose file is missing: 1"
        assert "restore them from a backup" in result.output
        assert "2 problems" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 1, "a row was dropped"
    assert session.scalar(select(func.count()).select_from(CaseExport)) == 1


def damage(session: Session, case: Case, what: str) -> None:
    if what == "keys":
        session.execute(CaseKey.__table__.delete().where(CaseKey.case_id == case.id))
    else:
        session.execute(update(Case).where(Case.id == case.id).values(report=b""))
    session.commit()


LABELS = {
    "keys": "cases without a key to open them",
    "report": "cases without their report or reporter key",
}


@pytest.mark.parametrize("what", ["keys", "report"])
def test_a_half_stored_case_is_removed_whole_and_audited(
    app: Flask, session: Session, unit: Unit, what: str
) -> None:
    _code, broken = reported(app, unit)
    broken_files = names_of(session, broken)
    _other_code, healthy = reported(app, unit)
    healthy_files = names_of(session, healthy)
    damage(session, broken, what)

    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, LABELS[what]).endswith(": 1")
    assert line(found, "  of these, half-stored").endswith(": 1")
    assert_no_secrets(found, broken.reference, *broken_files)

    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "1 half-stored cases (with 1 files)" in repaired.output
    session.expire_all()
    assert session.get(Case, broken.id) is None
    assert session.get(Case, healthy.id) is not None
    for model in (Attachment, CaseKey):
        assert (
            session.scalar(
                select(func.count()).select_from(model).where(model.case_id == broken.id)
            )
            == 0
        )
    assert session.scalar(select(func.count()).select_from(CaseTombstone)) == 0
    store = store_of(app)
    assert not any(store.exists(name) for name in broken_files)
    assert all(store.exists(name) for name in healthy_files)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "case.removed_incomplete")
    ).one()
    assert entry.case_id == broken.id and '"files":1' in entry.detail
    assert audit.verify(session).ok, "the repair broke the audit chain"
    assert doctor(app).exit_code == 0


def test_a_damaged_case_that_was_worked_on_is_reported_and_kept(
    app: Flask, session: Session, unit: Unit
) -> None:
    """The reporter has replied: something may still be readable, so nothing is removed."""
    code, case = reported(app, unit)
    reporter = Reporter(app, unit.org.slug, address="192.0.2.12")
    reporter.open_case(code)
    assert reporter.reply("Fake reply with a file.", [EVIDENCE]).status_code == 303
    files = names_of(session, case)
    damage(session, case, "keys")

    for args in ((), ("--repair",)):
        result = doctor(app, *args)
        assert result.exit_code == 1, result.output
        assert line(result, "  of these, half-stored").endswith(": 0")
        assert line(result, "  of these, worked on").endswith(": 1")
        assert "restore them from a backup" in result.output
    session.expire_all()
    assert session.get(Case, case.id) is not None
    assert session.scalar(select(func.count()).select_from(Message)) == 1
    assert all(store_of(app).exists(name) for name in files)
