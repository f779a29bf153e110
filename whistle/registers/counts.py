"""How many rows each register holds: the registers' index page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from whistle.registers.deletions import count_legal_holds, count_pending_deletions
from whistle.registers.record import count_reports
from whistle.registers.rights_requests import count_rights_requests


@dataclass(frozen=True)
class RegisterCounts:
    reports: int
    pending_deletions: int
    legal_holds: int
    rights_requests: int = 0


def counts(session: Session, org_id: int) -> RegisterCounts:
    """How many rows each register of ``org_id`` holds."""
    return RegisterCounts(
        reports=count_reports(session, org_id),
        pending_deletions=count_pending_deletions(session, org_id),
        legal_holds=count_legal_holds(session, org_id),
        rights_requests=count_rights_requests(session, org_id),
    )
