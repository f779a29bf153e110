"""Who may read a case, changed after intake: giving it to a colleague, stepping aside,
assignment by the unit lead, and the offline recovery procedure (REQUIREMENTS.md K3).

Access *is* holding a sealed copy of the case keys (whistle/case_access.py): giving a case is
sealing the keys to one more public key, stepping aside is deleting one's copies, and no
data is ever re-encrypted. A handler the reporter excluded at intake is never offered and
never accepted, by any route.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import KeyKind, PrivateKey, PublicKey, open_case_key, seal_case_key
from whistle import audit
from whistle.case_access import SealedKey, add_sealed_keys, certified_members
from whistle.clock import Clock
from whistle.handling import ActionRefused, NoAccess, OpenedKeys, read_report
from whistle.models import Case, CaseKey, User


def holders(session: Session, case_id: int) -> list[User]:
    """The users holding a content key of the case, by name."""
    return list(
        session.scalars(
            select(User)
            .join(CaseKey, CaseKey.user_id == User.id)
            .where(CaseKey.case_id == case_id, CaseKey.kind == KeyKind.CONTENT.value)
            .order_by(User.display_name, User.id)
        )
    )


def entitled_colleagues(session: Session, case: Case, keys: OpenedKeys) -> list[User]:
    """Handlers and leads of the organisation who could be given the case: active, with a key
    a unit lead certified, not holding it already, and not excluded by the reporter (K3)."""
    excluded = set(read_report(case, keys).get("excluded_handlers", []))
    have = {u.id for u in holders(session, case.id)}
    return [
        u
        for u in certified_members(session, case.org_id)
        if u.id not in have and u.id not in excluded
    ]


def _seal_to(session: Session, case: Case, grantee: User, keys: dict[KeyKind, bytes]) -> None:
    assert grantee.public_key is not None
    public = PublicKey.from_bytes(grantee.public_key)
    add_sealed_keys(
        session,
        org_id=case.org_id,
        case_id=case.id,
        sealed=[
            SealedKey(
                kind=kind.value,
                recipient="user",
                user_id=grantee.id,
                sealed=seal_case_key(public, key, case_id=case.uid, kind=kind),
            )
            for kind, key in keys.items()
        ],
    )


def grant_access(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, grantee_id: int
) -> None:
    """Seal the keys this handler holds to a colleague (re-wrap, no re-encryption). Commits.

    A colleague the reporter excluded can never be given the case.
    """
    grantee = next(
        (u for u in entitled_colleagues(session, case, keys) if u.id == grantee_id), None
    )
    if grantee is None:
        raise ActionRefused("grantee", _l("Choose a colleague who may handle this case."))
    held = {
        KeyKind.CONTENT: keys.content,
        KeyKind.NOTES: keys.notes,
        KeyKind.IDENTITY: keys.identity,
    }
    _seal_to(session, case, grantee, {k: v for k, v in held.items() if v is not None})
    audit.record(
        session,
        clock,
        action="case.access_granted",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={"grantee": grantee.id},
    )
    session.commit()


def recuse(session: Session, clock: Clock, case: Case, user_id: int) -> None:
    """The handler steps aside (K3): their copies of the keys are destroyed. Commits.

    If nobody else holds the case, the organisation's recovery key still does (docs/recovery.md).
    """
    session.execute(delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.user_id == user_id))
    if case.assigned_user_id == user_id:
        case.assigned_user_id = None
    audit.record(
        session, clock, action="case.recused", org_id=case.org_id, actor_user_id=user_id, case=case
    )
    session.commit()


def assign(
    session: Session, clock: Clock, case: Case, lead_user_id: int, assignee_id: int | None
) -> None:
    """The unit lead assigns the case to a handler who holds it (or clears it). Commits."""
    if assignee_id is not None and assignee_id not in {u.id for u in holders(session, case.id)}:
        raise ActionRefused(
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
    session.commit()


def restore_with_recovery(
    session: Session, clock: Clock, case: Case, recovery_key: PrivateKey, grantee: User
) -> None:
    """Give ``grantee`` the case through the organisation's recovery key. Commits.

    The offline procedure for a case no entitled handler can open any more (docs/recovery.md):
    the recovery key's holder opens the recovery copies of the case keys and seals them to a
    handler. A handler the reporter excluded can never be given the case this way either.
    """
    opened: dict[KeyKind, bytes] = {}
    for row in session.scalars(
        select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient == "recovery")
    ):
        opened[KeyKind(row.kind)] = open_case_key(
            recovery_key, row.sealed, case_id=case.uid, kind=KeyKind(row.kind)
        )
    if KeyKind.CONTENT not in opened:
        raise NoAccess
    keys = OpenedKeys(
        opened[KeyKind.CONTENT], opened.get(KeyKind.NOTES), opened.get(KeyKind.IDENTITY)
    )
    if grantee.id not in {u.id for u in entitled_colleagues(session, case, keys)}:
        raise ActionRefused(
            "grantee",
            _l(
                "This person cannot be given the case: not an active handler, "
                "excluded by the reporter, or already holding it."
            ),
        )
    _seal_to(session, case, grantee, opened)
    audit.record(
        session,
        clock,
        action="case.recovered",
        org_id=case.org_id,
        actor_user_id=None,
        case=case,
        detail={"grantee": grantee.id},
    )
    session.commit()
