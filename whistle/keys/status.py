"""What the pages show of keys: each person's fingerprint, the key roles they hold and which
of them a lead has certified (the lead's Keys page, the owner's own page, the start page's
"awaiting certification").

Read-only: certifying is whistle/keys/certification.py, checking certifications is
whistle/core/trust.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import OpenError, PublicKey
from whistle.core.models import KeyCertification, Membership, Organisation, Role, User
from whistle.core.trust import (
    CERTIFIED_ROLES,
    KeysNotTrusted,
    OrgKeyFingerprint,
    _held_roles,
    certified_roles,
    key_digest,
    organisation_fingerprints,
)


@dataclass(frozen=True)
class KeyStatus:
    """One person's key in one organisation, for the owner's and the lead's pages."""

    user_id: int
    name: str
    fingerprint: str | None
    roles: frozenset[str]  # key roles held
    certified: frozenset[str]
    # A certification exists that no longer matches the key: the key changed since.
    changed: bool
    certified_on: datetime | None = None

    @property
    def pending(self) -> frozenset[str]:
        """Key roles held whose certification is missing (or no longer verifies)."""
        return self.roles - self.certified

    @property
    def holds_cases(self) -> bool:
        """Whether new cases are sealed to this key (certified as handler or lead)."""
        return bool(self.certified & {Role.HANDLER.value, Role.LEAD.value})


def fingerprint_of(user: User) -> str | None:
    """The fingerprint of ``user``'s public key, or None without one."""
    if user.public_key is None:
        return None
    try:
        return PublicKey.from_bytes(user.public_key).fingerprint()
    except OpenError:
        return None


def key_statuses(session: Session, org_id: int, users: Sequence[User]) -> list[KeyStatus]:
    """The key status of each of ``users`` in ``org_id`` (key roles only). An untrusted
    certification key makes every certification count as absent."""
    held = _held_roles(session, org_id, [u.id for u in users])
    try:
        certified = certified_roles(session, org_id, users)
    except KeysNotTrusted:
        certified = {u.id: set() for u in users}
    rows: dict[int, list[KeyCertification]] = {}
    for row in session.scalars(
        select(KeyCertification).where(
            KeyCertification.org_id == org_id,
            KeyCertification.user_id.in_([u.id for u in users]),
        )
    ):
        rows.setdefault(row.user_id, []).append(row)
    statuses = []
    for user in users:
        roles = frozenset(held.get(user.id, set()) & {r.value for r in CERTIFIED_ROLES})
        if not roles:
            continue
        digest = key_digest(user.public_key) if user.public_key is not None else None
        mine = rows.get(user.id, [])
        statuses.append(
            KeyStatus(
                user_id=user.id,
                name=user.display_name,
                fingerprint=fingerprint_of(user),
                roles=roles,
                certified=frozenset(certified.get(user.id, set())),
                changed=any(r.key_sha256 != digest for r in mine),
                certified_on=max((r.created_at for r in mine), default=None),
            )
        )
    return statuses


def unit_keys(session: Session, org_id: int) -> list[KeyStatus]:
    """Every active key holder of ``org_id``, by name: the lead's page."""
    users = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.org_id == org_id,
            Membership.role.in_([r.value for r in CERTIFIED_ROLES]),
            User.is_active.is_(True),
        )
        .distinct()
        .order_by(User.display_name, User.id)
    ).all()
    return key_statuses(session, org_id, list(users))


@dataclass(frozen=True)
class OwnKey:
    """What a person sees of their own key in one organisation."""

    org: Organisation
    status: KeyStatus | None
    organisation_keys: list[OrgKeyFingerprint] = field(default_factory=list)


def own_keys(session: Session, user: User) -> list[OwnKey]:
    """The owner's view: their fingerprint and certification in each organisation they work
    for, with the organisation keys' fingerprints."""
    orgs = session.scalars(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.user_id == user.id, Organisation.is_active.is_(True))
        .distinct()
        .order_by(Organisation.name)
    ).all()
    found = []
    for org in orgs:
        statuses = key_statuses(session, org.id, [user])
        found.append(
            OwnKey(
                org=org,
                status=statuses[0] if statuses else None,
                organisation_keys=organisation_fingerprints(session, org.id),
            )
        )
    return found


def awaiting_certification(session: Session, org_id: int, user: User) -> bool:
    """Whether ``user`` holds a case role in ``org_id`` whose key is not certified yet: they
    receive no new case until a unit lead certifies it."""
    statuses = key_statuses(session, org_id, [user])
    if not statuses:
        return False
    case_roles = statuses[0].roles & {Role.HANDLER.value, Role.LEAD.value}
    return bool(case_roles) and not statuses[0].holds_cases
