"""The terms of an identity disclosure (K2): its grounds, recipients and states, the notes
it keeps its words in, and the look-ups every step shares (a disclosure of the case, the
authorities' names, counsel who may receive one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import OpenedKeys
from whistle.casefile.holders import certified_members
from whistle.core.models import Case, IdentityDisclosure, Role, User
from whistle.core.refusals import Refused

GROUNDS = ("consent", "authority", "defence")
# Grounds on which the Act lets the identity go without consent, and then only to a public
# authority (§ 26): never to counsel.
LEGAL_GROUNDS = ("authority", "defence")
RECIPIENTS = ("authority", "counsel")
# A disclosure in one of these states still stands in the way of a second to the same recipient.
OPEN = ("awaiting_consent", "awaiting_approval", "ready")
WITHDRAWN_OLD_RULE = "withdrawn_old_rule"
REASONS_NOTE = "disclosure_reasons"
WITHHELD_NOTE = "disclosure_withheld"
AUTHORITY_NOTE = "disclosure_authority"
NOTE_KINDS = (REASONS_NOTE, WITHHELD_NOTE, AUTHORITY_NOTE)
MAX_AUTHORITY = 200


def made_under_old_rule() -> ColumnElement[bool]:
    """Disclosures to counsel on a legal ground: allowed before migration 0018, never since."""
    return and_(
        IdentityDisclosure.recipient == "counsel",
        IdentityDisclosure.ground.in_(LEGAL_GROUNDS),
    )


def counsel_of(session: Session, org_id: int) -> list[User]:
    """Active counsel users of the organisation whose key a unit lead certified, by name: the
    people a case file, and so an identity, can be disclosed to (whistle/keys/certification.py)."""
    return certified_members(session, org_id, roles=(Role.COUNSEL,))


def find_disclosure(session: Session, case: Case, disclosure_id: int) -> IdentityDisclosure:
    """The disclosure ``disclosure_id`` of ``case``; refused when the case has none such."""
    found = session.get(IdentityDisclosure, disclosure_id)
    if found is None or found.case_id != case.id:
        raise Refused("disclosure", _l("There is no such disclosure in this case."))
    return found


def authority_names(session: Session, case: Case, keys: OpenedKeys) -> dict[int, str]:
    """The authorities' names, by note id (empty without the notes key)."""
    if keys.notes is None:
        return {}
    return {
        n.id: n.body
        for n in content.notes(session, case, keys)
        if n.kind == AUTHORITY_NOTE and n.purged_on is None
    }
