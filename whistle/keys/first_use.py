"""Trust on first use, said plainly, in the two places it happens.

- **The first unit lead of a new organisation** to sign in is certified by the server itself,
  with a copy of the certification key kept under the instance key only until then
  (:func:`trust_first_lead`); the pin file records that it happened, so it never happens
  again.
- **At the upgrade that introduced certification**, the keys that existed were certified the
  same way and the organisation keys pinned (:func:`upgrade_trust`).

Every other certification is a lead's or the recovery key's (whistle/keys/certification.py),
whose signing steps this module uses.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import OpenError, PrivateKey, decrypt_field
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import certification_bootstrap_context
from whistle.core.db import unit_of_work
from whistle.core.key_pins import pins_of
from whistle.core.models import (
    CertificationKeyCopy,
    KeyPurpose,
    Membership,
    Organisation,
    Role,
    User,
)
from whistle.core.org_keys import create_certification_key, current_key, recovery_public_key
from whistle.core.trust import (
    CERTIFIED_ROLES,
    KeysNotTrusted,
    _pins,
    pin_organisation,
    trusted_certification_key,
)
from whistle.keys.certification import give_copy, key_roles, sign_for, unlock_signing_key

# --- The first lead of a new organisation ------------------------------------------------------


def trust_first_lead(
    session: Session,
    clock: Clock,
    user: User,
    private_key: PrivateKey | None,
    *,
    instance_key: bytes,
) -> list[int]:
    """Trust on first use: certify ``user`` as the first unit lead of every organisation that
    has none yet, with the certification key's bootstrap copy, and commit when it certified
    anyone; returns those organisations' ids.

    Only while the pin file says the organisation's first lead is still to come, and only with
    the signed-in lead's own private key matching their public key. The pin file is marked
    first (a restored database copy can never make the server do this again), then the
    bootstrap copy is destroyed and the lead gets a copy sealed to their own key.
    """
    if private_key is None or user.public_key is None or not user.is_active:
        return []
    if private_key.public_key().to_bytes() != user.public_key:
        return []
    trusted: list[int] = []
    with unit_of_work(session):
        lead_of = session.scalars(
            select(Membership.org_id).where(
                Membership.user_id == user.id, Membership.role == Role.LEAD.value
            )
        ).all()
        for org_id in lead_of:
            if _trust_first_lead_of(session, clock, int(org_id), user, instance_key=instance_key):
                trusted.append(int(org_id))
    return trusted


def _trust_first_lead_of(
    session: Session, clock: Clock, org_id: int, user: User, *, instance_key: bytes
) -> bool:
    """Certify ``user`` as ``org_id``'s first lead, if its pins and bootstrap copy allow it;
    whether it did."""
    try:
        pins = _pins(session, org_id)
        row, anchor = trusted_certification_key(session, org_id)
    except KeysNotTrusted:
        return False
    if pins.first_lead_trusted:
        return False
    bootstrap = session.scalar(
        select(CertificationKeyCopy).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "bootstrap",
        )
    )
    if bootstrap is None:
        return False
    try:
        wrapping = decrypt_field(
            instance_key,
            bootstrap.sealed,
            context=certification_bootstrap_context(org_id, row.id),
        )
        signing = unlock_signing_key(row, anchor, wrapping)
    except OpenError:
        return False
    if not pins_of(session).mark_first_lead_trusted(org_id):
        return False
    for role in sorted(key_roles(session, org_id, user)):
        sign_for(session, clock, org_id, signing, user, role, None)
    give_copy(session, row, wrapping, user)
    session.delete(bootstrap)
    audit.record(
        session,
        clock,
        action="key.first_lead_trusted",
        org_id=org_id,
        actor_user_id=user.id,
        detail={"user": user.id},
    )
    return True


# --- The upgrade step ------------------------------------------------------------------------


def upgrade_trust(session: Session, clock: Clock, *, instance_key: bytes) -> list[str]:
    """Bring every organisation under certification and pinning, and commit; returns what
    it did (lines naming organisations and fingerprints, never secrets). Idempotent.

    For an organisation without a certification key (one from before this step existed), it
    makes one and certifies every active staff key that exists now: trust on first use at the
    upgrade, so nothing stops working. Existing leads get the certification key sealed to them;
    without any, the bootstrap copy waits for the first lead. Then it pins the organisation's
    keys, if the installation had no pin file yet. Later, an organisation without pins (its
    creation failed to write them) is only named: the operator checks its fingerprints and
    runs ``whistle keys pin``, so a row an intruder added is never pinned by itself.
    """
    store = pins_of(session)
    first_pinning = not store.exists()
    said: list[str] = []
    # Committed before pinning: pins of keys that a failed commit never stored would lock
    # the organisation out for good.
    with unit_of_work(session):
        orgs = session.scalars(select(Organisation).order_by(Organisation.id)).all()
        keyed = [o for o in orgs if current_key(session, o.id, KeyPurpose.RECOVERY) is not None]
        for org in keyed:
            if current_key(session, org.id, KeyPurpose.CERTIFICATION) is None:
                said.append(_certify_existing(session, clock, org, instance_key=instance_key))
    for org in keyed:
        if store.get(org.id) is not None:
            continue
        if not first_pinning:
            said.append(
                f"NOT PINNED {org.slug}: check its key fingerprints, then run "
                f"`whistle keys pin {org.slug}`"
            )
            continue
        pin_organisation(session, org)
        if not _has_bootstrap_copy(session, org.id):
            # Its leads were certified above: nobody is ever trusted on first use again.
            store.mark_first_lead_trusted(org.id)
        pins = store.get(org.id)
        assert pins is not None
        said.append(
            f"pinned {org.slug}: recovery {pins.recovery}, signing {pins.signing}, "
            f"certification {pins.certification}"
        )
    return said


def _has_bootstrap_copy(session: Session, org_id: int) -> bool:
    return (
        session.scalar(
            select(CertificationKeyCopy.id).where(
                CertificationKeyCopy.org_id == org_id,
                CertificationKeyCopy.recipient == "bootstrap",
            )
        )
        is not None
    )


def _certify_existing(
    session: Session, clock: Clock, org: Organisation, *, instance_key: bytes
) -> str:
    holders = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.org_id == org.id,
            Membership.role.in_([r.value for r in CERTIFIED_ROLES]),
            User.is_active.is_(True),
            User.public_key.is_not(None),
        )
        .distinct()
        .order_by(User.id)
    ).all()
    leads = [u for u in holders if Role.LEAD.value in key_roles(session, org.id, u)]
    row, signing, wrapping = create_certification_key(
        session,
        clock,
        org.id,
        recovery_public_key(session, org.id),
        bootstrap_key=None if leads else instance_key,
    )
    count = 0
    for user in holders:
        for role in sorted(key_roles(session, org.id, user)):
            sign_for(session, clock, org.id, signing, user, role, None)
            count += 1
    for lead in leads:
        give_copy(session, row, wrapping, lead)
    audit.record(
        session,
        clock,
        action="key.certified_at_upgrade",
        org_id=org.id,
        detail={"keys": len(holders), "certifications": count, "leads": len(leads)},
    )
    session.flush()
    return f"certified {len(holders)} existing keys of {org.slug} (trust on first use)"
