"""The unit's side of a case: reports submitted, handlers signed in, a case's keys, pages
read back."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.steps.factories import Staff, Unit
from tests.steps.staff import CaseWorker
from whistle.casefile.access import OpenedKeys, open_keys
from whistle.core.clock import FixedClock
from whistle.core.models import Case, Category, Message
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.reporting.intake import ReportInput, submit_report

REPORT_TEXT = "Fake test report: pallets are sold privately from the warehouse."
OUTCOME_DONE = "Fake outcome: the stock lists match the deliveries; nothing is missing."
OUTCOME_WHY = "Fake reasons: every pallet you saw is on a delivery note to a customer."


def hanne(app: Flask, clock: FixedClock, unit: Unit) -> CaseWorker:
    return CaseWorker(app, clock, unit.handlers[0], slug=unit.org.slug)


def henrik(app: Flask, clock: FixedClock, unit: Unit) -> CaseWorker:
    return CaseWorker(app, clock, unit.handlers[1], slug=unit.org.slug)


def signed_in(worker: CaseWorker) -> CaseWorker:
    done = worker.sign_in()
    assert done.status_code == 303, done.status_code
    return worker


def newest_case(session: Session) -> Case:
    session.expire_all()
    return session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


def the_case(session: Session, reference: str) -> Case:
    session.expire_all()
    return session.scalars(select(Case).where(Case.reference == reference)).one()


def messages_of(session: Session, case: Case) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(select(Message.kind).where(Message.case_id == case.id).order_by(Message.id))
    )


def field_errors(page: TestResponse, field_id: str) -> list[str]:
    """The error messages shown under the form field ``field_id`` (e.g. ``feedback-done``)."""
    found = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>',
        page.get_data(as_text=True),
        re.S,
    )
    if found is None:
        return []
    return [unescape(e).strip() for e in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def staff_file_links(page: TestResponse) -> dict[str, str]:
    """The files listed on a case page: shown name -> download path."""
    html = page.get_data(as_text=True)
    return {
        unescape(name): unescape(href)
        for href, name in re.findall(
            r'<a href="(/staff/[^"]*/cases/[^"]*/files/[0-9a-f]+)">([^<]*)</a>', html
        )
    }


def submit(
    app: Flask,
    session: Session,
    unit: Unit,
    *,
    category: str = "not-sure",
    what: str = REPORT_TEXT,
    name: str = "",
    excluded: frozenset[int] = frozenset(),
) -> Case:
    """A report straight through intake (as the form would send it), received today."""
    rt = runtime(app)
    category_id = session.scalars(
        select(Category.id).where(Category.org_id == unit.org.id, Category.code == category)
    ).one()
    with app.app_context():
        return submit_report(
            session,
            rt.clock,
            unit.org,
            ReportInput(
                category_id=category_id,
                what=what,
                anonymous=not name,
                name=name,
                contact="testa@example.org" if name else "",
                excluded_handler_ids=excluded,
            ),
            [],
            pepper=rt.settings.pepper,
            argon2=rt.argon2,
            store=FileStore(rt.settings.file_store),
        ).case


def keys_of(session: Session, case: Case, staff: Staff) -> OpenedKeys:
    return open_keys(session, case, staff.user.id, staff.private_key)
