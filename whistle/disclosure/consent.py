"""The reporter's side of an identity disclosure (K2): what their mailbox shows beside a
request for consent or a notice, their answer (consent given, refused, or withdrawn before it
is used), and the disclosure to counsel their consent makes ready for a case file."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, IdentityDisclosure
from whistle.notify.outbox import queue_case_event


class UnknownDisclosure(LookupError):
    """No disclosure with this id or uid in this case."""


@dataclass(frozen=True)
class ConsentRequest:
    """What the reporter's mailbox shows beside a consent request or a notice."""

    uid: str
    recipient: str  # counsel's name; "" for an authority (named in the message itself)
    to_authority: bool
    ground: str
    status: str
    can_consent: bool
    can_refuse: bool


def for_reporter(session: Session, case: Case) -> dict[int, ConsentRequest]:
    """The disclosures the reporter was told about, by the id of the message that told them."""
    rows = session.scalars(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id, IdentityDisclosure.message_id.is_not(None)
        )
    ).all()
    names = content.user_names(session, {r.recipient_user_id for r in rows if r.recipient_user_id})
    return {
        int(r.message_id or 0): ConsentRequest(
            r.uid,
            names.get(r.recipient_user_id or 0, ""),
            r.recipient == "authority",
            r.ground,
            r.status,
            can_consent=r.ground == "consent" and r.status == "awaiting_consent",
            can_refuse=r.ground == "consent" and r.status in ("awaiting_consent", "ready"),
        )
        for r in rows
    }


def answer(session: Session, clock: Clock, case: Case, uid: str, *, consent: bool) -> str:
    """The reporter gives or refuses (or, before it is used, withdraws) consent: record it,
    tell the handlers, and commit.

    Returns what happened: "given", "refused" or "unchanged" (answered already, in another
    window, or the unit withdrew the request meanwhile: nothing is written)."""
    disclosure = session.scalar(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id,
            IdentityDisclosure.uid == uid,
            IdentityDisclosure.ground == "consent",
        )
    )
    if disclosure is None:
        raise UnknownDisclosure(uid)
    if consent and disclosure.status == "awaiting_consent":
        status, action, outcome = "ready", "identity.consent_given", "given"
    elif not consent and disclosure.status in ("awaiting_consent", "ready"):
        status, action, outcome = "declined", "identity.consent_refused", "refused"
    else:
        return "unchanged"
    with unit_of_work(session):
        disclosure.status = status
        disclosure.decided_on = clock.now().date()
        case.unread_for_handlers = True
        audit.record(
            session,
            clock,
            action=action,
            org_id=case.org_id,
            case=case,
            detail={"disclosure": disclosure.id},
        )
        queue_case_event(session, clock, case, "reporter_message")
    return outcome


def ready_for(session: Session, case_id: int, counsel_id: int) -> IdentityDisclosure | None:
    """The ready disclosure to counsel ``counsel_id``, if any. Whether it may carry the
    identity into a case file is decided by whistle/counsel/export.py (consent only)."""
    return session.scalar(
        select(IdentityDisclosure)
        .where(
            IdentityDisclosure.case_id == case_id,
            IdentityDisclosure.recipient == "counsel",
            IdentityDisclosure.recipient_user_id == counsel_id,
            IdentityDisclosure.status == "ready",
        )
        .order_by(IdentityDisclosure.id)
        .limit(1)
    )
