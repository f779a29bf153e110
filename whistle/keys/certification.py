"""Keys you can trust: unit leads certify staff keys, and organisation keys are pinned.

The threat: someone with write access to the database alone replaces a handler's public key,
or the organisation's recovery key, with one they hold, and every new case is sealed to them.
So a key is sealed to only when:

- **a staff key** (handler, lead, counsel) carries a *certification*: an Ed25519 signature,
  by the organisation's certification key, over a statement binding the organisation, the
  user, the role and the SHA-256 of the public key (:func:`whistle.core.trust.statement`).
  The certification key's private half is stored only encrypted under a wrapping key that
  is sealed to each certified lead's public key and to the recovery key
  (whistle/core/org_keys.py): to certify, a lead opens it with their own private key, which
  only their password unlocks. A key that changes no longer matches its certification; a role
  that goes takes its certification along (:func:`forget`).
- **the organisation's keys** match the fingerprints pinned in the instance folder
  (whistle/core/key_pins.py): the recovery key (sealed to at every intake) and the certification
  verify key (which every certification is checked against). A mismatch refuses intake.

Bootstrap, trust on first use, said plainly: the first unit lead of a new organisation to
sign in is certified by the server itself, with a copy of the certification key kept under
the instance key only until then (:func:`trust_first_lead`); the pin file records that it
happened, so it never happens again. At the upgrade that introduced certification, the keys
that existed were certified the same way (:func:`upgrade_trust`).

This module signs (certify, the first lead, forget); checking a key against its certification
and the organisation's keys against the pins is :mod:`whistle.core.trust`, which case access
(:func:`whistle.casefile.access.certified_members`) and intake ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    OpenError,
    PrivateKey,
    PublicKey,
    SignaturePurpose,
    SigningKey,
    VerifyKey,
    decrypt_field,
    open_case_key,
    sign,
)
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import (
    certification_bootstrap_context,
    certification_copy_context,
    certification_signing_context,
)
from whistle.core.key_pins import pins_of
from whistle.core.models import (
    CertificationKeyCopy,
    KeyCertification,
    KeyPurpose,
    Membership,
    Organisation,
    OrgKey,
    Role,
    User,
)
from whistle.core.org_keys import (
    create_certification_key,
    current_key,
    recovery_public_key,
    seal_certification_copy,
)
from whistle.core.refusals import Refused
from whistle.core.trust import (
    CERTIFIED_ROLES,
    KeysNotTrusted,
    OrgKeyFingerprint,
    _held_roles,
    _pins,
    certified_roles,
    key_digest,
    organisation_fingerprints,
    pin_organisation,
    statement,
    trusted_certification_key,
    trusted_recovery_key,
)

# --- Trust anchors ---------------------------------------------------------------------------


# --- Who is certified ------------------------------------------------------------------------


# --- Certifying --------------------------------------------------------------------------------


def _sign_for(
    session: Session,
    clock: Clock,
    org_id: int,
    signing: SigningKey,
    user: User,
    role: str,
    certified_by: int | None,
) -> None:
    assert user.public_key is not None
    digest = key_digest(user.public_key)
    message = statement(org_id, user.id, role, digest)
    session.execute(
        delete(KeyCertification).where(
            KeyCertification.org_id == org_id,
            KeyCertification.user_id == user.id,
            KeyCertification.role == role,
        )
    )
    session.add(
        KeyCertification(
            org_id=org_id,
            user_id=user.id,
            role=role,
            key_sha256=digest,
            statement=message,
            signature=sign(signing, message, purpose=SignaturePurpose.KEY_CERTIFICATION),
            certified_by=certified_by,
            created_at=clock.now(),
        )
    )


def _give_copy(session: Session, row: OrgKey, wrapping: bytes, user: User) -> None:
    """Seal the certification key to a (just certified) lead."""
    assert user.public_key is not None
    session.execute(
        delete(CertificationKeyCopy).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "user",
            CertificationKeyCopy.user_id == user.id,
        )
    )
    session.add(
        CertificationKeyCopy(
            org_id=row.org_id,
            org_key_id=row.id,
            recipient="user",
            user_id=user.id,
            sealed=seal_certification_copy(PublicKey.from_bytes(user.public_key), wrapping, row),
        )
    )


def _unlock(row: OrgKey, anchor: VerifyKey, wrapping: bytes) -> SigningKey:
    assert row.sealed_private_key is not None
    signing = SigningKey.from_bytes(
        decrypt_field(
            wrapping,
            row.sealed_private_key,
            context=certification_signing_context(row.org_id, row.id),
        )
    )
    if signing.verify_key() != anchor:
        raise OpenError("certification key does not match its verify key")
    return signing


def _key_roles(session: Session, org_id: int, user: User) -> set[str]:
    return _held_roles(session, org_id, [user.id]).get(user.id, set()) & {
        r.value for r in CERTIFIED_ROLES
    }


NOT_A_LEAD = _l(
    "Only a unit lead whose own key is certified, and who holds the certification key, can "
    "certify keys."
)


def certify(
    session: Session,
    clock: Clock,
    org_id: int,
    lead: User,
    lead_key: PrivateKey | None,
    user_id: int,
    *,
    compared: bool,
) -> list[str]:
    """A unit lead certifies ``user_id``'s key for every key role they hold in ``org_id`` and
    that is not yet certified; returns those roles. Commits.

    The lead opens the certification key with their own private key (so the server cannot do
    this alone) and must confirm having compared the fingerprint with the one the person sees
    on their own page. A lead never certifies their own key; a person made a unit lead gets a
    copy of the certification key sealed to them.
    """
    if not compared:
        raise Refused(
            "compared",
            _l(
                "Confirm that you compared the fingerprint with the one this person sees on "
                "their own Keys page, by phone or in person."
            ),
        )
    if user_id == lead.id:
        raise Refused("user", _l("Another unit lead must certify your own key."))
    row, anchor = trusted_certification_key(session, org_id)
    if lead_key is None or Role.LEAD.value not in certified_roles(
        session, org_id, [lead], anchor=anchor
    ).get(lead.id, set()):
        raise Refused("user", NOT_A_LEAD)
    copy = session.scalar(
        select(CertificationKeyCopy.sealed).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "user",
            CertificationKeyCopy.user_id == lead.id,
        )
    )
    if copy is None:
        raise Refused("user", NOT_A_LEAD)
    try:
        wrapping = open_case_key(
            lead_key,
            copy,
            case_id=certification_copy_context(org_id, row.id),
            kind=KeyKind.CONTENT,
        )
        signing = _unlock(row, anchor, wrapping)
    except OpenError:
        raise Refused("user", NOT_A_LEAD) from None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.public_key is None:
        raise Refused("user", _l("This person has no key to certify."))
    held = _key_roles(session, org_id, user)
    done = certified_roles(session, org_id, [user], anchor=anchor)[user.id]
    pending = sorted(held - done)
    if not pending:
        raise Refused("user", _l("This person has no key awaiting certification."))
    for role in pending:
        _sign_for(session, clock, org_id, signing, user, role, lead.id)
    if Role.LEAD.value in pending:
        _give_copy(session, row, wrapping, user)
    audit.record(
        session,
        clock,
        action="key.certified",
        org_id=org_id,
        actor_user_id=lead.id,
        detail={"user": user.id, "roles": ":".join(pending)},
    )
    session.commit()
    return pending


def certify_with_recovery(
    session: Session, clock: Clock, org_id: int, recovery_key: PrivateKey, user: User
) -> list[str]:
    """The offline procedure when no certified lead is left: the holder of the recovery key
    certifies ``user``'s key for every key role they hold (a lead also gets the certification
    key). Returns those roles. Commits. The operator must first compare the fingerprint with
    the person, as a lead would (docs/leads.md)."""
    row, anchor = trusted_certification_key(session, org_id)
    if recovery_key.public_key() != trusted_recovery_key(session, org_id):
        raise Refused("recovery", _l("This is not the organisation's recovery key."))
    copy = session.scalar(
        select(CertificationKeyCopy.sealed).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "recovery",
        )
    )
    if copy is None:
        raise Refused("recovery", _l("The certification key has no recovery copy."))
    try:
        wrapping = open_case_key(
            recovery_key,
            copy,
            case_id=certification_copy_context(org_id, row.id),
            kind=KeyKind.CONTENT,
        )
        signing = _unlock(row, anchor, wrapping)
    except OpenError:
        raise Refused("recovery", _l("The certification key does not open.")) from None
    if not user.is_active or user.public_key is None:
        raise Refused("user", _l("This person has no key to certify."))
    roles = sorted(_key_roles(session, org_id, user))
    if not roles:
        raise Refused("user", _l("This person has no key role here."))
    for role in roles:
        _sign_for(session, clock, org_id, signing, user, role, None)
    if Role.LEAD.value in roles:
        _give_copy(session, row, wrapping, user)
    audit.record(
        session,
        clock,
        action="key.certified_with_recovery",
        org_id=org_id,
        detail={"user": user.id, "roles": ":".join(roles)},
    )
    session.commit()
    return roles


def trust_first_lead(
    session: Session,
    clock: Clock,
    user: User,
    private_key: PrivateKey | None,
    *,
    instance_key: bytes,
) -> list[int]:
    """Trust on first use: certify ``user`` as the first unit lead of every organisation that
    has none yet, with the certification key's bootstrap copy; returns those organisations'
    ids. Commits when it certified anyone.

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
    lead_of = session.scalars(
        select(Membership.org_id).where(
            Membership.user_id == user.id, Membership.role == Role.LEAD.value
        )
    ).all()
    for org_id in lead_of:
        try:
            pins = _pins(session, org_id)
            row, anchor = trusted_certification_key(session, org_id)
        except KeysNotTrusted:
            continue
        if pins.first_lead_trusted:
            continue
        bootstrap = session.scalar(
            select(CertificationKeyCopy).where(
                CertificationKeyCopy.org_key_id == row.id,
                CertificationKeyCopy.recipient == "bootstrap",
            )
        )
        if bootstrap is None:
            continue
        try:
            wrapping = decrypt_field(
                instance_key,
                bootstrap.sealed,
                context=certification_bootstrap_context(org_id, row.id),
            )
            signing = _unlock(row, anchor, wrapping)
        except OpenError:
            continue
        if not pins_of(session).mark_first_lead_trusted(org_id):
            continue
        for role in sorted(_key_roles(session, org_id, user)):
            _sign_for(session, clock, org_id, signing, user, role, None)
        _give_copy(session, row, wrapping, user)
        session.delete(bootstrap)
        audit.record(
            session,
            clock,
            action="key.first_lead_trusted",
            org_id=org_id,
            actor_user_id=user.id,
            detail={"user": user.id},
        )
        trusted.append(int(org_id))
    if trusted:
        session.commit()
    return trusted


def forget(
    session: Session, org_id: int, user_id: int, roles: Iterable[Role | str] | None = None
) -> None:
    """Certifications go with the roles: drop ``user_id``'s certifications for ``roles`` (all
    when None) in ``org_id``, and their copy of the certification key when the lead role
    goes. Flushes, never commits. Called when roles are removed and when someone leaves."""
    names = None if roles is None else {Role(r).value for r in roles}
    query = delete(KeyCertification).where(
        KeyCertification.org_id == org_id, KeyCertification.user_id == user_id
    )
    if names is not None:
        query = query.where(KeyCertification.role.in_(sorted(names)))
    session.execute(query)
    if names is None or Role.LEAD.value in names:
        session.execute(
            delete(CertificationKeyCopy).where(
                CertificationKeyCopy.org_id == org_id,
                CertificationKeyCopy.recipient == "user",
                CertificationKeyCopy.user_id == user_id,
            )
        )
    session.flush()


# --- What the pages show ---------------------------------------------------------------------


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


# --- The upgrade step ------------------------------------------------------------------------


def upgrade_trust(session: Session, clock: Clock, *, instance_key: bytes) -> list[str]:
    """Bring every organisation under certification and pinning; returns what it did (lines
    naming organisations and fingerprints, never secrets). Idempotent; commits.

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
    orgs = session.scalars(select(Organisation).order_by(Organisation.id)).all()
    keyed = [o for o in orgs if current_key(session, o.id, KeyPurpose.RECOVERY) is not None]
    for org in keyed:
        if current_key(session, org.id, KeyPurpose.CERTIFICATION) is None:
            said.append(_certify_existing(session, clock, org, instance_key=instance_key))
    # Committed before pinning: pins of keys that a failed commit never stored would lock
    # the organisation out for good.
    session.commit()
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
    leads = [u for u in holders if Role.LEAD.value in _key_roles(session, org.id, u)]
    row, signing, wrapping = create_certification_key(
        session,
        clock,
        org.id,
        recovery_public_key(session, org.id),
        bootstrap_key=None if leads else instance_key,
    )
    count = 0
    for user in holders:
        for role in sorted(_key_roles(session, org.id, user)):
            _sign_for(session, clock, org.id, signing, user, role, None)
            count += 1
    for lead in leads:
        _give_copy(session, row, wrapping, lead)
    audit.record(
        session,
        clock,
        action="key.certified_at_upgrade",
        org_id=org.id,
        detail={"keys": len(holders), "certifications": count, "leads": len(leads)},
    )
    session.flush()
    return f"certified {len(holders)} existing keys of {org.slug} (trust on first use)"
