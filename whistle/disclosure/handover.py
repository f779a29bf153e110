"""Handing a reporter's identity over to a public authority (K2): what may be handed over
and by whom, and the handover itself, recorded once in the case's disclosure register. The
document that goes with it is drawn in whistle/disclosure/document.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import OpenedKeys
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, Disclosure, IdentityDisclosure
from whistle.core.refusals import Refused
from whistle.disclosure.rules import authority_names, find_disclosure


@dataclass(frozen=True, repr=False)
class Handover:
    """A disclosure to a public authority, as the handover page and its document show it.
    ``identity`` is filled only in the answer of :func:`hand_over`. SECRET then."""

    disclosure_id: int
    case_reference: str
    authority: str
    ground: str
    notice: str
    requested_on: date
    requested_by: str
    decided_by: str
    decided_on: date | None
    handed_over_on: date | None = None
    handed_over_by: str = ""
    identity: content.Identity | None = None

    def __repr__(self) -> str:
        return f"Handover(disclosure={self.disclosure_id})"


def _handover(
    session: Session, case: Case, keys: OpenedKeys, disclosure_id: int
) -> tuple[IdentityDisclosure, Handover]:
    found = find_disclosure(session, case, disclosure_id)
    if found.recipient != "authority":
        raise Refused(
            "disclosure",
            _l("This disclosure is to counsel: it goes out in a case file, not handed over."),
        )
    if found.status == "used":
        raise Refused("disclosure", _l("This disclosure has already been handed over."))
    if found.status != "ready":
        raise Refused("disclosure", _l("This disclosure is not ready to be handed over."))
    if keys.identity is None or keys.notes is None:
        raise Refused(
            "disclosure",
            _l(
                "You do not hold the keys to the reporter's identity and the internal notes of "
                "this case: a colleague who does must hand it over."
            ),
        )
    names = content.user_names(
        session, {p for p in (found.requested_by, found.decided_by) if p is not None}
    )
    view = Handover(
        disclosure_id=found.id,
        case_reference=case.reference,
        authority=authority_names(session, case, keys).get(found.authority_note_id or 0, ""),
        ground=found.ground,
        notice=found.notice,
        requested_on=found.requested_on,
        requested_by=names.get(found.requested_by or 0, "?"),
        decided_by=names.get(found.decided_by or 0, ""),
        decided_on=found.decided_on,
    )
    return found, view


def handover_for(session: Session, case: Case, keys: OpenedKeys, disclosure_id: int) -> Handover:
    """The disclosure to an authority that ``keys`` may hand over now, without the identity
    (the page that asks for the go-ahead). Refused when it may not be handed over."""
    return _handover(session, case, keys, disclosure_id)[1]


def hand_over(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    disclosure_id: int,
    *,
    prepare: Callable[[Handover], None] | None = None,
) -> Handover:
    """Hand the reporter's identity over to the public authority a ready disclosure names,
    record it in the register and the audit log, and commit. Used once: the disclosure is
    then "used", and the register records which authority, when, by whom and on what ground;
    the audit entry holds ids only.

    ``prepare`` gets the handover, identity included, before anything is written (the page
    draws its document there, which takes a moment: not while the audit log's head is
    locked): if it fails, nothing is recorded."""
    found, view = _handover(session, case, keys, disclosure_id)
    today = clock.now().date()
    handed = replace(
        view,
        handed_over_on=today,
        handed_over_by=content.user_names(session, {user_id}).get(user_id, "?"),
        identity=content.read_identity(case, keys),
    )
    if prepare is not None:
        prepare(handed)
    with unit_of_work(session):
        _claim(session, found, user_id, today)
        entry = Disclosure(
            org_id=case.org_id,
            case_id=case.id,
            kind="authority",
            identity_disclosure_id=found.id,
            includes_identity=True,
            disclosed_on=today,
            by_user_id=user_id,
        )
        session.add(entry)
        session.flush()
        audit.record(
            session,
            clock,
            action="identity.handed_over",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"disclosure": found.id, "register": entry.id, "ground": found.ground},
        )
    return handed


def _claim(session: Session, found: IdentityDisclosure, user_id: int, today: date) -> None:
    # Claimed with a conditional update: of two handovers racing, only one is recorded.
    claimed = session.execute(
        update(IdentityDisclosure)
        .where(IdentityDisclosure.id == found.id, IdentityDisclosure.status == "ready")
        .values(status="used", handed_over_by=user_id, handed_over_on=today)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused("disclosure", _l("This disclosure has already been handed over."))
