"""Opening a case's keys: access to a case *is* holding a sealed copy of its keys.

A person who was never given the keys (``case_keys`` rows), was excluded by the reporter,
stepped aside, or left the organisation has no row, and so can open nothing, whatever a view
allows. :func:`open_keys` opens a person's own copies, every generation of them, into the key
rings records are read and written with; the recovery key and the reporter's own key pair open
theirs the same way.

The rest of case access, one subject per module:

- whistle/casefile/holders.py: who holds a case (:func:`~whistle.casefile.holders.holds`,
  :func:`~whistle.casefile.holders.holds_clause`), for the flows that act on something derived
  from a case without decrypting it, and who may be sealed to
  (:func:`~whistle.casefile.holders.certified_members`);
- whistle/casefile/sealing.py: sealing a new case's keys at intake, and every epoch to a new
  holder;
- whistle/casefile/epochs.py: moving a case to a new key epoch when someone leaves it;
- whistle/casefile/key_wrapping.py: the case's key-encryption key outside the database, which
  every stored key row is wrapped under, so that deleting the case survives backups.

Key epochs. A case starts at epoch 0 with three random keys (content, notes, identity). When a
holder leaves, the case gets fresh keys of a new epoch (whistle/casefile/epochs.py). Records
are encrypted under the newest epoch's key of their kind and name their epoch; older records
stay readable to those still entitled, who keep the older epochs' keys: a :class:`KeyRing`
holds one kind's keys by epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import CaseKeys, KeyKind, OpenError, PrivateKey, open_case_key
from whistle.casefile.key_wrapping import case_kek, unwrap_sealed
from whistle.core.models import Case, CaseKey


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


def single_epoch(keys: CaseKeys) -> OpenedKeys:
    """A new case's keys, before any epoch change (intake, tests)."""
    return OpenedKeys(
        KeyRing({0: keys.content}), KeyRing({0: keys.notes}), KeyRing({0: keys.identity})
    )


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
