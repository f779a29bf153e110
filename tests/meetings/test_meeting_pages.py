"""The handler's meeting pages: the task in the inbox, held, minutes, the reporter's approval."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from tests.steps.factories import make_unit
from tests.steps.meeting_forms import press
from tests.steps.pages import text_of
from tests.steps.reporter import ReportAnswers, Reporter
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, Case, Meeting
from whistle.core.runtime import runtime

MINUTES = "We met on Thursday. Testa Testesen described the pallets again."


def test_a_requested_meeting_is_held_minuted_and_approved(app: Flask, clock: FixedClock) -> None:
    rt = runtime(app)
    with app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        slug = unit.org.slug
    reporter = Reporter(app, slug)
    code = reporter.report(ReportAnswers(what="Fake pallets, Testa Testesen", meeting=True))
    reporter.confirm_written_down()
    with rt.sessions() as s:
        reference = s.scalars(select(Case.reference)).one()
        meeting_id = s.scalars(select(Meeting.id)).one()

    hanne = StaffMember(app, clock, unit.handlers[0])
    hanne.sign_in()
    inbox = text_of(hanne.get(f"/staff/{slug}/cases"))
    held_by = "requested 2 March 2026, to be held by 16 March 2026"
    assert f"Meetings to hold {reference} · {held_by}" in inbox
    base = f"/staff/{slug}/cases/{reference}/meetings/"
    assert "(the reporter asked for a meeting)" in text_of(
        hanne.get(f"/staff/{slug}/cases/{reference}")
    )

    # Minutes cannot come before the meeting; a meeting cannot be held in the future.
    early = hanne.submit(
        f"{base}{meeting_id}/minutes", {f"min{meeting_id}-body": MINUTES}, form_page=base
    )
    assert early.status_code == 400
    assert "Record the meeting as held before writing its minutes." in text_of(early)
    future = hanne.submit(
        f"{base}{meeting_id}/held", {f"held{meeting_id}-held_on": "2026-12-24"}, form_page=base
    )
    assert future.status_code == 400
    assert "cannot be recorded as held on a future day" in text_of(future)

    clock.advance(timedelta(days=3))
    hanne.sign_in()  # days later: the earlier session ended long ago
    held = hanne.submit(
        f"{base}{meeting_id}/held", {f"held{meeting_id}-held_on": ""}, form_page=base
    )
    assert held.status_code == 303
    sent = hanne.submit(
        f"{base}{meeting_id}/minutes", {f"min{meeting_id}-body": MINUTES}, form_page=base
    )
    assert sent.status_code == 303
    page = text_of(hanne.get(base))
    assert "Held on 2026-03-05" in page and MINUTES in page

    assert reporter.open_case(code).status_code == 303
    mailbox = reporter.mailbox()
    assert MINUTES in text_of(mailbox)
    assert press(reporter, mailbox, "Approve the minutes").status_code == 303

    page = text_of(hanne.get(base))
    assert "approved by the reporter on 2026-03-05" in page
    with rt.sessions() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert "meeting.held" in actions and "meeting.minutes_written" in actions


def test_a_handler_without_the_case_cannot_open_its_meetings(app: Flask, clock: FixedClock) -> None:
    rt = runtime(app)
    with app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        slug, henrik = unit.org.slug, unit.handlers[1]
    Reporter(app, slug).report(ReportAnswers(what="Fake", meeting=True, exclude=[henrik.user.id]))
    with rt.sessions() as s:
        reference = s.scalars(select(Case.reference)).one()
    member = StaffMember(app, clock, henrik)
    member.sign_in()
    assert member.get(f"/staff/{slug}/cases/{reference}/meetings/").status_code == 403
    assert "Meetings to hold" not in text_of(member.get(f"/staff/{slug}/cases"))
