"""The audit log: an unbroken hash chain that names every edit, removal and forgery."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, make_unit
from whistle.app import create_app
from whistle.cli import cli
from whistle.core.audit import (
    GAP,
    GENESIS,
    HASH_MISMATCH,
    HEAD_MISMATCH,
    HEAD_MISSING,
    LINK_MISMATCH,
    AuditLogError,
    case_trail,
    entries,
    entry_hash,
    record,
    verify,
)
from whistle.core.clock import FixedClock
from whistle.core.deadlines import acknowledge_due, feedback_due
from whistle.core.models import AuditEntry, AuditHead, Case, Organisation
from whistle.core.runtime import runtime


def open_case(session: Session, clock: FixedClock, org: Organisation, reference: str) -> Case:
    """A case row as intake leaves it; only its id, reference and organisation matter here."""
    received = clock.now().date()
    case = Case(
        uid=str(uuid.uuid4()),
        org_id=org.id,
        reference=reference,
        anonymous=True,
        received_on=received,
        acknowledge_due=acknowledge_due(received),
        feedback_due=feedback_due(received, None),
        reporter_tag=secrets.token_bytes(32),
        reporter_key=b"not a real wrapped key",
        report=b"not a real report",
    )
    session.add(case)
    session.commit()
    return case


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    """The fake organisation, its keys not yet certified: the log starts empty here, as these
    tests count its entries from the first."""
    with app.app_context():
        return make_unit(session, clock, runtime(app).settings.instance_key, certified=False)


@pytest.fixture
def case(session: Session, clock: FixedClock, unit: Unit) -> Case:
    return open_case(session, clock, unit.org, "2026-0001")


def handling_story(session: Session, clock: FixedClock, unit: Unit, case: Case) -> None:
    """Five audited steps of one case, a few odd microseconds apart, each committed."""
    handler = unit.handlers[0].user.id
    lead = unit.handlers[2].user.id
    steps: list[tuple[str, int | None, Case | None, dict[str, str | int | bool | None]]] = [
        ("user.signed_in", handler, None, {}),
        ("case.opened", handler, case, {"first_time": True}),
        ("case.acknowledged", handler, case, {"message_id": 17}),
        ("case.assigned", lead, case, {"assignee": handler, "kind": "reassign"}),
        ("identity.revealed", lead, case, {"note_id": 4, "basis": "consent", "until": None}),
    ]
    for action, actor, about, detail in steps:
        clock.advance(timedelta(minutes=3, microseconds=123_457))
        record(
            session,
            clock,
            action=action,
            org_id=unit.org.id,
            actor_user_id=actor,
            case=about,
            detail=detail,
        )
        session.commit()


def all_entries(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_entries_form_one_chain_that_verifies(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    record(session, clock, action="instance.backup_checked", org_id=None)
    session.commit()

    chain = all_entries(session)
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5, 6]
    assert chain[0].prev_hash == GENESIS
    for earlier, later in itertools.pairwise(chain):
        assert later.prev_hash == earlier.entry_hash
    assert chain[3].case_reference == "2026-0001"
    assert chain[3].detail == f'{{"assignee":{unit.handlers[0].user.id},"kind":"reassign"}}'
    assert chain[1].at.microsecond == 246_914  # two steps of 123457 µs: kept to the µs
    head = session.scalars(select(AuditHead)).one()
    assert (head.seq, head.entry_hash) == (6, chain[-1].entry_hash)

    result = verify(session)
    assert result.ok
    assert result.checked == 6
    assert result.problems == []


def test_the_hash_follows_the_documented_encoding() -> None:
    """The test vector of docs/audit.md: an independent verifier can rebuild every hash."""
    documented = (
        '["whistle-audit-v1","' + "0" * 64 + '",1,"2026-03-02T09:03:00.123457Z",1,3,'
        '"user.signed_in",null,null,"{}"]'
    )
    digest = entry_hash(
        prev_hash=GENESIS,
        seq=1,
        at=datetime(2026, 3, 2, 9, 3, 0, 123_457, tzinfo=UTC),
        org_id=1,
        actor_user_id=3,
        action="user.signed_in",
        case_id=None,
        case_reference=None,
        detail="{}",
    )
    assert digest == hashlib.sha256(documented.encode("ascii")).digest()
    assert digest.hex() == "8ac4a1d01d8a7ba6cb55193405d9f2a14d80b8045eb117bd04f7159bba82219e"


def test_an_empty_log_verifies(session: Session) -> None:
    assert verify(session).ok
    assert verify(session).checked == 0


def tamper_action(session: Session) -> None:
    session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(action="case.closed"))


def tamper_detail(session: Session) -> None:
    session.execute(
        update(AuditEntry).where(AuditEntry.seq == 3).values(detail='{"message_id":18}')
    )


def tamper_time(session: Session) -> None:
    entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()
    entry.at = entry.at - timedelta(days=2)  # "it was acknowledged in time"


def delete_middle(session: Session) -> None:
    session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))


def delete_last(session: Session) -> None:
    session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))


def swap_2_and_4(session: Session) -> None:
    session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(seq=-2))
    session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(seq=2))
    session.execute(update(AuditEntry).where(AuditEntry.seq == -2).values(seq=4))


def forge_with_wrong_link(session: Session) -> None:
    """A made-up entry, its own hash computed correctly, hung onto entry 2 instead of 5."""
    second = session.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
    fields = {
        "seq": 6,
        "at": second.at,
        "org_id": second.org_id,
        "actor_user_id": second.actor_user_id,
        "action": "case.closed",
        "case_id": second.case_id,
        "case_reference": second.case_reference,
        "detail": "{}",
    }
    forged = entry_hash(prev_hash=second.entry_hash, **fields)  # type: ignore[arg-type]
    session.add(AuditEntry(prev_hash=second.entry_hash, entry_hash=forged, **fields))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (tamper_action, [(3, HASH_MISMATCH)]),
        (tamper_detail, [(3, HASH_MISMATCH)]),
        (tamper_time, [(3, HASH_MISMATCH)]),
        (delete_middle, [(3, GAP)]),
        (delete_last, [(5, HEAD_MISMATCH)]),
        (swap_2_and_4, [(2, HASH_MISMATCH), (4, HASH_MISMATCH)]),
        (forge_with_wrong_link, [(6, LINK_MISMATCH), (6, HEAD_MISMATCH)]),
    ],
    ids=[
        "edit-action",
        "edit-detail",
        "edit-time",
        "delete-middle",
        "delete-last",
        "swap",
        "forged-entry",
    ],
)
def test_tampering_is_named_with_its_seq(
    session: Session,
    clock: FixedClock,
    unit: Unit,
    case: Case,
    tamper: Callable[[Session], None],
    expected: list[tuple[int, str]],
) -> None:
    handling_story(session, clock, unit, case)
    assert verify(session).ok

    tamper(session)
    session.commit()

    result = verify(session)
    assert not result.ok
    for problem in expected:
        assert problem in result.problems


def test_a_deleted_entry_is_one_problem_not_a_cascade(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    delete_middle(session)
    session.commit()
    result = verify(session)
    assert result.problems == [(3, GAP)]
    assert result.checked == 4


def rewrite(session: Session, seq: int, **changes: object) -> None:
    """Edit an entry the way a careful forger would: recompute its own hash too."""
    entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.entry_hash = entry_hash(
        prev_hash=entry.prev_hash,
        seq=entry.seq,
        at=entry.at,
        org_id=entry.org_id,
        actor_user_id=entry.actor_user_id,
        action=entry.action,
        case_id=entry.case_id,
        case_reference=entry.case_reference,
        detail=entry.detail,
    )
    session.commit()


def test_a_rehashed_edit_is_caught_by_the_next_link(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    rewrite(session, 3, action="case.closed")
    assert verify(session).problems == [(4, LINK_MISMATCH)]


def test_a_rehashed_edit_of_the_last_entry_is_caught_by_the_head(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    rewrite(session, 5, detail="{}")
    assert verify(session).problems == [(5, HEAD_MISMATCH)]


def test_a_removed_head_is_reported_and_stops_new_entries(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    session.execute(delete(AuditHead))
    session.commit()

    assert verify(session).problems == [(5, HEAD_MISSING)]
    with pytest.raises(AuditLogError):
        record(session, clock, action="case.closed", org_id=unit.org.id, case=case)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 5


@pytest.mark.parametrize(
    "detail",
    [
        {"reason": "Testa Testesen took pallets home"},  # a sentence
        {"reason": "Testa\n"},  # a trailing newline
        {"name": "Testa\u00a0Testesen"},  # a name with a non-breaking space
        {"contact": "testa.testesen@example.org"},  # an e-mail address is identity
        {"reason": "x" * 65},  # too long for an identifier
        {"score": 1.5},  # not an int
        {"nested": {"name": "Testa"}},  # not a plain value
        {"blob": b"abc"},  # bytes
        {"Reason": "ok"},  # keys are lower-case identifiers
        {"free text": "ok"},
    ],
)
def test_detail_with_free_text_is_refused_and_not_echoed(
    session: Session, clock: FixedClock, unit: Unit, detail: dict[str, object]
) -> None:
    with pytest.raises(ValueError) as refused:
        record(
            session,
            clock,
            action="case.closed",
            org_id=unit.org.id,
            detail=detail,  # type: ignore[arg-type]
        )
    assert "Testa" not in str(refused.value)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_detail_takes_ids_kinds_and_references(
    session: Session, clock: FixedClock, unit: Unit
) -> None:
    detail = {
        "note_id": 12,
        "kind": "interim_feedback",
        "reference": "2026-0042",
        "recipient": "counsel:org:3",
        "approved": False,
        "until": None,
        "empty": "",
    }
    entry = record(session, clock, action="case.exported", org_id=unit.org.id, detail=detail)
    session.commit()
    assert entry.detail == (
        '{"approved":false,"empty":"","kind":"interim_feedback","note_id":12,'
        '"recipient":"counsel:org:3","reference":"2026-0042","until":null}'
    )
    assert verify(session).ok


@pytest.mark.parametrize(
    "action", ["case.acknowledged", "identity.revealed", "user.signed_in", "abc", "a" * 64]
)
def test_dotted_actions_are_accepted(session: Session, clock: FixedClock, action: str) -> None:
    assert record(session, clock, action=action, org_id=None).action == action


@pytest.mark.parametrize(
    "action",
    [
        "ab",
        "a" * 65,
        "Case.acknowledged",
        "1case.opened",
        ".case",
        "case acknowledged",
        "case-acknowledged",
        "case.acknowledged\n",
        "",
    ],
)
def test_other_actions_are_refused(session: Session, clock: FixedClock, action: str) -> None:
    with pytest.raises(ValueError):
        record(session, clock, action=action, org_id=None)


def test_a_case_of_another_organisation_is_refused(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    with pytest.raises(ValueError):
        record(session, clock, action="case.opened", org_id=unit.org.id + 1, case=case)


def test_a_rolled_back_action_leaves_no_entry_and_no_gap(
    session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    record(session, clock, action="case.opened", org_id=unit.org.id, case=case)
    session.commit()

    # The handler's action fails after its entry was written: both go.
    record(session, clock, action="case.closed", org_id=unit.org.id, case=case, detail={"x": 99})
    session.rollback()

    record(session, clock, action="case.acknowledged", org_id=unit.org.id, case=case)
    session.commit()

    chain = all_entries(session)
    assert [(e.seq, e.action) for e in chain] == [(1, "case.opened"), (2, "case.acknowledged")]
    assert verify(session).ok


def test_concurrent_writers_build_one_unbroken_chain(app: Flask, unit: Unit) -> None:
    """8 writers with their own sessions and commits: no fork, no gap, no failed append."""
    rt = runtime(app)
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(number: int) -> None:
        try:
            start.wait()
            for step in range(10):
                with rt.sessions() as own:
                    record(
                        own,
                        rt.clock,
                        action="case.viewed",
                        org_id=unit.org.id,
                        actor_user_id=number,
                        detail={"step": step},
                    )
                    own.commit()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"

    assert failures == []
    with rt.sessions() as session:
        chain = all_entries(session)
        assert [e.seq for e in chain] == list(range(1, 81))
        assert sorted((e.actor_user_id, e.detail) for e in chain) == sorted(
            (n, f'{{"step":{s}}}') for n in range(8) for s in range(10)
        )
        result = verify(session)
    assert result.ok, result.problems
    assert result.checked == 80


def test_verify_walks_past_one_batch(
    session: Session, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("whistle.core.audit.BATCH", 3)
    for _ in range(8):
        record(session, clock, action="user.signed_in", org_id=None)
    session.commit()
    assert verify(session).checked == 8
    session.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(actor_user_id=1))
    session.commit()
    assert verify(session).problems == [(7, HASH_MISMATCH)]


def test_auditor_pages_through_an_organisations_entries_newest_first(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    with app.app_context():
        other = make_unit(
            session, clock, runtime(app).settings.instance_key, slug="andetfirma", certified=False
        )
    other_case = open_case(session, clock, other.org, "2026-0001")
    second = open_case(session, clock, unit.org, "2026-0002")
    handling_story(session, clock, unit, case)  # seq 1-5
    record(session, clock, action="case.opened", org_id=other.org.id, case=other_case)  # 6
    record(session, clock, action="case.opened", org_id=unit.org.id, case=second)  # 7
    record(session, clock, action="users.invited", org_id=unit.org.id)  # 8
    session.commit()

    first_page = entries(session, org_id=unit.org.id, limit=3)
    assert [e.seq for e in first_page] == [8, 7, 5]
    next_page = entries(session, org_id=unit.org.id, before_seq=first_page[-1].seq, limit=3)
    assert [e.seq for e in next_page] == [4, 3, 2]
    assert [e.seq for e in entries(session, org_id=unit.org.id, before_seq=2)] == [1]

    assert [e.seq for e in entries(session, org_id=unit.org.id, action_prefix="case.")] == [
        7,
        4,
        3,
        2,
    ]
    # "_" is literal, not a wildcard: "user_" does not find "users.invited".
    assert entries(session, org_id=unit.org.id, action_prefix="user_") == []
    assert [e.seq for e in entries(session, org_id=unit.org.id, case_id=second.id)] == [7]
    assert [e.seq for e in entries(session, org_id=other.org.id)] == [6]

    assert [e.action for e in case_trail(session, case.id)] == [
        "case.opened",
        "case.acknowledged",
        "case.assigned",
        "identity.revealed",
    ]
    with pytest.raises(ValueError):
        entries(session, org_id=unit.org.id, limit=0)


def test_cli_verify_reports_an_intact_log(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "audit log intact: 5 entries checked"


def test_cli_verify_names_each_problem_and_fails(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    handling_story(session, clock, unit, case)
    tamper_action(session)
    delete_last(session)
    session.commit()

    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 3: hash does not match its content" in result.output
    assert "entry 5: head does not match the last entry" in result.output
    assert "audit log damaged: 2 problems in 4 entries checked" in result.output
    assert "Traceback" not in result.output


def test_cli_verify_says_when_the_database_is_unreachable(instance_path: Path) -> None:
    unreachable = "postgresql://whistle@127.0.0.1:1/whistle"
    config = {"database_url": unreachable, "argon2_profile": "test", "base_url": "http://localhost"}
    app = create_app(config, instance_path=instance_path)
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 2
    assert "cannot read the audit log from postgresql://whistle@127.0.0.1:1/whistle" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_show_prints_an_organisations_latest_entries_without_content(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case
) -> None:
    with app.app_context():
        other = make_unit(
            session, clock, runtime(app).settings.instance_key, slug="andetfirma", certified=False
        )
    handling_story(session, clock, unit, case)
    record(session, clock, action="case.opened", org_id=other.org.id)
    session.commit()
    lead = unit.handlers[2].user.id

    result = app.test_cli_runner().invoke(
        cli, ["audit", "show", "--org", "testfirma", "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:6] for line in lines] == [
        ["4", "2026-03-02T09:12:00Z", "testfirma", str(lead), "case.assigned", "2026-0001"],
        ["5", "2026-03-02T09:15:00Z", "testfirma", str(lead), "identity.revealed", "2026-0001"],
    ]
    assert lines[1].endswith('{"basis":"consent","note_id":4,"until":null}')

    everything = app.test_cli_runner().invoke(cli, ["audit", "show"])
    assert everything.exit_code == 0
    assert everything.output.splitlines()[-1].split()[2:5] == ["andetfirma", "-", "case.opened"]

    unknown = app.test_cli_runner().invoke(cli, ["audit", "show", "--org", "nosuchfirm"])
    assert unknown.exit_code == 1
    assert "no organisation with the address 'nosuchfirm'" in unknown.output


def test_every_action_the_code_records_has_a_name_people_read() -> None:
    """Auditors and handlers read actions by name (translated), not by identifier."""
    import re
    from pathlib import Path

    from whistle.audit.labels import ACTION_NAMES

    source = "\n".join(
        path.read_text()
        for path in (Path(__file__).parents[2] / "whistle").rglob("*.py")
        if path.name != "audit_views.py"
    )
    recorded = set(
        # every quoted dotted name of those kinds, but endpoints given to url_for and the
        # names of the parts of a case file (case.json, case.pdf)
        re.findall(
            r'(?<!url_for\()"((?:case|identity|meeting|user|rights|person|settings|export|store)'
            r'\.(?!json"|pdf")[a-z_]+)"',
            source,
        )
    )
    assert {"case.received", "identity.revealed", "user.signed_in"} <= recorded
    assert recorded <= set(ACTION_NAMES), sorted(recorded - set(ACTION_NAMES))
