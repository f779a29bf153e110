"""Counsel's side on the server: the case files sent to a counsel user, the case document and
PDF kept beside each bundle under its bundle key (opened with counsel's private key), so
counsel reads a case file in the browser without downloading the bundle, and the record of
what counsel downloads.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import KeyKind, PrivateKey, decrypt_field, open_case_key
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import export_key_context, export_preview_context
from whistle.core.db import unit_of_work
from whistle.core.models import CaseExport


def bundle_key(export: CaseExport, private_key: PrivateKey) -> bytes:
    """The bundle key, opened with counsel's private key (OpenError for anyone else)."""
    return open_case_key(
        private_key, export.sealed_key, case_id=export_key_context(export.uid), kind=KeyKind.CONTENT
    )


def preview(export: CaseExport, key: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        decrypt_field(key, export.preview, context=export_preview_context(export.uid, "case.json"))
    )
    return data


def preview_pdf(export: CaseExport, key: bytes) -> bytes:
    return decrypt_field(key, export.pdf, context=export_preview_context(export.uid, "case.pdf"))


def exports_for(session: Session, counsel_id: int, org_id: int) -> list[CaseExport]:
    return list(
        session.scalars(
            select(CaseExport)
            .where(CaseExport.counsel_user_id == counsel_id, CaseExport.org_id == org_id)
            .order_by(CaseExport.id.desc())
        )
    )


def record_download(
    session: Session, clock: Clock, export: CaseExport, org_id: int, user_id: int, what: str
) -> None:
    """Counsel downloads ``what`` ("pdf" or "bundle") of a case file: the first day is kept on
    the export and every download is audited, and commit."""
    with unit_of_work(session):
        export.downloaded_on = export.downloaded_on or clock.now().date()
        audit.record(
            session,
            clock,
            action="export.downloaded",
            org_id=org_id,
            actor_user_id=user_id,
            detail={"export": export.id, "part": what},
        )


def record_key_file_download(session: Session, clock: Clock, org_id: int, user_id: int) -> None:
    """Counsel downloads their key file (wrapped under their password): audited, and commit."""
    with unit_of_work(session):
        audit.record(
            session, clock, action="user.key_file_downloaded", org_id=org_id, actor_user_id=user_id
        )
