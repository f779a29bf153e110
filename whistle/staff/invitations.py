"""Joining an organisation's staff: an admin's one-time invitation link.

Only a SHA-256 of the link's token is stored (256 random bits need no slow hash), the link
works once and for ``INVITATION_DAYS``, and inviting an address again retires its older
link. The token travels in the link's fragment (``/staff/invitation#...``), which a browser
never sends, and reaches the server only in a form's body: no access log, proxy log or
Referer carries it (whistle/staff/views/invitations.py).

One account serves every organisation a person works for (DESIGN.md, "Organisations"). An
administrator of one organisation must learn nothing about the accounts of another, so
inviting answers the same whether the address has an account elsewhere or not, and the
invitation page looks the same too. A new address becomes a user with the password chosen on
that page (and a key pair when a role needs one). An address that already has an account
joins from that account: signed in as usual (password and code), the person finds the
invitation on their start page (:func:`waiting_for`, :func:`join_with_account`), so the link
never checks, and so never reveals, anyone's password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import Argon2Params, PrivateKey, wrap_private_key
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Invitation, Membership, Organisation, Role, User
from whistle.core.refusals import Refused
from whistle.staff.auth import KEY_ROLES, PasswordChecked, unlock
from whistle.staff.passwords import PasswordRejected, check_policy, hash_password

INVITATION_DAYS = 7


class InvitationUnavailable(Exception):
    """The invitation link is unknown, used, revoked or expired."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True, repr=False)
class IssuedInvitation:
    invitation: Invitation
    token: str  # SECRET: goes into the link, only its hash is stored

    def __repr__(self) -> str:
        return f"IssuedInvitation(id={self.invitation.id})"


def invite(
    session: Session,
    clock: Clock,
    org: Organisation,
    *,
    email: str,
    roles: Iterable[Role],
    invited_by: int | None,
) -> IssuedInvitation:
    """A one-time invitation link for ``email`` with ``roles`` in ``org``, and commit.
    ``invited_by`` is None for the deployment's ``whistle org`` commands.

    An earlier unused invitation of the same address to the same organisation stops working.
    """
    with unit_of_work(session):
        wanted = sorted({Role(r) for r in roles})
        if not wanted:
            raise Refused("roles", _l("Choose at least one role."))
        address = email.strip().lower()
        existing_roles = set(
            session.scalars(
                select(Membership.role)
                .join(User, User.id == Membership.user_id)
                .where(Membership.org_id == org.id, User.email == address)
            )
        )
        if existing_roles and set(wanted) <= {Role(r) for r in existing_roles}:
            raise Refused("email", _l("This person already has these roles here."))
        now = clock.now()
        session.execute(
            delete(Invitation).where(
                Invitation.org_id == org.id,
                Invitation.email == address,
                Invitation.used_at.is_(None),
            )
        )
        token = secrets.token_urlsafe(32)
        invitation = Invitation(
            org_id=org.id,
            email=address,
            roles=",".join(r.value for r in wanted),
            token_hash=_digest(token),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        session.add(invitation)
        session.flush()
        audit.record(
            session,
            clock,
            action="user.invited",
            org_id=org.id,
            actor_user_id=invited_by,
            detail={"invitation": invitation.id, "roles": ":".join(r.value for r in wanted)},
        )
        return IssuedInvitation(invitation, token)


def find_invitation(session: Session, clock: Clock, token: str) -> Invitation:
    """The open invitation behind ``token``; :class:`InvitationUnavailable` otherwise."""
    if not 20 <= len(token) <= 100:
        raise InvitationUnavailable
    row = session.scalar(select(Invitation).where(Invitation.token_hash == _digest(token)))
    if (
        row is None
        or row.used_at is not None
        or row.expires_at <= clock.now()
        or not hmac.compare_digest(row.token_hash, _digest(token))
    ):
        raise InvitationUnavailable
    return row


def invitation_roles(invitation: Invitation) -> list[Role]:
    return [Role(r) for r in invitation.roles.split(",") if r]


HAS_ACCOUNT = _l(
    "This address already has an account on this service. Sign in with it as usual: the "
    "invitation waits for you on your start page."
)


def accept_invitation(
    session: Session,
    clock: Clock,
    token: str,
    *,
    display_name: str,
    password: str,
    argon2: Argon2Params,
) -> PasswordChecked:
    """Join with the invitation as a new user, with this name and password (and a key pair
    when a role needs one). Commits; the result leads to TOTP enrolment.

    An address that already has an account is refused (:data:`HAS_ACCOUNT`): it joins from
    that account (:func:`join_with_account`), and no password of it is checked here.
    """
    with unit_of_work(session):
        invitation = find_invitation(session, clock, token)
        organisation = session.get(Organisation, invitation.org_id)
        roles = invitation_roles(invitation)
        if session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
            raise Refused("password", HAS_ACCOUNT)
        name = display_name.strip()
        if not 1 <= len(name) <= 200:
            raise Refused("display_name", _l("Give your name."))
        try:
            check_policy(
                password,
                email=invitation.email,
                name=name,
                organisation=organisation.name if organisation else "",
            )
        except PasswordRejected as exc:
            raise Refused("password", exc.message) from None
        private_key = PrivateKey.generate() if set(roles) & KEY_ROLES else None
        user = User(
            email=invitation.email,
            display_name=name,
            password_hash=hash_password(password, argon2),
            public_key=private_key.public_key().to_bytes() if private_key else None,
            wrapped_private_key=(
                wrap_private_key(private_key, password, argon2) if private_key else None
            ),
            is_active=True,
            created_at=clock.now(),
        )
        session.add(user)
        session.flush()
        _join(session, clock, invitation, user)
    return unlock(session, clock, user.email, password, argon2=argon2)


def _join(session: Session, clock: Clock, invitation: Invitation, user: User) -> None:
    """Give ``user`` the invitation's roles, use the invitation up, audit it."""
    now = clock.now()
    held = set(
        session.scalars(
            select(Membership.role).where(
                Membership.org_id == invitation.org_id, Membership.user_id == user.id
            )
        )
    )
    for role in invitation_roles(invitation):
        if role.value not in held:
            session.add(
                Membership(org_id=invitation.org_id, user_id=user.id, role=role, created_at=now)
            )
    invitation.used_at = now
    audit.record(
        session,
        clock,
        action="user.invitation_accepted",
        org_id=invitation.org_id,
        actor_user_id=user.id,
        detail={"invitation": invitation.id},
    )
    session.flush()


def waiting_for(session: Session, clock: Clock, user: User) -> list[tuple[Invitation, str]]:
    """The open invitations to ``user``'s own address, with each organisation's name, oldest
    first: what their start page offers to accept."""
    rows = session.execute(
        select(Invitation, Organisation.name)
        .join(Organisation, Organisation.id == Invitation.org_id)
        .where(
            Invitation.email == user.email,
            Invitation.used_at.is_(None),
            Invitation.expires_at > clock.now(),
            Organisation.is_active.is_(True),
        )
        .order_by(Invitation.created_at, Invitation.id)
    ).all()
    return [(invitation, str(name)) for invitation, name in rows]


def join_with_account(session: Session, clock: Clock, user_id: int, invitation_id: int) -> bool:
    """The signed-in user ``user_id`` accepts an open invitation to their own address. Commits.

    :class:`InvitationUnavailable` for an invitation to another address, or one used, withdrawn
    or expired. Returns True when a role now needs a key pair the account does not have yet
    (an administrator becoming a handler): it is made from the password at the next sign-in
    (whistle/staff/auth.py), so the person signs in again.
    """
    with unit_of_work(session):
        user = session.get(User, user_id)
        invitation = session.get(Invitation, invitation_id)
        if (
            user is None
            or invitation is None
            or invitation.email != user.email
            or invitation.used_at is not None
            or invitation.expires_at <= clock.now()
            or not user.is_active
        ):
            raise InvitationUnavailable
        _join(session, clock, invitation, user)
        return bool(set(invitation_roles(invitation)) & KEY_ROLES) and (
            user.wrapped_private_key is None
        )
