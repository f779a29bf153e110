"""The people of an organisation, as its administrator manages them.

Roles belong to one organisation (``memberships``); an account, its password, its two-step
sign-in and whether it is active belong to the person, who may work for several organisations
of the deployment. So an administrator changes roles in their own organisation only, and acts
on the account itself (deactivating it, resetting its two-step sign-in) only when they
administer every organisation the person works for; otherwise "deactivate" removes the person
from this organisation and leaves the account to the others.

Access to cases goes with keys, and leaving takes them away: a handler who loses every case
role (handler, lead) in an organisation, is removed from it, or whose account is deactivated,
leaves every case they held there (every one, for a deactivated account). Each such case moves
to a new key epoch without them and their key rows are deleted (whistle/casefile/sharing.py
``leave_organisation``), so what is written afterwards is sealed to keys they never had, even
for someone who kept a copy of the database. Given the role back, or reactivated, they hold
no case until a colleague gives them one.

Every change is audited with ids and role names only, and is a unit of work: the function
the page calls commits it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from whistle.casefile import sharing as case_sharing
from whistle.casefile.holders import HANDLING_ROLES
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Invitation, Membership, Organisation, Role, User, WebSession
from whistle.core.refusals import Refused
from whistle.keys import certification

SELF_DEACTIVATE = _l("You cannot deactivate your own account. Ask another administrator.")
SELF_RESET = _l("You cannot reset your own two-step sign-in. Ask another administrator.")
LAST_ADMIN = _l(
    "The organisation must keep at least one active administrator. Make someone else an "
    "administrator first."
)
NOT_GOVERNED = _l(
    "This person also works for another organisation on this installation. Only someone who "
    "administers all of their organisations can change their account."
)


class NotAMember(LookupError):
    """The user has no role in the organisation (the page answers 404)."""


@dataclass(frozen=True)
class Person:
    """One person on the organisation's people page (no case data, ever)."""

    id: int
    name: str
    email: str
    roles: frozenset[Role]
    active: bool
    enrolled: bool
    # Also has roles in an organisation this administrator does not administer.
    elsewhere: bool


def _roles_by_org(session: Session, user_id: int) -> dict[int, set[Role]]:
    found: dict[int, set[Role]] = {}
    for org_id, role in session.execute(
        select(Membership.org_id, Membership.role).where(Membership.user_id == user_id)
    ):
        found.setdefault(int(org_id), set()).add(Role(role))
    return found


def _administered(session: Session, admin_id: int) -> set[int]:
    return {
        int(org_id)
        for org_id in session.scalars(
            select(Membership.org_id).where(
                Membership.user_id == admin_id, Membership.role == Role.ADMIN.value
            )
        )
    }


def governs(session: Session, admin_id: int, user_id: int) -> bool:
    """Whether ``admin_id`` administers every organisation ``user_id`` has a role in."""
    return set(_roles_by_org(session, user_id)) <= _administered(session, admin_id)


def administers_installation(session: Session, user_id: int) -> bool:
    """Whether ``user_id`` administers every active organisation of the deployment: only such
    a person changes what all of them share (the mail server)."""
    active = set(session.scalars(select(Organisation.id).where(Organisation.is_active.is_(True))))
    return bool(active) and active <= _administered(session, user_id)


def people(session: Session, org_id: int, admin_id: int) -> list[Person]:
    """Everyone with a role in ``org_id``, by name."""
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id)
        .order_by(User.display_name, User.id)
    ).all()
    users: dict[int, tuple[User, set[Role]]] = {}
    for user, role in rows:
        users.setdefault(user.id, (user, set()))[1].add(Role(role))
    administered = _administered(session, admin_id)
    elsewhere = set(
        session.scalars(
            select(Membership.user_id)
            .where(
                Membership.user_id.in_(list(users)),
                Membership.org_id.not_in(list(administered) or [-1]),
            )
            .distinct()
        )
    )
    return [
        Person(
            id=user.id,
            name=user.display_name,
            email=user.email,
            roles=frozenset(roles),
            active=user.is_active,
            enrolled=user.totp_secret is not None and user.totp_confirmed_at is not None,
            elsewhere=user.id in elsewhere,
        )
        for user, roles in users.values()
    ]


def member(session: Session, org_id: int, user_id: int) -> User:
    """The user ``user_id`` if they have a role in ``org_id``; :class:`NotAMember` otherwise."""
    user = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.org_id == org_id)
        .limit(1)
    )
    if user is None:
        raise NotAMember(user_id)
    return user


def _other_active_admins(session: Session, org_id: int, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(func.distinct(Membership.user_id)))
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.org_id == org_id,
                Membership.role == Role.ADMIN.value,
                Membership.user_id != user_id,
                User.is_active.is_(True),
            )
        )
        or 0
    )


def _end_sessions(session: Session, user_id: int) -> int:
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _names(roles: Iterable[Role]) -> str:
    return ":".join(sorted(r.value for r in roles))


def change_roles(
    session: Session, clock: Clock, org_id: int, actor_id: int, user_id: int, roles: Iterable[Role]
) -> bool:
    """Give ``user_id`` exactly ``roles`` in ``org_id``, and commit; True when something
    changed.

    At least one role is needed (ending someone's access is :func:`end_access`), and the
    organisation keeps at least one active administrator. A key pair for a new handler role is
    made from the password at the person's next sign-in (whistle/staff/auth.py).
    """
    with unit_of_work(session):
        user = member(session, org_id, user_id)
        wanted = {Role(r) for r in roles}
        if not wanted:
            raise Refused(
                "roles", _l("Choose at least one role. To end someone's access, deactivate them.")
            )
        held = _roles_by_org(session, user_id).get(org_id, set())
        added, removed = wanted - held, held - wanted
        if not added and not removed:
            return False
        if (
            Role.ADMIN in removed
            and user.is_active
            and not _other_active_admins(session, org_id, user_id)
        ):
            raise Refused("roles", LAST_ADMIN)
        _apply_roles(session, clock, org_id, user_id, added, removed)
        audit.record(
            session,
            clock,
            action="user.roles_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"user": user_id, "added": _names(added), "removed": _names(removed)},
        )
        if removed & set(HANDLING_ROLES) and not wanted & set(HANDLING_ROLES):
            case_sharing.leave_organisation(
                session,
                clock,
                user_id,
                org_id=org_id,
                actor_user_id=actor_id,
                reason="role_removed",
            )
        session.flush()
        return True


def _apply_roles(
    session: Session, clock: Clock, org_id: int, user_id: int, added: set[Role], removed: set[Role]
) -> None:
    now = clock.now()
    for role in sorted(added):
        session.add(Membership(org_id=org_id, user_id=user_id, role=role.value, created_at=now))
    if removed:
        session.execute(
            delete(Membership).where(
                Membership.org_id == org_id,
                Membership.user_id == user_id,
                Membership.role.in_([r.value for r in removed]),
            )
        )
        # A lead's certification goes with the role: given back, it needs a lead again.
        certification.forget(session, org_id, user_id, removed)


def end_access(session: Session, clock: Clock, org_id: int, actor_id: int, user_id: int) -> str:
    """End ``user_id``'s access to ``org_id``, and commit: ``"deactivated"`` or ``"removed"``.

    When the administrator administers every organisation of the person, the account is
    deactivated (roles kept, so it can be reactivated) and every session of it ends.
    Otherwise the person's roles here are removed and the account stays for their other
    organisations. Either way the organisations keep an active administrator.
    """
    with unit_of_work(session):
        user = member(session, org_id, user_id)
        if user_id == actor_id:
            raise Refused("confirm", SELF_DEACTIVATE)
        roles = _roles_by_org(session, user_id)
        whole_account = governs(session, actor_id, user_id)
        affected = roles if whole_account else {org_id: roles.get(org_id, set())}
        for affected_org, held in affected.items():
            if (
                Role.ADMIN in held
                and user.is_active
                and not _other_active_admins(session, affected_org, user_id)
            ):
                raise Refused("confirm", LAST_ADMIN)
        if whole_account:
            _deactivate(session, clock, org_id, actor_id, user, affected)
            return "deactivated"
        _remove(session, clock, org_id, actor_id, user_id, roles.get(org_id, set()))
        return "removed"


def _deactivate(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    user: User,
    affected: dict[int, set[Role]],
) -> None:
    """The account can no longer sign in: its sessions end, it leaves every case it held and
    its certifications in ``affected`` go (its roles stay, for a reactivation)."""
    if not user.is_active:
        return
    user.is_active = False
    for affected_org in affected:
        certification.forget(session, affected_org, user.id)
    ended = _end_sessions(session, user.id)
    case_sharing.leave_organisation(
        session, clock, user.id, org_id=None, actor_user_id=actor_id, reason="deactivated"
    )
    audit.record(
        session,
        clock,
        action="user.deactivated",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"user": user.id, "sessions": ended},
    )
    session.flush()


def _remove(
    session: Session, clock: Clock, org_id: int, actor_id: int, user_id: int, held: set[Role]
) -> None:
    """The person's roles in ``org_id`` go, with their certification and their cases there."""
    session.execute(
        delete(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    certification.forget(session, org_id, user_id)
    case_sharing.leave_organisation(
        session, clock, user_id, org_id=org_id, actor_user_id=actor_id, reason="removed"
    )
    audit.record(
        session,
        clock,
        action="user.removed",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"user": user_id, "roles": _names(held)},
    )
    session.flush()


def reactivate(session: Session, clock: Clock, org_id: int, actor_id: int, user_id: int) -> bool:
    """Let a deactivated account sign in again with its roles, and commit; True when it
    changed."""
    with unit_of_work(session):
        user = member(session, org_id, user_id)
        if user.is_active:
            return False
        if not governs(session, actor_id, user_id):
            raise Refused("user", NOT_GOVERNED)
        user.is_active = True
        audit.record(
            session,
            clock,
            action="user.reactivated",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"user": user_id},
        )
        session.flush()
        return True


def reset_two_step(
    session: Session, clock: Clock, org_id: int, actor_id: int, user_id: int
) -> None:
    """Forget ``user_id``'s authenticator: at their next sign-in, after the password, they set
    up a new one (whistle/staff/auth.py, enrolment). Every session of theirs ends, in case the
    lost phone was not the only thing lost. Commits."""
    with unit_of_work(session):
        user = member(session, org_id, user_id)
        if user_id == actor_id:
            raise Refused("confirm", SELF_RESET)
        if not governs(session, actor_id, user_id):
            raise Refused("confirm", NOT_GOVERNED)
        user.totp_secret = None
        user.totp_confirmed_at = None
        user.totp_last_step = None
        ended = _end_sessions(session, user_id)
        audit.record(
            session,
            clock,
            action="user.two_step_reset",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"user": user_id, "sessions": ended},
        )
        session.flush()


def open_invitations(session: Session, clock: Clock, org_id: int) -> list[Invitation]:
    """The organisation's invitations not yet used and not expired, oldest first."""
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == org_id,
                Invitation.used_at.is_(None),
                Invitation.expires_at > clock.now(),
            )
            .order_by(Invitation.created_at)
        )
    )


def withdraw_invitation(
    session: Session, clock: Clock, org_id: int, actor_id: int, invitation_id: int
) -> None:
    """Make an unused invitation's link stop working (LookupError for another organisation's
    or an unknown one), and commit."""
    with unit_of_work(session):
        invitation = session.get(Invitation, invitation_id)
        if invitation is None or invitation.org_id != org_id:
            raise LookupError(invitation_id)
        if invitation.used_at is not None:
            return
        audit.record(
            session,
            clock,
            action="user.invitation_withdrawn",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"invitation": invitation.id},
        )
        session.delete(invitation)
        session.flush()
