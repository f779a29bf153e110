"""First run: a one-time setup token lets the first person create the organisation and admin,
who is also the deployment's operator (whistle/operators/).

Only a SHA-256 of the token is stored (the token has 256 bits of entropy, so a slow hash adds
nothing). Issuing a new token retires every unused older one, so a link printed earlier and
left in a terminal's scroll-back stops working. Once setup is complete no token is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crypto import Argon2Params
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Membership, Organisation, Role, SetupToken, User
from whistle.core.org_keys import create_org_keys
from whistle.core.organisations import create_organisation
from whistle.core.refusals import Refused
from whistle.core.trust import pin_organisation
from whistle.staff.passwords import PasswordRejected, check_policy, hash_password


class SetupUnavailable(Exception):
    """No valid token, or setup is already complete."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def setup_complete(session: Session) -> bool:
    """Setup is complete once an organisation and an admin exist."""
    return bool(
        session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == "admin")
        )
    )


def issue_token(session: Session, clock: Clock) -> str:
    """A fresh one-time token; unused older tokens stop working. Commits."""
    with unit_of_work(session):
        if setup_complete(session):
            raise SetupUnavailable
        session.execute(delete(SetupToken).where(SetupToken.used_at.is_(None)))
        token = secrets.token_urlsafe(32)
        session.add(SetupToken(token_hash=_digest(token), created_at=clock.now()))
    return token


def check_token(session: Session, token: str) -> SetupToken:
    """The stored token matching ``token``; :class:`SetupUnavailable` otherwise."""
    if setup_complete(session) or not 20 <= len(token) <= 100:
        raise SetupUnavailable
    digest = _digest(token)
    row = session.scalar(select(SetupToken).where(SetupToken.used_at.is_(None)))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise SetupUnavailable
    return row


@dataclass(frozen=True)
class SetupRequest:
    org_name: str
    org_slug: str
    admin_name: str
    admin_email: str
    password: str
    locale: str = "da"


@dataclass(frozen=True, repr=False)
class SetupResult:
    organisation: Organisation
    admin: User
    recovery_key_text: str  # SECRET: shown once, never stored

    def __repr__(self) -> str:
        return f"SetupResult(organisation={self.organisation.slug!r})"


def complete_setup(
    session: Session,
    clock: Clock,
    token: str,
    request: SetupRequest,
    *,
    instance_key: bytes,
    argon2: Argon2Params,
) -> SetupResult:
    """Create the first organisation (with its signing and recovery keys) and its admin, and
    use up the token. Commits."""
    with unit_of_work(session):
        row = check_token(session, token)
        email = request.admin_email.strip().lower()
        name = request.admin_name.strip()
        if not 1 <= len(name) <= 200:
            raise Refused("admin_name", _l("Give your name."))
        try:
            check_policy(request.password, email=email, name=name, organisation=request.org_name)
        except PasswordRejected as exc:
            raise Refused("password", exc.message) from None

        try:
            org = create_organisation(
                session,
                clock,
                name=request.org_name,
                slug=request.org_slug,
                default_locale=request.locale,
            )
        except Refused as exc:
            # The organisation's fields are the setup form's org_name and org_slug.
            raise Refused(f"org_{exc.field}", exc.message) from None
        admin = User(
            email=email,
            display_name=name,
            password_hash=hash_password(request.password, argon2),
            is_active=True,
            # The person who sets the deployment up runs it: they may add organisations
            # (whistle/operators/), which reads no case of any of them.
            is_operator=True,
            created_at=clock.now(),
        )
        session.add(admin)
        session.flush()
        session.add(
            Membership(org_id=org.id, user_id=admin.id, role=Role.ADMIN, created_at=clock.now())
        )
        recovery_text = create_org_keys(session, clock, org, instance_key)
        row.used_at = clock.now()
    # Pinned once the keys are stored: the trust anchors outside the database
    # (whistle/core/key_pins.py). Until pinned the organisation takes no report; `whistle keys pin`
    # pins it if writing the file failed here.
    pin_organisation(session, org)
    return SetupResult(organisation=org, admin=admin, recovery_key_text=recovery_text)
