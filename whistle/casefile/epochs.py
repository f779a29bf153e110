"""Key epochs: a case gets fresh keys when someone leaves it.

When a holder leaves (steps aside, is excluded after the fact, is removed from the case by a
lead, leaves the organisation or is deactivated), :func:`renew_keys` moves the case to a new
epoch: fresh keys sealed only to the holders who remain, the organisation's recovery key and
the reporter's own key pair, and every key row of the person who left, of every epoch, is
deleted. Records are encrypted under the newest epoch's key of their kind and name their epoch;
older records stay readable to those still entitled, who keep the older epochs' keys. So a
person who left, with a copy of the database taken before they left and their own password,
still opens what was written before (they had read it), and nothing written after.

An older case whose reporter has no key pair yet (received before key epochs; only the
reporter's code opens its content key) keeps its content key through an epoch change, because
nobody but the reporter could open a new one; the content key is renewed at the reporter's
next sign-in (whistle/reporting/followup.py), before they can write anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import KeyKind, PublicKey
from whistle.casefile.access import KeyRing, OpenedKeys
from whistle.casefile.holders import HANDLING_ROLES
from whistle.casefile.sealing import SealedKey, add_sealed_keys, seal_key
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.models import Case, CaseKey, User
from whistle.core.trust import certified_user_ids, trusted_recovery_key


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
    sealed = _seal_epoch(session, case, fresh, epoch, held, remaining)
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


def _vouched_holders(session: Session, case: Case, remaining: list[int]) -> dict[int, User]:
    """Those of ``remaining`` whose key a lead still vouches for: a holder whose key was
    swapped in the database gets no key of the new epoch (whistle/keys/certification.py)."""
    candidates = [
        u
        for u in session.scalars(select(User).where(User.id.in_(remaining or [-1])))
        if u.public_key is not None
    ]
    vouched = certified_user_ids(session, case.org_id, candidates, HANDLING_ROLES)
    return {u.id: u for u in candidates if u.id in vouched}


def _seal_epoch(
    session: Session,
    case: Case,
    fresh: Mapping[KeyKind, bytes],
    epoch: int,
    held: Mapping[int, set[str]],
    remaining: list[int],
) -> list[SealedKey]:
    """The fresh keys sealed to the recovery key, the reporter's key pair (content) and each
    holder who remains (the kinds they held)."""
    users = _vouched_holders(session, case, remaining)
    recovery = trusted_recovery_key(session, case.org_id)
    sealed = [
        seal_key(recovery, key, case.uid, kind, "recovery", None, epoch)
        for kind, key in fresh.items()
    ]
    if KeyKind.CONTENT in fresh:  # renewed only when the reporter has a key pair
        assert case.reporter_public_key is not None
        sealed.append(
            seal_key(
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
            seal_key(public, key, case.uid, kind, "user", user_id, epoch)
            for kind, key in fresh.items()
            if kind.value in held[user_id]
        ]
    return sealed
