"""A person who handles cases for several organisations (a law firm's lawyer, a group's unit):
one account, a switch in the header, and one list of the cases they hold in all of them
(issue 18)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.factories import Unit, certify, make_unit
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.sign_in import browser
from whistle.core.clock import FixedClock
from whistle.core.models import Case, Membership, Role
from whistle.core.runtime import runtime

ALL_CASES = "/staff/all/cases"


def rows(page_html: str) -> list[tuple[str, str]]:
    """(organisation, case reference) of each row of the combined list, in order."""
    found = re.findall(
        r'<tr class="deadline-[a-z_]+">\s*<td>([^<]*)</td>\s*<td class="nowrap"><a href="/staff/'
        r'([a-z0-9-]+)/cases/([^"]+)">',
        page_html,
    )
    return [(org, reference) for org, _slug, reference in found]


def test_a_handler_of_two_organisations_sees_the_cases_of_both_in_one_list(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    hanne = unit.handlers[0]
    session.add(
        Membership(
            org_id=other.org.id, user_id=hanne.user.id, role=Role.HANDLER, created_at=clock.now()
        )
    )
    session.commit()
    with app.app_context():
        certify(session, clock, other, hanne)

    Reporter(app, "andetfirma").report(ReportAnswers(what="Fake report one."))
    clock.advance(timedelta(days=2))
    Reporter(app, "testfirma").report(ReportAnswers(what="Fake report two."))
    # A report in which the reporter left Hanne out is not hers to see, in either list.
    Reporter(app, "andetfirma").report(
        ReportAnswers(what="Fake report three.", exclude=[hanne.user.id])
    )
    left_out = session.scalars(select(Case.reference).order_by(Case.id.desc())).first()

    member = browser(app, clock, hanne)
    assert member.sign_in().status_code == 303
    home = member.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/all/cases"' in home, "the header's switch offers the combined list"
    assert 'href="/staff/andetfirma/cases"' in home and 'href="/staff/testfirma/cases"' in home

    page = member.get(ALL_CASES)
    assert page.status_code == 200
    listed = rows(page.get_data(as_text=True))
    # What is due first first, across organisations: andetfirma's acknowledgement is due two
    # days before testfirma's.
    assert [org for org, _ref in listed] == ["Testfirma andetfirma ApS", "Testfirma testfirma ApS"]
    assert left_out not in {ref for _org, ref in listed}
    # Each row leads to the case in its own organisation, where that organisation's checks apply.
    for org, reference in listed:
        slug = "andetfirma" if "andetfirma" in org else "testfirma"
        assert member.get(f"/staff/{slug}/cases/{reference}").status_code == 200


def test_the_combined_list_is_only_for_people_who_handle_cases(
    app: Flask, clock: FixedClock, unit: Unit
) -> None:
    admin = browser(app, clock, unit.admin)
    assert admin.sign_in().status_code == 303
    assert admin.get(ALL_CASES).status_code == 404
    # One organisation: no switch in the header.
    henrik = browser(app, clock, unit.handlers[1])
    assert henrik.sign_in().status_code == 303
    assert 'class="switch"' not in henrik.get("/staff/").get_data(as_text=True)
    assert "Cases in all your organisations" in text_of(henrik.get(ALL_CASES))
