"""``whistle notify send`` and ``notify deadlines`` on two machines at the same moment (issue
18): two real processes, each with its own engine, on one database (SQLite and PostgreSQL),
started together by tests/steps/two_machines.py. Every mail reaches the mail server once,
and every reminder is queued once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, make_unit
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.two_machines import job_environment, overlapped, run_twice_at_once
from whistle.core.clock import FixedClock
from whistle.core.models import Case, Category, OutboxMail
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.notify.claims import INTERRUPTED
from whistle.notify.outbox import MailKind, entitled_handler_ids, queue_nudge
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
