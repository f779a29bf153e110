"""Notifications (REQUIREMENTS.md K5): content-free mails to exactly the entitled handlers,
deadline reminders on the right days, and a reporter's nudge whose address no database copy
reveals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    LargeBinary,
    String,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crypto import KeyKind
from tests.steps.factories import Staff, Unit, add_staff, make_unit
from tests.steps.reporter import reporter_ring
from tests.steps.smtp_stub import SmtpReceiver
from whistle.app import create_app
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.deadlines import feedback_due
from whistle.core.models import (
    AuditEntry,
    Case,
    CaseKey,
    CaseStatus,
    Category,
    Membership,
    OutboxMail,
    Role,
)
from whistle.core.runtime import runtime
from whistle.core.settings import SettingsError, load_settings
from whistle.core.storage import FileStore
from whistle.notify.mail import SmtpConfig, SmtpTransport
from whistle.notify.outbox import AddressRejected, queue_case_event, queue_nudge
from whistle.notify.reminders import queue_deadline_reminders
from whistle.notify.sending import MAX_ATTEMPTS, SendReport, send_pending
from whistle.reporting import followup
from whistle.reporting.intake import ReportInput, Submission, submit_report

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://localhost"
CANARY = "CANARY-5e1c the stock controller invents invoices"
REPLY_CANARY = "CANARY-9a2f more details about the invoices"
NAME_CANARY = "Testa CANARY-Navnesen"
CONTACT_CANARY = "testa.canary-contact@example.org"
CATEGORY_CANARIES = ("CANARY-KATEGORI-da", "CANARY-CATEGORY-en", "canary-category")
NUDGE_ADDRESS = "testa.nudge-canary@example.net"
EVERY_CANARY = (CANARY, REPLY_CANARY, NAME_CANARY, CONTACT_CANARY, *CATEGORY_CANARIES)


# --- Fixtures and steps ----------------------------------------------------------------------


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), runtime(app).sessions() as s:
        yield s


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    return make_unit(session, clock, runtime(app).settings.instance_key)


@pytest.fixture
def store(app: Flask) -> FileStore:
    return FileStore(runtime(app).settings.file_store)


@pytest.fixture
def canary_category(session: Session, unit: Unit) -> int:
    category = Category(
        org_id=unit.org.id,
        code=CATEGORY_CANARIES[2],
        label_da=CATEGORY_CANARIES[0],
        label_en=CATEGORY_CANARIES[1],
        position=99,
        is_active=True,
    )
    session.add(category)
    session.commit()
    return category.id


def report(
    app: Flask,
    session: Session,
    unit: Unit,
    store: FileStore,
    category: int,
    *,
    keep_queued: bool = False,
    **changes: Any,
) -> Submission:
    """The reporter sends a report through intake, as the web form would.

    Intake queues the "new report" mails itself; unless ``keep_queued``, they are cleared so
    a test that queues by hand starts from an empty outbox.
    """
    fields: dict[str, Any] = {"category_id": category, "what": CANARY, "anonymous": True}
    fields.update(changes)
    rt = runtime(app)
    submission = submit_report(
        session,
        rt.clock,
        unit.org,
        ReportInput(**fields),
        [],
        pepper=rt.settings.pepper,
        argon2=rt.argon2,
        store=store,
    )
    if not keep_queued:
        session.execute(delete(OutboxMail))
        session.commit()
    return submission


def test_intake_and_the_reporters_messages_queue_their_own_notifications(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne, henrik, lise = unit.handlers
    submission = report(
        app,
        session,
        unit,
        store,
        canary_category,
        keep_queued=True,
        excluded_handler_ids=frozenset({henrik.user.id}),
    )
    assert queued(session) == sorted(("new_report", s.user.id) for s in (hanne, lise))
    next_day(clock)  # mails about a reporter's act leave after midnight
    send(app, session, RecordingTransport())
    # Sent case events leave nothing behind: their times would say when the reporter acted.
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0
    followup.reply(
        session,
        clock,
        store,
        submission.case,
        reporter_ring(session, submission),
        body=REPLY_CANARY,
    )
    assert queued(session) == sorted(("reporter_message", s.user.id) for s in (hanne, lise))


@dataclass
class RecordingTransport:
    """Stands in for the SMTP server: keeps every message handed over."""

    sent: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)

    def to(self, staff: Staff) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == staff.user.email]


@dataclass
class FailingTransport:
    """A mail server that refuses connections (for the first ``failures`` mails)."""

    failures: int = 10**6
    calls: int = 0
    sent: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError(f"refused mail to {message['To']}")
        self.sent.append(message)


def send(app: Flask, session: Session, transport: Any) -> SendReport:
    rt = runtime(app)
    return send_pending(
        session, rt.clock, transport, base_url=BASE_URL, instance_key=rt.settings.instance_key
    )


def nudge(app: Flask, session: Session, case: Case) -> bool:
    """A handler has written to the reporter, who left an address for "there is news"."""
    rt = runtime(app)
    return queue_nudge(
        session, rt.clock, case, NUDGE_ADDRESS, instance_key=rt.settings.instance_key
    )


def queued(session: Session) -> list[tuple[str, int | None]]:
    """(kind, user id) of every mail waiting to be sent."""
    rows = session.scalars(select(OutboxMail).where(OutboxMail.sent_at.is_(None)))
    return sorted((r.kind, r.user_id) for r in rows)


def outbox_bytes(session: Session) -> bytes:
    """Every value of every outbox row, as the database returns it."""
    parts: list[bytes] = []
    for row in session.execute(select(OutboxMail.__table__)):
        for value in row:
            parts.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\x00".join(parts)


def readable(message: EmailMessage) -> str:
    """Everything a person could see in a message: raw source, decoded subject and body."""
    body = message.get_content() if not message.is_multipart() else ""
    return f"{message.as_string()}\n{message['Subject']}\n{body}"


def next_day(clock: FixedClock) -> None:
    """Just after the next midnight (UTC), when the mails about the day's reporter acts go."""
    now = clock.now()
    clock.set(now.replace(hour=0, minute=1, second=0, microsecond=0) + timedelta(days=1))


def ids(*staff: Staff) -> set[int]:
    return {s.user.id for s in staff}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


# --- Queueing to exactly the entitled handlers --------------------------------------------------


def test_new_report_and_reporter_message_reach_exactly_the_entitled_handlers(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne, henrik, lise = unit.handlers
    counsel = add_staff(session, clock, unit.org, "Karl Counsel", [Role.COUNSEL])
    auditor = add_staff(session, clock, unit.org, "Aud Auditor", [Role.AUDITOR])
    session.commit()

    # The reporter leaves Henrik out (conflict of interest).
    submission = report(
        app,
        session,
        unit,
        store,
        canary_category,
        excluded_handler_ids=frozenset({henrik.user.id}),
    )
    case = submission.case
    # Even a content key that reached counsel (say, with an export) makes no handler of them.
    session.add(
        CaseKey(
            org_id=case.org_id,
            case_id=case.id,
            kind=KeyKind.CONTENT.value,
            recipient="user",
            user_id=counsel.user.id,
            sealed=b"sealed elsewhere",
        )
    )
    assert queue_case_event(session, clock, case, "new_report") == 2
    session.commit()
    assert queued(session) == sorted(("new_report", s.user.id) for s in (hanne, lise))
    for left_out in (henrik, unit.admin, counsel, auditor):
        assert left_out.user.id not in {user for _, user in queued(session)}

    transport = RecordingTransport()
    next_day(clock)  # mails about a reporter's act leave after midnight
    assert send(app, session, transport).sent == 2
    assert {m["To"] for m in transport.sent} == {hanne.user.email, lise.user.email}

    # The reporter writes twice before anything is sent: each handler gets one mail.
    for body in (REPLY_CANARY, "and once more"):
        followup.reply(
            session,
            clock,
            store,
            case,
            reporter_ring(session, submission),
            body=body,
        )
        queue_case_event(session, clock, case, "reporter_message")
        session.commit()
    assert queued(session) == sorted(("reporter_message", s.user.id) for s in (hanne, lise))
    next_day(clock)  # mails about a reporter's act leave after midnight
    assert send(app, session, transport).sent == 2
    assert len(transport.to(hanne)) == 2 and transport.to(henrik) == []

    # Once that mail went out, the next message is news again; a deactivated lead hears nothing.
    lise.user.is_active = False
    session.commit()
    assert queue_case_event(session, clock, case, "reporter_message") == 1
    assert queued(session) == [("reporter_message", hanne.user.id)]

    with pytest.raises(ValueError, match="not a case event"):
        queue_case_event(session, clock, case, "nudge")


def test_queueing_stays_in_the_callers_transaction(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.rollback()  # the caller's action failed: its notification goes with it
    assert queued(session) == []


# --- Nothing of the report in any mail ------------------------------------------------------------


def test_no_mail_carries_report_text_category_or_identity(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    instance_key = runtime(app).settings.instance_key
    unit.org.default_locale = "en"  # the subjects are checked below in English
    submission = report(
        app,
        session,
        unit,
        store,
        canary_category,
        anonymous=False,
        name=NAME_CANARY,
        contact=CONTACT_CANARY,
        nudge_email=NUDGE_ADDRESS,
        when_where=CANARY,
        who=CANARY,
        how_known=CANARY,
    )
    case = submission.case
    queue_case_event(session, clock, case, "new_report")
    followup.reply(
        session,
        clock,
        store,
        case,
        reporter_ring(session, submission),
        body=REPLY_CANARY,
    )
    queue_case_event(session, clock, case, "reporter_message")
    queue_nudge(session, clock, case, NUDGE_ADDRESS, instance_key=instance_key)
    session.commit()
    transport = RecordingTransport()
    for days in (5, 3):  # acknowledgement due in 2 days, then overdue
        clock.advance(timedelta(days=days))
        queue_deadline_reminders(session, clock)
        session.commit()
        stored = outbox_bytes(session)
        for canary in (*EVERY_CANARY, NUDGE_ADDRESS):
            assert canary.encode() not in stored, f"{canary} stored in the outbox"
        send(app, session, transport)

    assert len(transport.sent) == 3 + 3 + 1 + 3 + 3
    # Every kind of mail was rendered and scanned, so the scan below is not vacuous.
    subjects = " | ".join(str(m["Subject"]) for m in transport.sent)
    for expected in ("New report", "New activity", "Acknowledgement due soon", "overdue", "News"):
        assert expected in subjects
    for message in transport.sent:
        text = readable(message)
        for canary in EVERY_CANARY:
            assert canary not in text, f"{canary} in a mail: {message['Subject']}"
        if message["To"] != NUDGE_ADDRESS:
            assert case.reference in text and f"{BASE_URL}/staff/" in text


# --- The reporter's nudge ------------------------------------------------------------------------


def test_nudge_address_is_sealed_in_the_database_and_gone_after_sending(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    database_url: str,
) -> None:
    instance_key = runtime(app).settings.instance_key
    case = report(app, session, unit, store, canary_category).case
    assert queue_nudge(session, clock, case, NUDGE_ADDRESS, instance_key=instance_key)
    # A second news item before the first mail went out makes no second mail.
    assert not queue_nudge(session, clock, case, NUDGE_ADDRESS, instance_key=instance_key)
    session.commit()

    row = session.scalars(select(OutboxMail)).one()
    assert row.sealed_address is not None and row.user_id is None
    assert row.case_reference is None, "a nudge row must not point at the case"
    assert row.dedup_key is not None and str(case.id) not in row.dedup_key.split(":")
    assert NUDGE_ADDRESS.encode() not in outbox_bytes(session)
    assert NUDGE_ADDRESS.encode().hex().encode() not in outbox_bytes(session)
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        files = [path, path.with_name(path.name + "-wal")]
        raw = b"".join(p.read_bytes() for p in files if p.exists())
        assert NUDGE_ADDRESS.encode() not in raw

    transport = RecordingTransport()
    assert send(app, session, transport) == SendReport(sent=1)
    (message,) = transport.sent
    assert message["To"] == NUDGE_ADDRESS
    text = readable(message)
    assert unit.org.name in text
    assert f"{BASE_URL}/o/{unit.org.slug}/case/open" in text
    assert case.reference not in text and "/staff/" not in text
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0

    with pytest.raises(AddressRejected):
        queue_nudge(
            session, clock, case, "no address\r\nBcc: x@example.org", instance_key=b"k" * 32
        )


def test_nudge_is_deleted_after_the_last_failed_attempt(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_nudge(
        session, clock, case, NUDGE_ADDRESS, instance_key=runtime(app).settings.instance_key
    )
    session.commit()
    transport = FailingTransport()
    for _ in range(MAX_ATTEMPTS):
        send(app, session, transport)
        clock.advance(timedelta(hours=9))
    assert transport.calls == MAX_ATTEMPTS
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


# --- Deadline reminders ---------------------------------------------------------------------------


def test_deadline_reminders_come_on_the_right_days_across_month_ends(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne, henrik, lise = unit.handlers
    handlers = sorted(ids(hanne, lise))
    clock.set(at(date(2025, 11, 23)))
    # Received 23 November: acknowledgement due 30 November; without one, feedback is due
    # 3 months after 30 November, clamped to 28 February.
    silent = report(
        app, session, unit, store, canary_category, excluded_handler_ids=frozenset({henrik.user.id})
    ).case
    assert (silent.acknowledge_due, silent.feedback_due) == (date(2025, 11, 30), date(2026, 2, 28))
    # Two cases that must never be reminded of: acknowledged and answered, and closed.
    answered = report(app, session, unit, store, canary_category).case
    answered.acknowledged_on = answered.feedback_on = date(2025, 11, 24)
    answered.status = CaseStatus.OPEN
    closed = report(app, session, unit, store, canary_category).case
    closed.status, closed.closed_on = CaseStatus.CLOSED, date(2025, 11, 24)
    session.commit()
    transport = RecordingTransport()

    def run_on(day: date) -> list[tuple[str, int | None]]:
        """The daily job on ``day``, then the mail job; returns what was newly queued."""
        clock.set(at(day))
        before = {r.id for r in session.scalars(select(OutboxMail))}
        count = queue_deadline_reminders(session, clock)
        session.commit()
        new = [
            (r.kind, r.user_id) for r in session.scalars(select(OutboxMail)) if r.id not in before
        ]
        assert count == len(new)
        assert {r.case_reference for r in session.scalars(select(OutboxMail))} <= {silent.reference}
        assert send(app, session, transport) == SendReport(sent=count)
        return sorted(new)

    assert run_on(date(2025, 11, 27)) == []
    assert run_on(date(2025, 11, 28)) == [("ack_soon", u) for u in handlers]
    assert run_on(date(2025, 11, 28)) == [], "running twice queued again"
    assert run_on(date(2025, 11, 30)) == []  # still the same warning: not repeated
    assert run_on(date(2025, 12, 1)) == [("ack_overdue", u) for u in handlers]
    assert run_on(date(2025, 12, 2)) == []
    assert run_on(date(2026, 2, 13)) == []
    assert run_on(date(2026, 2, 14)) == [("feedback_soon", u) for u in handlers]
    assert run_on(date(2026, 2, 28)) == []
    assert run_on(date(2026, 3, 1)) == [("feedback_overdue", u) for u in handlers]
    assert run_on(date(2026, 3, 2)) == []

    # Each mail names its due day, in the organisation's language (Danish by default).
    due_days = [
        next(d for d in ("30. november 2025", "28. februar 2026") if d in m.get_content())
        for m in transport.to(hanne)
    ]
    assert due_days == ["30. november 2025"] * 2 + ["28. februar 2026"] * 2
    assert transport.to(henrik) == []


def test_a_late_acknowledgement_leaves_the_feedback_reminder_as_it_was(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    """D2: a late acknowledgement gains no time, so the feedback warning still goes out for the
    9 June deadline; only the acknowledgement's overdue notices are stale."""
    case = report(app, session, unit, store, canary_category).case  # received 2 March 2026
    clock.set(at(date(2026, 5, 26)))  # 14 days before the 9 June feedback deadline
    assert queue_deadline_reminders(session, clock) == 3 + 3  # ack overdue, feedback soon
    # The acknowledgement finally goes out, before the mail job ran.
    case.acknowledged_on = date(2026, 5, 26)
    case.feedback_due = feedback_due(case.received_on, case.acknowledged_on)
    case.status = CaseStatus.OPEN
    session.commit()
    assert case.feedback_due == date(2026, 6, 9)
    assert queue_deadline_reminders(session, clock) == 0
    transport = RecordingTransport()
    assert send(app, session, transport) == SendReport(sent=3, dropped=3)
    assert all("9. juni 2026" in m.get_content() for m in transport.sent)


def test_reminders_of_deadlines_met_before_sending_are_dropped(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    clock.advance(timedelta(days=6))
    assert queue_deadline_reminders(session, clock) == 3
    case.acknowledged_on = clock.now().date()
    case.status = CaseStatus.OPEN
    session.commit()
    transport = RecordingTransport()
    assert send(app, session, transport) == SendReport(dropped=3)
    assert transport.sent == []


def test_reminders_are_found_in_sql_among_a_hundred_thousand_cases(
    session: Session, clock: FixedClock, unit: Unit
) -> None:
    """A long-running scheme: 100,000 cases answered long ago, a few overdue, some closed."""
    hanne = unit.handlers[0]
    today = clock.now().date()
    long_ago = today - timedelta(days=400)
    total, overdue_every = 100_000, 2_000
    # The rows are made by the database itself (a recursive count), which is much faster
    # than sending 100,000 rows from Python.
    numbers = select(literal(0, Integer).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < total - 1))
    n = numbers.c.n
    text_n = sql_cast(n, String)
    unanswered = or_(n % overdue_every == 0, n % overdue_every == 1000)
    columns = {
        "uid": literal("scale-", String) + text_n,
        "org_id": literal(unit.org.id),
        "reference": literal("2025-", String) + text_n,
        # Half of the unanswered cases were closed without feedback: never reminded of.
        "status": sql_case((n % overdue_every == 1000, "closed"), else_="open"),
        "channel": literal("web", String),
        "anonymous": literal(True, Boolean),
        "meeting_requested": literal(False, Boolean),
        "received_on": literal(long_ago, Date),
        "acknowledge_due": literal(long_ago + timedelta(days=7), Date),
        "acknowledged_on": literal(long_ago + timedelta(days=1), Date),
        "feedback_due": sql_case(
            (unanswered, literal(today - timedelta(days=1), Date)), else_=literal(long_ago, Date)
        ),
        "feedback_on": sql_case((unanswered, None), else_=literal(long_ago, Date)),
        "reporter_tag": sql_cast(literal("tag-", String) + text_n, LargeBinary),
        "reporter_key": literal(b"k", LargeBinary),
        "report": literal(b"r", LargeBinary),
        "unread_for_handlers": literal(False, Boolean),
        "unread_for_reporter": literal(False, Boolean),
    }
    session.execute(
        insert(Case.__table__).from_select(
            list(columns), select(*columns.values()).select_from(numbers)
        )
    )
    session.execute(
        insert(CaseKey.__table__).from_select(
            ["org_id", "case_id", "kind", "recipient", "user_id", "sealed"],
            select(
                Case.org_id,
                Case.id,
                literal(KeyKind.CONTENT.value, String),
                literal("user", String),
                literal(hanne.user.id),
                literal(b"s", LargeBinary),
            ),
        )
    )
    session.commit()
    assert session.scalar(select(func.count()).select_from(Case)) == total

    loaded: list[object] = []
    event.listen(session, "loaded_as_persistent", lambda _s, obj: loaded.append(obj))
    try:
        started = time.perf_counter()
        assert queue_deadline_reminders(session, clock) == total // overdue_every
        session.commit()
        again = queue_deadline_reminders(session, clock)
        elapsed = time.perf_counter() - started
        assert again == 0
        assert loaded == [], "cases were loaded into Python instead of filtered in SQL"
        # Well under a second each on an idle machine; the bound leaves room for a busy one.
        assert elapsed < 30, f"two reminder runs over {total} cases took {elapsed:.1f} s"
    finally:
        session.rollback()
        if session.get_bind().dialect.name == "postgresql":
            # Much faster than the row-by-row DELETE that empties the database after each test.
            session.execute(text("TRUNCATE cases, case_keys CASCADE"))
            session.commit()


# --- A reporter's time stays a day ------------------------------------------------------------


def times_in_outbox(session: Session) -> list[datetime]:
    """Every time of every outbox row, as the database returns it."""
    found = []
    for row in session.execute(select(OutboxMail.__table__)):
        found += [value for value in row if isinstance(value, datetime)]
    return found


def test_the_outbox_keeps_a_reporters_act_to_the_day_and_sends_it_after_midnight(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    night = datetime(2026, 3, 3, 1, 31, 42, 893000, tzinfo=UTC)
    clock.set(night)
    submission = report(app, session, unit, store, canary_category, keep_queued=True)
    session.commit()
    clock.set(night + timedelta(hours=20))  # the reporter writes again at 21:31:42.893
    followup.reply(
        session, clock, store, submission.case, reporter_ring(session, submission), body="mere"
    )
    session.commit()
    kinds = {kind for kind, _ in queued(session)}
    assert kinds == {"new_report", "reporter_message"}
    # As in the audit log: the start of the (UTC) day, nothing finer.
    midnight = datetime(2026, 3, 3, tzinfo=UTC)
    assert set(times_in_outbox(session)) == {midnight}
    entries = session.scalars(select(AuditEntry).where(AuditEntry.case_id == submission.case.id))
    assert [e.at for e in entries if e.action == "case.received"] == [midnight]

    # Nothing leaves the same day: a mail at 01:32 would carry the reporter's minute.
    transport = RecordingTransport()
    clock.set(datetime(2026, 3, 3, 23, 59, 59, tzinfo=UTC))
    assert send(app, session, transport) == SendReport()
    clock.set(datetime(2026, 3, 4, 0, 0, 1, tzinfo=UTC))
    assert send(app, session, transport).sent == 2 * len(unit.handlers)
    assert {m["To"] for m in transport.sent} == {h.user.email for h in unit.handlers}
    assert {m["Date"] for m in transport.sent} == {"Wed, 04 Mar 2026 00:00:01 +0000"}
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


# --- Sending, failing, giving up ---------------------------------------------------------------


def test_failed_sends_are_retried_with_pauses_and_given_up_after_five_attempts(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne = unit.handlers[0]
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    transport = FailingTransport()

    next_day(clock)  # mails about a reporter's act leave after midnight
    assert send(app, session, transport) == SendReport(deferred=3)
    assert send(app, session, transport) == SendReport(), "retried at once, without a pause"
    row = session.scalars(select(OutboxMail).where(OutboxMail.user_id == hanne.user.id)).one()
    assert (row.attempts, row.last_error) == (1, "ConnectionRefusedError")
    assert hanne.user.email not in (row.last_error or "")

    for attempt in range(2, MAX_ATTEMPTS + 1):
        clock.advance(timedelta(hours=3))
        result = send(app, session, transport)
        expected = SendReport(failed=3) if attempt == MAX_ATTEMPTS else SendReport(deferred=3)
        assert result == expected, f"attempt {attempt}"
    assert transport.calls == 3 * MAX_ATTEMPTS
    clock.advance(timedelta(days=2))
    assert send(app, session, transport) == SendReport()
    assert transport.calls == 3 * MAX_ATTEMPTS, "a given-up mail was tried again"
    # A given-up case event is gone too: its times would say when the reporter acted.
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_a_passing_failure_is_retried_and_then_sent(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    transport = FailingTransport(failures=3)
    next_day(clock)  # mails about a reporter's act leave after midnight
    assert send(app, session, transport) == SendReport(deferred=3)
    clock.advance(timedelta(minutes=6))
    assert send(app, session, transport) == SendReport(sent=3)
    rows = session.scalars(select(OutboxMail)).all()
    assert all(r.sent_at == clock.now() and r.last_error is None for r in rows)


def test_mail_for_a_deactivated_or_recused_handler_is_dropped(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne, henrik, lise = unit.handlers
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    hanne.user.is_active = False
    # Henrik recuses himself: his keys to the case are removed.
    for key in session.scalars(select(CaseKey).where(CaseKey.user_id == henrik.user.id)):
        session.delete(key)
    session.commit()
    transport = RecordingTransport()
    next_day(clock)  # mails about a reporter's act leave after midnight
    assert send(app, session, transport) == SendReport(sent=1, dropped=2)
    assert [m["To"] for m in transport.sent] == [lise.user.email]
    assert queued(session) == []


# --- Language ----------------------------------------------------------------------------------


def danish_catalog_has(*msgids: str) -> bool:
    catalog = Translations.load(str(ROOT / "whistle" / "translations"), ["da"])
    return all(catalog.gettext(msgid) != msgid for msgid in msgids)


@pytest.mark.parametrize(("locale", "due_day"), [("da", "9. marts 2026"), ("en", "9 March 2026")])
def test_mails_are_written_in_the_organisations_language(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    locale: str,
    due_day: str,
) -> None:
    unit.org.default_locale = locale
    report(app, session, unit, store, canary_category)
    clock.advance(timedelta(days=5))
    queue_deadline_reminders(session, clock)
    session.commit()
    transport = RecordingTransport()
    send(app, session, transport)
    assert len(transport.sent) == 3
    for message in transport.sent:
        assert due_day in message.get_content()
    if locale == "en":
        assert transport.sent[0]["Subject"] == (
            f"Acknowledgement due soon: case 2026-0001 at {unit.org.name}"
        )


def test_danish_mail_text_comes_from_the_catalog(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    assert danish_catalog_has(
        "New report: case %(reference)s at %(organisation)s",
        "Sign in to read it:",
        "News from %(organisation)s",
    ), "the Danish catalog lacks the mail strings"
    unit.org.default_locale = "da"
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    queue_nudge(
        session, clock, case, NUDGE_ADDRESS, instance_key=runtime(app).settings.instance_key
    )
    session.commit()
    transport = RecordingTransport()
    next_day(clock)  # mails about a reporter's act leave after midnight
    send(app, session, transport)
    staff = transport.to(unit.handlers[0])[0]
    assert staff["Subject"] == f"Ny indberetning: sag 2026-0001 hos {unit.org.name}"
    assert "Log ind for at læse den:" in staff.get_content()
    nudge = next(m for m in transport.sent if m["To"] == NUDGE_ADDRESS)
    assert nudge["Subject"] == f"Nyt fra {unit.org.name}"


# --- A real SMTP conversation --------------------------------------------------------------------


def smtp_config(server: SmtpReceiver, security: str = "none") -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        security=security,
        sender="whistle@testfirma.example.org",
        timeout=5,
    )


def test_a_notification_arrives_over_smtp_with_its_subject_and_no_content(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    smtp_server: SmtpReceiver,
) -> None:
    unit.org.default_locale = "en"
    lise = unit.handlers[2]
    case = report(
        app, session, unit, store, canary_category, anonymous=False, name=NAME_CANARY
    ).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    with SmtpTransport(smtp_config(smtp_server)) as transport:
        next_day(clock)  # mails about a reporter's act leave after midnight
        assert send(app, session, transport) == SendReport(sent=3)
    assert len(smtp_server.received) == 3  # one connection, three mails
    arrived = {m.recipients[0]: m for m in smtp_server.received}
    mail = arrived[f"TO:<{lise.user.email}>"]
    assert mail.sender == "FROM:<whistle@testfirma.example.org>"
    message = mail.message
    assert message["Subject"] == f"New report: case {case.reference} at {unit.org.name}"
    assert message["From"] == "whistle@testfirma.example.org"
    assert message["To"] == lise.user.email
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@testfirma.example.org>")
    body = message.get_content()
    assert f"case {case.reference}" in body and f"{BASE_URL}/staff/" in body
    for canary in EVERY_CANARY:
        assert canary.encode() not in mail.data and canary not in body
    assert set(arrived) == {f"TO:<{s.user.email}>" for s in unit.handlers}


def test_a_refusing_smtp_server_counts_as_a_failed_attempt(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    smtp_server: SmtpReceiver,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    smtp_server.refuse_recipients = True
    with SmtpTransport(smtp_config(smtp_server)) as transport:
        next_day(clock)  # mails about a reporter's act leave after midnight
        assert send(app, session, transport) == SendReport(deferred=3)
    errors = {r.last_error for r in session.scalars(select(OutboxMail))}
    assert errors == {"SMTPRecipientsRefused"}, "only the error's type is kept, no address"


def test_starttls_is_required_when_configured(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    smtp_server: SmtpReceiver,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_nudge(
        session, clock, case, NUDGE_ADDRESS, instance_key=runtime(app).settings.instance_key
    )
    session.commit()
    with SmtpTransport(smtp_config(smtp_server, security="starttls")) as transport:
        assert send(app, session, transport) == SendReport(deferred=1)
    assert smtp_server.received == [], "the address crossed the network in clear"
    assert session.scalars(select(OutboxMail.last_error)).one() == "SMTPNotSupportedError"


# --- The commands -------------------------------------------------------------------------------


def invoke(app: Flask, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_send_without_mail_settings_says_so_and_leaves_the_queue_alone(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    case = report(app, session, unit, store, canary_category).case
    queue_case_event(session, clock, case, "new_report")
    session.commit()
    result = invoke(app, "notify", "send")
    assert result.exit_code != 0
    assert "not configured" in result.output
    session.commit()
    rows = session.scalars(select(OutboxMail)).all()
    assert len(rows) == 3 and all(r.attempts == 0 and r.sent_at is None for r in rows)


def test_commands_queue_and_send_and_print_counts_only(
    app: Flask,
    app_config: dict[str, Any],
    instance_path: Path,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
    smtp_server: SmtpReceiver,
) -> None:
    report(app, session, unit, store, canary_category)
    session.commit()
    clock.advance(timedelta(days=8))
    deadlines = invoke(app, "notify", "deadlines")
    assert deadlines.exit_code == 0, deadlines.output
    assert deadlines.output.strip() == "queued 3 deadline reminders"
    assert invoke(app, "notify", "deadlines").output.strip() == "queued 0 deadline reminders"

    mail_app = create_app(
        {
            **app_config,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_security": "none",
            "smtp_from": "whistle@testfirma.example.org",
        },
        instance_path=instance_path,
        clock=clock,
    )
    try:
        with mail_app.app_context():  # the test's own app context would win otherwise
            sent = invoke(mail_app, "notify", "send")
    finally:
        runtime(mail_app).engine.dispose()
    assert sent.exit_code == 0, sent.output
    assert sent.output.strip() == "sent 3, deferred 0, failed 0, dropped 0"
    assert len(smtp_server.received) == 3
    assert "@" not in deadlines.output + sent.output


# --- Settings ------------------------------------------------------------------------------------


def test_smtp_password_comes_from_the_instance_folder_only(instance_path: Path) -> None:
    config = instance_path / "config.toml"
    config.write_text(
        'smtp_host = "mail.example.org"\nsmtp_from = "whistle@example.org"\n'
        'smtp_username = "whistle"\n'
    )
    with pytest.raises(SettingsError, match="smtp_password"):
        load_settings(instance_path, environ={})

    secret = instance_path / "smtp_password"
    secret.write_text("not-a-real-password \n")
    secret.chmod(0o644)
    with pytest.raises(SettingsError, match="readable by others"):
        load_settings(instance_path, environ={})
    secret.chmod(0o600)
    settings = load_settings(instance_path, environ={})
    assert settings.smtp_password == "not-a-real-password "
    assert SmtpConfig.from_settings(settings).password == "not-a-real-password "
    assert "not-a-real-password" not in repr(settings) + repr(SmtpConfig.from_settings(settings))

    config.write_text(config.read_text() + 'smtp_password = "in-clear"\n')
    with pytest.raises(SettingsError, match="is a secret"):
        load_settings(instance_path, environ={})


def test_smtp_settings_are_checked(instance_path: Path) -> None:
    (instance_path / "config.toml").write_text(
        'smtp_host = "mail.example.org"\nsmtp_security = "ssl"\nsmtp_port = 0\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(instance_path, environ={})
    message = str(caught.value)
    for expected in ("smtp_security", "smtp_port", "smtp_from"):
        assert expected in message


def test_membership_roles_decide_who_is_a_handler(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    store: FileStore,
    canary_category: int,
) -> None:
    hanne = unit.handlers[0]
    case = report(app, session, unit, store, canary_category).case
    # Hanne stays in the organisation as an admin only: she keeps old keys but handles no more.
    session.execute(
        delete(Membership).where(
            Membership.user_id == hanne.user.id, Membership.role == Role.HANDLER.value
        )
    )
    session.add(
        Membership(
            org_id=unit.org.id, user_id=hanne.user.id, role=Role.ADMIN, created_at=clock.now()
        )
    )
    session.commit()
    queue_case_event(session, clock, case, "new_report")
    assert hanne.user.id not in {user for _, user in queued(session)}
