"""Counsel's side on the server: the case files sent to a counsel user, and the record of
what counsel reads and downloads (the reading itself: whistle/counsel/case_reader.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import CaseExport


def exports_for(session: Session, counsel_id: int, org_id: int) -> list[CaseExport]:
    return list(
        session.scalars(
            select(CaseExport)
            .where(CaseExport.counsel_user_id == counsel_id, CaseExport.org_id == org_id)
            .order_by(CaseExport.id.desc())
        )
    )


def record_download(
    session: Session,
    clock: Clock,
    export: CaseExport,
    org_id: int,
    user_id: int,
    what: str,
    number: int | None = None,
) -> None:
    """Counsel reads or downloads ``what`` of a case file ("case": its page, read in the
    browser; "pdf", "file": document ``number`` of its index, "bundle": the encrypted file,
    downloaded): the first day is kept on the export and every one is audited (the document's
    number, never its name), and commit."""
    detail: dict[str, str | int | bool | None] = {"export": export.id, "part": what}
    if number is not None:
        detail["file"] = number
    with unit_of_work(session):
        export.downloaded_on = export.downloaded_on or clock.now().date()
        audit.record(
            session,
            clock,
            action="export.read" if what == "case" else "export.downloaded",
            org_id=org_id,
            actor_user_id=user_id,
            detail=detail,
        )


def record_key_file_download(session: Session, clock: Clock, org_id: int, user_id: int) -> None:
    """Counsel downloads their key file (wrapped under their password): audited, and commit."""
    with unit_of_work(session):
        audit.record(
            session, clock, action="user.key_file_downloaded", org_id=org_id, actor_user_id=user_id
        )
