"""Statistics for the unit lead and the auditor (issue 7): figures from live cases and
tombstones, SVG charts with their tables, CSV, and the yearly summary, never with content.

The world: Testfirma's reports of 2026, each with known days, as of 2026-05-01 (TODAY).

====  ==========  ===========  =====  ========  =====  ========  ========  ==================
case  received    category     anon.  ack (due)        feedback (due)     outcome (closed)
====  ==========  ===========  =====  ========  =====  ========  ========  ==================
H     01-02       not-sure     no     01-03     01-09  -         04-03     open
A     01-05       harassment   no     01-07     01-12  03-01     04-07     substantiated
T1    01-15       not-sure     yes    01-16     01-22  02-01     04-16     knowingly false, deleted
B     01-20       not-sure     yes    01-30     01-27  04-29     04-30     not substantiated
G     02-02       harassment   yes    -         02-09  02-20     05-09     open
C     02-10       harassment   yes    -         02-17  -         05-17     new
E     03-02       harassment   yes    03-05     03-09  03-20     06-05     outside scope
T2    03-10       (removed)    no     03-20     03-17  03-25     06-17     outside scope, deleted
D     04-28       fake-script  no     -         05-05  -         08-05     new
====  ==========  ===========  =====  ========  =====  ========  ========  ==================

T1 and T2 are tombstones (T2 came by telephone: channel "phone"). Outside 2026: F (live,
received 2025-12-31) and T3 (tombstone, 2025-06-01, referred); and a report to another
organisation. "fake-script" is a category whose English label carries markup; "retired" is an
inactive category with no reports.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.cases import submit
from tests.steps.factories import Staff, Unit, add_staff, make_unit
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.models import Case, CaseStatus, CaseTombstone, Category, Role
from whistle.core.runtime import runtime
from whistle.statistics import statistics
from whistle.statistics.statistics import (
    CategoryCount,
    DeadlineCounts,
    Durations,
    MonthCount,
    Period,
    PeriodError,
    Statistics,
)

MARKER = "STATCANARY"
NAME_MARKER = "STATNAMECANARY"
TODAY = date(2026, 5, 1)
SCRIPT_LABEL = "<script>alert('x')</script> Fake category"
SVG = "{http://www.w3.org/2000/svg}"


def d(month_day: str, year: int = 2026) -> date:
    month, day = month_day.split("-")
    return date(year, int(month), int(day))


@dataclass(frozen=True)
class Seed:
    category: str
    named: bool
    received: date
    ack_due: date
    ack_on: date | None
    feedback_due: date
    feedback_on: date | None
    status: str
    outcome: str | None = None
    closed_on: date | None = None


NEW, OPEN, CLOSED = CaseStatus.NEW.value, CaseStatus.OPEN.value, CaseStatus.CLOSED.value
LIVE = {
    "H": Seed("not-sure", True, d("01-02"), d("01-09"), d("01-03"), d("04-03"), None, OPEN),
    "A": Seed(
        "harassment",
        True,
        d("01-05"),
        d("01-12"),
        d("01-07"),
        d("04-07"),
        d("03-01"),
        CLOSED,
        "substantiated",
        d("03-01"),
    ),
    "B": Seed(
        "not-sure",
        False,
        d("01-20"),
        d("01-27"),
        d("01-30"),
        d("04-30"),
        d("04-29"),
        CLOSED,
        "not_substantiated",
        d("04-29"),
    ),
    "G": Seed("harassment", False, d("02-02"), d("02-09"), None, d("05-09"), d("02-20"), OPEN),
    "C": Seed("harassment", False, d("02-10"), d("02-17"), None, d("05-17"), None, NEW),
    "E": Seed(
        "harassment",
        False,
        d("03-02"),
        d("03-09"),
        d("03-05"),
        d("06-05"),
        d("03-20"),
        CLOSED,
        "outside_scope",
        d("03-20"),
    ),
    "D": Seed("fake-script", True, d("04-28"), d("05-05"), None, d("08-05"), None, NEW),
    # Outside 2026.
    "F": Seed(
        "not-sure", False, date(2025, 12, 31), d("01-07"), d("01-02"), d("04-02"), None, OPEN
    ),
}


@dataclass
class World:
    unit: Unit
    auditor: Staff
    categories: dict[str, Category]


def tombstone(
    org_id: int,
    number: int,
    category_id: int | None,
    seed: Seed,
    *,
    channel: str = "web",
    deleted_on: date,
) -> CaseTombstone:
    return CaseTombstone(
        org_id=org_id,
        case_id=90000 + number,
        reference=f"{seed.received.year}-{9000 + number}",
        category_id=category_id,
        channel=channel,
        anonymous=not seed.named,
        received_on=seed.received,
        acknowledge_due=seed.ack_due,
        acknowledged_on=seed.ack_on,
        feedback_due=seed.feedback_due,
        feedback_on=seed.feedback_on,
        scope="outside_scope" if seed.outcome == "outside_scope" else "in_scope",
        outcome=seed.outcome,
        closed_on=seed.closed_on,
        delete_on=deleted_on,
        deleted_on=deleted_on,
        retention_rule="fake:rule",
    )


@pytest.fixture
def world(app: Flask, session: Session, clock: FixedClock, unit: Unit) -> World:
    rt = runtime(app)
    org_id = unit.org.id
    with app.app_context():
        auditor = add_staff(
            session,
            clock,
            unit.org,
            "Aud Auditor",
            [Role.AUDITOR],
            instance_key=rt.settings.instance_key,
        )
    session.add_all(
        [
            Category(
                org_id=org_id,
                code="fake-script",
                label_da="Falsk kategori",
                label_en=SCRIPT_LABEL,
                position=100,
                is_active=True,
            ),
            Category(
                org_id=org_id,
                code="retired",
                label_da="Nedlagt",
                label_en="Retired",
                position=101,
                is_active=False,
            ),
        ]
    )
    session.commit()
    ids = {}
    for name, seed in LIVE.items():
        case = submit(
            app,
            session,
            unit,
            category=seed.category,
            what=f"Fake report {MARKER} {name}: the forklift is driven without a licence.",
            name=f"Fie Fiktiv {NAME_MARKER}" if seed.named else "",
        )
        ids[name] = case.id
    session.expire_all()
    for name, seed in LIVE.items():
        case = session.get(Case, ids[name])
        assert case is not None
        case.received_on = seed.received
        case.acknowledge_due = seed.ack_due
        case.acknowledged_on = seed.ack_on
        case.feedback_due = seed.feedback_due
        case.feedback_on = seed.feedback_on
        case.status = seed.status
        case.outcome = seed.outcome
        case.closed_on = seed.closed_on
    categories = {
        c.code: c for c in session.scalars(select(Category).where(Category.org_id == org_id))
    }
    removed = Category(org_id=org_id, code="removed", label_da="Fjernet", label_en="Removed")
    session.add(removed)
    session.flush()
    t1 = Seed(
        "not-sure",
        False,
        d("01-15"),
        d("01-22"),
        d("01-16"),
        d("04-16"),
        d("02-01"),
        CLOSED,
        "knowingly_false",
        d("02-01"),
    )
    t2 = Seed(
        "removed",
        True,
        d("03-10"),
        d("03-17"),
        d("03-20"),
        d("06-17"),
        d("03-25"),
        CLOSED,
        "outside_scope",
        d("03-25"),
    )
    t3 = Seed(
        "not-sure",
        False,
        date(2025, 6, 1),
        date(2025, 6, 8),
        date(2025, 6, 2),
        date(2025, 9, 2),
        date(2025, 7, 1),
        CLOSED,
        "referred",
        date(2025, 7, 1),
    )
    session.add_all(
        [
            tombstone(org_id, 1, categories["not-sure"].id, t1, deleted_on=d("03-03")),
            tombstone(org_id, 2, removed.id, t2, channel="phone", deleted_on=d("04-25")),
            tombstone(org_id, 3, categories["not-sure"].id, t3, deleted_on=d("02-01")),
        ]
    )
    session.flush()
    # The category of T2 is deleted since: its tombstone keeps no category (ON DELETE SET NULL).
    session.delete(removed)
    session.commit()
    session.expire_all()
    assert (
        session.scalar(select(CaseTombstone.category_id).where(CaseTombstone.case_id == 90002))
        is None
    )

    with app.app_context():
        other = make_unit(session, clock, rt.settings.instance_key, slug="andetfirma")
    submit(app, session, other, what=f"Fake report {MARKER} of another organisation.")

    clock.advance(timedelta(days=60))
    assert clock.now().date() == TODAY
    session.expire_all()
    return World(unit, auditor, categories)


def by_category(
    world: World, session: Session, counts: dict[str, int]
) -> tuple[CategoryCount, ...]:
    """Every active category of the organisation in the form's order ("not sure" last, the
    others by position) with ``counts``."""
    rows = sorted(
        session.scalars(select(Category).where(Category.org_id == world.unit.org.id)),
        key=lambda c: (c.code == "not-sure", c.position, c.id),
    )
    return tuple(
        CategoryCount(c.id, c.code, c.label_da, c.label_en, counts.get(c.code, 0))
        for c in rows
        if c.is_active
    )


def zero_months(year: int) -> list[MonthCount]:
    return [MonthCount(date(year, m, 1), 0) for m in range(1, 13)]


COUNTS_2026 = {"harassment": 4, "not-sure": 3, "fake-script": 1}
OUTCOMES_2026 = (
    ("substantiated", 1),
    ("not_substantiated", 1),
    ("outside_scope", 2),
    ("knowingly_false", 1),
    ("referred", 0),
)


# --- the domain ---------------------------------------------------------------------------------


def test_the_figures_of_a_year_count_live_and_deleted_reports(
    app: Flask, session: Session, world: World
) -> None:
    stats = statistics.compute(session, world.unit.org.id, Period.year(2026), TODAY)
    months = zero_months(2026)
    for month, n in ((1, 4), (2, 2), (3, 2), (4, 1)):
        months[month - 1] = MonthCount(date(2026, month, 1), n)
    expected = Statistics(
        period=Period(date(2026, 1, 1), date(2026, 12, 31)),
        today=TODAY,
        reports=9,
        anonymous=5,
        by_month=tuple(months),
        by_category=(
            *by_category(world, session, COUNTS_2026),
            CategoryCount(None, None, None, None, 1),
        ),
        by_channel=(("phone", 1), ("web", 8)),
        # H 1, T1 1, A 2, E 3, B 10, T2 10
        to_acknowledgement=Durations(cases=6, median=2.5, worst=10),
        # T2 5, G 11 (from its acknowledgement's due day), E 15, T1 16, A 53, B 89
        to_feedback=Durations(cases=6, median=15.5, worst=89),
        # met: H A T1 E; missed: B T2 (late), G C (never, past due); pending: D (due 05-05)
        acknowledgement=DeadlineCounts(met=4, missed=4, pending=1),
        # met: A T1 B G E T2; missed: H (none, due 04-03); pending: C D
        feedback=DeadlineCounts(met=6, missed=1, pending=2),
        closed=5,
        outcomes=OUTCOMES_2026,
    )
    assert stats == expected
    assert stats.anonymous_share == pytest.approx(5 / 9)
    assert stats.acknowledgement.share_met == 0.5
    assert stats.feedback.share_met == pytest.approx(6 / 7)
    assert "retired" not in {c.code for c in stats.by_category}
    assert sum(c.reports for c in stats.by_category) == stats.reports
    assert sum(m.reports for m in stats.by_month) == stats.reports


def test_a_deadline_due_today_is_pending_and_missed_the_day_after(
    app: Flask, session: Session, world: World
) -> None:
    org_id, year = world.unit.org.id, Period.year(2026)
    on_the_day = statistics.compute(session, org_id, year, date(2026, 5, 5))
    assert on_the_day.acknowledgement == DeadlineCounts(met=4, missed=4, pending=1)
    day_after = statistics.compute(session, org_id, year, date(2026, 5, 6))
    assert day_after.acknowledgement == DeadlineCounts(met=4, missed=5, pending=0)
    # C's feedback is due 05-17 and never came.
    assert statistics.compute(session, org_id, year, date(2026, 5, 18)).feedback == (
        DeadlineCounts(met=6, missed=2, pending=1)
    )


def test_a_period_of_ones_own_choosing(app: Flask, session: Session, world: World) -> None:
    org_id = world.unit.org.id
    spring = statistics.compute(session, org_id, Period.between(d("01-10"), d("03-05")), TODAY)
    # T1, B, G, C, E
    assert spring.reports == 5
    assert [(m.month, m.reports) for m in spring.by_month] == [
        (d("01-01"), 2),
        (d("02-01"), 2),
        (d("03-01"), 1),
    ]
    assert spring.to_acknowledgement == Durations(cases=3, median=3, worst=10)  # T1 1, E 3, B 10
    assert spring.outcomes[:4] == (
        ("substantiated", 0),
        ("not_substantiated", 1),
        ("outside_scope", 1),
        ("knowingly_false", 1),
    )
    # An odd number of values: the middle one.
    early = statistics.compute(session, org_id, Period.between(d("01-01"), d("01-16")), TODAY)
    assert early.to_acknowledgement == Durations(cases=3, median=1, worst=2)  # H 1, T1 1, A 2
    # Across the new year: one bar per month, the year's reports included.
    winter = statistics.compute(
        session, org_id, Period.between(date(2025, 12, 1), d("01-31")), TODAY
    )
    assert [(m.month, m.reports) for m in winter.by_month] == [
        (date(2025, 12, 1), 1),
        (d("01-01"), 4),
    ]
    last_year = statistics.compute(session, org_id, Period.year(2025), TODAY)
    assert (last_year.reports, last_year.closed) == (2, 1)  # F, and T3 (deleted, referred)
    assert dict(last_year.outcomes)["referred"] == 1


def test_a_year_without_reports(app: Flask, session: Session, world: World) -> None:
    stats = statistics.compute(session, world.unit.org.id, Period.year(2024), TODAY)
    assert stats == Statistics(
        period=Period.year(2024),
        today=TODAY,
        reports=0,
        anonymous=0,
        by_month=tuple(zero_months(2024)),
        by_category=by_category(world, session, {}),
        by_channel=(),
        to_acknowledgement=Durations(0, None, None),
        to_feedback=Durations(0, None, None),
        acknowledgement=DeadlineCounts(0, 0, 0),
        feedback=DeadlineCounts(0, 0, 0),
        closed=0,
        outcomes=tuple((name, 0) for name, _n in OUTCOMES_2026),
    )
    assert stats.anonymous_share is None
    assert stats.acknowledgement.share_met is None


def test_the_other_organisation_has_its_own_figures(
    app: Flask, session: Session, world: World
) -> None:
    other = session.scalars(select(Case.org_id).where(Case.org_id != world.unit.org.id)).one()
    stats = statistics.compute(session, other, Period.year(2026), TODAY)
    assert stats.reports == 1
    assert [m.reports for m in stats.by_month][2] == 1  # received 2026-03-02


def test_periods_are_checked() -> None:
    assert Period.year(2026).calendar_year == 2026
    assert len(Period.year(2026).months) == 12
    assert Period.between(d("01-01"), d("12-31")).calendar_year == 2026
    assert Period.between(d("01-01"), d("12-30")).calendar_year is None
    assert Period.between(d("02-28"), d("02-28")).months == [d("02-01")]
    with pytest.raises(PeriodError) as order:
        Period.between(d("03-01"), d("02-28"))
    assert order.value.reason == "order"
    with pytest.raises(PeriodError) as length:
        Period.between(date(2016, 1, 1), date(2026, 1, 1))
    assert length.value.reason == "length"
    assert len(Period.between(date(2016, 2, 1), date(2026, 1, 31)).months) == 120


CIPHERTEXT = re.compile(
    r"\b(cases|case_tombstones)\.(report|identity|reporter_key|reporter_tag|nudge_address)\b"
)


def test_the_figures_read_no_ciphertext_in_a_fixed_number_of_statements(
    app: Flask, session: Session, world: World
) -> None:
    engine = runtime(app).engine
    org_id = world.unit.org.id
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    event.listen(engine, "before_cursor_execute", record)
    try:
        statistics.compute(session, org_id, Period.year(2026), TODAY)
        busy = list(seen)
        seen.clear()
        statistics.compute(session, org_id, Period.year(2024), TODAY)
        empty = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any("FROM cases" in s for s in busy) and any("case_tombstones" in s for s in busy)
    assert not [s for s in busy if CIPHERTEXT.search(s)]
    # The number of statements does not grow with the cases (medians of nothing are skipped).
    assert len(busy) == len(empty) + 2 <= 8


# --- the pages ----------------------------------------------------------------------------------


def signed_in(app: Flask, clock: FixedClock, staff: Staff) -> StaffMember:
    member = StaffMember(app, clock, staff)
    assert member.sign_in().status_code == 303
    return member


def base(world: World) -> str:
    return f"/staff/{world.unit.org.slug}/statistics"


def key_figures(page: TestResponse) -> dict[str, str]:
    html = page.get_data(as_text=True)
    return {
        key: unescape(value)
        for key, value in re.findall(r'<td id="key-([a-z-]+)">([^<]*)</td>', html)
    }


@dataclass
class Shown:
    svg: ET.Element
    rows: list[tuple[str, str]]


def figures(page: TestResponse) -> dict[str, Shown]:
    """Each figure on the page: its chart (parsed as XML) and its table's rows."""
    html = page.get_data(as_text=True)
    found = {}
    for key, body in re.findall(
        r'<figure class="figure" id="figure-([a-z]+)"[^>]*>(.*?)</figure>', html, re.S
    ):
        svg = re.search(r"<svg .*?</svg>", body, re.S)
        assert svg, f"figure {key} has no chart"
        table = re.search(r"<tbody>(.*?)</tbody>", body, re.S)
        assert table, f"figure {key} has no table"
        rows = [
            (unescape(label), unescape(value))
            for label, value in re.findall(
                r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', table.group(1), re.S
            )
        ]
        found[key] = Shown(ET.fromstring(svg.group(0)), rows)
    return found


def bars(shown: Shown) -> list[ET.Element]:
    return [r for r in shown.svg.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_the_auditor_reads_the_figures_with_charts_and_tables(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    assert f'href="{base(world)}/"' in auditor.get("/staff/").get_data(as_text=True)

    page = auditor.get(f"{base(world)}/")  # the current year of the clock: 2026
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Reports received in 2026" in html
    assert key_figures(page) == {
        "reports": "9",
        "anonymous": "5 (55.6%)",
        "ack-median": "2.5",
        "ack-worst": "10",
        "feedback-median": "15.5",
        "feedback-worst": "89",
        "ack-met": "4 of 8 (50%)",
        "feedback-met": "6 of 7 (85.7%)",
        "closed": "5",
    }
    shown = figures(page)
    assert list(shown) == [
        "months",
        "categories",
        "channels",
        "anonymity",
        "acknowledgement",
        "feedback",
        "outcomes",
    ]
    for key, figure in shown.items():
        assert len(bars(figure)) == len(figure.rows), key  # one bar per number in the table
        assert figure.svg.get("role") == "img" and figure.svg.get("aria-label"), key
        assert figure.svg.findtext(f"{SVG}title") == figure.svg.get("aria-label"), key
    months = shown["months"].rows
    assert months[:5] == [
        ("January 2026", "4"),
        ("February 2026", "2"),
        ("March 2026", "2"),
        ("April 2026", "1"),
        ("May 2026", "0"),
    ]
    assert len(months) == 12
    heights = [float(b.get("height", "nan")) for b in bars(shown["months"])]
    assert heights[0] > heights[1] == heights[2] > heights[3] > heights[4] == 0
    categories = dict(shown["categories"].rows)
    assert categories["Sexual harassment or other serious harassment"] == "4"
    assert categories["Not sure"] == "3"
    assert categories[SCRIPT_LABEL] == "1"
    assert categories["Category removed"] == "1"
    assert "Retired" not in categories
    assert shown["channels"].rows == [("phone", "1"), ("Web form", "8")]
    assert shown["anonymity"].rows == [("Anonymous", "5"), ("Named", "4")]
    assert shown["acknowledgement"].rows == [("Met", "4"), ("Missed", "4"), ("Not yet due", "1")]
    assert shown["feedback"].rows == [("Met", "6"), ("Missed", "1"), ("Not yet due", "2")]
    assert shown["outcomes"].rows == [
        ("Substantiated", "1"),
        ("Not substantiated", "1"),
        ("Outside the scope of the scheme (§ 12(3))", "2"),
        ("Knowingly false report", "1"),
        ("Referred to a public authority", "0"),
    ]
    # The label with markup is text, escaped in the chart and in the table alike.
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(") >= 3  # chart label, chart description, table
    chart_labels = [
        t.text for t in shown["categories"].svg.iter(f"{SVG}text") if t.get("class") == "label"
    ]
    assert SCRIPT_LABEL in chart_labels
    # Nothing inline for the Content-Security-Policy to block, nothing from elsewhere.
    assert "style=" not in html and "<style" not in html
    assert "Content-Security-Policy" in page.headers
    assert f"{base(world)}/statistics.csv?year=2026" in html
    assert f"{base(world)}/summary?year=2026" in html


def test_the_page_speaks_danish(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    page = auditor.get(f"{base(world)}/?year=2026", headers={"Accept-Language": "da"})
    assert page.status_code == 200
    shown = figures(page)
    assert shown["months"].rows[0] == ("januar 2026", "4")
    assert dict(shown["categories"].rows)["Falsk kategori"] == "1"
    assert ("Anonym", "5") in shown["anonymity"].rows
    assert key_figures(page)["ack-median"] == "2,5"


def test_a_period_of_ones_own_on_the_page_and_in_the_csv(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    lead = signed_in(app, clock, world.unit.handlers[2])
    page = lead.get(f"{base(world)}/", query_string={"from": "2026-01-10", "to": "2026-03-05"})
    assert page.status_code == 200
    assert "Reports received from 10 January 2026 to 5 March 2026" in page.get_data(as_text=True)
    assert key_figures(page)["reports"] == "5"
    assert figures(page)["months"].rows == [
        ("January 2026", "2"),
        ("February 2026", "2"),
        ("March 2026", "1"),
    ]
    download = lead.get(
        f"{base(world)}/statistics.csv", query_string={"from": "2026-01-10", "to": "2026-03-05"}
    )
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="statistics-testfirma-2026-01-10-2026-03-05.csv"'
    )
    rows = parsed(download)
    assert ["reports", "total", "", "5"] in rows
    assert [r[1] for r in rows if r[0] == "month"] == ["2026-01", "2026-02", "2026-03"]


def test_the_year_follows_the_clock(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    clock.advance(timedelta(days=250))  # 2027-01-06
    auditor = signed_in(app, clock, world.auditor)
    page = auditor.get(f"{base(world)}/")
    assert "Reports received in 2027" in page.get_data(as_text=True)
    assert key_figures(page)["reports"] == "0"
    assert key_figures(page)["ack-median"] == "\u2013"  # an en dash: no such figure
    assert key_figures(auditor.get(f"{base(world)}/?year=2026"))["reports"] == "9"


def parsed(response: TestResponse) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_csv_holds_every_figure(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    download = auditor.get(f"{base(world)}/statistics.csv?year=2026")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="statistics-testfirma-2026.csv"'
    )
    rows = parsed(download)
    active = by_category(world, session, COUNTS_2026)
    months = {1: 4, 2: 2, 3: 2, 4: 1}
    assert rows == [
        ["figure", "item", "label", "value"],
        ["period", "first", "", "2026-01-01"],
        ["period", "last", "", "2026-12-31"],
        ["reports", "total", "", "9"],
        ["reports", "anonymous", "", "5"],
        ["reports", "anonymous_share", "", "0.5556"],
        *[["month", f"2026-{m:02d}", "", str(months.get(m, 0))] for m in range(1, 13)],
        *[["category", str(c.code), str(c.label_en), str(c.reports)] for c in active],
        ["category", "", "", "1"],
        ["channel", "phone", "", "1"],
        ["channel", "web", "", "8"],
        ["days_to_acknowledgement", "cases", "", "6"],
        ["days_to_acknowledgement", "median", "", "2.5"],
        ["days_to_acknowledgement", "worst", "", "10"],
        ["days_to_feedback", "cases", "", "6"],
        ["days_to_feedback", "median", "", "15.5"],
        ["days_to_feedback", "worst", "", "89"],
        ["acknowledgement_deadline", "met", "", "4"],
        ["acknowledgement_deadline", "missed", "", "4"],
        ["acknowledgement_deadline", "pending", "", "1"],
        ["acknowledgement_deadline", "share_met", "", "0.5000"],
        ["feedback_deadline", "met", "", "6"],
        ["feedback_deadline", "missed", "", "1"],
        ["feedback_deadline", "pending", "", "2"],
        ["feedback_deadline", "share_met", "", "0.8571"],
        ["closed", "total", "", "5"],
        *[["outcome", name, "", str(n)] for name, n in OUTCOMES_2026],
    ]
    assert ["category", "fake-script", SCRIPT_LABEL, "1"] in rows
    # In Danish, the category labels are the Danish ones; the keys stay as they are.
    danish = parsed(
        auditor.get(f"{base(world)}/statistics.csv?year=2026", headers={"Accept-Language": "da"})
    )
    assert ["category", "fake-script", "Falsk kategori", "1"] in danish
    assert danish[0] == ["figure", "item", "label", "value"]


def test_the_yearly_summary_is_fit_to_print(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    page = auditor.get(f"{base(world)}/summary?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Annual summary 2026</h1>" in html
    assert "Testfirma testfirma ApS" in html
    assert "Reports received from 1 January 2026 to 31 December 2026" in html
    assert "Deadlines as of 1 May 2026" in html
    assert key_figures(page)["reports"] == "9"
    assert len(figures(page)) == 7
    # The links and the hint are for the screen only; the stylesheet hides them in print.
    assert html.count('class="no-print') == 2
    assert "<form" not in html.split("<main", 1)[1]
    assert "style=" not in html and "<style" not in html
    with app.open_resource("static/whistle.css") as sheet:
        css = sheet.read().decode()
    print_rules = [css[m.end() :] for m in re.finditer(r"@media print \{", css)]
    assert any(
        re.match(r"(?:[^{}]*\{[^{}]*\})*?[^{}]*\.no-print[^{]*\{\s*display: none", rules)
        for rules in print_rules
    ), "a print rule hides .no-print"
    # Default: the current year of the clock.
    assert "<h1>Annual summary 2026</h1>" in auditor.get(f"{base(world)}/summary").get_data(
        as_text=True
    )


PAGES = ("/", "/?year=2025", "/summary?year=2026", "/statistics.csv", "/statistics.csv?year=2025")


@pytest.mark.parametrize("who", ["handler", "admin"])
def test_handlers_and_administrators_may_not(
    app: Flask, session: Session, clock: FixedClock, world: World, who: str
) -> None:
    staff = world.unit.handlers[0] if who == "handler" else world.unit.admin
    member = signed_in(app, clock, staff)
    assert f"{base(world)}/" not in member.get("/staff/").get_data(as_text=True)
    for path in PAGES:
        response = member.get(base(world) + path)
        assert response.status_code == 403, path
        assert b"Key figures" not in response.get_data()


def test_the_unit_lead_may(app: Flask, session: Session, clock: FixedClock, world: World) -> None:
    lead = signed_in(app, clock, world.unit.handlers[2])
    assert f'href="{base(world)}/"' in lead.get("/staff/").get_data(as_text=True)
    for path in PAGES:
        assert lead.get(base(world) + path).status_code == 200, path


BAD = [
    ({"year": "abc"}, "Give the year as four digits, for example 2026."),
    ({"year": "20266"}, "Give the year as four digits, for example 2026."),
    ({"year": "0000"}, "Give the year as four digits, for example 2026."),
    ({"year": "-2026"}, "Give the year as four digits, for example 2026."),
    (
        {"from": "2026-13-01", "to": "2026-12-31"},
        "Give both days of the period as year-month-day, for example 2026-01-31.",
    ),
    (
        {"from": "2026-03-01"},
        "Give both days of the period as year-month-day, for example 2026-01-31.",
    ),
    (
        {"from": "2026-03-01", "to": "2026-02-01"},
        "The period must end on or after the day it starts.",
    ),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "A period can be at most 10 years."),
]


@pytest.mark.parametrize(("query", "message"), BAD)
def test_a_period_that_cannot_be_used_gets_a_clear_error(
    app: Flask,
    session: Session,
    clock: FixedClock,
    world: World,
    query: dict[str, str],
    message: str,
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    for path in ("/", "/statistics.csv"):
        response = auditor.get(base(world) + path, query_string=query)
        assert response.status_code == 400, path
        body = response.get_data(as_text=True)
        assert message in body, path
        assert "Traceback" not in body and "Key figures" not in body
    if "year" in query:
        summary = auditor.get(f"{base(world)}/summary", query_string=query)
        assert summary.status_code == 400
        assert message in summary.get_data(as_text=True)
    # The form is shown again with what was typed, marked as wrong.
    page = auditor.get(f"{base(world)}/", query_string=query).get_data(as_text=True)
    assert 'aria-invalid="true"' in page
    for typed in query.values():
        assert f'value="{typed}"' in page


def test_no_page_shows_what_anyone_wrote(
    app: Flask, session: Session, clock: FixedClock, world: World
) -> None:
    auditor = signed_in(app, clock, world.auditor)
    for path in (*PAGES, "/?from=2025-01-01&to=2026-12-31", "/summary"):
        response = auditor.get(base(world) + path)
        assert response.status_code == 200, path
        body = response.get_data()
        assert MARKER.encode() not in body, path
        assert NAME_MARKER.encode() not in body, path
        assert b"Fie Fiktiv" not in body, path
        assert b"forklift" not in body, path
