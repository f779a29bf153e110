"""Obviously fake organisations and staff for tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from crypto import Argon2Params, PrivateKey, wrap_private_key
from whistle.core import trust
from whistle.core.clock import Clock
from whistle.core.models import Membership, Organisation, Role, User
from whistle.core.org_keys import create_org_keys
from whistle.core.organisations import create_organisation
from whistle.keys import certification, first_use
from whistle.staff import totp
from whistle.staff.passwords import hash_password

TEST_PASSWORD = "test-password-not-secret"


@dataclass
class Staff:
    user: User
    private_key: PrivateKey | None
    # The authenticator app's secret (None: not enrolled yet, as right after setup).
    totp_secret: bytes | None = None


@dataclass
class Unit:
    org: Organisation
    recovery_key_text: str
    handlers: list[Staff]
    admin: Staff


def add_staff(
    session: Session,
    clock: Clock,
    org: Organisation,
    name: str,
    roles: list[Role],
    *,
    instance_key: bytes | None = None,
    acknowledged: bool = True,
) -> Staff:
    """A staff member with the test password; enrolled in TOTP when ``instance_key`` is
    given, and past the confidentiality undertaking unless ``acknowledged`` is False."""
    params = Argon2Params.for_tests()
    holds_keys = any(r in (Role.HANDLER, Role.LEAD, Role.COUNSEL) for r in roles)
    private = PrivateKey.generate() if holds_keys else None
    user = User(
        email=f"{name.lower().replace(' ', '.')}.{org.slug}@example.org",
        display_name=name,
        password_hash=hash_password(TEST_PASSWORD, params),
        public_key=private.public_key().to_bytes() if private else None,
        wrapped_private_key=wrap_private_key(private, TEST_PASSWORD, params) if private else None,
        is_active=True,
        created_at=clock.now(),
        confidentiality_ack_at=clock.now() if acknowledged else None,
    )
    session.add(user)
    session.flush()
    secret = None
    if instance_key is not None:
        secret = totp.new_secret()
        user.totp_secret = totp.seal_secret(secret, instance_key, user.id)
        user.totp_confirmed_at = clock.now()
    for role in roles:
        session.add(Membership(org_id=org.id, user_id=user.id, role=role, created_at=clock.now()))
    session.flush()
    return Staff(user=user, private_key=private, totp_secret=secret)


def make_unit(
    session: Session,
    clock: Clock,
    instance_key: bytes,
    *,
    slug: str = "testfirma",
    certified: bool = True,
) -> Unit:
    """An organisation with two handlers, a lead and an admin (who holds no key).

    Its keys are pinned; unless ``certified`` is False (tests of the audit log itself, which
    need it empty), the lead is trusted on first use and certifies the handlers' keys."""
    org = create_organisation(session, clock, name=f"Testfirma {slug} ApS", slug=slug)
    recovery = create_org_keys(session, clock, org, instance_key)
    handlers = [
        add_staff(session, clock, org, "Hanne Handler", [Role.HANDLER], instance_key=instance_key),
        add_staff(session, clock, org, "Henrik Handler", [Role.HANDLER], instance_key=instance_key),
        add_staff(
            session, clock, org, "Lise Lead", [Role.LEAD, Role.HANDLER], instance_key=instance_key
        ),
    ]
    admin = add_staff(session, clock, org, "Adam Admin", [Role.ADMIN], instance_key=instance_key)
    session.commit()
    # As in a real organisation: its keys are pinned in the instance folder, its first unit
    # lead is trusted on first use, and the lead certifies the handlers' keys.
    trust.pin_organisation(session, org)
    unit = Unit(org=org, recovery_key_text=recovery, handlers=handlers, admin=admin)
    if not certified:
        return unit
    lead = handlers[2]
    assert first_use.trust_first_lead(
        session, clock, lead.user, lead.private_key, instance_key=instance_key
    ) == [org.id]
    for handler in handlers[:2]:
        certify(session, clock, unit, handler)
    return unit


def certify(session: Session, clock: Clock, unit: Unit, staff: Staff) -> None:
    """The unit's lead (Lise) certifies ``staff``'s key for the key roles they hold, having
    compared fingerprints."""
    lead = unit.handlers[2]
    certification.certify(
        session, clock, unit.org.id, lead.user, lead.private_key, staff.user.id, compared=True
    )
