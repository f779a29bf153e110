"""Who may open a staff page: the roles a user holds in the organisation of the URL.

Every staff view names the roles it admits; a user with no membership in the organisation
gets a 404 (its staff pages do not exist for them), one with other roles a 403. Reading case
content needs more than a role: the user's own sealed copy of the case key (whistle/cases/).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import select

from whistle.core.models import Membership, Organisation, Role
from whistle.core.organisations import find_by_slug
from whistle.core.runtime import db
from whistle.web.staff_session import StaffSession, current


@dataclass(frozen=True, repr=False)
class StaffContext:
    """The signed-in user in one organisation."""

    staff: StaffSession
    org: Organisation
    roles: frozenset[Role]

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    def __repr__(self) -> str:
        return f"StaffContext(user_id={self.staff.user.id}, org={self.org.slug!r})"


def roles_in(user_id: int, org_id: int) -> frozenset[Role]:
    return frozenset(
        Role(r)
        for r in db().scalars(
            select(Membership.role).where(
                Membership.user_id == user_id, Membership.org_id == org_id
            )
        )
    )


def signed_in() -> StaffSession:
    """The signed-in staff member; 403 otherwise (``enforce_login`` normally caught it)."""
    staff = current()
    if staff is None:
        abort(403)
    return staff


def require(slug: str, *roles: Role) -> StaffContext:
    """The signed-in user's context in organisation ``slug`` if they hold one of ``roles``."""
    staff = signed_in()
    org = find_by_slug(db(), slug)
    if org is None:
        abort(404)
    held = roles_in(staff.user.id, org.id)
    if not held:
        abort(404)
    if not held & set(roles):
        abort(403)
    return StaffContext(staff, org, held)


def organisations_of(user_id: int) -> list[tuple[Organisation, frozenset[Role]]]:
    """Every organisation the user has a role in, with those roles, by name."""
    rows = db().execute(
        select(Organisation, Membership.role)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.user_id == user_id, Organisation.is_active.is_(True))
        .order_by(Organisation.name)
    )
    found: dict[int, tuple[Organisation, set[Role]]] = {}
    for org, role in rows:
        found.setdefault(org.id, (org, set()))[1].add(Role(role))
    return [(org, frozenset(held)) for org, held in found.values()]
