"""Who may read or act on a case, and everything derived from it, decided in one place.

Access to a case *is* holding a sealed copy of its keys (``case_keys`` rows): a person who was
never given the keys, was excluded by the reporter, stepped aside, or left the organisation
has no row, and so can open nothing, whatever a view allows. Everything this module answers
comes from those rows:

- :func:`open_keys` opens a person's own copies, every generation of them;
- :func:`holds` and :func:`holds_clause` ask the case whether someone holds it, for the flows
  that act on something derived from a case without decrypting it (rights requests, notices,
  meetings, reminders, the inbox): those ask here, never decide for themselves;
- :func:`seal_for_recipients` decides who a new case is sealed to (intake): every active
  handler and unit lead whose key a unit lead has certified (:func:`certified_members`), minus
  the handlers the reporter excluded (K3), plus the organisation's recovery key if it matches
  its pin in the instance folder;
- :func:`renew_keys` moves a case to a new **key epoch** when someone leaves it.

Key epochs. A case starts at epoch 0 with three random keys (content, notes, identity). When a
holder leaves (steps aside, is excluded after the fact, is removed from the case by a lead,
leaves the organisation or is deactivated), the case gets fresh keys of a new epoch, sealed
only to the holders who remain, the organisation's recovery key and the reporter's own key
pair, and every key row of the person who left, of every epoch, is deleted. Records are
encrypted under the newest epoch's key of their kind and name their epoch; older records stay
readable to those still entitled, who keep the older epochs' keys. So a person who left, with
a copy of the database taken before they left and their own password, still opens what was
written before (they had read it), and nothing written after.

An older case whose reporter has no key pair yet (received before key epochs; only the
reporter's code opens its content key) keeps its content key through an epoch change, because
nobody but the reporter could open a new one; the content key is renewed at the reporter's
next sign-in (whistle/reporting/followup.py), before they can write anything.

Invariant the holder checks rely on: every holder holds the content key of epoch 0 (a grant
or a recovery seals every epoch the giver holds), so "holds the case" is one index lookup.

Deletion that survives backups. Every sealed key row, and the reporter's wrapped seed, is
stored wrapped once more under the case's key-encryption key, which lives in the key store
outside the database (``case:<uid>``; whistle/core/keystore.py). Deleting the case destroys that
key (whistle/core/shredding.py), so a copy of the database taken before the deletion opens
nothing afterwards, not even with the organisation's recovery key. Rows from before the key
store (a bare sealed key, recognisable by its header) are read as they are until the upgrade
wraps them (whistle/keys/upgrade.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crypto import (
    CaseKeys,
    KeyKind,
    OpenError,
    PrivateKey,
    PublicKey,
    decrypt_field,
    encrypt_field,
    open_case_key,
    seal_case_key,
)
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import case_key_row_context, reporter_key_row_context
from whistle.core.keystore import of_session
from whistle.core.keystore_errors import KeyExists
from whistle.core.models import Case, CaseKey, Membership, Role, User
from whistle.core.shredding import case_key_name
from whistle.core.trust import certified_user_ids, trusted_recovery_key

HANDLING_ROLES = (Role.HANDLER, Role.LEAD)
# The epoch whose content key every holder of a case holds (see the module's docstring).
HOLDER_EPOCH = 0

KEYS = cast(Table, CaseKey.__table__)
# A sealed key (W) or the reporter's wrapped seed (R) stored bare, before the key store.
BARE_SEALED = b"WHSW"
BARE_REPORTER = b"WHSR"


class NoAccess(Exception):
    """The user holds no key to this case (never granted, excluded, stepped aside, or left)."""


@dataclass(frozen=True, repr=False)
class KeyRing:
    """The keys of one kind of one case, by epoch. SECRET.

    Writers use :attr:`current` (the newest epoch that has this kind); readers open each
    record with the key of the epoch it names (:meth:`at`).
    """

    keys: Mapping[int, bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring holds at least one key")

    @property
    def epoch(self) -> int:
        """The newest epoch of this ring: new records are encrypted under it."""
        return max(self.keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.epoch]

    def at(self, epoch: int) -> bytes:
        """The key of ``epoch``; :class:`NoAccess` if this ring does not have it."""
        try:
            return self.keys[epoch]
        except KeyError:
            raise NoAccess from None

    def __repr__(self) -> str:
        return f"KeyRing(epochs={sorted(self.keys)})"


@dataclass(frozen=True, repr=False)
class OpenedKeys:
    """The case keys a handler holds, every epoch of each kind. SECRET."""

    content: KeyRing
    notes: KeyRing | None
    identity: KeyRing | None

    def rings(self) -> dict[KeyKind, KeyRing]:
        """Each kind the handler holds, with its ring."""
        found = {KeyKind.CONTENT: self.content}
        if self.notes is not None:
            found[KeyKind.NOTES] = self.notes
        if self.identity is not None:
            found[KeyKind.IDENTITY] = self.identity
        return found

    def __repr__(self) -> str:
        return "OpenedKeys(<secret>)"


@dataclass(frozen=True, repr=False)
class NewEpoch:
    """A key epoch just made by :func:`renew_keys`: its number and its fresh keys. SECRET."""

    epoch: int
    keys: Mapping[KeyKind, bytes]

    def joined(self, held: OpenedKeys) -> OpenedKeys:
        """``held`` (a holder who stays) with this epoch's keys of the kinds they hold."""

        def ring(kind: KeyKind, old: KeyRing | None) -> KeyRing | None:
            if old is None:
                return None
            fresh = self.keys.get(kind)
            return KeyRing({**old.keys, self.epoch: fresh}) if fresh is not None else old

        content = ring(KeyKind.CONTENT, held.content)
        assert content is not None
        return OpenedKeys(
            content, ring(KeyKind.NOTES, held.notes), ring(KeyKind.IDENTITY, held.identity)
        )

    def __repr__(self) -> str:
        return f"NewEpoch({self.epoch})"


def single_epoch(keys: CaseKeys) -> OpenedKeys:
    """A new case's keys, before any epoch change (intake, tests)."""
    return OpenedKeys(
        KeyRing({0: keys.content}), KeyRing({0: keys.notes}), KeyRing({0: keys.identity})
    )


# --- Who holds a case --------------------------------------------------------------------------


def holds_clause(
    case_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
    user_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
) -> ColumnElement[bool]:
    """SQL for "``user_id`` holds case ``case_id``" (one lookup in ix_case_keys_holder)."""
    return (
        select(CaseKey.case_id)
        .where(
            CaseKey.case_id == case_id,
            CaseKey.user_id == user_id,
            CaseKey.recipient == "user",
            CaseKey.kind == KeyKind.CONTENT.value,
            CaseKey.epoch == HOLDER_EPOCH,
        )
        .exists()
    )


def holder_rows(user_id: int) -> list[ColumnElement[bool]]:
    """Conditions selecting the one ``case_keys`` row per case that ``user_id`` holds."""
    return [
        CaseKey.user_id == user_id,
        CaseKey.recipient == "user",
        CaseKey.kind == KeyKind.CONTENT.value,
        CaseKey.epoch == HOLDER_EPOCH,
    ]


def holds(session: Session, case_id: int, user_id: int) -> bool:
    """Whether ``user_id`` holds the case (has their own sealed copy of its keys)."""
    return bool(session.scalar(select(holds_clause(case_id, user_id))))


def holder_ids(session: Session, case_id: int) -> set[int]:
    """Every user who holds the case."""
    return {
        int(user_id)
        for user_id in session.scalars(
            select(CaseKey.user_id).where(
                CaseKey.case_id == case_id,
                CaseKey.recipient == "user",
                CaseKey.kind == KeyKind.CONTENT.value,
                CaseKey.epoch == HOLDER_EPOCH,
            )
        )
        if user_id is not None
    }


def held_case_ids(session: Session, user_id: int, org_id: int | None = None) -> list[int]:
    """The cases ``user_id`` holds, in one organisation or in all."""
    query = select(CaseKey.case_id).where(*holder_rows(user_id))
    if org_id is not None:
        query = query.where(CaseKey.org_id == org_id)
    return [int(c) for c in session.scalars(query.order_by(CaseKey.case_id))]


def unit_members(
    session: Session, org_id: int, *, roles: tuple[Role, ...] = HANDLING_ROLES
) -> list[User]:
    """Active members of ``org_id`` holding one of ``roles`` (handlers and leads by default)
    who have a key pair, by name; certified or not (see :func:`certified_members`)."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.org_id == org_id,
                Membership.role.in_([r.value for r in roles]),
                User.is_active.is_(True),
                User.public_key.is_not(None),
            )
            .distinct()
            .order_by(User.display_name, User.id)
        )
    )


def certified_members(
    session: Session, org_id: int, *, roles: tuple[Role, ...] = HANDLING_ROLES
) -> list[User]:
    """The active members of ``org_id`` holding one of ``roles``, with a key pair that a unit
    lead has certified for such a role (whistle/keys/certification.py), by name.

    The one filter every sealing path uses (intake, grants, recovery, rights requests with
    ``HANDLING_ROLES``; counsel exports with ``(Role.COUNSEL,)``): a key someone swapped in the
    database, or a role an admin gave without a lead's certification, is never sealed to.
    Raises :class:`~whistle.core.trust.KeysNotTrusted` when the organisation's
    certification key does not match its pin.
    """
    candidates = unit_members(session, org_id, roles=roles)
    certified = certified_user_ids(session, org_id, candidates, roles)
    return [u for u in candidates if u.id in certified]


# --- The case's key-encryption key (outside the database) -----------------------------------


def case_kek(session: Session, case_uid: str, *, create: bool = False) -> bytes | None:
    """The case's key-encryption key from the key store; made when ``create`` and missing
    (None when missing: the case was deleted, or damage)."""
    store = of_session(session)
    name = case_key_name(case_uid)
    key = store.get(name)
    if key is None and create:
        try:
            key = store.create([name])[name]
        except KeyExists:  # made by a concurrent request for the same case
            key = store.get(name)
    return key


def wrap_sealed(kek: bytes, case_uid: str, sealed: bytes) -> bytes:
    """A sealed case key as stored: wrapped under the case's key-encryption key."""
    return encrypt_field(kek, sealed, context=case_key_row_context(case_uid))


def unwrap_sealed(kek: bytes | None, case_uid: str, stored: bytes) -> bytes | None:
    """The sealed key in a stored row; None when its key-encryption key is gone."""
    if stored[:4] == BARE_SEALED:
        return stored
    if kek is None:
        return None
    try:
        return decrypt_field(kek, stored, context=case_key_row_context(case_uid))
    except OpenError:
        return None


def wrap_reporter_key(kek: bytes, case_uid: str, wrapped: bytes) -> bytes:
    """The reporter's wrapped seed (R) as stored: wrapped under the case's key-encryption key."""
    return encrypt_field(kek, wrapped, context=reporter_key_row_context(case_uid))


def unwrap_reporter_key(session: Session, case: Case) -> bytes | None:
    """The reporter's R blob of ``case``; None when the case's key-encryption key is gone."""
    stored = case.reporter_key
    if stored[:4] == BARE_REPORTER:
        return stored
    kek = case_kek(session, case.uid)
    if kek is None:
        return None
    try:
        return decrypt_field(kek, stored, context=reporter_key_row_context(case.uid))
    except OpenError:
        return None


# --- Opening ---------------------------------------------------------------------------------


def _rings(opened: dict[str, dict[int, bytes]]) -> OpenedKeys:
    if KeyKind.CONTENT.value not in opened:
        raise NoAccess
    notes = opened.get(KeyKind.NOTES.value)
    identity = opened.get(KeyKind.IDENTITY.value)
    return OpenedKeys(
        KeyRing(opened[KeyKind.CONTENT.value]),
        KeyRing(notes) if notes else None,
        KeyRing(identity) if identity else None,
    )


def _open_rows(
    session: Session, rows: Iterable[CaseKey], private_key: PrivateKey, case_uid: str
) -> dict[str, dict[int, bytes]]:
    opened: dict[str, dict[int, bytes]] = {}
    rows = list(rows)
    kek = case_kek(session, case_uid) if rows else None
    for row in rows:
        sealed = unwrap_sealed(kek, case_uid, row.sealed)
        if sealed is None:
            continue
        try:
            key = open_case_key(
                private_key, sealed, case_id=case_uid, kind=KeyKind(row.kind), epoch=row.epoch
            )
        except (OpenError, ValueError):
            continue
        opened.setdefault(row.kind, {})[row.epoch] = key
    return opened


def open_keys(
    session: Session, case: Case, user_id: int, private_key: PrivateKey | None
) -> OpenedKeys:
    """The user's own copies of the case keys, every epoch, opened; :class:`NoAccess` without a
    content key (never given, excluded, stepped aside, left)."""
    if private_key is None:
        raise NoAccess
    rows = session.scalars(
        select(CaseKey).where(
            CaseKey.case_id == case.id, CaseKey.user_id == user_id, CaseKey.recipient == "user"
        )
    ).all()
    return _rings(_open_rows(session, rows, private_key, case.uid))


def open_recovery_keys(session: Session, case: Case, recovery_key: PrivateKey) -> OpenedKeys:
    """Every key of the case, every epoch, through the organisation's recovery key (the
    offline procedure of docs/recovery.md); :class:`NoAccess` if the key does not open them."""
    rows = session.scalars(
        select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "recovery")
    ).all()
    return _rings(_open_rows(session, rows, recovery_key, case.uid))


def open_reporter_keys(session: Session, case: Case, reporter_key: PrivateKey) -> KeyRing:
    """The content keys sealed to the reporter's own key pair, every epoch; :class:`NoAccess`
    if none opens."""
    rows = session.scalars(
        select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "reporter")
    ).all()
    opened = _open_rows(session, rows, reporter_key, case.uid).get(KeyKind.CONTENT.value)
    if not opened:
        raise NoAccess
    return KeyRing(opened)


# --- Sealing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedKey:
    """One case key sealed to one recipient, not yet stored."""

    kind: str
    recipient: str  # "user", "recovery" or "reporter"
    user_id: int | None
    sealed: bytes
    epoch: int = 0


def _seal(
    public: PublicKey,
    key: bytes,
    case_uid: str,
    kind: KeyKind,
    recipient: str,
    user_id: int | None,
    epoch: int,
) -> SealedKey:
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
        _seal(public, keys[kind], case_uid, kind, recipient, user_id, 0)
        for recipient, user_id, public in recipients
        for kind in KeyKind
    ]
    if reporter is not None:
        sealed.append(_seal(reporter, keys.content, case_uid, KeyKind.CONTENT, "reporter", None, 0))
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
            _seal(recipient, key, case.uid, kind, "user", user_id, epoch)
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
            _seal(reporter, key, case.uid, KeyKind.CONTENT, "reporter", None, epoch)
            for epoch, key in sorted(content.keys.items())
        ],
    )


# --- Key epochs --------------------------------------------------------------------------------


def _held_kinds(session: Session, case_id: int) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for user_id, kind in session.execute(
        select(CaseKey.user_id, CaseKey.kind).where(
            CaseKey.case_id == case_id, CaseKey.recipient == "user"
        )
    ):
        if user_id is not None:
            found.setdefault(int(user_id), set()).add(str(kind))
    return found


def renew_keys(
    session: Session,
    clock: Clock,
    case: Case,
    *,
    departing: Collection[int] = (),
    actor_user_id: int | None,
    reason: str,
) -> NewEpoch | None:
    """Move ``case`` to a new key epoch without ``departing``; return it (the epoch and its
    fresh keys, SECRET, for a holder who stays to write under at once), or None when none of
    them held the case (nothing to renew). Flushes, never commits.

    Fresh keys of each kind are sealed to every holder who remains (the kinds they held), to
    the organisation's recovery key and, for the content key, to the reporter's key pair; every
    key row of the people departing, of every epoch, is deleted. No data is re-encrypted:
    older records stay under older epochs, which those who remain still hold. ``reason`` is a
    fixed word for the audit log ("recused", "excluded", "removed", "deactivated", ...).
    """
    held = _held_kinds(session, case.id)
    leaving = {u for u in departing if u in held}
    if departing and not leaving:
        return None
    renew_content = case.reporter_public_key is not None
    kinds = [k for k in KeyKind if renew_content or k is not KeyKind.CONTENT]
    fresh = {kind: secrets.token_bytes(32) for kind in kinds}
    epoch = case.key_epoch + 1
    remaining = [u for u in held if u not in leaving]
    candidates = [
        u
        for u in session.scalars(select(User).where(User.id.in_(remaining or [-1])))
        if u.public_key is not None
    ]
    # Only to keys a lead still vouches for: a holder whose key was swapped in the database
    # gets no key of the new epoch (whistle/keys/certification.py).
    vouched = certified_user_ids(session, case.org_id, candidates, HANDLING_ROLES)
    users = {u.id: u for u in candidates if u.id in vouched}
    recovery = trusted_recovery_key(session, case.org_id)
    sealed = [
        _seal(recovery, key, case.uid, kind, "recovery", None, epoch) for kind, key in fresh.items()
    ]
    if renew_content:
        assert case.reporter_public_key is not None
        sealed.append(
            _seal(
                PublicKey.from_bytes(case.reporter_public_key),
                fresh[KeyKind.CONTENT],
                case.uid,
                KeyKind.CONTENT,
                "reporter",
                None,
                epoch,
            )
        )
    for user_id in sorted(users):
        public = PublicKey.from_bytes(cast(bytes, users[user_id].public_key))
        sealed += [
            _seal(public, key, case.uid, kind, "user", user_id, epoch)
            for kind, key in fresh.items()
            if kind.value in held[user_id]
        ]
    if leaving:
        session.execute(
            delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.user_id.in_(leaving))
        )
    add_sealed_keys(session, org_id=case.org_id, case_id=case.id, case_uid=case.uid, sealed=sealed)
    case.key_epoch = epoch
    if not renew_content:
        case.content_rotation_pending = True
    elif case.content_rotation_pending:
        case.content_rotation_pending = False
    audit.record(
        session,
        clock,
        action="case.keys_renewed",
        org_id=case.org_id,
        actor_user_id=actor_user_id,
        case=case,
        detail={"epoch": epoch, "reason": reason, "departed": len(leaving)},
    )
    session.flush()
    return NewEpoch(epoch, fresh)
