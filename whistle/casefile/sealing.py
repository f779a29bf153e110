"""Sealing a case's keys: to whom, and how the sealed copies are stored.

:func:`seal_for_recipients` decides who a new case is sealed to (intake): every active handler
and unit lead whose key a unit lead has certified
(:func:`whistle.casefile.holders.certified_members`, chosen by the caller), minus the handlers
the reporter excluded (K3), plus the organisation's recovery key if it matches its pin in the
instance folder. A grant or a recovery seals every epoch the giver holds to the new holder
(:func:`seal_every_epoch`). Every stored row is wrapped under the case's key-encryption key
(whistle/casefile/key_wrapping.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from crypto import CaseKeys, KeyKind, PublicKey, seal_case_key
from whistle.casefile.access import KeyRing, OpenedKeys
from whistle.casefile.key_wrapping import case_kek, wrap_sealed
from whistle.core.models import Case, CaseKey, User
from whistle.core.trust import trusted_recovery_key

KEYS = cast(Table, CaseKey.__table__)


@dataclass(frozen=True)
class SealedKey:
    """One case key sealed to one recipient, not yet stored."""

    kind: str
    recipient: str  # "user", "recovery" or "reporter"
    user_id: int | None
    sealed: bytes
    epoch: int = 0


def seal_key(
    public: PublicKey,
    key: bytes,
    case_uid: str,
    kind: KeyKind,
    recipient: str,
    user_id: int | None,
    epoch: int,
) -> SealedKey:
    """One case key sealed to one recipient (HPKE, bound to the case, kind and epoch)."""
    return SealedKey(
        kind=kind.value,
        recipient=recipient,
        user_id=user_id,
        sealed=seal_case_key(public, key, case_id=case_uid, kind=kind, epoch=epoch),
        epoch=epoch,
    )


def seal_for_recipients(
    session: Session,
    *,
    org_id: int,
    case_uid: str,
    keys: CaseKeys,
    users: Iterable[User],
    reporter: PublicKey | None = None,
) -> list[SealedKey]:
    """Seal a new case's keys (epoch 0): every key to each of ``users`` and to the recovery
    key, the content key to the reporter's own key pair. Reads, never writes.

    Done before the case row exists, so that the costly part of intake holds no lock.
    """
    recipients: list[tuple[str, int | None, PublicKey]] = [
        ("recovery", None, trusted_recovery_key(session, org_id))
    ]
    for user in users:
        assert user.public_key is not None
        recipients.append(("user", user.id, PublicKey.from_bytes(user.public_key)))
    sealed = [
        seal_key(public, keys[kind], case_uid, kind, recipient, user_id, 0)
        for recipient, user_id, public in recipients
        for kind in KeyKind
    ]
    if reporter is not None:
        sealed.append(
            seal_key(reporter, keys.content, case_uid, KeyKind.CONTENT, "reporter", None, 0)
        )
    return sealed


def add_sealed_keys(
    session: Session, *, org_id: int, case_id: int, case_uid: str, sealed: Iterable[SealedKey]
) -> None:
    """Store sealed keys for ``case_id`` now, in the caller's transaction (one bulk INSERT;
    a dozen ORM objects per report cost more than the statement), each wrapped under the
    case's key-encryption key (made in the key store if the case has none yet)."""
    sealed = list(sealed)
    if not sealed:
        return
    kek = case_kek(session, case_uid, create=True)
    assert kek is not None
    rows = [
        {
            "org_id": org_id,
            "case_id": case_id,
            "epoch": key.epoch,
            "kind": key.kind,
            "recipient": key.recipient,
            "user_id": key.user_id,
            "sealed": wrap_sealed(kek, case_uid, key.sealed),
        }
        for key in sealed
    ]
    if rows:
        # Core, not ORM: the ORM splits rows by which values are None (the recovery key has
        # no user) into two statements; the table insert sends them as one batch.
        session.execute(insert(KEYS), rows)


def seal_every_epoch(
    session: Session, case: Case, keys: OpenedKeys, recipient: PublicKey, *, user_id: int
) -> None:
    """Seal every key in ``keys``, every epoch, to one more holder (a grant or a recovery: the
    new holder reads the whole case). Flushes nothing; the caller commits."""
    add_sealed_keys(
        session,
        org_id=case.org_id,
        case_id=case.id,
        case_uid=case.uid,
        sealed=[
            seal_key(recipient, key, case.uid, kind, "user", user_id, epoch)
            for kind, ring in keys.rings().items()
            for epoch, key in sorted(ring.keys.items())
        ],
    )


def seal_content_to_reporter(
    session: Session, case: Case, reporter: PublicKey, content: KeyRing
) -> None:
    """Seal the content keys in ``content`` to the reporter's key pair (an older case getting
    its key pair at the reporter's sign-in). Flushes nothing."""
    add_sealed_keys(
        session,
        org_id=case.org_id,
        case_id=case.id,
        case_uid=case.uid,
        sealed=[
            seal_key(reporter, key, case.uid, KeyKind.CONTENT, "reporter", None, epoch)
            for epoch, key in sorted(content.keys.items())
        ],
    )
