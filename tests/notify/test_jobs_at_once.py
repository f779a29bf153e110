"""``whistle notify send`` and ``notify deadlines`` on two machines at the same moment (issue
18): two real processes, each with its own engine, on one database (SQLite and PostgreSQL),
started together by tests/steps/two_machines.py. Every mail reaches the mail server once,
and every reminder is queued once. And a run killed while handing a mail over: the mail is
never sent again (at most once, whistle/notify/claims.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, make_unit
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.two_machines import job_environment, overlapped, run_twice_at_once
from whistle.core.clock import FixedClock
from whistle.core.models import Case, Category, Membership, OutboxMail, Role
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.notify.claims import CLAIM_TIMEOUT, INTERRUPTED
from whistle.notify.outbox import MailKind, entitled_handler_ids, queue_key_warning, queue_nudge
from whistle.notify.sending import MAX_ATTEMPTS, SendReport, send_pending
from whistle.reporting.intake import ReportInput, submit_report

MAILS = 200
CASES = 50


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), runtime(app).sessions() as s:
        yield s


@pytest.fixture
def unit(app: Flask, session: Session, clock: FixedClock) -> Unit:
    return make_unit(session, clock, runtime(app).settings.instance_key)


def machine_env(
    instance_path: Path, database_url: str, smtp_server: SmtpReceiver
) -> dict[str, str]:
    return job_environment(
        instance_path,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=str(smtp_server.port),
        smtp_security="none",
        smtp_from="whistle@example.org",
    )


def cases_received(app: Flask, session: Session, unit: Unit, count: int, at: datetime) -> None:
    """``count`` fake reports received at ``at`` (the commands run on the real clock), with
    their "new report" mails cleared."""
    rt = runtime(app)
    clock = FixedClock(at)
    category = session.scalars(select(Category.id).where(Category.org_id == unit.org.id)).first()
    assert category is not None
    for number in range(count):
        submit_report(
            session,
            clock,
            unit.org,
            ReportInput(category_id=category, what=f"Fake report number {number}."),
            [],
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=FileStore(rt.settings.file_store),
        )
    session.execute(delete(OutboxMail))
    session.commit()


def sent_counts(outputs: list[str]) -> list[int]:
    """The ``sent N`` of each run's summary line."""
    return [int(output.split("sent ", 1)[1].split(",", 1)[0]) for output in outputs]


def test_two_senders_at_once_hand_each_of_200_mails_to_the_server_once(
    app: Flask,
    session: Session,
    unit: Unit,
    smtp_server: SmtpReceiver,
    instance_path: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    cases_received(app, session, unit, 1, an_hour_ago)
    case = session.scalars(select(Case)).one()
    addresses = [f"fake-nudge-{n:03d}@example.net" for n in range(MAILS)]
    for address in addresses:
        assert queue_nudge(
            session,
            FixedClock(an_hour_ago),
            case,
            address,
            instance_key=runtime(app).settings.instance_key,
        )
    session.commit()

    env = machine_env(instance_path, database_url, smtp_server)
    runs = run_twice_at_once(tmp_path / "send", env, "notify", "send", "--limit", "1000")

    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    received = Counter(
        str(mail.message["To"]).removeprefix("<").removesuffix(">") for mail in smtp_server.received
    )
    assert received == Counter(addresses), "a mail was sent twice, or not at all"
    sent = sent_counts([run.stdout for run in runs])
    assert sum(sent) == MAILS
    # Both runs really worked at once: each sent some of the mails while the other ran.
    assert overlapped(runs) and min(sent) > 0, (sent, [run.stdout for run in runs])
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_two_deadline_runs_and_two_senders_at_once_remind_of_each_deadline_once(
    app: Flask,
    session: Session,
    unit: Unit,
    smtp_server: SmtpReceiver,
    instance_path: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    # Received a month ago and never acknowledged: every case's acknowledgement is overdue.
    cases_received(app, session, unit, CASES, datetime.now(UTC) - timedelta(days=30))
    cases = session.scalars(select(Case)).all()
    expected = Counter(
        (case.reference, user_id)
        for case in cases
        for user_id in entitled_handler_ids(session, case)
    )
    assert len(expected) >= 2 * CASES

    env = machine_env(instance_path, database_url, smtp_server)
    queueing = run_twice_at_once(tmp_path / "deadlines", env, "notify", "deadlines")

    assert [run.returncode for run in queueing] == [0, 0], [run.stderr for run in queueing]
    queued = [int(run.stdout.split()[1]) for run in queueing]
    assert sum(queued) == len(expected), queued
    session.expire_all()
    rows = session.scalars(select(OutboxMail)).all()
    assert Counter((row.case_reference, row.user_id) for row in rows) == expected
    assert {row.kind for row in rows} == {MailKind.ACK_OVERDUE.value}

    sending = run_twice_at_once(tmp_path / "send", env, "notify", "send", "--limit", "1000")

    assert [run.returncode for run in sending] == [0, 0], [run.stderr for run in sending]
    subjects = Counter(
        (str(mail.message["To"]), str(mail.message["Subject"])) for mail in smtp_server.received
    )
    assert len(smtp_server.received) == len(expected), "a reminder was sent twice, or not at all"
    assert set(subjects.values()) == {1}
    sent = sent_counts([run.stdout for run in sending])
    assert sum(sent) == len(expected)
    assert overlapped(sending) and min(sent) > 0, sent
    session.expire_all()
    rows = session.scalars(select(OutboxMail)).all()
    # Reminders keep their rows, marked sent, with no claim left behind.
    assert len(rows) == len(expected)
    assert all(row.sent_at is not None and row.claimed_by is None for row in rows)
    assert not any(row.last_error == INTERRUPTED for row in rows)


# --- A run killed while handing a mail over -------------------------------------------------


class KilledAfterHandingOver:
    """A mail server that takes the first mail, and then the sending process is killed
    (``KeyboardInterrupt`` stands for the signal: no ``except Exception`` catches it)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        raise KeyboardInterrupt


class Recording:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def test_a_mail_whose_run_was_killed_while_handing_it_over_is_never_sent_again(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    rt = runtime(app)
    cases_received(app, session, unit, 1, clock.now())
    case = session.scalars(select(Case)).one()
    for address in ("fake-first@example.net", "fake-second@example.net"):
        queue_nudge(session, clock, case, address, instance_key=rt.settings.instance_key)
    session.commit()

    def send(transport: object) -> SendReport:
        return send_pending(
            session,
            clock,
            transport,  # type: ignore[arg-type]
            base_url="http://localhost",
            instance_key=rt.settings.instance_key,
        )

    killed = KilledAfterHandingOver()
    with pytest.raises(KeyboardInterrupt):
        send(killed)
    assert len(killed.sent) == 1
    session.rollback()
    claimed = session.scalars(select(OutboxMail).where(OutboxMail.claimed_by.is_not(None))).one()
    assert claimed.claimed_at == clock.now()

    # Another run (another machine, or the next timer) leaves the claimed mail alone...
    later = Recording()
    assert send(later).sent == 1
    assert [str(m["To"]) for m in later.sent] == ["fake-second@example.net"]
    # ... also once the claim is old: it is given up, not sent a second time.
    clock.advance(CLAIM_TIMEOUT + timedelta(minutes=1))
    last = Recording()
    report = send(last)
    assert (report.sent, report.failed) == (0, 1)
    assert last.sent == []
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0  # nudges go


def test_a_staff_mail_given_up_after_a_killed_run_keeps_its_row_and_says_why(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    rt = runtime(app)
    lead = session.scalars(
        select(Membership.user_id).where(
            Membership.org_id == unit.org.id, Membership.role == Role.LEAD.value
        )
    ).first()
    assert lead is not None
    queue_key_warning(session, clock, unit.org.id, 1, [lead])
    session.commit()

    def send(transport: object) -> SendReport:
        return send_pending(
            session,
            clock,
            transport,  # type: ignore[arg-type]
            base_url="http://localhost",
            instance_key=rt.settings.instance_key,
        )

    with pytest.raises(KeyboardInterrupt):
        send(KilledAfterHandingOver())
    session.rollback()
    clock.advance(CLAIM_TIMEOUT - timedelta(minutes=1))
    assert send(Recording()) == SendReport()  # still claimed: nothing to do, nothing given up
    clock.advance(timedelta(minutes=2))
    again = Recording()
    assert send(again) == SendReport(failed=1)
    assert again.sent == []
    session.expire_all()
    row = session.scalars(select(OutboxMail)).one()
    assert (row.sent_at, row.attempts, row.last_error) == (None, MAX_ATTEMPTS, INTERRUPTED)
    # Given up for good: later runs do not try it either.
    clock.advance(timedelta(days=2))
    assert send(again) == SendReport()
    assert again.sent == []
