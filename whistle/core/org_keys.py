"""An organisation's own keys: the receipt-signing key and the recovery key.

- Signing (Ed25519): signs submission receipts and export manifests. The private half is
  sealed under the instance key (instance folder), so a database copy alone cannot forge a
  receipt; the verify key is public.
- Recovery (HPKE, like a handler's key): every case key is also sealed to it, so a handler who
  leaves or forgets a password takes no case with them. Its private half is never stored: it
  is shown once, as text to print and keep offline (docs/crypto.md, "Recovery").
- Certification (Ed25519): signs unit leads' certifications of staff keys
  (whistle/keys/certification.py). Its private half is encrypted under a random wrapping key that
  is sealed only to certified leads and to the recovery key, and, until the first lead is
  trusted on first use, to the instance key: the server cannot certify a key without a
  lead's password.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    PrivateKey,
    PublicKey,
    SigningKey,
    VerifyKey,
    decrypt_field,
    encrypt_field,
    export_recovery_key,
    generate_symmetric_key,
    seal_case_key,
)
from whistle.core.clock import Clock
from whistle.core.contexts import (
    certification_bootstrap_context,
    certification_copy_context,
    certification_signing_context,
    org_signing_context,
)
from whistle.core.models import CertificationKeyCopy, KeyPurpose, Organisation, OrgKey


def has_keys(session: Session, org_id: int) -> bool:
    """Whether ``org_id`` has its keys: an organisation the operator made has none until its
    first administrator makes them (whistle/admin/first_keys.py)."""
    return session.scalar(select(OrgKey.id).where(OrgKey.org_id == org_id).limit(1)) is not None


def create_org_keys(session: Session, clock: Clock, org: Organisation, instance_key: bytes) -> str:
    """Create both keys for ``org``; return the recovery key as printable text (SECRET).

    The caller shows the text once and must not store or log it. Flushes, does not commit.
    """
    signing = SigningKey.generate()
    recovery = PrivateKey.generate()
    now = clock.now()
    session.add(
        OrgKey(
            org_id=org.id,
            purpose=KeyPurpose.SIGNING,
            public_key=signing.verify_key().to_bytes(),
            sealed_private_key=encrypt_field(
                instance_key,
                signing.to_bytes(),
                context=org_signing_context(org.id),
            ),
            created_at=now,
        )
    )
    session.add(
        OrgKey(
            org_id=org.id,
            purpose=KeyPurpose.RECOVERY,
            public_key=recovery.public_key().to_bytes(),
            sealed_private_key=None,
            created_at=now,
        )
    )
    session.flush()
    create_certification_key(
        session, clock, org.id, recovery.public_key(), bootstrap_key=instance_key
    )
    return export_recovery_key(recovery)


def seal_certification_copy(public: PublicKey, wrapping_key: bytes, row: OrgKey) -> bytes:
    """The certification key's wrapping key, sealed to ``public`` (a lead's or recovery)."""
    return seal_case_key(
        public,
        wrapping_key,
        case_id=certification_copy_context(row.org_id, row.id),
        kind=KeyKind.CONTENT,
    )


def create_certification_key(
    session: Session,
    clock: Clock,
    org_id: int,
    recovery: PublicKey,
    *,
    bootstrap_key: bytes | None,
) -> tuple[OrgKey, SigningKey, bytes]:
    """A new certification key for ``org_id``: the row, the signing key and its wrapping key
    (both SECRET, for the caller to use at once and forget). Flushes.

    The wrapping key is sealed to ``recovery``, and encrypted under ``bootstrap_key`` (the
    instance key) when given, so the organisation's first unit lead can be trusted on first
    use; that copy is deleted when they are.
    """
    signing = SigningKey.generate()
    wrapping = generate_symmetric_key()
    row = OrgKey(
        org_id=org_id,
        purpose=KeyPurpose.CERTIFICATION,
        public_key=signing.verify_key().to_bytes(),
        sealed_private_key=None,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    row.sealed_private_key = encrypt_field(
        wrapping, signing.to_bytes(), context=certification_signing_context(org_id, row.id)
    )
    session.add(
        CertificationKeyCopy(
            org_id=org_id,
            org_key_id=row.id,
            recipient="recovery",
            user_id=None,
            sealed=seal_certification_copy(recovery, wrapping, row),
        )
    )
    if bootstrap_key is not None:
        session.add(
            CertificationKeyCopy(
                org_id=org_id,
                org_key_id=row.id,
                recipient="bootstrap",
                user_id=None,
                sealed=encrypt_field(
                    bootstrap_key,
                    wrapping,
                    context=certification_bootstrap_context(org_id, row.id),
                ),
            )
        )
    session.flush()
    return row, signing, wrapping


def current_key(session: Session, org_id: int, purpose: KeyPurpose) -> OrgKey | None:
    """The organisation's current key row for ``purpose``, or None."""
    return session.scalar(
        select(OrgKey)
        .where(OrgKey.org_id == org_id, OrgKey.purpose == purpose, OrgKey.retired_at.is_(None))
        .order_by(OrgKey.id.desc())
    )


def _current(session: Session, org_id: int, purpose: KeyPurpose) -> OrgKey:
    key = session.scalar(
        select(OrgKey)
        .where(OrgKey.org_id == org_id, OrgKey.purpose == purpose, OrgKey.retired_at.is_(None))
        .order_by(OrgKey.id.desc())
    )
    if key is None:
        raise LookupError(f"organisation {org_id} has no {purpose} key")
    return key


def signing_key(session: Session, org_id: int, instance_key: bytes) -> SigningKey:
    """The organisation's receipt-signing key, unsealed with the instance key."""
    row = _current(session, org_id, KeyPurpose.SIGNING)
    assert row.sealed_private_key is not None
    raw = decrypt_field(instance_key, row.sealed_private_key, context=org_signing_context(org_id))
    return SigningKey.from_bytes(raw)


def verify_key(session: Session, org_id: int) -> VerifyKey:
    return VerifyKey.from_bytes(_current(session, org_id, KeyPurpose.SIGNING).public_key)


def recovery_public_key(session: Session, org_id: int) -> PublicKey:
    return PublicKey.from_bytes(_current(session, org_id, KeyPurpose.RECOVERY).public_key)


def all_verify_keys(session: Session, org_id: int) -> list[VerifyKey]:
    """Every receipt-verifying key the organisation has had, the current one first, so a
    receipt signed before a key change still verifies."""
    rows = session.scalars(
        select(OrgKey)
        .where(OrgKey.org_id == org_id, OrgKey.purpose == KeyPurpose.SIGNING)
        .order_by(OrgKey.retired_at.is_not(None), OrgKey.id.desc())
    ).all()
    return [VerifyKey.from_bytes(row.public_key) for row in rows]
