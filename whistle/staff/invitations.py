"""Joining an organisation's staff: an admin's one-time invitation link.

Only a SHA-256 of the link's token is stored (256 random bits need no slow hash), the link
works once and for ``INVITATION_DAYS``, and inviting an address again retires its older
link. A new address becomes a user with a password (and a key pair when a role needs one); an
existing account gains the roles by giving its own password, counted like a sign-in failure
when wrong (whistle/staff/auth.py).
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
from whistle.core.throttle import seconds
from whistle.staff import sign_in_delay
from whistle.staff.auth import (
    KEY_ROLES,
    PasswordChecked,
    record_failure,
    unlock,
    wait_message,
)
from whistle.staff.passwords import (
    PasswordMatch,
    PasswordRejected,
    check_password_hash,
    check_policy,
    hash_password,
    rehash_password,
)

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
    invited_by: int,
) -> IssuedInvitation:
    """A one-time invitation link for ``email`` with ``roles`` in ``org``, and commit.

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


def accept_invitation(
    session: Session,
    clock: Clock,
    token: str,
    *,
    display_name: str,
    password: str,
    argon2: Argon2Params,
    throttle_key: bytes,
    address: str | None,
) -> PasswordChecked:
    """Join with the invitation. Commits.

    A new address becomes a user with this password (and a key pair when a role needs one);
    an address that already has an account must give that account's password, and gains the
    roles. The result leads to TOTP enrolment (new users) or the code step.
    """
    # The invitation page checks an existing account's password, so it counts like the
    # sign-in page (whistle/staff/sign_in_delay.py): it must not become a way round it.
    email = find_invitation(session, clock, token).email
    wait = sign_in_delay.begin(session, throttle_key, email, address, seconds(clock.now()))
    if wait:
        raise Refused("password", wait_message(wait, clock.now()))
    with unit_of_work(session):
        invitation = find_invitation(session, clock, token)
        organisation = session.get(Organisation, invitation.org_id)
        roles = invitation_roles(invitation)
        now = clock.now()
        user = session.scalar(select(User).where(User.email == invitation.email))
        if user is None:
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
                created_at=now,
            )
            session.add(user)
            session.flush()
        else:
            if not user.is_active:
                raise InvitationUnavailable
            match = check_password_hash(user.password_hash, password)
            if match is PasswordMatch.RIGHT_REHASH:
                user.password_hash = rehash_password(user.password_hash, password, argon2)
            if match is PasswordMatch.WRONG:
                record_failure(session, clock, user, "invitation")
                raise Refused("password", _l("This is not the password of your account."))
        held = set(
            session.scalars(
                select(Membership.role).where(
                    Membership.org_id == invitation.org_id, Membership.user_id == user.id
                )
            )
        )
        for role in roles:
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
        private = None
        if user.wrapped_private_key is None and set(roles) & KEY_ROLES:
            # An existing account (an admin, say) becomes a handler: its key pair is made now,
            # from the password just given.
            private = PrivateKey.generate()
            user.public_key = private.public_key().to_bytes()
            user.wrapped_private_key = wrap_private_key(private, password, argon2)
    sign_in_delay.password_right(session, throttle_key, email, address, seconds(clock.now()))
    if private is not None:
        return PasswordChecked(user=user, private_key=private)
    return unlock(session, clock, user.email, password, argon2=argon2)
