"""A tour of the main pages: an organisation with a case in every register, the people who
read each page, and the list of pages each of them opens (issue 16's width and markup checks:
tests/browser/test_page_widths.py and tests/browser/test_markup.py)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.counsel import counsel, exported_case
from tests.steps.factories import Staff, Unit, add_staff
from whistle.core.clock import FixedClock
from whistle.core.models import Role
from whistle.core.runtime import runtime


@dataclass(frozen=True)
class Stop:
    """One page of the tour: a short name for its files, and its path."""

    name: str
    path: str


@dataclass
class TourWorld:
    unit: Unit
    counsel: Staff
    auditor: Staff
    reference: str  # a case shared with counsel, with a file and a note

    @property
    def slug(self) -> str:
        return self.unit.org.slug

    @property
    def handler(self) -> Staff:
        return self.unit.handlers[0]

    @property
    def lead(self) -> Staff:
        return self.unit.handlers[2]

    def reporter_stops(self) -> list[Stop]:
        """Before reporting: the start page, the form, the way back in."""
        s = self.slug
        return [
            Stop("start", f"/o/{s}/"),
            Stop("report-form", f"/o/{s}/report"),
            Stop("follow-up", f"/o/{s}/case/open"),
            Stop("receipt-check", f"/o/{s}/receipt-check/"),
        ]

    def staff_stops(self) -> dict[str, list[Stop]]:
        """Each signed-in role and the pages it opens."""
        s = self.slug
        admin = f"/staff/{s}/admin"
        registers = f"/staff/{s}/registers"
        return {
            "handler": [
                Stop("staff-home", "/staff/"),
                Stop("inbox", f"/staff/{s}/cases"),
                Stop("case", f"/staff/{s}/cases/{self.reference}"),
            ],
            "lead": [
                Stop("registers", f"{registers}/"),
                Stop("register-reports", f"{registers}/reports"),
                Stop("register-deletions", f"{registers}/deletions"),
                Stop("register-holds", f"{registers}/holds"),
                Stop("register-rights", f"{registers}/rights"),
                Stop("statistics", f"/staff/{s}/statistics/"),
                Stop("audit-log", f"/staff/{s}/audit"),
            ],
            "admin": [
                Stop("admin", admin),
                Stop("admin-people", f"{admin}/users"),
                Stop("admin-profile", f"{admin}/profile"),
                Stop("admin-texts", f"{admin}/texts"),
                Stop("admin-categories", f"{admin}/categories"),
                Stop("admin-reporting", f"{admin}/reporting"),
                Stop("admin-retention", f"{admin}/retention"),
                Stop("admin-mail", f"{admin}/mail"),
                Stop("admin-record", f"{admin}/record"),
            ],
            "counsel": [Stop("counsel", f"/staff/{s}/counsel/")],
        }

    def staff_member(self, role: str) -> Staff:
        return {
            "handler": self.handler,
            "lead": self.lead,
            "admin": self.unit.admin,
            "counsel": self.counsel,
            "auditor": self.auditor,
        }[role]


def tour_world(app: Flask, session: Session, clock: FixedClock, unit: Unit) -> TourWorld:
    """The fake organisation with counsel, an auditor and a case shared with counsel."""
    advocate = counsel(app, session, clock, unit, "Karla Counsel")
    with app.app_context():
        auditor = add_staff(
            session,
            clock,
            unit.org,
            "Aud Auditor",
            [Role.AUDITOR],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
    case, _ = exported_case(app, session, clock, unit, advocate, notes=True)
    return TourWorld(unit=unit, counsel=advocate, auditor=auditor, reference=case.reference)
