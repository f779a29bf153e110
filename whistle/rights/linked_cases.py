"""Data-subject rights: the cases a request concerns (REQUIREMENTS.md S2-S4).

Linking a case to a request narrows who may open the request to those who hold the case as
well (its key is renewed without the others, whistle/casefile/request_keys.py). A request for
restriction (GDPR art. 18) flags items of its linked cases, which every export and disclosure
then leaves out. This module also says what of a case is the person's to see: the report's
account of events and the conversation, never the identity.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from whistle.casefile.access import KeyRing, NoAccess
from whistle.casefile.conversation import MessageView, conversation
from whistle.casefile.holders import holds
from whistle.casefile.request_keys import renew_request_key, request_holder_ids
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, ItemRestriction, Message, RightsRequest, RightsRequestCase
from whistle.core.refusals import Refused
from whistle.rights.requests import Kind, record, require_open

# The report fields a person concerned may see; never "excluded_handlers" or the identity.
REPORT_FIELDS = ("what", "when_where", "who", "how_known")


def live_messages(session: Session, case: Case, content: KeyRing) -> list[MessageView]:
    """The conversation without purged messages (whistle/casefile/conversation.py decrypts it)."""
    return [m for m in conversation(session, case, content) if m.purged_on is None]


# --- Linking ---------------------------------------------------------------------------------


def link_case(
    session: Session, clock: Clock, request: RightsRequest, case: Case, user_id: int
) -> None:
    """Record that the request concerns ``case`` (the user must hold it), and commit.

    From now on only those who hold the case as well may open the request: its key is renewed
    without the others."""
    with unit_of_work(session):
        require_open(request)
        if case.org_id != request.org_id or not holds(session, case.id, user_id):
            raise NoAccess
        exists = session.get(RightsRequestCase, (request.id, case.id))
        if exists is None:
            session.add(
                RightsRequestCase(request_id=request.id, case_id=case.id, org_id=case.org_id)
            )
            session.flush()
            outside = {
                u for u in request_holder_ids(session, request.id) if not holds(session, case.id, u)
            }
            renew_request_key(
                session, clock, request, outside, actor_user_id=user_id, reason="case_linked"
            )
            record(session, clock, request, user_id, "rights.case_linked", case=case.id)


def unlink_case(
    session: Session, clock: Clock, request: RightsRequest, case_id: int, user_id: int
) -> None:
    """Record that the request does not concern the case after all, and commit."""
    with unit_of_work(session):
        require_open(request)
        session.execute(
            delete(RightsRequestCase).where(
                RightsRequestCase.request_id == request.id, RightsRequestCase.case_id == case_id
            )
        )
        record(session, clock, request, user_id, "rights.case_unlinked", case=case_id)


def linked_cases(session: Session, request: RightsRequest) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .join(RightsRequestCase, RightsRequestCase.case_id == Case.id)
            .where(RightsRequestCase.request_id == request.id)
            .order_by(Case.received_on, Case.id)
        )
    )


# --- Restriction -----------------------------------------------------------------------------


def restricted_items(session: Session, case_id: int) -> set[tuple[str, int]]:
    """(item kind, item id) of every restricted item of the case; ("report", 0) for the report."""
    return {
        (kind, item_id)
        for kind, item_id in session.execute(
            select(ItemRestriction.item_kind, ItemRestriction.item_id).where(
                ItemRestriction.case_id == case_id
            )
        )
    }


def restrict(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    case: Case,
    user_id: int,
    *,
    item_kind: str,
    item_id: int,
) -> None:
    """Flag an item of a linked case as restricted (art. 18): left out of every export and
    disclosure while it stands; and commit."""
    with unit_of_work(session):
        item_id = _restrictable_item(session, request, case, item_kind, item_id)
        if (item_kind, item_id) not in restricted_items(session, case.id):
            session.add(
                ItemRestriction(
                    org_id=case.org_id,
                    case_id=case.id,
                    item_kind=item_kind,
                    item_id=item_id,
                    request_id=request.id,
                    since=clock.now().date(),
                )
            )
            record(
                session,
                clock,
                request,
                user_id,
                "rights.item_restricted",
                case=case.id,
                item=item_kind,
            )


def _restrictable_item(
    session: Session, request: RightsRequest, case: Case, item_kind: str, item_id: int
) -> int:
    """The id the restriction of the item is stored under (0 for the report); Refused unless
    the request restricts and the item belongs to a linked case."""
    if request.kind != Kind.RESTRICTION:
        raise Refused("item", _l("Only a request for restriction restricts items."))
    if session.get(RightsRequestCase, (request.id, case.id)) is None:
        raise Refused("item", _l("Link the case to the request first."))
    if item_kind == "report":
        return 0
    if item_kind == "message":
        owner = session.scalar(select(Message.case_id).where(Message.id == item_id))
        if owner == case.id:
            return item_id
    raise Refused("item", _l("Choose an item of this case."))
