"""Who holds a case: the one answer every flow asks, and who a case may be sealed to.

Holding a case is having one's own sealed copy of its keys (whistle/casefile/access.py). The
flows that act on something derived from a case without decrypting it (rights requests,
notices, meetings, reminders, the inbox) ask :func:`holds` and :func:`holds_clause` here, and
never decide for themselves.

Invariant the holder checks rely on: every holder holds the content key of epoch 0 (a grant
or a recovery seals every epoch the giver holds, whistle/casefile/sealing.py), so "holds the
case" is one index lookup.

Sealing only ever goes to :func:`certified_members`: active handlers and unit leads whose key
a unit lead has certified (whistle/keys/certification.py).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crypto import KeyKind
from whistle.core.models import CaseKey, Membership, Role, User
from whistle.core.trust import certified_user_ids

HANDLING_ROLES = (Role.HANDLER, Role.LEAD)
# The epoch whose content key every holder of a case holds (see the module's docstring).
HOLDER_EPOCH = 0


def holds_clause(
    case_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
    user_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
) -> ColumnElement[bool]:
    """SQL for "``user_id`` holds case ``case_id``" (one lookup in ix_case_keys_holder)."""
    return (
        select(CaseKey.case_id)
        .where(
            CaseKey.case_id == case_id,
            CaseKey.user_id == user_id,
            CaseKey.recipient == "user",
            CaseKey.kind == KeyKind.CONTENT.value,
            CaseKey.epoch == HOLDER_EPOCH,
        )
        .exists()
    )


def holder_rows(user_id: int) -> list[ColumnElement[bool]]:
    """Conditions selecting the one ``case_keys`` row per case that ``user_id`` holds."""
    return [
        CaseKey.user_id == user_id,
        CaseKey.recipient == "user",
        CaseKey.kind == KeyKind.CONTENT.value,
        CaseKey.epoch == HOLDER_EPOCH,
    ]


def holds(session: Session, case_id: int, user_id: int) -> bool:
    """Whether ``user_id`` holds the case (has their own sealed copy of its keys)."""
    return bool(session.scalar(select(holds_clause(case_id, user_id))))


def holder_ids(session: Session, case_id: int) -> set[int]:
    """Every user who holds the case."""
    return {
        int(user_id)
        for user_id in session.scalars(
            select(CaseKey.user_id).where(
                CaseKey.case_id == case_id,
                CaseKey.recipient == "user",
                CaseKey.kind == KeyKind.CONTENT.value,
                CaseKey.epoch == HOLDER_EPOCH,
            )
        )
        if user_id is not None
    }


def held_case_ids(session: Session, user_id: int, org_id: int | None = None) -> list[int]:
    """The cases ``user_id`` holds, in one organisation or in all."""
    query = select(CaseKey.case_id).where(*holder_rows(user_id))
    if org_id is not None:
        query = query.where(CaseKey.org_id == org_id)
    return [int(c) for c in session.scalars(query.order_by(CaseKey.case_id))]


def unit_members(
    session: Session, org_id: int, *, roles: tuple[Role, ...] = HANDLING_ROLES
) -> list[User]:
    """Active members of ``org_id`` holding one of ``roles`` (handlers and leads by default)
    who have a key pair, by name; certified or not (see :func:`certified_members`)."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.org_id == org_id,
                Membership.role.in_([r.value for r in roles]),
                User.is_active.is_(True),
                User.public_key.is_not(None),
            )
            .distinct()
            .order_by(User.display_name, User.id)
        )
    )


def certified_members(
    session: Session, org_id: int, *, roles: tuple[Role, ...] = HANDLING_ROLES
) -> list[User]:
    """The active members of ``org_id`` holding one of ``roles``, with a key pair that a unit
    lead has certified for such a role (whistle/keys/certification.py), by name.

    The one filter every sealing path uses (intake, grants, recovery, rights requests with
    ``HANDLING_ROLES``; counsel exports with ``(Role.COUNSEL,)``): a key someone swapped in the
    database, or a role an admin gave without a lead's certification, is never sealed to.
    Raises :class:`~whistle.core.trust.KeysNotTrusted` when the organisation's
    certification key does not match its pin.
    """
    candidates = unit_members(session, org_id, roles=roles)
    certified = certified_user_ids(session, org_id, candidates, roles)
    return [u for u in candidates if u.id in certified]
