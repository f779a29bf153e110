"""The auditor's registers (REQUIREMENTS.md R1, R2, R4): record of reports, pending deletions
and legal holds, as pages and CSV files, never with content.

The world: four reports to Testfirma, each left in a known state on known days.

- A, 2026-0001: named, harassment; acknowledged on day 3, final feedback and closed as not
  substantiated on day 18 through the handling functions (kept 2 months: 2026-05-20).
- B, 2026-0002: anonymous, open, Henrik Handler excluded by the reporter; on legal hold.
- C, 2026-0003: closed as substantiated, kept until 2026-03-10 but on legal hold since
  2026-03-15 (so the deletion run keeps it).
- D, 2025-0042: received 2025-12-01, outside the scope, due for deletion on 2026-02-14: the
  run on 2026-04-01 deletes it and leaves a tombstone.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import keys_of, submit, the_case
from tests.steps.factories import Staff, Unit, add_staff, make_unit
from tests.steps.staff import StaffMember
from whistle.casefile import content
from whistle.cases import closing, handling
from whistle.core.clock import FixedClock
from whistle.core.models import Case, CaseStatus, CaseTombstone, Category, Role
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.registers.counts import RegisterCounts, counts
from whistle.registers.csv_text import to_csv
from whistle.registers.deletions import LegalHold, PendingDeletion, legal_holds, pending_deletions
from whistle.registers.record import REPORT_COLUMNS, ReportRow, count_reports, record_of_reports
from whistle.retention import deletion

MARKER = "REGISTERCANARY"
NAME_MARKER = "REGNAMECANARY"
TODAY = date(2026, 4, 1)


@dataclass
class World:
    unit: Unit
    auditor: Staff
    harassment: Category
    not_sure: Category


def category(session: Session, unit: Unit, code: str) -> Category:
    return session.scalars(
        select(Category).where(Category.org_id == unit.org.id, Category.code == code)
    ).one()


@pytest.fixture
def world(app: Flask, session: Session, clock: FixedClock, unit: Unit) -> World:
    rt = runtime(app)
    store = FileStore(rt.settings.file_store)
    hanne = unit.handlers[0]
    henrik = unit.handlers[1]
    with app.app_context():
        auditor = add_staff(
            session,
            clock,
            unit.org,
            "Aud Auditor",
            [Role.AUDITOR],
            instance_key=rt.settings.instance_key,
        )
        session.commit()
    a = submit(
        app,
        session,
        unit,
        category="harassment",
        what=f"Fake report {MARKER}: the manager shouts at the apprentices.",
        name=f"Fie Fiktiv {NAME_MARKER}",
    )
    b = submit(
        app,
        session,
        unit,
        what=f"Fake report {MARKER}: pallets leave the warehouse at night.",
        excluded=frozenset({henrik.user.id}),
    )
    c = submit(app, session, unit, category="harassment", what=f"Fake report {MARKER}: C.")
    d = submit(app, session, unit, what=f"Fake report {MARKER}: D.")
    refs = [x.reference for x in (a, b, c, d)]
    assert refs == ["2026-0001", "2026-0002", "2026-0003", "2026-0004"]

    with app.app_context():
        clock.advance(timedelta(days=3))  # 2026-03-05
        case = the_case(session, "2026-0001")
        handling.acknowledge(
            session, clock, store, case, keys_of(session, case, hanne), hanne.user.id, "Fake ack."
        )
        clock.advance(timedelta(days=15))  # 2026-03-20
        case = the_case(session, "2026-0001")
        handling.give_feedback(
            session,
            clock,
            store,
            case,
            keys_of(session, case, hanne),
            hanne.user.id,
            done="Fake follow-up: we talked to the team.",
            why="Fake reasons: nobody else heard any shouting.",
            final=True,
        )
        case = the_case(session, "2026-0001")
        closing.close_case(
            session,
            clock,
            store,
            case,
            keys_of(session, case, hanne),
            hanne.user.id,
            outcome="not_substantiated",
            reason="Fake reason.",
        )

    # B, C and D: the columns set directly (the path through the handling is not the point).
    # (All three loaded first: the_case() expires the session, which drops unsaved changes.)
    b_case, c_case, d_case = (the_case(session, r) for r in refs[1:])
    b_case.hold_since = date(2026, 3, 3)
    c_case.status = CaseStatus.CLOSED.value
    c_case.acknowledged_on = date(2026, 3, 4)
    c_case.feedback_on = date(2026, 3, 6)
    c_case.scope = "in_scope"
    c_case.hearing = "held"
    c_case.outcome = "substantiated"
    c_case.closed_on = date(2026, 3, 6)
    c_case.delete_on = date(2026, 3, 10)
    c_case.retention_rule = "substantiated:date"
    c_case.hold_since = date(2026, 3, 15)
    d_case.reference = "2025-0042"
    d_case.received_on = date(2025, 12, 1)
    d_case.acknowledge_due = date(2025, 12, 8)
    d_case.acknowledged_on = date(2025, 12, 10)  # late
    d_case.feedback_due = date(2026, 3, 10)
    d_case.feedback_on = date(2026, 1, 15)
    d_case.status = CaseStatus.CLOSED.value
    d_case.scope = "outside_scope"
    d_case.outcome = "outside_scope"
    d_case.closed_on = date(2026, 1, 15)
    d_case.delete_on = date(2026, 2, 14)
    d_case.retention_rule = "outside_scope:30d"
    session.commit()

    clock.advance(timedelta(days=12))  # 2026-04-01
    assert clock.now().date() == TODAY
    with app.app_context():
        report = deletion.run(session, clock, store, keystore=runtime(app).keystore)
    assert (report.deleted, report.held) == (1, 1)
    session.expire_all()
    return World(
        unit, auditor, category(session, unit, "harassment"), category(session, unit, "not-sure")
    )


def expected_record(w: World) -> list[ReportRow]:
    h, n = w.harassment, w.not_sure
    return [
        ReportRow(
            reference="2025-0042",
            state="deleted",
            category="not-sure",
            category_da=n.label_da,
            category_en="Not sure",
            channel="web",
            anonymous=True,
            received_on=date(2025, 12, 1),
            acknowledge_due=date(2025, 12, 8),
            acknowledged_on=date(2025, 12, 10),
            acknowledged_in_time=False,
            feedback_due=date(2026, 3, 10),
            feedback_on=date(2026, 1, 15),
            feedback_in_time=True,
            scope="outside_scope",
            hearing=None,
            outcome="outside_scope",
            closed_on=date(2026, 1, 15),
            delete_on=date(2026, 2, 14),
            retention_rule="outside_scope:30d",
            hold_since=None,
            deleted_on=TODAY,
            handlers=None,
        ),
        ReportRow(
            reference="2026-0001",
            state="closed",
            category="harassment",
            category_da=h.label_da,
            category_en="Sexual harassment or other serious harassment",
            channel="web",
            anonymous=False,
            received_on=date(2026, 3, 2),
            acknowledge_due=date(2026, 3, 9),
            acknowledged_on=date(2026, 3, 5),
            acknowledged_in_time=True,
            feedback_due=date(2026, 6, 5),
            feedback_on=date(2026, 3, 20),
            feedback_in_time=True,
            scope=None,
            hearing=None,
            outcome="not_substantiated",
            closed_on=date(2026, 3, 20),
            delete_on=date(2026, 5, 20),
            retention_rule="not_substantiated:2m",
            hold_since=None,
            deleted_on=None,
            handlers=3,
        ),
        ReportRow(
            reference="2026-0002",
            state="open",
            category="not-sure",
            category_da=n.label_da,
            category_en="Not sure",
            channel="web",
            anonymous=True,
            received_on=date(2026, 3, 2),
            acknowledge_due=date(2026, 3, 9),
            acknowledged_on=None,
            acknowledged_in_time=None,
            feedback_due=date(2026, 6, 9),
            feedback_on=None,
            feedback_in_time=None,
            scope=None,
            hearing=None,
            outcome=None,
            closed_on=None,
            delete_on=None,
            retention_rule=None,
            hold_since=date(2026, 3, 3),
            deleted_on=None,
            handlers=2,  # Henrik Handler was excluded
        ),
        ReportRow(
            reference="2026-0003",
            state="closed",
            category="harassment",
            category_da=h.label_da,
            category_en="Sexual harassment or other serious harassment",
            channel="web",
            anonymous=True,
            received_on=date(2026, 3, 2),
            acknowledge_due=date(2026, 3, 9),
            acknowledged_on=date(2026, 3, 4),
            acknowledged_in_time=True,
            feedback_due=date(2026, 6, 9),
            feedback_on=date(2026, 3, 6),
            feedback_in_time=True,
            scope="in_scope",
            hearing="held",
            outcome="substantiated",
            closed_on=date(2026, 3, 6),
            delete_on=date(2026, 3, 10),
            retention_rule="substantiated:date",
            hold_since=date(2026, 3, 15),
            deleted_on=None,
            handlers=3,
        ),
    ]


# --- the domain functions --------------------------------------------------------------------


def test_the_record_of_reports_lists_live_and_deleted_cases(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    org_id = world.unit.org.id
    # D is really gone: only its tombstone is left.
    assert session.scalar(select(Case).where(Case.reference == "2025-0042")) is None
    assert session.scalar(select(CaseTombstone.reference)) == "2025-0042"

    expected = expected_record(world)
    assert record_of_reports(session, org_id) == expected
    assert count_reports(session, org_id) == 4
    # One year of receipt, and pages.
    assert record_of_reports(session, org_id, year=2025) == expected[:1]
    assert record_of_reports(session, org_id, year=2026) == expected[1:]
    assert count_reports(session, org_id, year=2025) == 1
    assert record_of_reports(session, org_id, year=2024) == []
    assert record_of_reports(session, org_id, limit=2, offset=1) == expected[1:3]
    assert record_of_reports(session, org_id, limit=2, offset=3) == expected[3:]


def test_the_registers_keep_to_their_organisation(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    case = submit(app, session, other, what="Fake report of another organisation.")
    case.hold_since = date(2026, 3, 31)
    session.commit()
    assert counts(session, world.unit.org.id) == RegisterCounts(4, 2, 2)
    assert counts(session, other.org.id) == RegisterCounts(1, 0, 1)
    assert [r.reference for r in record_of_reports(session, other.org.id)] == [case.reference]


def test_pending_deletions_and_legal_holds(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    org_id = world.unit.org.id
    assert pending_deletions(session, org_id, TODAY) == [
        PendingDeletion(
            reference="2026-0003",
            closed_on=date(2026, 3, 6),
            outcome="substantiated",
            delete_on=date(2026, 3, 10),
            retention_rule="substantiated:date",
            hold_since=date(2026, 3, 15),
            days_left=-22,
        ),
        PendingDeletion(
            reference="2026-0001",
            closed_on=date(2026, 3, 20),
            outcome="not_substantiated",
            delete_on=date(2026, 5, 20),
            retention_rule="not_substantiated:2m",
            hold_since=None,
            days_left=49,
        ),
    ]
    assert [p.on_hold for p in pending_deletions(session, org_id, TODAY)] == [
        True,
        False,
    ]
    assert legal_holds(session, org_id) == [
        LegalHold("2026-0002", date(2026, 3, 3), "new", None),
        LegalHold("2026-0003", date(2026, 3, 15), "closed", date(2026, 3, 10)),
    ]


# --- CSV ---------------------------------------------------------------------------------------


@dataclass
class Cells:
    text: str
    number: int | None
    day: date | None
    flag: bool | None


def test_csv_cells_that_would_run_as_formulas_are_defused() -> None:
    rows = [
        Cells('=HYPERLINK("http://example.org")', -3, date(2026, 3, 2), True),
        Cells("+1", 0, None, False),
        Cells("-2", None, None, None),
        Cells("@SUM(A1)", 7, None, None),
        Cells("\tTab", 1, None, None),
        Cells("Plain, with a comma", 2, None, None),
        Cells("Ærlig snak", 3, None, None),
    ]
    text = to_csv(rows, ("text", "number", "day", "flag"))
    assert text.split("\r\n") == [
        "text,number,day,flag",
        '"\'=HYPERLINK(""http://example.org"")",-3,2026-03-02,true',
        "'+1,0,,false",
        "'-2,,,",
        "'@SUM(A1),7,,",
        "'\tTab,1,,",
        '"Plain, with a comma",2,,',
        "Ærlig snak,3,,",
        "",
    ]


def parsed(response: TestResponse) -> list[dict[str, str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- the pages -----------------------------------------------------------------------------------


def table_rows(page: TestResponse) -> list[str]:
    """The rows of the page's table body as text."""
    html = page.get_data(as_text=True)
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "the page has no table"
    return [
        re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def signed_in(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    member = StaffMember(app, clock, staff)
    assert member.sign_in().status_code == 303
    return member


def base(world: World) -> str:
    return f"/staff/{world.unit.org.slug}/registers"


PAGES = ("/", "/reports", "/reports?year=2025", "/deletions", "/holds")
DOWNLOADS = ("/reports.csv", "/reports.csv?year=2026", "/deletions.csv", "/holds.csv")


def test_the_auditor_reads_the_registers_and_downloads_them(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    home = auditor.get("/staff/")
    assert f'href="{base(world)}/"' in home.get_data(as_text=True)

    index = auditor.get(f"{base(world)}/")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert '<td id="count-reports">4</td>' in html
    assert '<td id="count-deletions">2</td>' in html
    assert '<td id="count-holds">2</td>' in html

    # The record shows its main columns (it fits a window); every column is a click away.
    main = auditor.get(f"{base(world)}/reports")
    assert main.status_code == 200
    assert "4 reports" in main.get_data(as_text=True)
    assert 'id="all-columns" href="/staff/testfirma/registers/reports?columns=all"' in (
        main.get_data(as_text=True)
    )
    assert table_rows(main)[0].startswith("2025-0042 Deleted Not sure 1 Dec 2025")
    assert "Handlers with a key" not in main.get_data(as_text=True)

    record = auditor.get(f"{base(world)}/reports?columns=all")
    assert record.status_code == 200
    text = record.get_data(as_text=True)
    assert "4 reports" in text and "Handlers with a key" in text
    rows = table_rows(record)
    assert [r.split(" ")[0] for r in rows] == [r.reference for r in expected_record(world)]
    assert rows[0].startswith("2025-0042 Deleted Not sure Web form Yes 1 Dec 2025")
    assert "1 Apr 2026" in rows[0]  # the day it was deleted
    assert rows[2].startswith("2026-0002 Open Not sure Web form Yes 2 Mar 2026")
    assert rows[2].endswith("3 Mar 2026 2")  # on hold since, two handlers with a key

    one_year = auditor.get(f"{base(world)}/reports?year=2025").get_data(as_text=True)
    assert "1 report" in one_year
    assert ">2025-0042</td>" in one_year and ">2026-0001</td>" not in one_year
    assert "/reports.csv?year=2025" in one_year

    download = auditor.get(f"{base(world)}/reports.csv")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="record-of-reports-testfirma.csv"'
    )
    lines = parsed(download)
    assert list(lines[0]) == list(REPORT_COLUMNS)
    assert lines == [
        {column: csv_value(getattr(row, column)) for column in REPORT_COLUMNS}
        for row in expected_record(world)
    ]
    assert lines[0]["state"] == "deleted" and lines[0]["deleted_on"] == "2026-04-01"
    assert lines[0]["handlers"] == "" and lines[2]["handlers"] == "2"
    assert [
        r["reference"] for r in parsed(auditor.get(f"{base(world)}/reports.csv?year=2026"))
    ] == [
        "2026-0001",
        "2026-0002",
        "2026-0003",
    ]

    deletions = parsed(auditor.get(f"{base(world)}/deletions.csv"))
    assert deletions == [
        {
            "reference": "2026-0003",
            "closed_on": "2026-03-06",
            "outcome": "substantiated",
            "delete_on": "2026-03-10",
            "retention_rule": "substantiated:date",
            "on_hold": "true",
            "hold_since": "2026-03-15",
            "days_left": "-22",
        },
        {
            "reference": "2026-0001",
            "closed_on": "2026-03-20",
            "outcome": "not_substantiated",
            "delete_on": "2026-05-20",
            "retention_rule": "not_substantiated:2m",
            "on_hold": "false",
            "hold_since": "",
            "days_left": "49",
        },
    ]
    deletions_page = auditor.get(f"{base(world)}/deletions").get_data(as_text=True)
    assert "2 cases" in deletions_page and "<td>-22</td>" in deletions_page

    holds = parsed(auditor.get(f"{base(world)}/holds.csv"))
    assert holds == [
        {"reference": "2026-0002", "hold_since": "2026-03-03", "status": "new", "delete_on": ""},
        {
            "reference": "2026-0003",
            "hold_since": "2026-03-15",
            "status": "closed",
            "delete_on": "2026-03-10",
        },
    ]
    holds_page = auditor.get(f"{base(world)}/holds").get_data(as_text=True)
    assert '>2026-0002</td><td class="nowrap">3 Mar 2026</td><td>New</td>' in holds_page


def test_the_record_is_shown_a_hundred_reports_a_page(
    app: Flask,
    session: Session,
    clock: FixedClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("whistle.registers.views.PAGE", 3)
    auditor = signed_in(app, clock, world.auditor)
    first = auditor.get(f"{base(world)}/reports").get_data(as_text=True)
    second = auditor.get(f"{base(world)}/reports?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert ">2026-0003</td>" not in first and ">2025-0042</td>" in first
    assert ">2026-0003</td>" in second and ">2025-0042</td>" not in second
    # A page past the end shows the last one; nonsense shows the first.
    assert ">2026-0003</td>" in auditor.get(f"{base(world)}/reports?page=9").get_data(as_text=True)
    assert "Page 1 of 2" in auditor.get(f"{base(world)}/reports?page=x").get_data(as_text=True)
    # Paging keeps every column once chosen.
    every = auditor.get(f"{base(world)}/reports?columns=all").get_data(as_text=True)
    assert "/registers/reports?page=2&amp;columns=all" in every


@pytest.mark.parametrize("year", ["abc", "20266", "0000", "-2026", "26"])
def test_a_year_that_is_not_a_year_gets_a_clear_error(
    app: Flask, session: Session, clock: FixedClock, world: World, year: str
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    page = auditor.get(f"{base(world)}/reports", query_string={"year": year})
    assert page.status_code == 400
    assert "Give the year as four digits, for example 2026." in page.get_data(as_text=True)
    download = auditor.get(f"{base(world)}/reports.csv", query_string={"year": year})
    assert download.status_code == 400
    assert "Give the year as four digits, for example 2026." in download.get_data(as_text=True)


def test_the_unit_lead_may_read_the_registers(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    lead = signed_in(app, clock, world.unit.handlers[2])
    assert f'href="{base(world)}/"' in lead.get("/staff/").get_data(as_text=True)
    for path in PAGES + DOWNLOADS:
        assert lead.get(base(world) + path).status_code == 200, path


@pytest.mark.parametrize("who", ["handler", "admin"])
def test_handlers_and_administrators_may_not(
    app: Flask, session: Session, clock: FixedClock, world: World, who: str
) -> None:
    staff = world.unit.handlers[0] if who == "handler" else world.unit.admin
    member = signed_in(app, clock, staff)
    assert f"{base(world)}/" not in member.get("/staff/").get_data(as_text=True)
    for path in PAGES + DOWNLOADS:
        response = member.get(base(world) + path)
        assert response.status_code == 403, path
        assert b"2026-0001" not in response.get_data()


def test_no_register_shows_what_anyone_wrote(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    # The marker is really in the live reports: a handler with the key reads it.
    hanne = world.unit.handlers[0]
    case = the_case(session, "2026-0002")
    with app.app_context():
        assert MARKER in content.read_report(case, keys_of(session, case, hanne))["what"]
    seen = 0
    for path in PAGES + DOWNLOADS + ("/reports?page=1", "/deletions.csv", "/holds.csv"):
        response = auditor.get(base(world) + path)
        assert response.status_code == 200, path
        body = response.get_data()
        assert MARKER.encode() not in body, path
        assert NAME_MARKER.encode() not in body, path
        assert b"Fie Fiktiv" not in body, path
        seen += 1
    assert seen == len(PAGES) + len(DOWNLOADS) + 3
