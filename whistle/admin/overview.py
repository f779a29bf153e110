"""What the admin console's start page says is set up: who receives reports, how many texts
the organisation wrote itself, and whether mail can be sent. Counts and settings only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.casefile.holders import certified_members
from whistle.core.models import Membership, OrgText, Role, User
from whistle.core.settings import Settings
from whistle.core.trust import KeysNotTrusted
from whistle.notify import mail


def active_members(session: Session, org_id: int, roles: tuple[Role, ...]) -> int:
    """How many active accounts hold one of ``roles`` in ``org_id``."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Membership.user_id)))
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.org_id == org_id,
                Membership.role.in_([r.value for r in roles]),
                User.is_active.is_(True),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Overview:
    """What the console's start page says is set up."""

    handlers: int  # active handlers and leads: who receives reports
    own_texts: int  # texts the organisation wrote itself
    mail_ready: bool


def _receiving(session: Session, org_id: int) -> int:
    """Who receives reports: the members whose keys a unit lead certified (none while the
    organisation's keys differ from the pins)."""
    try:
        return len(certified_members(session, org_id))
    except KeysNotTrusted:
        return 0


def overview(session: Session, org_id: int, settings: Settings) -> Overview:
    saved = mail.stored(session)
    return Overview(
        handlers=_receiving(session, org_id),
        own_texts=int(
            session.scalar(
                select(func.count()).select_from(OrgText).where(OrgText.org_id == org_id)
            )
            or 0
        ),
        mail_ready=bool(saved.host if saved is not None else settings.smtp_host),
    )
