"""Certifying staff keys: a unit lead (or, offline, the recovery key) signs that a key is a
person's, and certifications go with the roles.

The threat: someone with write access to the database alone replaces a handler's public key,
or the organisation's recovery key, with one they hold, and every new case is sealed to them.
So a staff key (handler, lead, counsel) is sealed to only when it carries a *certification*:
an Ed25519 signature, by the organisation's certification key, over a statement binding the
organisation, the user, the role and the SHA-256 of the public key
(:func:`whistle.core.trust.statement`). The certification key's private half is stored only
encrypted under a wrapping key that is sealed to each certified lead's public key and to the
recovery key (whistle/core/org_keys.py): to certify, a lead opens it with their own private
key, which only their password unlocks. A key that changes no longer matches its
certification; a role that goes takes its certification along (:func:`forget`). The
organisation's own keys must match the fingerprints pinned in the instance folder
(whistle/core/key_pins.py); a mismatch refuses intake.

This module signs (certify, certify with the recovery key, forget) and holds the signing steps
the other ways in share. Trust on first use (the first lead of a new organisation, the keys
that existed at the upgrade) is :mod:`whistle.keys.first_use`; what the pages show of keys is
:mod:`whistle.keys.status`. Checking a key against its certification and the organisation's
keys against the pins is :mod:`whistle.core.trust`, which case access
(:func:`whistle.casefile.holders.certified_members`) and intake ask.
"""

from __future__ import annotations

from collections.abc import Iterable

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
from whistle.core.contexts import certification_copy_context, certification_signing_context
from whistle.core.db import unit_of_work
from whistle.core.models import CertificationKeyCopy, KeyCertification, OrgKey, Role, User
from whistle.core.org_keys import seal_certification_copy
from whistle.core.refusals import Refused
from whistle.core.trust import (
    CERTIFIED_ROLES,
    _held_roles,
    certified_roles,
    key_digest,
    statement,
    trusted_certification_key,
    trusted_recovery_key,
)

# --- Signing steps ----------------------------------------------------------------------------


def sign_for(
    session: Session,
    clock: Clock,
    org_id: int,
    signing: SigningKey,
    user: User,
    role: str,
    certified_by: int | None,
) -> None:
    """Sign a certification of ``user``'s current key for ``role`` in ``org_id`` (replacing
    an older one). Never commits."""
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


def give_copy(session: Session, row: OrgKey, wrapping: bytes, user: User) -> None:
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


def unlock_signing_key(row: OrgKey, anchor: VerifyKey, wrapping: bytes) -> SigningKey:
    """The certification signing key, opened with its ``wrapping`` key; OpenError unless it
    matches the pinned verify key ``anchor``."""
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


def key_roles(session: Session, org_id: int, user: User) -> set[str]:
    """The key roles (handler, lead, counsel) ``user`` holds in ``org_id``."""
    return _held_roles(session, org_id, [user.id]).get(user.id, set()) & {
        r.value for r in CERTIFIED_ROLES
    }


NOT_A_LEAD = _l(
    "Only a unit lead whose own key is certified, and who holds the certification key, can "
    "certify keys."
)


def _certify_roles(
    session: Session,
    clock: Clock,
    org_id: int,
    key: tuple[OrgKey, bytes, SigningKey],
    user: User,
    roles: list[str],
    certified_by: int | None,
) -> None:
    """Certify ``user``'s key for ``roles`` with the opened certification ``key`` (its row,
    wrapping key and signing key); a lead among them gets a copy of the certification key."""
    row, wrapping, signing = key
    for role in roles:
        sign_for(session, clock, org_id, signing, user, role, certified_by)
    if Role.LEAD.value in roles:
        give_copy(session, row, wrapping, user)


def _user_copy(session: Session, row: OrgKey, user_id: int) -> bytes | None:
    return session.scalar(
        select(CertificationKeyCopy.sealed).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "user",
            CertificationKeyCopy.user_id == user_id,
        )
    )


def _recovery_copy(session: Session, row: OrgKey) -> bytes | None:
    return session.scalar(
        select(CertificationKeyCopy.sealed).where(
            CertificationKeyCopy.org_key_id == row.id,
            CertificationKeyCopy.recipient == "recovery",
        )
    )


def _open_copy(
    org_id: int, row: OrgKey, anchor: VerifyKey, key: PrivateKey, copy: bytes
) -> tuple[OrgKey, bytes, SigningKey]:
    """Open the certification key through ``copy``, sealed to ``key``; OpenError if not."""
    wrapping = open_case_key(
        key, copy, case_id=certification_copy_context(org_id, row.id), kind=KeyKind.CONTENT
    )
    return row, wrapping, unlock_signing_key(row, anchor, wrapping)


# --- Certifying --------------------------------------------------------------------------------


def _lead_opens_certification_key(
    session: Session, org_id: int, lead: User, lead_key: PrivateKey | None
) -> tuple[VerifyKey, tuple[OrgKey, bytes, SigningKey]]:
    """The certification key's pinned verify key, and the key opened by a certified lead with
    their own private key."""
    row, anchor = trusted_certification_key(session, org_id)
    if lead_key is None or Role.LEAD.value not in certified_roles(
        session, org_id, [lead], anchor=anchor
    ).get(lead.id, set()):
        raise Refused("user", NOT_A_LEAD)
    copy = _user_copy(session, row, lead.id)
    if copy is None:
        raise Refused("user", NOT_A_LEAD)
    try:
        opened = _open_copy(org_id, row, anchor, lead_key, copy)
    except OpenError:
        raise Refused("user", NOT_A_LEAD) from None
    return anchor, opened


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
    that is not yet certified, and commit; returns those roles.

    The lead opens the certification key with their own private key (so the server cannot do
    this alone) and must confirm having compared the fingerprint with the one the person sees
    on their own page. A lead never certifies their own key; a person made a unit lead gets a
    copy of the certification key sealed to them. A refusal leaves nothing written.
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
    with unit_of_work(session):
        anchor, opened = _lead_opens_certification_key(session, org_id, lead, lead_key)
        user = session.get(User, user_id)
        if user is None or not user.is_active or user.public_key is None:
            raise Refused("user", _l("This person has no key to certify."))
        held = key_roles(session, org_id, user)
        done = certified_roles(session, org_id, [user], anchor=anchor)[user.id]
        pending = sorted(held - done)
        if not pending:
            raise Refused("user", _l("This person has no key awaiting certification."))
        _certify_roles(session, clock, org_id, opened, user, pending, lead.id)
        audit.record(
            session,
            clock,
            action="key.certified",
            org_id=org_id,
            actor_user_id=lead.id,
            detail={"user": user.id, "roles": ":".join(pending)},
        )
    return pending


def certify_with_recovery(
    session: Session, clock: Clock, org_id: int, recovery_key: PrivateKey, user: User
) -> list[str]:
    """The offline procedure when no certified lead is left: the holder of the recovery key
    certifies ``user``'s key for every key role they hold (a lead also gets the certification
    key), and commit. Returns those roles. The operator must first compare the fingerprint
    with the person, as a lead would (docs/leads.md)."""
    with unit_of_work(session):
        row, anchor = trusted_certification_key(session, org_id)
        if recovery_key.public_key() != trusted_recovery_key(session, org_id):
            raise Refused("recovery", _l("This is not the organisation's recovery key."))
        copy = _recovery_copy(session, row)
        if copy is None:
            raise Refused("recovery", _l("The certification key has no recovery copy."))
        try:
            opened = _open_copy(org_id, row, anchor, recovery_key, copy)
        except OpenError:
            raise Refused("recovery", _l("The certification key does not open.")) from None
        if not user.is_active or user.public_key is None:
            raise Refused("user", _l("This person has no key to certify."))
        roles = sorted(key_roles(session, org_id, user))
        if not roles:
            raise Refused("user", _l("This person has no key role here."))
        _certify_roles(session, clock, org_id, opened, user, roles, None)
        audit.record(
            session,
            clock,
            action="key.certified_with_recovery",
            org_id=org_id,
            detail={"user": user.id, "roles": ":".join(roles)},
        )
    return roles


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
