"""Purging one item as manifestly irrelevant (REQUIREMENTS.md R3; Directive art. 17).

A handler removes one message, file or note with a reason. Afterwards the ciphertext is gone
from its row (and, on SQLite, from the database file and its write-ahead log), a file is gone
from the file store, both sides read "removed on <date>" where the item was, the reason is an
internal note and the audit log records the purge (never the content) with its chain intact.
Refused purges change nothing.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from crypto import decrypt_field, derive_record_key, import_recovery_key
from tests.steps.factories import Staff, Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter, Upload, file_links
from tests.steps.staff import CaseWorker
from whistle.casefile import access as case_access
from whistle.casefile import content, records
from whistle.casefile.access import OpenedKeys, open_keys
from whistle.cases import handling
from whistle.core import audit
from whistle.core.clock import FixedClock
from whistle.core.contexts import message_context
from whistle.core.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseNote,
    Message,
    PendingFileDeletion,
)
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.shredding import message_key_name, note_key_name
from whistle.core.storage import FileStore
from whistle.retention.purge import purge_item

TODAY = "2026-03-02"  # the test clock's day (tests/conftest.py START)
TODAY_IN_WORDS = "2 March 2026"
REASON = "Fake reason: holiday photos of a colleague, nothing to do with the report."


def marker(what: str) -> str:
    # Fresh per run, so a leftover from an earlier run can never make a search pass.
    return f"PRG{what.upper()}{secrets.token_hex(6)}"


def signed_in(app: Flask, clock: FixedClock, staff: Staff, unit: Unit) -> CaseWorker:
    worker = CaseWorker(app, clock, staff, slug=unit.org.slug)
    assert worker.sign_in().status_code == 303
    return worker


def the_case(session: Session) -> Case:
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


def keys_of(session: Session, case: Case, staff: Staff) -> OpenedKeys:
    return open_keys(session, case, staff.user.id, staff.private_key)


def store_of(app: Flask) -> FileStore:
    return FileStore(runtime(app).settings.file_store)


def database_bytes(app: Flask) -> bytes | None:
    """SQLite: the bytes of the database file and its write-ahead log, as they are on disk
    now (no connection closed first: the purge itself must have cleared the log)."""
    settings = runtime(app).settings
    if not settings.is_sqlite:
        return None
    db_file = Path(make_url(settings.database_url).database or "")
    parts = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-journal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def content_state(session: Session, app: Flask, case_id: int) -> dict[str, object]:
    """Everything a purge would change (opening the case page is logged, so that is left out)."""
    session.expire_all()
    rows: dict[str, object] = {
        "messages": session.execute(
            select(Message.id, Message.body, Message.purged_on)
            .where(Message.case_id == case_id)
            .order_by(Message.id)
        ).all(),
        "files": session.execute(
            select(Attachment.id, Attachment.name, Attachment.size, Attachment.purged_on)
            .where(Attachment.case_id == case_id)
            .order_by(Attachment.id)
        ).all(),
        "notes": session.execute(
            select(CaseNote.id, CaseNote.body, CaseNote.purged_on)
            .where(CaseNote.case_id == case_id)
            .order_by(CaseNote.id)
        ).all(),
    }
    rows["audit"] = list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.case_id == case_id, AuditEntry.action != "case.opened")
            .order_by(AuditEntry.seq)
        )
    )
    rows["pending"] = list(session.scalars(select(PendingFileDeletion.storage_name)))
    rows["store"] = sorted(store_of(app).names())
    session.rollback()
    return rows


def purge_entries(session: Session, case_id: int) -> list[dict[str, object]]:
    session.expire_all()
    return [
        json.loads(detail)
        for detail in session.scalars(
            select(AuditEntry.detail)
            .where(AuditEntry.case_id == case_id, AuditEntry.action == "case.item_purged")
            .order_by(AuditEntry.seq)
        )
    ]


def reason_of(session: Session, case: Case, keys: OpenedKeys, note_id: int) -> str:
    note = session.get(CaseNote, note_id)
    assert note is not None and note.kind == "purge" and keys.notes is not None
    own = records.item_keys(session, [note_key_name(note.uid)])
    return records.open_note(keys.notes, case.uid, note, own)


def field_errors(page: TestResponse, field_id: str) -> list[str]:
    found = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>',
        page.get_data(as_text=True),
        re.S,
    )
    return re.findall(r"<li>(.*?)</li>", found.group(1), re.S) if found else []


def test_a_message_and_its_file_are_purged_from_the_case_page(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    text, file_text, file_name = marker("msg"), marker("file"), marker("name")
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    sent = reporter.reply(
        f"Fake reply {text}", [Upload(f"{file_name}.txt", f"Fake photo {file_text}".encode())]
    )
    assert sent.status_code == 303
    case = the_case(session)
    message = session.scalars(select(Message).where(Message.case_id == case.id)).one()
    attached = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    ciphertexts = {"body": message.body, "file name": attached.name}
    storage_name, message_id = attached.storage_name, message.id
    store = store_of(app)
    assert store.exists(storage_name)
    before = database_bytes(app)
    if before is not None:  # the search below means something only if it finds them now
        assert all(c in before for c in ciphertexts.values())
    session.rollback()  # no open read here: the purge's checkpoint must be able to finish

    hanne = signed_in(app, clock, unit.handlers[0], unit)
    page = text_of(hanne.open_case(case.reference))
    assert text in page and f"{file_name}.txt" in page
    prefix = f"purge-message-{message_id}"
    done = hanne.case_action(
        case.reference,
        f"purge/message/{message_id}",
        {f"{prefix}-reason": REASON, f"{prefix}-confirm": "y"},
    )
    assert done.status_code == 303
    assert "done=purged" in done.headers["Location"]

    # The rows say what was there, and when it went; the content is gone.
    session.expire_all()
    message_row = session.get(Message, message_id)
    file_row = session.get(Attachment, attached.id)
    assert message_row is not None and file_row is not None
    assert (message_row.body, str(message_row.purged_on)) == (b"", TODAY)
    assert (file_row.name, file_row.size, file_row.purged_on) == (b"", 0, message_row.purged_on)
    assert not store.exists(storage_name)
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    after = database_bytes(app)
    if after is not None:
        for what, ciphertext in ciphertexts.items():
            assert ciphertext not in after, f"the purged {what} is still in the database file"

    # The reason is an internal note; the log names the item and the note, never the text.
    (entry,) = purge_entries(session, case.id)
    assert entry == {"item": "message", "id": message_id, "note": entry["note"], "files": 1}
    keys = keys_of(session, case, unit.handlers[0])
    assert reason_of(session, case, keys, int(str(entry["note"]))) == REASON
    assert audit.verify(session).ok
    session.rollback()

    # Both sides read that something was removed, and when; never what.
    shown = hanne.open_case(case.reference)
    page = text_of(shown)
    assert f"Removed on {TODAY_IN_WORDS} as irrelevant" in page
    assert f"File removed on {TODAY_IN_WORDS}" in page
    assert "The item has been removed." in text_of(hanne.get(done.headers["Location"]))
    assert "Item removed as irrelevant, reason" in page and REASON in page
    assert "Item removed as irrelevant" in page  # the case history
    for gone in (text, file_text, file_name):
        assert gone not in shown.get_data(as_text=True)
    assert f"purge/message/{message_id}" not in shown.get_data(as_text=True)  # not offered again
    staff_download = hanne.get(hanne.case_path(case.reference, f"files/{storage_name}"))
    assert staff_download.status_code == 410
    assert f"This file was removed on {TODAY} as irrelevant to the report." in text_of(
        staff_download
    )

    mailbox = reporter.mailbox()
    assert mailbox.status_code == 200
    assert f"Removed on {TODAY} as irrelevant" in text_of(mailbox)
    assert f"File removed on {TODAY}" in text_of(mailbox)
    assert file_links(mailbox) == {}
    for gone in (text, file_text, file_name):
        assert gone not in mailbox.get_data(as_text=True)
    reporter_download = reporter.get(f"/o/{unit.org.slug}/case/file/{storage_name}")
    assert reporter_download.status_code == 410
    assert "File removed" in text_of(reporter_download)


def test_a_report_file_and_a_note_are_purged_through_the_domain(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    note_text, file_text = marker("note"), marker("file")
    reporter = Reporter(app, unit.org.slug)
    reporter.report(
        ReportAnswers(files=[Upload("fake-payslip.txt", f"Fake payslip {file_text}".encode())])
    )
    case = the_case(session)
    hanne = unit.handlers[0]
    keys = keys_of(session, case, hanne)
    store = store_of(app)
    with app.app_context():
        note = handling.add_note(session, clock, case, keys, hanne.user.id, f"Fake {note_text}")
    report_file = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    assert report_file.message_id is None
    ciphertexts = [report_file.name, note.body]
    storage_name, file_id, note_id = report_file.storage_name, report_file.id, note.id
    session.commit()

    with app.app_context():
        file_reason = purge_item(
            session, clock, store, case, keys, hanne.user.id,
            kind="file", item_id=file_id, reason="  Fake reason: someone else's payslip.  ",
            keystore=runtime(app).keystore,
        )  # fmt: skip
        note_reason = purge_item(
            session, clock, store, case, keys, hanne.user.id,
            kind="note", item_id=note_id, reason="Fake reason: written in the wrong case.",
            keystore=runtime(app).keystore,
        )  # fmt: skip

    session.expire_all()
    file_row, note_row = session.get(Attachment, file_id), session.get(CaseNote, note_id)
    assert file_row is not None and note_row is not None
    assert (file_row.name, file_row.size, str(file_row.purged_on)) == (b"", 0, TODAY)
    assert (note_row.body, str(note_row.purged_on)) == (b"", TODAY)
    assert not store.exists(storage_name)
    assert session.scalar(select(func.count()).select_from(PendingFileDeletion)) == 0
    assert purge_entries(session, case.id) == [
        {"item": "file", "id": file_id, "note": file_reason.id},
        {"item": "note", "id": note_id, "note": note_reason.id},
    ]
    assert reason_of(session, case, keys, file_reason.id) == "Fake reason: someone else's payslip."
    assert audit.verify(session).ok
    after = database_bytes(app)
    if after is not None:
        assert not any(c in after for c in ciphertexts)

    # Readers skip what is gone instead of trying to decrypt it.
    from whistle.casefile.conversation import report_files

    (shown,) = report_files(session, case, keys.content)
    assert (shown.name, str(shown.purged_on)) == ("", TODAY)
    listed = {n.id: n for n in content.notes(session, case, keys)}
    assert listed[note_id].body == "" and listed[note_id].purged_on == note_row.purged_on
    assert listed[file_reason.id].kind == "purge"
    session.rollback()
    worker = signed_in(app, clock, hanne, unit)
    page = worker.open_case(case.reference)
    assert page.status_code == 200
    assert note_text not in page.get_data(as_text=True)
    assert f"File removed on {TODAY_IN_WORDS}" in text_of(page)
    assert reporter.mailbox().status_code == 200
    assert f"File removed on {TODAY}" in text_of(reporter.mailbox())


def test_the_record_of_the_handling_cannot_be_purged(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    Reporter(app, unit.org.slug).report(ReportAnswers())
    case = the_case(session)
    hanne = unit.handlers[0]
    keys = keys_of(session, case, hanne)
    store = store_of(app)
    with app.app_context():
        handling.acknowledge(session, clock, store, case, keys, hanne.user.id, "Fake thanks.")
        handling.assess_scope(
            session, clock, case, keys, hanne.user.id, scope="in_scope", reason="Fake scope."
        )
    acknowledgement = session.scalars(select(Message).where(Message.case_id == case.id)).one()
    scope_note = session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).one()
    refused = {
        "message": (acknowledgement.id, "the record of the handling"),
        "note": (scope_note.id, "Only ordinary notes can be removed"),
        "report": (case.id, "There is no such item in this case."),
    }
    before = content_state(session, app, case.id)
    for kind, (item_id, message) in refused.items():
        with app.app_context(), pytest.raises(Refused) as caught:
            purge_item(
                session, clock, store, case, keys, hanne.user.id,
                kind=kind, item_id=item_id, reason=REASON, keystore=runtime(app).keystore,
            )  # fmt: skip
        session.rollback()
        assert message in str(caught.value.message)
    assert content_state(session, app, case.id) == before

    # The page offers no purge form for them either.
    worker = signed_in(app, clock, hanne, unit)
    html = worker.open_case(case.reference).get_data(as_text=True)
    assert "/purge/" not in html


def test_refused_purges_change_nothing(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    first, second = Reporter(app, unit.org.slug), Reporter(app, unit.org.slug, address="192.0.2.11")
    first.report(ReportAnswers())
    first.confirm_written_down()
    assert first.reply("Fake reply: the pallets again.").status_code == 303
    own = the_case(session)
    second.report(ReportAnswers(what="Fake second report about the canteen."))
    second.confirm_written_down()
    assert second.reply("Fake reply about the canteen.").status_code == 303
    other = the_case(session)
    other_message = session.scalars(select(Message).where(Message.case_id == other.id)).one().id
    own_message = session.scalars(select(Message).where(Message.case_id == own.id)).one().id
    session.rollback()
    hanne = signed_in(app, clock, unit.handlers[0], unit)

    # An empty reason: the form comes back with its message.
    prefix = f"purge-message-{own_message}"
    before = content_state(session, app, own.id)
    other_before = content_state(session, app, other.id)
    empty = hanne.case_action(
        own.reference, f"purge/message/{own_message}", {f"{prefix}-reason": " "}
    )
    assert empty.status_code == 400
    assert field_errors(empty, f"{prefix}-reason") == [
        "Give the reason why the item is manifestly irrelevant."
    ]
    assert '<details class="action purge" open>' in empty.get_data(as_text=True)
    assert content_state(session, app, own.id) == before

    # An item of another case, through this case's address: not found here.
    stray = hanne.post(
        hanne.case_path(own.reference, f"purge/message/{other_message}"),
        {
            f"purge-message-{other_message}-csrf_token": hanne.any_token(),
            f"purge-message-{other_message}-reason": REASON,
            f"purge-message-{other_message}-confirm": "y",
        },
    )
    assert stray.status_code == 400
    assert "There is no such item in this case." in text_of(stray)
    assert content_state(session, app, own.id) == before
    assert content_state(session, app, other.id) == other_before

    # Twice: the second time (a page left open in another tab) is refused.
    fields = {f"{prefix}-reason": REASON, f"{prefix}-confirm": "y"}
    assert (
        hanne.case_action(own.reference, f"purge/message/{own_message}", fields).status_code == 303
    )
    purged = content_state(session, app, own.id)
    assert purged != before  # so "unchanged" above could have failed
    again = hanne.post(
        hanne.case_path(own.reference, f"purge/message/{own_message}"),
        {f"{prefix}-csrf_token": hanne.any_token(), **fields},
    )
    assert again.status_code == 400
    assert "This item has already been removed." in text_of(again)
    assert content_state(session, app, own.id) == purged
    assert len(purge_entries(session, own.id)) == 1


def test_a_handler_without_a_key_to_the_case_cannot_purge(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    excluded = unit.handlers[1]
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(exclude=[excluded.user.id]))
    reporter.confirm_written_down()
    assert reporter.reply("Fake reply: more about the pallets.").status_code == 303
    case = the_case(session)
    message_id = session.scalars(select(Message.id).where(Message.case_id == case.id)).one()
    session.rollback()
    before = content_state(session, app, case.id)
    henrik = signed_in(app, clock, excluded, unit)
    prefix = f"purge-message-{message_id}"
    denied = henrik.post(
        henrik.case_path(case.reference, f"purge/message/{message_id}"),
        {f"{prefix}-csrf_token": henrik.any_token(), f"{prefix}-reason": REASON},
    )
    assert denied.status_code == 403
    assert content_state(session, app, case.id) == before


def test_a_purged_message_does_not_open_from_a_dump_taken_before(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Purging one item destroys a key that only that item used: a database copy taken before
    the purge still holds the message's ciphertext and the case keys still open, but the
    message does not, with anyone's keys, the recovery key included."""
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers())
    text = marker("purged-message")
    assert reporter.reply(f"Fake irrelevant message {text}").status_code == 303
    case = the_case(session)
    hanne = unit.handlers[0]
    keys = keys_of(session, case, hanne)
    message = session.scalars(select(Message).where(Message.case_id == case.id)).one()
    dumped = (message.uid, bytes(message.body), message_context(case.uid, message))
    name = message_key_name(message.uid)
    recovered = case_access.open_recovery_keys(
        session, case, import_recovery_key(unit.recovery_key_text)
    )

    def opens() -> bool:
        own = records.item_keys(session, [name]).get(name)
        if own is None:
            return False
        key = derive_record_key(recovered.content.at(0), own, context=dumped[2])
        return text.encode() in decrypt_field(key, dumped[1], context=dumped[2])

    assert opens()  # before the purge the copy opens: the check can see it
    with app.app_context():
        purge_item(
            session, clock, store_of(app), case, keys, hanne.user.id,
            kind="message", item_id=message.id, reason="Fake reason: irrelevant.",
            keystore=runtime(app).keystore,
        )  # fmt: skip
    assert runtime(app).keystore.get(name) is None
    assert not opens()
    # The case itself still opens: only the message's own key went.
    assert content.read_report(case, keys_of(session, case, hanne))["what"]
