"""Revocation that revokes (issue 14): leaving a case moves it to a new key epoch.

The attack these tests turn away: a handler keeps a copy of the database from before they left
a case (stepped aside, were kept out, left the organisation), and later gets hold of newer
rows. With their own password they open their old sealed keys; nothing written after they
left opens with them. Those who remain, the reporter and the recovery key read every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    KeyKind,
    OpenError,
    case_code_lookup_tag,
    decrypt_field,
    derive_record_key,
    encrypt_field,
    import_recovery_key,
    open_case_key,
    wrap_case_key_for_reporter,
)
from tests.steps.factories import Staff, Unit, add_staff, certify
from tests.steps.pages import csrf_token
from tests.steps.reporter import ReportAnswers, Reporter, stored_sealed
from tests.steps.staff import CaseWorker
from whistle.admin.people import change_roles, end_access
from whistle.casefile import content, records
from whistle.casefile import holders as case_holders
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import open_keys
from whistle.casefile.conversation import conversation
from whistle.cases import handling
from whistle.core.clock import FixedClock
from whistle.core.contexts import message_context, note_context
from whistle.core.models import (
    Case,
    CaseExclusion,
    CaseKey,
    CaseNote,
    Message,
    RightsRequestKey,
    Role,
)
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.shredding import message_key_name, note_key_name
from whistle.rights import requests

REPORT = "Fake report EPOCHCANARY: forklifts are rented out at weekends."
AFTER = "Fake reply EPOCHAFTERCANARY written after someone left."


@dataclass
class OldCopy:
    """What a departing handler keeps: their sealed key rows, as a database copy holds them."""

    rows: list[tuple[int, str, bytes]]

    @classmethod
    def take(cls, session: Session, case: Case, staff: Staff) -> OldCopy:
        # The strongest departed person: they kept the database *and* the key store's copy of
        # the case's key-encryption key (the case still exists, so it is not destroyed).
        return cls(
            [
                (r.epoch, r.kind, stored_sealed(session, case, r.sealed))
                for r in session.scalars(
                    select(CaseKey).where(
                        CaseKey.case_id == case.id, CaseKey.user_id == staff.user.id
                    )
                )
            ]
        )

    def keys(self, case: Case, staff: Staff) -> list[tuple[int, str, bytes]]:
        """Every key the copy opens with the person's own private key (their password)."""
        assert staff.private_key is not None and self.rows
        return [
            (
                epoch,
                kind,
                open_case_key(
                    staff.private_key, sealed, case_id=case.uid, kind=KeyKind(kind), epoch=epoch
                ),
            )
            for epoch, kind, sealed in self.rows
        ]


def opens_with_any(
    session: Session,
    keys: list[tuple[int, str, bytes]],
    blob: bytes,
    context: tuple[str, ...],
    item: str | None = None,
) -> bool:
    """Whether any of ``keys`` opens ``blob``: directly, or (a record with a key of its own)
    through the key derived from it and the record's own key, taken from the key store as
    the strongest departed person would have it."""
    own = records.item_keys(session, [item])[item] if item else None
    for _epoch, _kind, key in keys:
        try:
            opening = derive_record_key(key, own, context=context) if own else key
            decrypt_field(opening, blob, context=context)
        except OpenError:
            continue
        return True
    return False


def new_handler(app: Flask, session: Session, clock: FixedClock, unit: Unit, name: str) -> Staff:
    with app.app_context():
        staff = add_staff(
            session,
            clock,
            unit.org,
            name,
            [Role.HANDLER],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, staff)
        session.commit()
    return staff


def report(app: Flask, session: Session, unit: Unit, **answers: object) -> tuple[Reporter, Case]:
    reporter = Reporter(app, unit.org.slug)
    reporter.report(ReportAnswers(what=REPORT, **answers))  # type: ignore[arg-type]
    reporter.confirm_written_down()
    case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None
    return reporter, case


def message_rows(session: Session, case: Case) -> list[Message]:
    session.expire_all()
    return list(
        session.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.id))
    )


def test_a_handler_who_steps_aside_reads_nothing_written_after_from_an_old_copy(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    rikke = new_handler(app, session, clock, unit, "Rikke Recuser")
    reporter, case = report(app, session, unit)
    assert reporter.reply("Fake reply EPOCHBEFORECANARY, before she left.").status_code == 303
    old = OldCopy.take(session, case, rikke)
    assert {e for e, _k, _s in old.keys(case, rikke)} == {0}  # she held the case
    [before] = message_rows(session, case)

    worker = CaseWorker(app, clock, rikke, slug=unit.org.slug)
    worker.sign_in()
    stepped_aside = worker.case_action(
        case.reference,
        "recuse",
        {"recuse-reason": "Fake reason: I know the reporter.", "recuse-confirm": "y"},
    )
    assert stepped_aside.status_code == 303
    assert worker.open_case(case.reference).status_code == 403
    session.refresh(case)
    assert case.key_epoch == 1
    assert not session.scalars(select(CaseKey).where(CaseKey.user_id == rikke.user.id)).all()

    # The reporter writes after she left, and so does a colleague who stayed.
    assert reporter.reply(AFTER).status_code == 303
    hanne = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    hanne.sign_in()
    answer = hanne.case_action(
        case.reference, "message", {"msg-body": "Fake answer EPOCHHANDLERCANARY."}
    )
    assert answer.status_code == 303
    written_after = [m for m in message_rows(session, case) if m.key_epoch == 1]
    assert len(written_after) == 2
    keys = old.keys(case, rikke)
    for message in written_after:
        assert not opens_with_any(
            session,
            keys,
            message.body,
            message_context(case.uid, message),
            message_key_name(message.uid),
        )
    # What was written before she left, she had read; the old copy still opens it (so the
    # check above would see a message she could open).
    assert opens_with_any(session, keys, case.report, ("report", case.uid))
    assert opens_with_any(
        session,
        keys,
        before.body,
        message_context(case.uid, before),
        message_key_name(before.uid),
    )
    # Those who remain read everything, old and new.
    page = hanne.open_case(case.reference).get_data(as_text=True)
    assert "EPOCHCANARY" in page and "EPOCHAFTERCANARY" in page
    assert "EPOCHHANDLERCANARY" in reporter.mailbox().get_data(as_text=True)


def test_leaving_the_organisation_renews_every_case_and_request_they_held(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne, henrik = unit.handlers[0], unit.handlers[1]
    _r1, first = report(app, session, unit)
    _r2, second = report(app, session, unit)
    with app.app_context():
        request = requests.register(
            session,
            clock,
            unit.org.id,
            hanne.user.id,
            kind="access",
            subject="Fie Fiktiv",
            received_on=clock.now().date(),
        )
        old = OldCopy.take(session, first, henrik)
        # Deactivated by the administrator, who governs all his organisations.
        assert end_access(session, clock, unit.org.id, unit.admin.user.id, henrik.user.id) == (
            "deactivated"
        )
        session.commit()
    for case in (first, second):
        session.refresh(case)
        assert case.key_epoch == 1
        assert not case_holders.holds(session, case.id, henrik.user.id)
    session.refresh(request)
    assert request.key_epoch == 1
    assert not session.scalars(
        select(RightsRequestKey).where(RightsRequestKey.user_id == henrik.user.id)
    ).all()
    with app.app_context():
        keys = open_keys(session, first, hanne.user.id, hanne.private_key)
        handling.add_note(session, clock, first, keys, hanne.user.id, "Fake note EPOCHNOTE.")
    note = session.scalars(select(CaseNote).where(CaseNote.case_id == first.id)).one()
    assert note.key_epoch == 1
    assert not opens_with_any(
        session,
        old.keys(first, henrik),
        note.body,
        note_context(first.uid, note),
        note_key_name(note.uid),
    )
    assert keys.notes is not None
    own = records.item_keys(session, [note_key_name(note.uid)])
    assert records.open_note(keys.notes, first.uid, note, own) == "Fake note EPOCHNOTE."


def test_losing_every_case_role_renews_the_cases_too(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    henrik = unit.handlers[1]
    _reporter, case = report(app, session, unit)
    with app.app_context():
        change_roles(
            session, clock, unit.org.id, unit.admin.user.id, henrik.user.id, [Role.AUDITOR]
        )
        session.commit()
    session.refresh(case)
    assert case.key_epoch == 1 and not case_holders.holds(session, case.id, henrik.user.id)


def test_a_colleague_given_the_case_after_a_renewal_reads_all_of_it(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne, henrik = unit.handlers[0], unit.handlers[1]
    reporter, case = report(app, session, unit, exclude=[])
    rikke = new_handler(app, session, clock, unit, "Rikke Recuser")
    with app.app_context():
        case_sharing.recuse(session, clock, case, henrik.user.id)
    assert reporter.reply(AFTER).status_code == 303
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
        assert sorted(keys.content.keys) == [0, 1]
        case_sharing.grant_access(session, clock, case, keys, hanne.user.id, rikke.user.id)
        given = open_keys(session, case, rikke.user.id, rikke.private_key)
    assert sorted(given.content.keys) == [0, 1]
    bodies = [m.body for m in conversation(session, case, given.content)]
    assert AFTER in bodies
    assert content.read_report(case, given)["what"] == REPORT


def test_the_recovery_key_restores_every_epoch(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    reporter, case = report(app, session, unit)
    rikke = new_handler(app, session, clock, unit, "Rikke Recuser")
    with app.app_context():
        for staff in unit.handlers:
            case_sharing.recuse(session, clock, case, staff.user.id)
    assert reporter.reply(AFTER).status_code == 303
    session.refresh(case)
    assert case.key_epoch == 3 and not case_holders.holder_ids(session, case.id)
    with app.app_context():
        case_sharing.restore_with_recovery(
            session, clock, case, import_recovery_key(unit.recovery_key_text), rikke.user
        )
        keys = open_keys(session, case, rikke.user.id, rikke.private_key)
    assert sorted(keys.content.keys) == [0, 1, 2, 3]
    assert AFTER in [m.body for m in conversation(session, case, keys.content)]


def test_the_reporter_keeps_a_handler_out_of_the_case_from_the_mailbox(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne, henrik = unit.handlers[0], unit.handlers[1]
    reporter, case = report(app, session, unit)
    henrik_worker = CaseWorker(app, clock, henrik, slug=unit.org.slug)
    henrik_worker.sign_in()
    assert henrik_worker.open_case(case.reference).status_code == 200
    old = OldCopy.take(session, case, henrik)

    page = reporter.get(f"/o/{unit.org.slug}/case/keep-out")
    assert page.status_code == 200 and "Henrik Handler" in page.get_data(as_text=True)
    # Nobody chosen: a clear message, nothing changes.
    nothing = reporter.post(f"/o/{unit.org.slug}/case/keep-out", {"csrf_token": csrf_token(page)})
    assert nothing.status_code == 400
    session.refresh(case)
    assert case.key_epoch == 0
    done = reporter.post(
        f"/o/{unit.org.slug}/case/keep-out",
        {"csrf_token": csrf_token(page), "handler": str(henrik.user.id)},
    )
    assert done.status_code == 303
    shown = reporter.get(done.headers["Location"]).get_data(as_text=True)
    assert "Kept out of your case" in shown and "Henrik Handler" in shown
    session.refresh(case)
    assert case.key_epoch == 1
    assert henrik_worker.open_case(case.reference).status_code == 403
    assert reporter.reply(AFTER).status_code == 303
    after = [m for m in message_rows(session, case) if m.key_epoch == 1]
    assert after and not opens_with_any(
        session,
        old.keys(case, henrik),
        after[0].body,
        message_context(case.uid, after[0]),
        message_key_name(after[0].uid),
    )
    # Nobody can give him the case again, by the page or the recovery procedure.
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
        assert henrik.user.id not in {
            u.id for u in case_sharing.entitled_colleagues(session, case, keys)
        }
        with pytest.raises(Refused):
            case_sharing.grant_access(session, clock, case, keys, hanne.user.id, henrik.user.id)
        with pytest.raises(Refused):
            case_sharing.restore_with_recovery(
                session, clock, case, import_recovery_key(unit.recovery_key_text), henrik.user
            )


def test_a_lead_takes_the_case_away_from_a_handler(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    henrik, lise = unit.handlers[1], unit.handlers[2]
    _reporter, case = report(app, session, unit)
    old = OldCopy.take(session, case, henrik)
    lead = CaseWorker(app, clock, lise, slug=unit.org.slug)
    lead.sign_in()
    missing_reason = lead.case_action(
        case.reference, "remove", {"remove-handler": str(henrik.user.id), "remove-reason": ""}
    )
    assert missing_reason.status_code == 400
    assert "Give the reason" in missing_reason.get_data(as_text=True)
    done = lead.case_action(
        case.reference,
        "remove",
        {"remove-handler": str(henrik.user.id), "remove-reason": "Fake: he is the manager named."},
    )
    assert done.status_code == 303
    session.refresh(case)
    assert case.key_epoch == 1 and not case_holders.holds(session, case.id, henrik.user.id)
    page = lead.open_case(case.reference).get_data(as_text=True)
    assert "Fake: he is the manager named." in page  # the reason, as an internal note
    # Written under the new epoch: he never reads why, not even from a later copy.
    session.expire_all()
    reason = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id, CaseNote.kind == "access")
    ).one()
    assert reason.key_epoch == 1
    assert not opens_with_any(
        session,
        old.keys(case, henrik),
        reason.body,
        note_context(case.uid, reason),
        note_key_name(reason.uid),
    )
    exclusion = session.scalars(select(CaseExclusion).where(CaseExclusion.case_id == case.id)).one()
    assert exclusion.key_epoch == 1
    # A handler (not a lead) cannot take a case away from anyone.
    hanne = CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)
    hanne.sign_in()
    opened = hanne.open_case(case.reference)
    assert "/remove" not in opened.get_data(as_text=True)
    token = hanne.any_token()
    forged = hanne.post(
        hanne.case_path(case.reference, "remove"),
        {"csrf_token": token, "remove-handler": str(lise.user.id), "remove-reason": "x"},
    )
    assert forged.status_code == 403


def make_legacy(session: Session, case: Case, code: str, content_key: bytes, pepper: bytes) -> None:
    """Turn ``case`` into one received before key epochs: no reporter key pair, the code (of
    format 1) opening the content key itself."""
    session.execute(
        delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "reporter")
    )
    case.reporter_public_key = None
    case.reporter_key = wrap_case_key_for_reporter(
        content_key, code, case_id=case.uid, kind=KeyKind.CONTENT, params=Argon2Params.for_tests()
    )
    case.reporter_tag = case_code_lookup_tag(pepper, code, scope=case.org_id)
    session.commit()


LEGACY_CODE = "7QKM-2XR9-CD4T-WB8N"


def test_an_older_case_gets_its_reporter_key_pair_at_the_next_sign_in(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    hanne, henrik = unit.handlers[0], unit.handlers[1]
    _reporter, case = report(app, session, unit)
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
        make_legacy(session, case, LEGACY_CODE, keys.content.at(0), runtime(app).settings.pepper)
        old = OldCopy.take(session, case, henrik)
        case_sharing.recuse(session, clock, case, henrik.user.id)
    session.refresh(case)
    # Nobody but the reporter can open a new content key for such a case: only the notes and
    # identity keys are renewed now, the content key's renewal waits for the reporter.
    assert case.key_epoch == 1 and case.content_rotation_pending
    kinds = {r.kind for r in session.scalars(select(CaseKey).where(CaseKey.epoch == 1))}
    assert kinds == {"notes", "identity"}

    later = Reporter(app, unit.org.slug, address="192.0.2.77")
    opened = later.open_case(LEGACY_CODE.lower().replace("-", " "))
    assert opened.status_code == 303, opened.get_data(as_text=True)[:500]
    session.expire_all()
    case = session.get(Case, case.id)  # type: ignore[assignment]
    assert case is not None and case.reporter_public_key is not None
    assert case.key_epoch == 2 and not case.content_rotation_pending
    assert {r.kind for r in session.scalars(select(CaseKey).where(CaseKey.epoch == 2))} == {
        "content",
        "notes",
        "identity",
    }
    # The reporter re-reads his own report with his keys (issue 16), after the renewal too.
    assert "EPOCHCANARY" in later.mailbox().get_data(as_text=True)
    assert later.reply(AFTER).status_code == 303
    after = message_rows(session, case)[-1]
    assert after.key_epoch == 2
    assert not opens_with_any(
        session,
        old.keys(case, henrik),
        after.body,
        message_context(case.uid, after),
        message_key_name(after.uid),
    )
    # The old code keeps working, now through the key pair.
    again = Reporter(app, unit.org.slug, address="192.0.2.78")
    assert again.open_case(LEGACY_CODE).status_code == 303
    assert "EPOCHAFTERCANARY" in again.mailbox().get_data(as_text=True)


def test_a_key_row_copied_into_a_newer_epoch_is_ignored(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Someone who can write the database copies a handler's epoch-0 key row as epoch 7, so
    that new records would be written under a key a departed handler had: the copy does not
    open as epoch 7, so the writer keeps to the real newest epoch."""
    hanne = unit.handlers[0]
    _reporter, case = report(app, session, unit)
    own = session.scalars(
        select(CaseKey).where(
            CaseKey.case_id == case.id, CaseKey.user_id == hanne.user.id, CaseKey.kind == "content"
        )
    ).one()
    session.execute(
        insert(CaseKey).values(
            org_id=own.org_id,
            case_id=own.case_id,
            epoch=7,
            kind="content",
            recipient="user",
            user_id=hanne.user.id,
            sealed=own.sealed,
        )
    )
    session.commit()
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
    assert sorted(keys.content.keys) == [0]


def test_a_relabelled_message_or_note_no_longer_opens(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Format 2 binds a message's author, kind and day, and a note's kind, author and day:
    editing them in the database makes the record fail to open instead of lying."""
    hanne = unit.handlers[0]
    reporter, case = report(app, session, unit)
    assert reporter.reply("Fake reply from the reporter.").status_code == 303
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
        handling.add_note(session, clock, case, keys, hanne.user.id, "Fake note.")
    message = message_rows(session, case)[-1]
    assert message.format == 2 and message.author == "reporter"
    conversation(session, case, keys.content)  # opens as stored
    session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(author="handler", kind="final_outcome")
    )
    session.commit()
    with pytest.raises(OpenError):
        conversation(session, case, keys.content)
    session.execute(update(CaseNote).where(CaseNote.case_id == case.id).values(kind="closure"))
    session.commit()
    with pytest.raises(OpenError):
        content.notes(session, case, keys)


def test_records_of_format_1_still_open(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """A message written before issue 14 (bound to case and uid only) keeps opening."""
    hanne = unit.handlers[0]
    _reporter, case = report(app, session, unit)
    with app.app_context():
        keys = open_keys(session, case, hanne.user.id, hanne.private_key)
    uid = "00000000-0000-4000-8000-00000000abcd"
    session.execute(
        insert(Message).values(
            uid=uid,
            org_id=case.org_id,
            case_id=case.id,
            author="handler",
            author_user_id=hanne.user.id,
            kind="message",
            sent_on=clock.now().date(),
            body=encrypt_field(
                keys.content.at(0), b"Fake old message.", context=("message", case.uid, uid)
            ),
            key_epoch=0,
            format=1,
        )
    )
    session.commit()
    assert "Fake old message." in [m.body for m in conversation(session, case, keys.content)]
    worker = CaseWorker(app, clock, hanne, slug=unit.org.slug)
    worker.sign_in()
    assert "Fake old message." in worker.open_case(case.reference).get_data(as_text=True)
