"""Who may read a case, changed after intake: giving it to a colleague, stepping aside, keeping
someone out after the fact, leaving the organisation, assignment by the unit lead, and the
offline recovery procedure (REQUIREMENTS.md K3).

Access *is* holding a sealed copy of the case keys (whistle/casefile/access.py). Giving a case
seals every key the giver holds, of every key epoch, to one more public key; no data is
re-encrypted. Leaving a case, for whatever reason, moves it to a new key epoch without the
person who leaves (whistle/casefile/epochs.py ``renew_keys``): their key rows are deleted, and
what is written afterwards is encrypted under keys they never had. The rights requests about
the case follow (whistle/rights/linked_cases.py). A handler the reporter excluded, at intake or
later, is never offered and never accepted, by any route.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import KeyKind, PrivateKey, PublicKey, decrypt_field, encrypt_field
from whistle.casefile import request_keys
from whistle.casefile.access import KeyRing, NoAccess, OpenedKeys, open_recovery_keys
from whistle.casefile.content import report_of, required_text, write_note
from whistle.casefile.epochs import NewEpoch, renew_keys
from whistle.casefile.holders import certified_members, holder_ids, unit_members
from whistle.casefile.sealing import seal_every_epoch
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import exclusion_context
from whistle.core.db import unit_of_work
from whistle.core.models import Case, CaseExclusion, User
from whistle.core.refusals import Refused

BY_REPORTER = "reporter"
BY_LEAD = "lead"


def holders(session: Session, case_id: int) -> list[User]:
    """The users holding the case, by name."""
    ids = holder_ids(session, case_id)
    return list(
        session.scalars(
            select(User).where(User.id.in_(ids or {-1})).order_by(User.display_name, User.id)
        )
    )


@dataclass(frozen=True)
class Exclusion:
    user_id: int
    by: str  # "reporter" or "lead"
    on: date


def exclusions(session: Session, case: Case, content: KeyRing) -> list[Exclusion]:
    """The handlers kept out of the case after intake, oldest first (decrypted in memory)."""
    found = []
    for row in session.scalars(
        select(CaseExclusion).where(CaseExclusion.case_id == case.id).order_by(CaseExclusion.id)
    ):
        data = json.loads(
            decrypt_field(
                content.at(row.key_epoch), row.body, context=exclusion_context(case.uid, row.uid)
            )
        )
        found.append(Exclusion(int(data["user"]), str(data["by"]), row.created_on))
    return found


def excluded_ids(session: Session, case: Case, content: KeyRing) -> set[int]:
    """Everyone kept out of the case: by the reporter at intake, and after it."""
    at_intake = {int(u) for u in report_of(case, content).get("excluded_handlers", [])}
    return at_intake | {e.user_id for e in exclusions(session, case, content)}


def entitled_colleagues(session: Session, case: Case, keys: OpenedKeys) -> list[User]:
    """Handlers and leads of the organisation who could be given the case: active, with a key
    a unit lead certified, not holding it already, and not excluded (K3)."""
    excluded = excluded_ids(session, case, keys.content)
    have = holder_ids(session, case.id)
    return [
        u
        for u in certified_members(session, case.org_id)
        if u.id not in have and u.id not in excluded
    ]


def grant_access(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, grantee_id: int
) -> None:
    """Seal the keys this handler holds, every epoch, to a colleague (re-wrap, no
    re-encryption). Commits.

    A colleague who was excluded can never be given the case.
    """
    with unit_of_work(session):
        grantee = next(
            (u for u in entitled_colleagues(session, case, keys) if u.id == grantee_id), None
        )
        if grantee is None or grantee.public_key is None:
            raise Refused("grantee", _l("Choose a colleague who may handle this case."))
        _give(session, clock, case, keys, grantee, "case.access_granted", actor_user_id=user_id)


def _give(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    grantee: User,
    action: str,
    *,
    actor_user_id: int | None,
) -> None:
    """Seal every epoch's keys in ``keys`` to ``grantee`` and record who gave them."""
    if grantee.public_key is None:
        raise NoAccess
    seal_every_epoch(
        session, case, keys, PublicKey.from_bytes(grantee.public_key), user_id=grantee.id
    )
    audit.record(
        session,
        clock,
        action=action,
        org_id=case.org_id,
        actor_user_id=actor_user_id,
        case=case,
        detail={"grantee": grantee.id},
    )


def depart(
    session: Session,
    clock: Clock,
    case: Case,
    departing: set[int],
    *,
    actor_user_id: int | None,
    reason: str,
) -> NewEpoch | None:
    """``departing`` leave ``case``: a new key epoch without them, their key rows gone, the
    case's rights requests renewed the same way, and no longer its assignee. Returns the new
    epoch (None if none of them held the case). Flushes."""
    renewed = renew_keys(
        session, clock, case, departing=departing, actor_user_id=actor_user_id, reason=reason
    )
    request_keys.leave_case_requests(
        session, clock, case.id, departing, actor_user_id=actor_user_id, reason=reason
    )
    if case.assigned_user_id in departing:
        case.assigned_user_id = None
    session.flush()
    return renewed


def recuse(session: Session, clock: Clock, case: Case, user_id: int) -> None:
    """The handler steps aside (K3): the case moves to a new key epoch without them and their
    copies of the keys are destroyed. Commits.

    If nobody else holds the case, the organisation's recovery key still does (docs/recovery.md).
    """
    with unit_of_work(session):
        depart(session, clock, case, {user_id}, actor_user_id=user_id, reason="recused")
        audit.record(
            session,
            clock,
            action="case.recused",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
        )


def exclude(
    session: Session,
    clock: Clock,
    case: Case,
    content: KeyRing,
    excluded_id: int,
    *,
    by: str,
    actor_user_id: int | None,
) -> NewEpoch | None:
    """Keep ``excluded_id`` out of the case from now on (K3), at the reporter's wish or a unit
    lead's: if they hold the case it moves to a new key epoch without them, and the exclusion
    is recorded under the newest content key (the reporter reads their own; the person kept
    out never holds it). Returns the new epoch, if one was made. Flushes; the caller commits
    (with the lead's reason note, or the reporter's page)."""
    if excluded_id in excluded_ids(session, case, content):
        return None
    renewed = depart(
        session, clock, case, {excluded_id}, actor_user_id=actor_user_id, reason="excluded"
    )
    ring = content
    if renewed is not None and KeyKind.CONTENT in renewed.keys:
        ring = KeyRing({**content.keys, renewed.epoch: renewed.keys[KeyKind.CONTENT]})
    uid = str(uuid.uuid4())
    body = json.dumps({"v": 1, "user": excluded_id, "by": by}).encode()
    session.add(
        CaseExclusion(
            uid=uid,
            org_id=case.org_id,
            case_id=case.id,
            created_on=clock.now().date(),
            body=encrypt_field(ring.current, body, context=exclusion_context(case.uid, uid)),
            key_epoch=ring.epoch,
        )
    )
    audit.record(
        session,
        clock,
        action="case.handler_excluded",
        day_only=actor_user_id is None,
        org_id=case.org_id,
        actor_user_id=actor_user_id,
        case=case,
        detail={"by": by},
    )
    session.flush()
    return renewed


def excludable(session: Session, case: Case, content: KeyRing) -> list[User]:
    """The people the reporter may still keep out of the case: the unit's handlers and leads
    not excluded already (whether or not they hold the case now), by name."""
    excluded = excluded_ids(session, case, content)
    return [u for u in unit_members(session, case.org_id) if u.id not in excluded]


def exclude_by_reporter(
    session: Session, clock: Clock, case: Case, content: KeyRing, excluded_id: int
) -> None:
    """The reporter keeps a handler out of their case, from the mailbox. Commits."""
    with unit_of_work(session):
        if excluded_id not in {u.id for u in excludable(session, case, content)}:
            raise Refused("handler", _l("Choose a person from the list."))
        exclude(session, clock, case, content, excluded_id, by=BY_REPORTER, actor_user_id=None)


def remove_from_case(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    lead_user_id: int,
    removed_id: int,
    reason: str,
) -> None:
    """A unit lead takes the case away from a handler (a conflict of interest found later):
    the reason is an internal note, and the handler is kept out from now on. Commits."""
    with unit_of_work(session):
        if removed_id == lead_user_id:
            raise Refused("handler", _l("To leave the case yourself, step aside."))
        if removed_id not in holder_ids(session, case.id):
            raise Refused("handler", _l("Choose a colleague who holds the case."))
        text = required_text(reason, "reason", _l("Give the reason for taking the case away."))
        renewed = exclude(
            session, clock, case, keys.content, removed_id, by=BY_LEAD, actor_user_id=lead_user_id
        )
        # The reason is written under the new epoch's notes key: the handler taken off the case
        # never reads why, not even from a later copy of the database.
        write_note(
            session,
            clock,
            case,
            renewed.joined(keys) if renewed else keys,
            lead_user_id,
            "access",
            text,
        )


def leave_organisation(
    session: Session,
    clock: Clock,
    user_id: int,
    *,
    org_id: int | None,
    actor_user_id: int | None,
    reason: str,
) -> int:
    """``user_id`` leaves every case and rights request they hold in ``org_id`` (or in every
    organisation: a deactivated account). Each case moves to a new key epoch without them.
    Returns how many cases. Flushes, never commits."""
    from whistle.casefile.holders import held_case_ids

    count = 0
    for case_id in held_case_ids(session, user_id, org_id):
        case = session.get(Case, case_id)
        if case is not None:
            depart(session, clock, case, {user_id}, actor_user_id=actor_user_id, reason=reason)
            count += 1
    request_keys.leave_requests(
        session, clock, user_id, org_id=org_id, actor_user_id=actor_user_id, reason=reason
    )
    return count


def assign(
    session: Session, clock: Clock, case: Case, lead_user_id: int, assignee_id: int | None
) -> None:
    """The unit lead assigns the case to a handler who holds it (or clears it). Commits."""
    with unit_of_work(session):
        if assignee_id is not None and assignee_id not in holder_ids(session, case.id):
            raise Refused(
                "assignee", _l("Give the case to this colleague first: they hold no key to it.")
            )
        case.assigned_user_id = assignee_id
        audit.record(
            session,
            clock,
            action="case.assigned",
            org_id=case.org_id,
            actor_user_id=lead_user_id,
            case=case,
            detail={"assignee": assignee_id},
        )


def restore_with_recovery(
    session: Session, clock: Clock, case: Case, recovery_key: PrivateKey, grantee: User
) -> None:
    """Give ``grantee`` the case through the organisation's recovery key. Commits.

    The offline procedure for a case no entitled handler can open any more (docs/recovery.md):
    the recovery key's holder opens the recovery copies of the case keys, every epoch, and
    seals them to a handler. A handler who was excluded can never be given the case this way
    either.
    """
    with unit_of_work(session):
        keys = open_recovery_keys(session, case, recovery_key)
        if grantee.id not in {u.id for u in entitled_colleagues(session, case, keys)}:
            raise Refused(
                "grantee",
                _l(
                    "This person cannot be given the case: not an active handler, "
                    "excluded by the reporter, or already holding it."
                ),
            )
        _give(session, clock, case, keys, grantee, "case.recovered", actor_user_id=None)
