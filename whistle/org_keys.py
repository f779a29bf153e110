"""An organisation's own keys: the receipt-signing key and the recovery key.

- Signing (Ed25519): signs submission receipts and export manifests. The private half is
  sealed under the instance key (instance folder), so a database copy alone cannot forge a
  receipt; the verify key is public.
- Recovery (HPKE, like a handler's key): every case key is also sealed to it, so a handler who
  leaves or forgets a password takes no case with them. Its private half is never stored: it
  is shown once, as text to print and keep offline (docs/crypto.md, "Recovery").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import (
    PrivateKey,
    PublicKey,
    SigningKey,
    VerifyKey,
    decrypt_field,
    encrypt_field,
    export_recovery_key,
)
from whistle.clock import Clock
from whistle.models import KeyPurpose, Organisation, OrgKey


def _signing_context(org_id: int) -> tuple[str, int]:
    return ("org-signing-key", org_id)


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
                context=_signing_context(org.id),
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
    return export_recovery_key(recovery)


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
    raw = decrypt_field(instance_key, row.sealed_private_key, context=_signing_context(org_id))
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
