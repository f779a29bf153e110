"""Intake: a report is stored encrypted, sealed to exactly the entitled people."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    OpenError,
    PrivateKey,
    decrypt_field,
    decrypt_stream,
    import_recovery_key,
    open_case_key,
    open_reporter_seed,
)
from tests.steps.factories import Unit, add_staff, make_unit
from tests.steps.reporter import reporter_blob, reporter_ring, stored_sealed
from whistle.casefile import records
from whistle.casefile.conversation import PreparedFile
from whistle.core.clock import FixedClock
from whistle.core.contexts import attachment_context, identity_context, report_context
from whistle.core.models import Attachment, AuditEntry, Case, CaseKey, Category, Role
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.shredding import file_key_name
from whistle.core.storage import FileStore, StorageError
from whistle.reporting import intake
from whistle.reporting.intake import ReportInput, submit_report

CANARY = "CANARY-7f3a9 the warehouse manager sells pallets privately"
NAME_CANARY = "Testa CANARY-Navnesen"
FILE_CANARY = b"CANARY-FILE-CONTENT-3b1d " * 5000


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), runtime(app).sessions() as s:
        yield s


@pytest.fixture
def store(app: Flask) -> FileStore:
    return FileStore(runtime(app).settings.file_store)


def category_id(session: Session, unit: Unit, code: str = "not-sure") -> int:
    return session.scalars(
        select(Category.id).where(Category.org_id == unit.org.id, Category.code == code)
    ).one()


def submit(app: Flask, session: Session, unit: Unit, store: FileStore, **changes: object):  # type: ignore[no-untyped-def]
    rt = runtime(app)
    fields: dict[str, object] = {
        "category_id": category_id(session, unit),
        "what": CANARY,
        "anonymous": True,
    }
    fields.update(changes)
    files = fields.pop("files", [])
    with app.app_context():
        return submit_report(
            session,
            rt.clock,
            unit.org,
            ReportInput(**fields),  # type: ignore[arg-type]
            files,  # type: ignore[arg-type]
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=store,
        )


def test_report_is_sealed_to_entitled_handlers_and_recovery_only(
    app: Flask, session: Session, unit: Unit, store: FileStore
) -> None:
    hanne, henrik, lise = unit.handlers
    submission = submit(
        app,
        session,
        unit,
        store,
        excluded_handler_ids=frozenset({henrik.user.id}),
        anonymous=False,
        name=NAME_CANARY,
        contact="testa@example.org",
    )
    case = submission.case
    assert case.reference == "2026-0001"
    assert str(case.received_on) == "2026-03-02"
    assert str(case.acknowledge_due) == "2026-03-09"
    assert str(case.feedback_due) == "2026-06-09"

    rows = session.scalars(select(CaseKey).where(CaseKey.case_id == case.id)).all()
    holders = {(r.recipient, r.user_id) for r in rows}
    assert holders == {
        ("recovery", None),
        ("reporter", None),
        ("user", hanne.user.id),
        ("user", lise.user.id),
    }
    assert {r.kind for r in rows if r.recipient == "reporter"} == {"content"}
    assert {r.epoch for r in rows} == {0} and case.key_epoch == 0
    assert henrik.user.id not in {r.user_id for r in rows}, "the excluded handler got a key"
    assert unit.admin.user.id not in {r.user_id for r in rows}

    def sealed(user_id: int | None, kind: KeyKind, recipient: str = "user") -> bytes:
        return stored_sealed(
            session,
            case,
            next(
                r.sealed
                for r in rows
                if r.user_id == user_id
                and r.kind == kind.value
                and r.recipient == (recipient if user_id is None else "user")
            ),
        )

    assert hanne.private_key is not None and henrik.private_key is not None
    content_key = open_case_key(
        hanne.private_key,
        sealed(hanne.user.id, KeyKind.CONTENT),
        case_id=case.uid,
        kind=KeyKind.CONTENT,
    )
    report = json.loads(decrypt_field(content_key, case.report, context=report_context(case.uid)))
    assert report["what"] == CANARY
    assert report["excluded_handlers"] == [henrik.user.id]

    identity_key = open_case_key(
        hanne.private_key,
        sealed(hanne.user.id, KeyKind.IDENTITY),
        case_id=case.uid,
        kind=KeyKind.IDENTITY,
    )
    assert case.identity is not None
    identity = json.loads(
        decrypt_field(identity_key, case.identity, context=identity_context(case.uid))
    )
    assert identity["name"] == NAME_CANARY
    # The identity is not readable with the content key, and the excluded handler's key opens
    # nothing that was sealed to someone else.
    with pytest.raises(OpenError):
        decrypt_field(content_key, case.identity, context=identity_context(case.uid))
    with pytest.raises(OpenError):
        open_case_key(
            henrik.private_key,
            sealed(hanne.user.id, KeyKind.CONTENT),
            case_id=case.uid,
            kind=KeyKind.CONTENT,
        )

    recovery = import_recovery_key(unit.recovery_key_text)
    assert (
        open_case_key(
            recovery,
            sealed(None, KeyKind.CONTENT, "recovery"),
            case_id=case.uid,
            kind=KeyKind.CONTENT,
        )
        == content_key
    )
    # The code opens the seed of the reporter's key pair, and only the code; the content key
    # is sealed to that pair.
    seed = open_reporter_seed(reporter_blob(session, case), submission.code, case_id=case.uid)
    reporter = PrivateKey.from_seed(seed)
    assert case.reporter_public_key == reporter.public_key().to_bytes()
    assert (
        open_case_key(
            reporter,
            sealed(None, KeyKind.CONTENT, "reporter"),
            case_id=case.uid,
            kind=KeyKind.CONTENT,
        )
        == content_key
    )
    with pytest.raises(OpenError):
        open_reporter_seed(
            reporter_blob(session, case), "AAAA-AAAA-AAAA-AAAA-AAAA", case_id=case.uid
        )


def test_a_new_case_is_sealed_only_to_active_handlers_and_leads_of_its_organisation(
    app: Flask, session: Session, unit: Unit, store: FileStore, clock: FixedClock
) -> None:
    """Who gets a new case's keys: the organisation's handlers and leads who are active.
    Never someone deactivated, never another role (counsel, an auditor), never a handler of
    another organisation on the same installation."""
    key = runtime(app).settings.instance_key
    with app.app_context():
        other = make_unit(session, clock, key, slug="andetfirma")
        counsel = add_staff(
            session, clock, unit.org, "Conny Counsel", [Role.COUNSEL], instance_key=key
        )
        auditor = add_staff(
            session, clock, unit.org, "Aud Auditor", [Role.AUDITOR], instance_key=key
        )
        gone = add_staff(
            session, clock, unit.org, "Dora Deactivated", [Role.HANDLER], instance_key=key
        )
        gone.user.is_active = False
        session.commit()
    case = submit(app, session, unit, store).case
    sealed_to = set(
        session.scalars(
            select(CaseKey.user_id).where(CaseKey.case_id == case.id, CaseKey.recipient == "user")
        )
    )
    assert sealed_to == {s.user.id for s in unit.handlers}
    outsiders = {counsel.user.id, auditor.user.id, gone.user.id, unit.admin.user.id}
    outsiders |= {s.user.id for s in other.handlers}
    assert not sealed_to & outsiders


def test_anonymous_report_has_no_identity_and_references_count_up(
    app: Flask, session: Session, unit: Unit, store: FileStore
) -> None:
    first = submit(app, session, unit, store)
    second = submit(app, session, unit, store)
    assert first.case.identity is None and first.case.anonymous
    assert [first.case.reference, second.case.reference] == ["2026-0001", "2026-0002"]
    assert first.code != second.code


def test_references_are_per_organisation_and_year_and_failed_reports_give_theirs_back(
    app: Flask,
    session: Session,
    unit: Unit,
    store: FileStore,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    assert submit(app, session, unit, store).case.reference == "2026-0001"
    assert submit(app, session, other, store).case.reference == "2026-0001"

    def fail_after_the_number_was_taken(*args: object, **kwargs: object) -> None:
        raise OSError("disk gone")

    with monkeypatch.context() as patch:
        patch.setattr(intake, "add_file_rows", fail_after_the_number_was_taken)
        with pytest.raises(OSError):
            submit(app, session, unit, store)
    assert submit(app, session, unit, store).case.reference == "2026-0002"
    clock.advance(timedelta(days=320))  # into 2027
    assert submit(app, session, unit, store).case.reference == "2027-0001"


def test_concurrent_reports_get_distinct_references(
    app: Flask, unit: Unit, store: FileStore
) -> None:
    """Reports submitted at the same moment never fail on, or share, a reference number."""
    import threading

    rt = runtime(app)
    with rt.sessions() as s:
        category = category_id(s, unit)
    references: list[str] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            with app.app_context(), rt.sessions() as own:
                org = own.merge(unit.org)
                submission = submit_report(
                    own,
                    rt.clock,
                    org,
                    ReportInput(category_id=category, what=CANARY),
                    [],
                    pepper=rt.settings.pepper,
                    argon2=rt.argon2,
                    store=store,
                )
                references.append(submission.case.reference)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    assert failures == []
    assert sorted(references) == [f"2026-{n:04d}" for n in range(1, 9)]


def test_the_audit_log_records_a_report_by_day_not_by_time(
    app: Flask, session: Session, unit: Unit, store: FileStore, clock: FixedClock
) -> None:
    """The case keeps only days; its audit entry must not tell the hour either."""
    clock.advance(timedelta(hours=5, minutes=17))
    case = submit(app, session, unit, store).case
    entry = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id)).one()
    assert entry.action == "case.received"
    assert (entry.at.hour, entry.at.minute, entry.at.second) == (0, 0, 0)
    assert entry.at.date() == clock.now().date()


def test_attachments_are_encrypted_in_the_store(
    app: Flask, session: Session, unit: Unit, store: FileStore
) -> None:
    submission = submit(
        app,
        session,
        unit,
        store,
        files=[PreparedFile("evidence-CANARY.txt", io.BytesIO(FILE_CANARY), "not_needed")],
    )
    case = submission.case
    attachment = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    stored = store.path(attachment.storage_name).read_bytes()
    assert b"CANARY" not in stored
    assert attachment.size == len(FILE_CANARY)
    content = reporter_ring(session, submission)
    assert attachment.format == 2 and attachment.key_epoch == 0
    own = records.item_keys(session, [file_key_name(attachment.storage_name)])
    assert own, "the file has a key of its own in the key store"
    key = records.file_key(content, case.uid, attachment, own)
    context = attachment_context(case.uid, attachment.storage_name, 2, "reporter", "report")
    with store.open(attachment.storage_name) as handle:
        plain = b"".join(decrypt_stream(handle, key, context))
    assert plain == FILE_CANARY
    # The content key alone opens nothing of it: the file's own key is needed too.
    with store.open(attachment.storage_name) as handle, pytest.raises(OpenError):
        b"".join(decrypt_stream(handle, content.at(0), context))


def test_nothing_readable_reaches_the_database(
    app: Flask, session: Session, unit: Unit, store: FileStore, database_url: str
) -> None:
    submit(
        app,
        session,
        unit,
        store,
        anonymous=False,
        name=NAME_CANARY,
        nudge_email="canary-nudge@example.org",
    )
    session.commit()
    if database_url.startswith("sqlite"):
        runtime(app).engine.dispose()
        raw = b"".join(
            p.read_bytes()
            for p in Path(database_url[len("sqlite:///") :]).parent.glob("whistle.db*")
        )
    else:
        dump = session.execute(
            text("SELECT string_agg(t::text, '|') FROM (SELECT * FROM cases) t")
        ).scalar_one()
        raw = dump.encode()
    for canary in (b"CANARY", b"canary-nudge", b"Navnesen"):
        assert canary not in raw


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"what": "   "}, "what"),
        ({"category_id": 999_999}, "category"),
        ({"relation": "boss"}, "relation"),
        ({"anonymous": False, "name": " "}, "name"),
    ],
)
def test_invalid_reports_are_refused_with_the_field(
    app: Flask,
    session: Session,
    unit: Unit,
    store: FileStore,
    changes: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(Refused) as caught:
        submit(app, session, unit, store, **changes)
    assert caught.value.field == field
    assert session.scalars(select(Case)).first() is None


def test_anonymity_follows_the_organisation_setting(
    app: Flask, session: Session, unit: Unit, store: FileStore
) -> None:
    unit.org.accepts_anonymous = False
    session.commit()
    with pytest.raises(Refused) as caught:
        submit(app, session, unit, store)
    assert caught.value.field == "anonymous"
    assert submit(app, session, unit, store, anonymous=False, name="Testa Testesen").case.id


def test_a_storage_failure_stores_nothing(
    app: Flask, session: Session, unit: Unit, store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_writer = store.writer

    def failing_writer(name: str):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise StorageError("OSError")
        return real_writer(name)

    monkeypatch.setattr(store, "writer", failing_writer)
    files = [
        PreparedFile("a.txt", io.BytesIO(b"first file"), "not_needed"),
        PreparedFile("b.txt", io.BytesIO(b"second file"), "not_needed"),
    ]
    with pytest.raises(StorageError):
        submit(app, session, unit, store, files=files)
    assert session.scalars(select(Case)).first() is None
    assert list(store.names()) == []
