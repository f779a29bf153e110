"""Who holds a case's keys, decided in one place.

Recipients of a new case: every active handler and unit lead of the organisation whose key a
unit lead has certified (:func:`certified_members`), minus the handlers the reporter excluded
(conflict of interest, REQUIREMENTS.md K3), plus the organisation's recovery key if it
matches its pin in the instance folder. Each gets the content, notes and identity keys sealed to
their public key; someone left out here can never read the case, whatever a view allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from crypto import CaseKeys, KeyKind, PublicKey, seal_case_key
from whistle.certification import certified_user_ids, trusted_recovery_key
from whistle.models import CaseKey, Membership, Role, User

HANDLING_ROLES = (Role.HANDLER, Role.LEAD)


def unit_members(session: Session, org_id: int) -> list[User]:
    """Active handlers and leads of ``org_id`` who have a key pair, by name."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.org_id == org_id,
                Membership.role.in_([r.value for r in HANDLING_ROLES]),
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
    lead has certified for such a role (whistle/certification.py), by name.

    The one filter every sealing path uses (intake, grants, recovery, rights requests with
    ``HANDLING_ROLES``; counsel exports with ``(Role.COUNSEL,)``): a key someone swapped in the
    database, or a role an admin gave without a lead's certification, is never sealed to.
    Raises :class:`~whistle.certification.KeysNotTrusted` when the organisation's
    certification key does not match its pin.
    """
    candidates = list(
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
    certified = certified_user_ids(session, org_id, candidates, roles)
    return [u for u in candidates if u.id in certified]


@dataclass(frozen=True)
class SealedKey:
    """One case key sealed to one recipient, not yet stored."""

    kind: str
    recipient: str  # "user" or "recovery"
    user_id: int | None
    sealed: bytes


def seal_for_recipients(
    session: Session, *, org_id: int, case_uid: str, keys: CaseKeys, users: Iterable[User]
) -> list[SealedKey]:
    """Seal every case key to each of ``users`` and to the recovery key (reads, never writes).

    Done before the case row exists, so that the costly part of intake holds no lock.
    """
    recipients: list[tuple[str, int | None, PublicKey]] = [
        ("recovery", None, trusted_recovery_key(session, org_id))
    ]
    for user in users:
        assert user.public_key is not None
        recipients.append(("user", user.id, PublicKey.from_bytes(user.public_key)))
    return [
        SealedKey(
            kind=kind.value,
            recipient=recipient,
            user_id=user_id,
            sealed=seal_case_key(public, keys[kind], case_id=case_uid, kind=kind),
        )
        for recipient, user_id, public in recipients
        for kind in KeyKind
    ]


def add_sealed_keys(
    session: Session, *, org_id: int, case_id: int, sealed: Iterable[SealedKey]
) -> None:
    """Store sealed keys for ``case_id`` now, in the caller's transaction (one bulk INSERT;
    a dozen ORM objects per report cost more than the statement)."""
    rows = [
        {
            "org_id": org_id,
            "case_id": case_id,
            "kind": key.kind,
            "recipient": key.recipient,
            "user_id": key.user_id,
            "sealed": key.sealed,
        }
        for key in sealed
    ]
    if rows:
        # Core, not ORM: the ORM splits rows by which values are None (the recovery key has
        # no user) into two statements; the table insert sends them as one batch.
        session.execute(insert(cast(Table, CaseKey.__table__)), rows)
