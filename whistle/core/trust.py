"""Which keys may be sealed to: the checks every feature makes before it seals a case key.

- A staff key counts only while it carries a valid certification for a role its holder
  still has (:func:`certified_roles`, :func:`certified_user_ids`): a signature by the
  organisation's certification key over :func:`statement`.
- The organisation's recovery and certification keys count only while they match the
  fingerprints pinned in the instance folder (:func:`trusted_recovery_key`,
  :func:`check_organisation_keys`); otherwise :class:`KeysNotTrusted`.

Signing certifications is the keys feature's (whistle/keys/certification.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import (
    OpenError,
    PublicKey,
    SignaturePurpose,
    VerifyKey,
    verify,
)
from whistle.core.key_pins import OrgPins, PinsUnavailable, pins_of
from whistle.core.models import (
    KeyCertification,
    KeyPurpose,
    Membership,
    Organisation,
    OrgKey,
    Role,
    User,
)
from whistle.core.org_keys import (
    current_key,
    recovery_public_key,
)

# The roles whose holders have a key pair, each certified on its own: a key certified for
# counsel is not thereby a case handler's.
CERTIFIED_ROLES = (Role.HANDLER, Role.LEAD, Role.COUNSEL)


STATEMENT_FORMAT = "whistle-key-certification"


class KeysNotTrusted(Exception):
    """The organisation's keys in the database do not match the pins in the instance folder
    (or it has no pins): nothing may be sealed to them. ``which`` says which key."""

    def __init__(self, org_id: int, which: str) -> None:
        self.org_id = org_id
        self.which = which
        super().__init__(f"organisation {org_id}: {which} key not trusted")


def key_digest(public_key: bytes) -> bytes:
    """SHA-256 of a public key blob, as certified."""
    return hashlib.sha256(public_key).digest()


def statement(org_id: int, user_id: int, role: str, key_sha256: bytes) -> bytes:
    """The canonical bytes a certification signs: organisation, user, role and the SHA-256
    of the public key. Recomputed from the current rows at every check, never read back."""
    return json.dumps(
        {
            "format": STATEMENT_FORMAT,
            "version": 1,
            "organisation": org_id,
            "user": user_id,
            "role": role,
            "key_sha256": key_sha256.hex(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("ascii")


def _pins(session: Session, org_id: int) -> OrgPins:
    try:
        pins = pins_of(session).get(org_id)
    except PinsUnavailable:
        raise KeysNotTrusted(org_id, "pins") from None
    if pins is None:
        raise KeysNotTrusted(org_id, "pins")
    return pins


def trusted_recovery_key(session: Session, org_id: int) -> PublicKey:
    """The organisation's recovery public key, if it matches the pinned fingerprint;
    :class:`KeysNotTrusted` otherwise. Every seal to the recovery key goes through this."""
    pins = _pins(session, org_id)
    try:
        key = recovery_public_key(session, org_id)
    except (LookupError, OpenError):
        raise KeysNotTrusted(org_id, "recovery") from None
    if key.fingerprint() != pins.recovery:
        raise KeysNotTrusted(org_id, "recovery")
    return key


def trusted_certification_key(session: Session, org_id: int) -> tuple[OrgKey, VerifyKey]:
    """The organisation's certification key row and verify key, if they match the pin;
    :class:`KeysNotTrusted` otherwise."""
    pins = _pins(session, org_id)
    row = current_key(session, org_id, KeyPurpose.CERTIFICATION)
    if row is None or pins.certification is None:
        raise KeysNotTrusted(org_id, "certification")
    try:
        key = VerifyKey.from_bytes(row.public_key)
    except OpenError:
        raise KeysNotTrusted(org_id, "certification") from None
    if key.fingerprint() != pins.certification:
        raise KeysNotTrusted(org_id, "certification")
    return row, key


def check_organisation_keys(session: Session, org_id: int) -> None:
    """Raise :class:`KeysNotTrusted` unless both pinned organisation keys match."""
    trusted_recovery_key(session, org_id)
    trusted_certification_key(session, org_id)


def _fingerprint(row: OrgKey | None, purpose: KeyPurpose) -> str | None:
    if row is None:
        return None
    try:
        if purpose is KeyPurpose.RECOVERY:
            return PublicKey.from_bytes(row.public_key).fingerprint()
        return VerifyKey.from_bytes(row.public_key).fingerprint()
    except OpenError:
        return None


def current_pins(session: Session, org: Organisation) -> OrgPins:
    """The pins that describe ``org``'s keys as the database has them now."""
    fingerprints = {
        purpose: _fingerprint(current_key(session, org.id, purpose), purpose)
        for purpose in KeyPurpose
    }
    recovery, signing = fingerprints[KeyPurpose.RECOVERY], fingerprints[KeyPurpose.SIGNING]
    if recovery is None or signing is None:
        raise LookupError(f"organisation {org.id} has no keys to pin")
    return OrgPins(
        slug=org.slug,
        recovery=recovery,
        signing=signing,
        certification=fingerprints[KeyPurpose.CERTIFICATION],
        first_lead_trusted=False,
    )


def pin_organisation(session: Session, org: Organisation, *, replace: bool = False) -> bool:
    """Pin ``org``'s keys as the database has them now; True when written. Called right after
    the organisation's creation is committed, by the upgrade step, and by ``whistle keys pin``
    (``replace``: an operator who checked the fingerprints). Keeps ``first_lead_trusted``."""
    store = pins_of(session)
    pins = current_pins(session, org)
    existing = store.get(org.id)
    if existing is not None:
        if not replace:
            return False
        pins = dataclasses.replace(pins, first_lead_trusted=existing.first_lead_trusted)
    return store.pin(org.id, pins, replace_existing=replace)


@dataclass(frozen=True)
class OrgKeyFingerprint:
    """One organisation key as a page shows it."""

    purpose: KeyPurpose
    fingerprint: str | None
    pinned: str | None

    @property
    def matches(self) -> bool:
        """Whether the database's key is the pinned one."""
        return self.fingerprint is not None and self.fingerprint == self.pinned


def organisation_fingerprints(session: Session, org_id: int) -> list[OrgKeyFingerprint]:
    """The recovery, receipt-signing and certification keys' fingerprints, with the pins."""
    try:
        pins = pins_of(session).get(org_id)
    except PinsUnavailable:
        pins = None
    pinned = {
        KeyPurpose.RECOVERY: pins.recovery if pins else None,
        KeyPurpose.SIGNING: pins.signing if pins else None,
        KeyPurpose.CERTIFICATION: pins.certification if pins else None,
    }
    return [
        OrgKeyFingerprint(
            purpose, _fingerprint(current_key(session, org_id, purpose), purpose), pinned[purpose]
        )
        for purpose in (KeyPurpose.RECOVERY, KeyPurpose.SIGNING, KeyPurpose.CERTIFICATION)
    ]


def _held_roles(session: Session, org_id: int, user_ids: Iterable[int]) -> dict[int, set[str]]:
    held: dict[int, set[str]] = {}
    ids = list(user_ids)
    if not ids:
        return held
    for user_id, role in session.execute(
        select(Membership.user_id, Membership.role).where(
            Membership.org_id == org_id, Membership.user_id.in_(ids)
        )
    ):
        held.setdefault(int(user_id), set()).add(str(role))
    return held


def _valid(row: KeyCertification, user: User, key: VerifyKey) -> bool:
    if user.public_key is None:
        return False
    try:
        verify(
            key,
            statement(row.org_id, user.id, row.role, key_digest(user.public_key)),
            row.signature,
            purpose=SignaturePurpose.KEY_CERTIFICATION,
        )
    except OpenError:
        return False
    return True


def certified_roles(
    session: Session, org_id: int, users: Sequence[User], *, anchor: VerifyKey | None = None
) -> dict[int, set[str]]:
    """For each of ``users``: the roles they hold in ``org_id`` whose certification verifies
    against the organisation's pinned certification key, for their current public key.

    Raises :class:`KeysNotTrusted` when the organisation's certification key does not match
    its pin: then no certification can be believed.
    """
    if anchor is None:
        _row, anchor = trusted_certification_key(session, org_id)
    by_id = {u.id: u for u in users}
    held = _held_roles(session, org_id, by_id)
    found: dict[int, set[str]] = {u.id: set() for u in users}
    if not by_id:
        return found
    for row in session.scalars(
        select(KeyCertification).where(
            KeyCertification.org_id == org_id, KeyCertification.user_id.in_(list(by_id))
        )
    ):
        user = by_id[row.user_id]
        if row.role in held.get(user.id, set()) and _valid(row, user, anchor):
            found[user.id].add(row.role)
    return found


def certified_user_ids(
    session: Session, org_id: int, users: Sequence[User], roles: Iterable[Role]
) -> set[int]:
    """The ids of ``users`` with a verified certification for one of ``roles`` that they
    hold in ``org_id`` (see :func:`certified_roles`)."""
    wanted = {Role(r).value for r in roles}
    return {
        user_id
        for user_id, certified in certified_roles(session, org_id, users).items()
        if certified & wanted
    }
