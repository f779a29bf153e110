"""Sessions end: after the idle time, after an absolute lifetime however active, and their
vault rows are swept, on a schedule (`whistle sessions sweep`) and at every sign-in, so an
old cookie and a later copy of the database open nothing (issue 14, item 8)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field
from tests.steps.factories import Staff, Unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import StaffMember
from whistle.cli import cli
from whistle.core import vault
from whistle.core.clock import FixedClock
from whistle.core.db import make_engine, normalise_url
from whistle.core.models import WebSession
from whistle.core.runtime import runtime
from whistle.core.schema import alembic_config, upgrade

STAFF_ENDED = "Your session has ended"
REPORTER_ENDED = "Enter your case code again to continue."
MINUTE = timedelta(minutes=1)

# A database copy as an attacker holds it: (token hash, kind, sealed secret) of every row.
Rows = list[tuple[bytes, str, bytes]]


def vault_token(app: Flask, client: FlaskClient, key: str) -> str:
    """The vault token a browser's signed session cookie carries (what a thief copies)."""
    cookie = client.get_cookie("whistle_session")
    assert cookie is not None
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    token = serializer.loads(cookie.value)[key]
    assert isinstance(token, str)
    return token


def copy_of_the_database(session: Session) -> Rows:
    session.expire_all()
    return [
        (bytes(h), kind, bytes(sealed))
        for h, kind, sealed in session.execute(
            select(WebSession.token_hash, WebSession.kind, WebSession.sealed)
        )
    ]


def open_with_cookie(token: str, rows: Rows) -> bytes | None:
    """What someone holding the cookie and a database copy gets out, with their own code:
    no idle time or lifetime applies to them, only the format (docs/crypto.md)."""
    raw = base64.urlsafe_b64decode(token + "==")
    session_id, key = raw[:32], raw[32:]
    wanted = hashlib.sha256(session_id).digest()
    for token_hash, kind, sealed in rows:
        if token_hash == wanted:
            try:
                return decrypt_field(key, sealed, context=("web-session", kind, token_hash))
            except OpenError:
                return None
    return None


def staff_member(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    return StaffMember(app, clock, staff)


def is_signed_in(member: StaffMember) -> bool:
    page = member.get("/staff/")
    if page.status_code == 200:
        return True
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in?ended=1")
    return False


def sessions_by_kind(session: Session) -> dict[str, int]:
    session.expire_all()
    found: dict[str, int] = {}
    for kind in session.scalars(select(WebSession.kind)):
        found[kind] = found.get(kind, 0) + 1
    return found


# --- an absolute lifetime, however active -----------------------------------------------------


def test_a_staff_session_ends_after_a_working_day_however_active(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    hanne = staff_member(app, clock, unit.handlers[0])
    hanne.sign_in()
    signed_in_at = clock.now()
    home = hanne.get("/staff/").get_data(as_text=True)
    assert "Every session ends 8 hours after signing in" in home
    assert f'data-ends-seconds="{8 * 3600}"' in home  # the comfort script warns before the end
    while clock.now() + 14 * MINUTE < signed_in_at + timedelta(hours=8):
        clock.advance(14 * MINUTE)
        assert is_signed_in(hanne), "active within the working day"
    clock.set(signed_in_at + timedelta(hours=8) + MINUTE)  # the last request was minutes ago
    page = hanne.get("/staff/testfirma/cases")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in?ended=1")
    assert STAFF_ENDED in text_of(hanne.get(page.headers["Location"]))
    assert sessions_by_kind(session) == {}, "the ended session's row is deleted at once"
    assert hanne.sign_in().status_code == 303, "signing in again starts a new day"
    assert is_signed_in(hanne)


def test_the_staff_lifetime_is_a_setting(
    app_config: dict[str, Any], instance_path: Path, clock: FixedClock, unit: Unit
) -> None:
    from whistle.app import create_app

    shorter = create_app(
        {**app_config, "staff_session_max_minutes": 90}, instance_path=instance_path, clock=clock
    )
    try:
        hanne = staff_member(shorter, clock, unit.handlers[0])
        hanne.sign_in()
        assert "Every session ends 90 minutes after signing in" in text_of(hanne.get("/staff/"))
        for _ in range(6):
            clock.advance(14 * MINUTE)
            assert is_signed_in(hanne)
        clock.advance(7 * MINUTE)  # 91 minutes (and 30 seconds for the code) after signing in
        assert not is_signed_in(hanne)
    finally:
        runtime(shorter).engine.dispose()


def test_a_reporter_session_ends_after_an_hour_however_active(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.leave()
    assert reporter.open_case(code).status_code == 303
    entered_at = clock.now()
    assert "and 60 minutes after you entered your code" in text_of(reporter.mailbox())
    for _ in range(4):
        clock.advance(14 * MINUTE)
        assert reporter.mailbox().status_code == 200, "active within the hour"
    clock.set(entered_at + timedelta(minutes=61))
    gone = reporter.mailbox()
    assert gone.status_code == 303
    assert gone.headers["Location"] == f"/o/{unit.org.slug}/case/open?ended=1"
    page = reporter.get(gone.headers["Location"])
    assert REPORTER_ENDED in text_of(page)
    assert sessions_by_kind(session) == {}
    assert reporter.open_case(code).status_code == 303, "the code opens the case again"
    assert reporter.mailbox().status_code == 200


def test_a_reporter_without_a_session_is_not_told_one_ended(app: Flask, unit: Unit) -> None:
    visitor = Reporter(app, unit.org.slug)
    sent_back = visitor.mailbox()
    assert sent_back.headers["Location"] == f"/o/{unit.org.slug}/case/open"
    assert REPORTER_ENDED not in text_of(visitor.get(sent_back.headers["Location"]))


def test_a_half_finished_sign_in_ends_after_ten_minutes_however_active(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    hanne = staff_member(app, clock, unit.handlers[0])
    assert (
        hanne.submit(
            "/staff/sign-in",
            {"email": hanne.staff.user.email, "password": "test-password-not-secret"},
        ).status_code
        == 303
    )
    for _ in range(3):
        clock.advance(3 * MINUTE)
        assert hanne.get("/staff/sign-in/code").status_code == 200, "the code page stays open"
    clock.advance(2 * MINUTE)  # 11 minutes after the password, 2 after the last visit
    page = hanne.get("/staff/sign-in/code")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/staff/sign-in?ended=1")
    assert sessions_by_kind(session) == {}


# --- the sweep ----------------------------------------------------------------------------------


def test_the_sweep_removes_every_ended_session_and_nothing_live(
    app: Flask, clock: FixedClock, session: Session, unit: Unit
) -> None:
    lifetimes = vault.lifetimes(runtime(app).settings)
    start = clock.now()
    # (created at minute, kind, kept active every 14 minutes, ends before the sweep at 481)
    plan = {
        "staff active for longer than a working day": (0, vault.STAFF, True, True),
        "staff idle for 21 minutes": (460, vault.STAFF, False, True),
        "password given 11 minutes ago, no code": (470, vault.STAFF_PENDING, False, True),
        "reporter idle for 16 minutes": (465, vault.REPORTER, False, True),
        "reporter active for longer than an hour": (418, vault.REPORTER, True, True),
        "staff active since the morning": (100, vault.STAFF, True, False),
        "password given 5 minutes ago": (476, vault.STAFF_PENDING, False, False),
        "reporter active for 41 minutes": (440, vault.REPORTER, True, False),
    }
    tokens: dict[str, str] = {}
    for minute in range(482):
        clock.set(start + minute * MINUTE)
        for name, (created, kind, active, _ends) in plan.items():
            if minute == created:
                tokens[name] = vault.create(session, clock, kind=kind, secret=name.encode())
            elif active and name in tokens and minute % 14 == 0:
                opened = vault.open_session(
                    session, clock, tokens[name], kind=kind, lifetime=lifetimes[kind]
                )
                assert opened is not None, name
        session.commit()
    assert clock.now() == start + 481 * MINUTE
    before = copy_of_the_database(session)
    assert all(open_with_cookie(t, before) == n.encode() for n, t in tokens.items())

    result = app.test_cli_runner().invoke(cli, ["sessions", "sweep"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "swept 5 ended sessions, 0 expired throttle counts"
    after = copy_of_the_database(session)
    for name, (_created, kind, _active, ends) in plan.items():
        if ends:
            assert open_with_cookie(tokens[name], after) is None, name
        else:
            assert open_with_cookie(tokens[name], after) == name.encode(), name
            opened = vault.open_session(
                session, clock, tokens[name], kind=kind, lifetime=lifetimes[kind]
            )
            assert opened is not None and opened.secret == name.encode(), name
    session.commit()
    assert len(after) == 3
    again = app.test_cli_runner().invoke(cli, ["sessions", "sweep"])
    assert again.output.strip() == "swept 0 ended sessions, 0 expired throttle counts"


def test_a_copied_cookie_and_a_database_copy_after_the_sweep_open_nothing(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    hanne = unit.handlers[0]
    assert hanne.private_key is not None
    member = staff_member(app, clock, hanne)
    member.sign_in()
    stolen = vault_token(app, member.client, "staff")  # the cookie, copied
    # Hanne walks away without signing out; nobody else signs in for a while.
    clock.advance(16 * MINUTE)
    earlier_copy = copy_of_the_database(session)
    assert open_with_cookie(stolen, earlier_copy) == hanne.private_key.to_bytes(), (
        "before the sweep, the cookie and a copy do open her key: the threat is real"
    )

    swept = app.test_cli_runner().invoke(cli, ["sessions", "sweep"])
    assert swept.output.strip() == "swept 1 ended sessions, 0 expired throttle counts"

    later_copy = copy_of_the_database(session)
    assert open_with_cookie(stolen, later_copy) is None
    assert all(hanne.private_key.to_bytes() not in sealed for _h, _k, sealed in later_copy)
    assert not is_signed_in(member)


def sign_in_elsewhere(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    member = staff_member(app, clock, staff)
    entered = member.submit(
        "/staff/sign-in", {"email": staff.user.email, "password": "test-password-not-secret"}
    )
    assert entered.status_code == 303
    return member


@contextmanager
def ended_sessions_of_others(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> Iterator[dict[str, str]]:
    """A handler who walked away, and a reporter who did, both long idle; then a third
    person arrives (the block's body). Yields their tokens."""
    henrik = staff_member(app, clock, unit.handlers[1])
    henrik.sign_in()
    reporter = Reporter(app, unit.org.slug)
    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.leave()
    reporter.open_case(code)
    tokens = {
        "staff": vault_token(app, henrik.client, "staff"),
        "reporter": vault_token(app, reporter.client, "reporter"),
    }
    clock.advance(timedelta(days=3))
    assert sessions_by_kind(session) == {"staff": 1, "reporter": 1}, "nothing swept them yet"
    yield tokens
    rows = copy_of_the_database(session)
    assert all(open_with_cookie(t, rows) is None for t in tokens.values())


def test_every_staff_sign_in_sweeps_the_ended_sessions(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    with ended_sessions_of_others(app, clock, unit, session):
        sign_in_elsewhere(app, clock, unit.handlers[2])
        assert sessions_by_kind(session) == {"staff-pending": 1}, "only the new sign-in is left"


def test_every_case_code_entry_sweeps_the_ended_sessions(
    app: Flask, clock: FixedClock, unit: Unit, session: Session
) -> None:
    other = Reporter(app, unit.org.slug, address="192.0.2.77")
    code = other.report(ReportAnswers())
    other.confirm_written_down()
    other.leave()
    with ended_sessions_of_others(app, clock, unit, session):
        assert other.open_case(code).status_code == 303
        assert sessions_by_kind(session) == {"reporter": 1}, "only the new code entry is left"


def test_the_sweep_reads_only_the_rows_it_deletes(
    app: Flask, clock: FixedClock, session: Session
) -> None:
    """The opportunistic sweep runs at every sign-in: its DELETE finds the ended rows through
    the (kind, last_seen_at) and (kind, created_at) indexes, never by reading the table."""
    engine = runtime(app).engine
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM WEB_SESSIONS"):
            statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with runtime(app).sessions() as session:
            vault.sweep(session, clock, vault.lifetimes(runtime(app).settings))
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ((statement, params),) = statements
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "SCAN web_sessions" not in plan, plan
            assert "ix_web_sessions_kind_last_seen" in plan, plan
            assert "ix_web_sessions_kind_created" in plan, plan
        else:
            # A table this small is read whole whatever the indexes; forbid that, and see
            # whether the planner still has a way to the rows.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, params)
            plan = "\n".join(str(row[0]) for row in cursor.fetchall())
            assert "Seq Scan on web_sessions" not in plan, plan
            assert "ix_web_sessions_kind_last_seen" in plan, plan
            assert "ix_web_sessions_kind_created" in plan, plan
        cursor.close()
        connection.rollback()


# --- existing installations ---------------------------------------------------------------------


@contextmanager
def empty_database(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own, with no schema yet, on the same kind of server."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
        yield engine
        engine.dispose()
        return
    admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    name = f"whistle_mig_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        make_url(normalise_url(database_url)).set(database=name).render_as_string(False)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_existing_sessions_end_at_the_latest_one_lifetime_after_their_last_request(
    database_url: str, tmp_path: Path
) -> None:
    from alembic.script import ScriptDirectory

    before = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_revision(
        "0014"
    )
    assert before is not None and isinstance(before.down_revision, str)
    last_seen = datetime(2026, 11, 30, 8, 15)
    with empty_database(database_url, tmp_path) as engine:
        upgrade(engine, before.down_revision)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO web_sessions (token_hash, kind, sealed, last_seen_at) "
                    "VALUES (:h, 'staff', :s, :t)"
                ),
                {"h": b"\x01" * 32, "s": b"sealed", "t": last_seen},
            )
        upgrade(engine)
        with Session(engine) as session:
            row = session.scalars(select(WebSession)).one()
            assert row.created_at == row.last_seen_at
            assert row.created_at.replace(tzinfo=None) == last_seen
            lifetime = vault.Lifetime(idle=timedelta(days=365), absolute=timedelta(hours=8))
            at = FixedClock(row.created_at + timedelta(hours=8))
            assert not lifetime.ended(row, at.now())
            at.advance(timedelta(seconds=1))
            assert lifetime.ended(row, at.now())
            assert vault.sweep(session, at, {"staff": lifetime}) == 1
