"""Retention: presets, legal holds, the deletion run, its crash safety and its warnings
(REQUIREMENTS.md R1-R4; whistle/retention/: schedule, legal_hold, deletion).

Time moves with the injected clock. Cases are closed through the real handling functions (and,
where the page is the point, through the case page); case codes stay in variables.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto import KeyKind, OpenError, PrivateKey, decrypt_field, import_recovery_key, open_case_key
from tests.steps.cases import (
    field_errors,
    hanne,
    henrik,
    keys_of,
    signed_in,
    submit,
    the_case,
)
from tests.steps.factories import Unit, add_staff, certify
from tests.steps.pages import text_of
from tests.steps.reporter import Reporter
from tests.steps.retention import close, everything_of, reported_with_file, run, store_of
from whistle.casefile import key_wrapping
from whistle.cases import closing
from whistle.cli import cli
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.deadlines import add_months
from whistle.core.models import (
    Attachment,
    AuditEntry,
    Base,
    Case,
    CaseExport,
    CaseKey,
    CaseNote,
    CaseOutcome,
    CaseTombstone,
    OutboxMail,
    PendingFileDeletion,
    Role,
)
from whistle.core.org_keys import signing_key
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.shredding import case_key_name
from whistle.core.storage import FileStore
from whistle.counsel import export
from whistle.notify.reminders import queue_deadline_reminders
from whistle.retention import schedule
from whistle.retention.schedule import Preset, retention_for
from whistle.retention.schedule import Unit as KeepUnit

# --- presets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "outcome", "closed", "told", "expected"),
    [
        # 30 days after the reporter is told, across a month end and a leap day
        ("30d", "outside_scope", date(2028, 2, 10), date(2028, 2, 10), date(2028, 3, 11)),
        ("30d", "outside_scope", date(2027, 2, 10), date(2027, 2, 10), date(2027, 3, 12)),
        ("30d", "not_substantiated", date(2026, 5, 20), date(2026, 5, 1), date(2026, 5, 31)),
        # two months after closure, clamped at month ends, leap years included
        ("2m", "not_substantiated", date(2026, 12, 31), None, date(2027, 2, 28)),
        ("2m", "not_substantiated", date(2027, 12, 31), None, date(2028, 2, 29)),
        ("2m", "not_substantiated", date(2026, 8, 31), None, date(2026, 10, 31)),
        ("1m", "knowingly_false", date(2026, 1, 31), None, date(2026, 2, 28)),
        ("0d", "outside_scope", date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 1)),
    ],
)
def test_presets_give_the_deletion_day(
    preset: str, outcome: str, closed: date, told: date | None, expected: date
) -> None:
    kept = retention_for(
        Preset.parse(preset), CaseOutcome(outcome), closed_on=closed, told_on=told, keep_until=None
    )
    assert kept.delete_on == expected
    assert kept.rule == f"{outcome}:{preset}"


def test_a_date_preset_needs_a_date_and_a_chosen_date_must_be_sensible() -> None:
    closed = date(2026, 4, 1)
    for_date = Preset(KeepUnit.DATE)
    with pytest.raises(Refused) as missing:
        retention_for(
            for_date, CaseOutcome.REFERRED, closed_on=closed, told_on=None, keep_until=None
        )
    assert missing.value.field == "keep_until"
    for bad in (closed, closed - timedelta(days=1), add_months(closed, 121)):
        with pytest.raises(Refused):
            retention_for(
                for_date, CaseOutcome.REFERRED, closed_on=closed, told_on=None, keep_until=bad
            )
    chosen = retention_for(
        for_date,
        CaseOutcome.REFERRED,
        closed_on=closed,
        told_on=None,
        keep_until=date(2031, 4, 1),
    )
    assert (chosen.delete_on, chosen.rule) == (date(2031, 4, 1), "referred:date")

    # A date may lengthen a preset, never shorten it.
    two_months = Preset(KeepUnit.MONTHS, 2)
    longer = retention_for(
        two_months,
        CaseOutcome.NOT_SUBSTANTIATED,
        closed_on=closed,
        told_on=None,
        keep_until=date(2026, 12, 1),
    )
    assert (longer.delete_on, longer.rule) == (date(2026, 12, 1), "not_substantiated:date")
    with pytest.raises(Refused) as shorter:
        retention_for(
            two_months,
            CaseOutcome.NOT_SUBSTANTIATED,
            closed_on=closed,
            told_on=None,
            keep_until=date(2026, 5, 1),
        )
    assert "2026-06-01" in str(shorter.value.message)


@pytest.mark.parametrize("text", ["", "30", "d", "-5d", "30w", "3.5m", "9999d", "121m", "dato"])
def test_bad_presets_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Preset.parse(text)


def test_an_organisation_sets_its_own_presets(session: Session, unit: Unit) -> None:
    assert schedule.presets(session, unit.org.id) == schedule.DEFAULT_PRESETS
    assert schedule.DEFAULT_PRESETS[CaseOutcome.OUTSIDE_SCOPE] == Preset(KeepUnit.DAYS, 30)
    assert schedule.DEFAULT_PRESETS[CaseOutcome.NOT_SUBSTANTIATED] == Preset(KeepUnit.MONTHS, 2)
    schedule.set_preset(session, unit.org.id, CaseOutcome.NOT_SUBSTANTIATED, Preset.parse("6m"))
    schedule.set_preset(session, unit.org.id, CaseOutcome.REFERRED, Preset.parse("400d"))
    session.commit()
    found = schedule.presets(session, unit.org.id)
    assert found[CaseOutcome.NOT_SUBSTANTIATED] == Preset(KeepUnit.MONTHS, 6)
    assert found[CaseOutcome.REFERRED] == Preset(KeepUnit.DAYS, 400)
    assert found[CaseOutcome.OUTSIDE_SCOPE] == Preset(KeepUnit.DAYS, 30)


def test_closing_sets_the_date_from_the_preset(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    outside = close(app, session, clock, unit, submit(app, session, unit), "outside_scope")
    unfounded = close(app, session, clock, unit, submit(app, session, unit))
    today = clock.now().date()
    assert (outside.delete_on, outside.retention_rule) == (
        today + timedelta(days=30),
        "outside_scope:30d",
    )
    assert (unfounded.delete_on, unfounded.retention_rule) == (
        add_months(today, 2),
        "not_substantiated:2m",
    )
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.case_id == unfounded.id, AuditEntry.action == "case.closed"
        )
    ).one()
    assert f'"delete_on":"{add_months(today, 2).isoformat()}"' in entry.detail
    assert '"rule":"not_substantiated:2m"' in entry.detail


def test_the_close_form_offers_the_presets_and_takes_a_date(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    ref = submit(app, session, unit).reference
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.open_case(ref))
    assert "Not substantiated: deleted 2 months after closure" in page
    assert "Outside the scope of the scheme (§ 12(3)): deleted 30 days after the reporter" in page
    assert "Referred to a public authority: kept until a date you choose" in page

    fields = {
        "close-outcome": "outside_scope",
        "close-reason": "Fake reason: a private quarrel.",
        "close-referral": "Fake referral: the police.",
        "close-keep_until": "not a date",
    }
    bad = worker.case_action(ref, "close", fields)
    assert bad.status_code == 400
    assert field_errors(bad, "close-keep_until") == ["Not a valid date value."]
    assert the_case(session, ref).status == "new"

    longer = (clock.now().date() + timedelta(days=90)).isoformat()
    done = worker.case_action(ref, "close", {**fields, "close-keep_until": longer})
    assert done.status_code == 303
    case = the_case(session, ref)
    assert (case.delete_on.isoformat() if case.delete_on else None) == longer
    assert case.retention_rule == "outside_scope:date"
    keep = clock.now().date() + timedelta(days=90)
    assert f"Deleted on {keep.day} {keep:%B %Y}" in text_of(worker.open_case(ref))


# --- legal hold ------------------------------------------------------------------------------


def test_a_legal_hold_stops_deletion_until_lifted_with_a_reason(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    ref = close(app, session, clock, unit, submit(app, session, unit)).reference
    worker = signed_in(hanne(app, clock, unit))

    empty = worker.case_action(ref, "hold", {"hold-reason": "  "})
    assert empty.status_code == 400
    assert field_errors(empty, "hold-reason") == ["Give the reason for the legal hold."]
    assert the_case(session, ref).hold_since is None

    placed = worker.case_action(ref, "hold", {"hold-reason": "Fake reason: a lawsuit is filed."})
    assert placed.status_code == 303
    case = the_case(session, ref)
    assert case.hold_since == clock.now().date()
    page = text_of(worker.open_case(ref))
    assert "On legal hold since" in page
    assert "Fake reason: a lawsuit is filed." in page  # the reason, as an internal note

    # Long past its day, the held case survives every run.
    clock.advance(timedelta(days=400))
    report = run(app, session, clock)
    assert (report.deleted, report.held) == (0, 1)
    assert the_case(session, ref).id == case.id

    worker = signed_in(hanne(app, clock, unit))
    no_reason = worker.case_action(ref, "unhold", {"unhold-reason": ""})
    assert no_reason.status_code == 400
    assert field_errors(no_reason, "unhold-reason") == ["Give the reason for lifting the hold."]
    lifted = worker.case_action(ref, "unhold", {"unhold-reason": "Fake reason: the suit ended."})
    assert lifted.status_code == 303
    assert the_case(session, ref).hold_since is None
    actions = list(
        session.scalars(
            select(AuditEntry.action).where(AuditEntry.case_id == case.id).order_by(AuditEntry.seq)
        )
    )
    assert actions.count("case.hold_placed") == 1
    assert actions.count("case.hold_lifted") == 1
    notes = session.scalars(select(CaseNote.kind).where(CaseNote.case_id == case.id)).all()
    assert {"legal_hold", "hold_lifted"} <= set(notes)

    assert run(app, session, clock).deleted == 1
    session.expire_all()
    assert session.scalar(select(Case).where(Case.reference == ref)) is None


def test_holds_are_refused_twice_or_when_absent(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = submit(app, session, unit)
    staff = unit.handlers[0]
    with app.app_context():
        keys = keys_of(session, case, staff)
        with pytest.raises(Refused):
            closing.lift_legal_hold(session, clock, case, keys, staff.user.id, "Fake reason.")
        session.rollback()
        closing.place_legal_hold(session, clock, case, keys, staff.user.id, "Fake reason.")
        with pytest.raises(Refused):
            closing.place_legal_hold(session, clock, case, keys, staff.user.id, "Fake again.")
        session.rollback()
    assert the_case(session, case.reference).hold_since == clock.now().date()


# --- the run ---------------------------------------------------------------------------------


def test_a_run_deletes_exactly_what_is_due_and_leaves_nothing_of_it(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    start = clock.now().date()
    due, due_code = reported_with_file(app, session, unit, "Fake report due for deletion.")
    due_blob, due_uid = bytes(due.report), due.uid
    files = list(
        session.scalars(select(Attachment.storage_name).where(Attachment.case_id == due.id))
    )
    assert files and all(store_of(app).exists(n) for n in files)
    close(app, session, clock, unit, due)  # deleted two months after closure
    held = close(app, session, clock, unit, submit(app, session, unit))
    with app.app_context():
        closing.place_legal_hold(
            session,
            clock,
            held,
            keys_of(session, held, unit.handlers[0]),
            unit.handlers[0].user.id,
            "Fake reason: proceedings.",
        )
    later = close(
        app,
        session,
        clock,
        unit,
        submit(app, session, unit),
        "referred",
        keep_until=start + timedelta(days=365),
    )
    still_open = submit(app, session, unit)
    due_id = due.id

    # The day before: nothing goes.
    clock.advance(add_months(start, 2) - start - timedelta(days=1))
    assert run(app, session, clock).deleted == 0

    clock.advance(timedelta(days=1))
    report = run(app, session, clock)
    assert (report.deleted, report.files, report.held) == (1, len(files), 1)  # one kept: held
    session.expire_all()
    remaining = set(session.scalars(select(Case.reference)))
    assert remaining == {held.reference, later.reference, still_open.reference}

    # Nothing of the deleted case remains: no row, no key, no file, no pending file.
    emptied = everything_of(session, due_id)
    assert {"case_keys", "messages", "attachments", "case_notes", "web_sessions"} <= set(emptied)
    assert set(emptied.values()) == {0}
    assert not any(store_of(app).exists(n) for n in files)
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    assert (
        session.scalar(
            select(func.count())
            .select_from(OutboxMail)
            .where(OutboxMail.case_reference == due.reference)
        )
        == 0
    )
    url = runtime(app).settings.database_url
    if url.startswith("sqlite"):
        raw = Path(url.removeprefix("sqlite:///")).read_bytes()
        wal = Path(url.removeprefix("sqlite:///") + "-wal")
        assert due_blob[-64:] not in raw  # secure_delete overwrote the ciphertext
        assert not wal.exists() or wal.stat().st_size == 0
        with sqlite3.connect(url.removeprefix("sqlite:///")) as check:
            assert check.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
            # every page the deletion freed went back to the file system
            assert check.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert due_uid.encode() not in raw

    # What stays: a content-free tombstone and the deletion in the audit log.
    stone = session.scalars(select(CaseTombstone)).one()
    assert (stone.reference, stone.case_id, stone.outcome) == (
        due.reference,
        due_id,
        "not_substantiated",
    )
    assert (stone.received_on, stone.acknowledged_on, stone.closed_on) == (start, start, start)
    assert (stone.deleted_on, stone.retention_rule) == (clock.now().date(), "not_substantiated:2m")
    assert stone.delete_on == add_months(start, 2)
    assert stone.anonymous is True and stone.channel == "web"
    deleted = session.scalars(
        select(AuditEntry).where(AuditEntry.case_id == due_id, AuditEntry.action == "case.deleted")
    ).one()
    assert deleted.case_reference == due.reference
    assert f'"files":{len(files)}' in deleted.detail
    assert audit.verify(session).ok

    # The reporter's code opens nothing any more, with the same message as any wrong code.
    reporter = Reporter(app, unit.org.slug, address="192.0.2.77")
    answer = reporter.open_case(due_code)
    assert answer.status_code == 200
    assert "No case could be opened with this code." in text_of(answer)

    # A second run finds nothing more to do.
    assert run(app, session, clock).deleted == 0


@pytest.mark.parametrize("crash_at", ["rows", "committed", "files"])
def test_a_run_interrupted_between_steps_is_finished_by_the_next(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, crash_at: str
) -> None:
    cases = [reported_with_file(app, session, unit, f"Fake report {i}.")[0] for i in range(3)]
    for case in cases:
        close(app, session, clock, unit, case)
    files = set(session.scalars(select(Attachment.storage_name)))
    references = {c.reference for c in cases}
    clock.advance(timedelta(days=70))

    class Crash(Exception):
        pass

    def crash(step: str) -> None:
        if step == crash_at:
            raise Crash(step)

    with pytest.raises(Crash):
        run(app, session, clock, after_step=crash, batch=2)
    session.rollback()
    session.expire_all()

    left = set(session.scalars(select(Case.reference)))
    stones = set(session.scalars(select(CaseTombstone.reference)))
    # Each case is either whole (with all its keys and files) or gone with a tombstone.
    assert left | stones == references and not left & stones
    for reference in left:
        case = the_case(session, reference)
        # 3 keys x (3 handlers + the recovery key), and the content key for the reporter
        assert everything_of(session, case.id)["case_keys"] == 13
        names = session.scalars(
            select(Attachment.storage_name).where(Attachment.case_id == case.id)
        )
        assert all(store_of(app).exists(n) for n in names)
    if crash_at == "rows":
        assert left == references  # rolled back: nothing was deleted
    else:
        assert len(stones) == 2  # the first batch of two is gone
    if crash_at == "committed":
        # Their files are listed and still on disk: unreadable (the keys are gone), and the
        # app shows nothing of those cases.
        assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 2
        worker = signed_in(hanne(app, clock, unit))
        for reference in stones:
            assert worker.open_case(reference).status_code == 404
            assert reference not in worker.inbox().get_data(as_text=True)

    report = run(app, session, clock)
    session.expire_all()
    assert set(session.scalars(select(Case.reference))) == set()
    assert set(session.scalars(select(CaseTombstone.reference))) == references
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    assert not any(store_of(app).exists(n) for n in files)
    assert report.deleted == len(left)
    assert audit.verify(session).ok
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.deleted")
        )
        == 3
    )


def test_a_file_store_failure_mid_run_is_finished_by_the_next(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _code = reported_with_file(app, session, unit, "Fake report with a file.")
    close(app, session, clock, unit, case)
    name = session.scalars(select(Attachment.storage_name)).one()
    clock.advance(timedelta(days=70))

    def failing(self: FileStore, _name: str) -> None:
        raise OSError("disk went away")

    with monkeypatch.context() as patched:
        patched.setattr(FileStore, "delete", failing)
        with pytest.raises(OSError):
            run(app, session, clock)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert store_of(app).exists(name)
    assert run(app, session, clock).files == 1
    assert not store_of(app).exists(name)


def test_the_run_command(app: Flask, session: Session, unit: Unit, clock: FixedClock) -> None:
    close(app, session, clock, unit, submit(app, session, unit))
    clock.advance(timedelta(days=62))
    result = app.test_cli_runner().invoke(cli, ["retention", "run"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        # The keys: the case's own and those of its two messages and its closing note.
        == "deleted 1 cases, 0 files and 4 keys; 0 due cases kept on legal hold"
    )
    assert session.scalar(select(func.count()).select_from(CaseTombstone)) == 1


def test_the_presets_command(app: Flask, session: Session, unit: Unit) -> None:
    runner = app.test_cli_runner()
    shown = runner.invoke(cli, ["retention", "presets", unit.org.slug])
    assert shown.exit_code == 0
    assert "not_substantiated: 2m" in shown.output
    changed = runner.invoke(
        cli, ["retention", "presets", unit.org.slug, "--set", "not_substantiated=3m"]
    )
    assert changed.exit_code == 0, changed.output
    assert "not_substantiated: 3m" in changed.output
    bad = runner.invoke(
        cli, ["retention", "presets", unit.org.slug, "--set", "not_substantiated=x"]
    )
    assert bad.exit_code == 1
    assert "retention preset" in bad.output
    unknown = runner.invoke(cli, ["retention", "presets", "nowhere"])
    assert unknown.exit_code == 1
    session.expire_all()
    assert schedule.presets(session, unit.org.id)[CaseOutcome.NOT_SUBSTANTIATED] == Preset(
        KeepUnit.MONTHS, 3
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "settings.retention_changed")
        )
        == 1
    )


# --- warnings ---------------------------------------------------------------------------------


def test_handlers_are_warned_a_week_ahead_in_the_inbox_and_by_mail(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case = close(app, session, clock, unit, submit(app, session, unit))
    held = close(app, session, clock, unit, submit(app, session, unit))
    with app.app_context():
        staff = unit.handlers[0]
        closing.place_legal_hold(
            session, clock, held, keys_of(session, held, staff), staff.user.id, "Fake hold."
        )
    day = case.delete_on
    assert day is not None

    def warnings() -> list[tuple[str | None, int | None]]:
        session.expire_all()
        rows = session.execute(
            select(OutboxMail.case_reference, OutboxMail.user_id).where(
                OutboxMail.kind == "deletion_soon"
            )
        )
        return sorted(((ref, uid) for ref, uid in rows), key=lambda r: (r[0] or "", r[1] or 0))

    clock.set(clock.now().replace(year=day.year, month=day.month, day=day.day) - timedelta(days=8))
    queue_deadline_reminders(session, clock)
    session.commit()
    assert warnings() == []
    worker = signed_in(henrik(app, clock, unit))
    assert "Cases to be deleted soon" not in text_of(worker.inbox())

    clock.advance(timedelta(days=1))
    queue_deadline_reminders(session, clock)
    session.commit()
    holders = sorted(
        session.scalars(
            select(CaseKey.user_id).where(
                CaseKey.case_id == case.id,
                CaseKey.kind == "content",
                CaseKey.user_id.is_not(None),
            )
        )
    )
    assert len(holders) == 3  # Hanne, Henrik and Lise hold keys
    assert warnings() == [(case.reference, uid) for uid in holders]
    queue_deadline_reminders(session, clock)  # daily runs queue nothing twice
    session.commit()
    assert len(warnings()) == len(holders)

    worker = signed_in(henrik(app, clock, unit))
    inbox = text_of(worker.inbox())
    assert "Cases to be deleted soon" in inbox
    assert f"{case.reference} · deleted on {day.day} {day:%B %Y}" in inbox
    assert held.reference + " · deleted" not in inbox  # on hold: no warning


def test_the_deletion_warning_mail_says_when_and_nothing_else(app: Flask, unit: Unit) -> None:
    from whistle.notify.outbox import MailKind
    from whistle.notify.sending import render_mail

    with app.app_context():
        mail = render_mail(
            MailKind.DELETION_SOON,
            unit.org,
            base_url="https://whistle.example",
            case_reference="2026-0042",
            due=date(2026, 5, 4),
        )
    assert "2026-0042" in mail.subject
    assert "2026-0042" in mail.body
    assert "https://whistle.example/staff/" in mail.body
    assert "4" in mail.body and "2026" in mail.body  # the day, in the organisation's language


def test_no_mail_goes_for_a_case_held_after_the_warning_was_queued(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    from whistle.notify.outbox import MailKind
    from whistle.notify.reminders import REMINDERS

    case = close(app, session, clock, unit, submit(app, session, unit))
    assert case.delete_on is not None
    reminder = REMINDERS[MailKind.DELETION_SOON]
    soon = case.delete_on - timedelta(days=3)
    assert reminder.still_due(case, soon)
    assert not reminder.still_due(case, case.delete_on + timedelta(days=1))
    case.hold_since = soon
    assert not reminder.still_due(case, soon)


def test_a_run_removes_the_servers_copy_of_counsel_case_files(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """A case file exported for counsel is the case's too: its bundle leaves the file store
    with the case (counsel keeps what they downloaded)."""
    case, _code = reported_with_file(app, session, unit, "Fake report exported, then due.")
    hanne = unit.handlers[0]
    instance_key = runtime(app).settings.instance_key
    with app.app_context():
        counsel = add_staff(
            session, clock, unit.org, "Conny Counsel", [Role.COUNSEL], instance_key=instance_key
        )
        session.commit()
        certify(session, clock, unit, counsel)
        made = export.export_case(
            session,
            clock,
            store_of(app),
            unit.org,
            case,
            keys_of(session, case, hanne),
            hanne.user.id,
            counsel_id=counsel.user.id,
            include_notes=False,
            signing_key=signing_key(session, unit.org.id, instance_key),
        )
    bundle = made.storage_name
    assert store_of(app).exists(bundle)
    close(app, session, clock, unit, case)
    clock.advance(timedelta(days=70))
    assert run(app, session, clock).deleted == 1
    session.expire_all()
    assert not store_of(app).exists(bundle)
    assert session.scalar(select(func.count()).select_from(CaseExport)) == 0
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0


# --- deletion that survives backups (issue 14) ---------------------------------------------


def dump_of(session: Session, case_id: int) -> dict[str, list[dict[str, object]]]:
    """What a database dump holds of a case: its row, its sealed keys and its messages."""
    out: dict[str, list[dict[str, object]]] = {}
    for table, column in (("cases", "id"), ("case_keys", "case_id"), ("messages", "case_id")):
        found = Base.metadata.tables[table]
        rows = session.execute(select(found).where(found.c[column] == case_id)).mappings()
        out[table] = [dict(r) for r in rows]
    return out


def opens_from_dump(
    session: Session, dump: dict[str, list[dict[str, object]]], recovery: PrivateKey
) -> list[str]:
    """Everything the organisation's recovery key opens of a dumped case, with the key store as
    it is now: the report through the recovery copy of the content key."""
    [case_row] = dump["cases"]
    uid = str(case_row["uid"])
    opened = []
    kek = key_wrapping.case_kek(session, uid)
    for row in dump["case_keys"]:
        if row["recipient"] != "recovery" or row["kind"] != "content":
            continue
        for sealed in (key_wrapping.unwrap_sealed(kek, uid, bytes(row["sealed"])), row["sealed"]):
            if sealed is None:
                continue
            try:
                key = open_case_key(
                    recovery, bytes(sealed), case_id=uid, kind=KeyKind.CONTENT, epoch=0
                )
            except OpenError:
                continue
            report = decrypt_field(key, bytes(case_row["report"]), context=("report", uid))
            opened.append(json.loads(report)["what"])
    return opened


def test_a_dump_taken_before_deletion_opens_nothing_after_it(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Deleted means unrecoverable: a database backup taken while the case existed, and the
    paper recovery key that opens every case of the organisation, open nothing of it once it
    is deleted, because deletion destroyed its key-encryption key in the key store."""
    case, _code = reported_with_file(app, session, unit, "Fake report DUMPCANARY to be deleted.")
    close(app, session, clock, unit, case)
    recovery = import_recovery_key(unit.recovery_key_text)
    dump = dump_of(session, case.id)
    assert dump["case_keys"] and dump["messages"]
    # Before the deletion the dump and the recovery key do open it: the check can see it.
    assert opens_from_dump(session, dump, recovery) == ["Fake report DUMPCANARY to be deleted."]
    uid = case.uid
    clock.advance(timedelta(days=70))
    assert run(app, session, clock).deleted == 1
    assert runtime(app).keystore.get(case_key_name(uid)) is None
    assert opens_from_dump(session, dump, recovery) == []
    # The reporter's code, too, met only the wrapped seed in the dump.
    [row] = dump["cases"]
    assert bytes(row["reporter_key"])[:4] != b"WHSR"
