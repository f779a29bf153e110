"""The unit's side of an identity disclosure (K2): asking for one (to a named public
authority, or to counsel on the reporter's consent), a unit lead's decision on one made
without notice, withdrawing one unused, and withdrawing those made under the old rule.

Each public function here is a whole unit of work: it commits (the commit rule).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.content import MAX_TEXT
from whistle.casefile.conversation import post_message
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Author, Case, IdentityDisclosure, Message, User
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.disclosure.rules import (
    AUTHORITY_NOTE,
    GROUNDS,
    MAX_AUTHORITY,
    OPEN,
    REASONS_NOTE,
    RECIPIENTS,
    WITHDRAWN_OLD_RULE,
    WITHHELD_NOTE,
    authority_names,
    counsel_of,
    find_disclosure,
    made_under_old_rule,
)
from whistle.notify.outbox import queue_disclosure_approval


@dataclass(frozen=True, repr=False)
class _Asked:
    """A request as checked: to whom, on what ground, with which words. SECRET (the words)."""

    recipient: str
    ground: str
    counsel: User | None
    authority: str  # the authority's name, "" for counsel
    reasons: str
    withhold_notice: bool
    withheld_reason: str  # "" unless the notice is withheld


def request(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    recipient: str,
    ground: str,
    reasons: str,
    authority: str = "",
    counsel_id: int = 0,
    withhold_notice: bool = False,
    withhold_reason: str = "",
) -> IdentityDisclosure:
    """Start a disclosure of the reporter's identity to the public authority named
    ``authority`` (``recipient`` "authority") or to counsel ``counsel_id`` ("counsel", only on
    the reporter's consent), with its audit entry, and commit.

    With ``withhold_notice`` the reporter is not told (the investigation would be put at
    risk) and the disclosure waits for a unit lead's approval; otherwise the reporter gets the
    reasons (after the authority's name) in their mailbox now, as a request for consent when
    ``ground`` is consent.
    """
    asked = _check_request(
        session,
        case,
        keys,
        recipient=recipient,
        ground=ground,
        reasons=reasons,
        authority=authority,
        counsel_id=counsel_id,
        withhold_notice=withhold_notice,
        withhold_reason=withhold_reason,
    )
    _refuse_if_under_way(session, case, keys, asked)
    disclosure = _new_disclosure(clock, case, user_id, asked)
    with unit_of_work(session):
        _write_notes(session, clock, case, keys, user_id, disclosure, asked)
        session.add(disclosure)
        session.flush()
        _record_requested(session, clock, case, user_id, disclosure, asked)
        if withhold_notice:
            queue_disclosure_approval(session, clock, case, disclosure)
        else:
            _tell_reporter(session, clock, store, case, keys, user_id, disclosure, asked)
    return disclosure


def _check_request(
    session: Session,
    case: Case,
    keys: OpenedKeys,
    *,
    recipient: str,
    ground: str,
    reasons: str,
    authority: str,
    counsel_id: int,
    withhold_notice: bool,
    withhold_reason: str,
) -> _Asked:
    if case.identity is None:
        raise Refused("ground", _l("The reporter is anonymous: there is no identity to disclose."))
    if keys.identity is None or keys.notes is None:
        raise NoAccess
    if recipient not in RECIPIENTS:
        raise Refused("recipient", _l("Choose to whom the identity is disclosed."))
    if ground not in GROUNDS:
        raise Refused("ground", _l("Choose the ground for the disclosure."))
    counsel, authority_name = _to_whom(session, case, recipient, ground, counsel_id, authority)
    text = _text(reasons, "reasons", _l("Write the reasons the reporter will be given."))
    withheld_text = _why_withheld(ground, withhold_reason) if withhold_notice else ""
    return _Asked(recipient, ground, counsel, authority_name, text, withhold_notice, withheld_text)


def _to_whom(
    session: Session, case: Case, recipient: str, ground: str, counsel_id: int, authority: str
) -> tuple[User | None, str]:
    """Counsel (on consent only), or the authority's name."""
    if recipient != "counsel":
        return None, _authority_name(authority)
    if ground != "consent":
        raise Refused(
            "ground",
            _l(
                "Without the reporter's consent the identity may be disclosed only to a "
                "public authority, never to counsel: choose a public authority, or ask "
                "for the reporter's consent."
            ),
        )
    return _recipient(session, case, counsel_id), ""


def _why_withheld(ground: str, withhold_reason: str) -> str:
    if ground == "consent":
        raise Refused(
            "withhold_notice",
            _l("Consent is asked of the reporter, so the reporter is always told."),
        )
    return _text(
        withhold_reason,
        "withhold_reason",
        _l("Say why telling the reporter would jeopardise the investigation."),
    )


def _recipient(session: Session, case: Case, counsel_id: int) -> User:
    found = next((u for u in counsel_of(session, case.org_id) if u.id == counsel_id), None)
    if found is None:
        raise Refused("counsel", _l("Choose counsel from the list."))
    return found


def _text(value: str, field: str, missing: object) -> str:
    text = content.required_text(value, field, missing)
    if len(text) > MAX_TEXT:
        raise Refused(field, _l("Use at most %(n)d characters.", n=MAX_TEXT))
    return text


def _authority_name(value: str) -> str:
    # One line, as it heads the notice and the document: runs of blanks and line breaks
    # become one space.
    name = " ".join(value.split())
    if not name:
        raise Refused(
            "authority", _l("Name the public authority, for example the police or a court.")
        )
    if len(name) > MAX_AUTHORITY:
        raise Refused("authority", _l("Use at most %(n)d characters.", n=MAX_AUTHORITY))
    return name


def _refuse_if_under_way(session: Session, case: Case, keys: OpenedKeys, asked: _Asked) -> None:
    under_way = select(IdentityDisclosure).where(
        IdentityDisclosure.case_id == case.id, IdentityDisclosure.status.in_(OPEN)
    )
    if asked.counsel is not None:
        if session.scalar(
            under_way.where(IdentityDisclosure.recipient_user_id == asked.counsel.id)
        ):
            raise Refused(
                "counsel",
                _l(
                    "A disclosure to this counsel is already under way: finish or withdraw it "
                    "first."
                ),
            )
        return
    named = authority_names(session, case, keys)
    open_notes = {
        d.authority_note_id
        for d in session.scalars(under_way.where(IdentityDisclosure.recipient == "authority"))
    }
    if any(named.get(n or 0, "").casefold() == asked.authority.casefold() for n in open_notes):
        raise Refused(
            "authority",
            _l("A disclosure to this authority is already under way: finish or withdraw it first."),
        )


def _new_disclosure(clock: Clock, case: Case, user_id: int, asked: _Asked) -> IdentityDisclosure:
    consent = asked.ground == "consent"
    return IdentityDisclosure(
        uid=str(uuid.uuid4()),
        org_id=case.org_id,
        case_id=case.id,
        recipient=asked.recipient,
        recipient_user_id=asked.counsel.id if asked.counsel is not None else None,
        ground=asked.ground,
        notice="withheld" if asked.withhold_notice else ("consent" if consent else "sent"),
        status=(
            "awaiting_approval"
            if asked.withhold_notice
            else ("awaiting_consent" if consent else "ready")
        ),
        requested_by=user_id,
        requested_on=clock.now().date(),
    )


def _write_notes(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    disclosure: IdentityDisclosure,
    asked: _Asked,
) -> None:
    """The authority's name, the reasons and why the notice is withheld, as case notes under
    the notes key."""
    if asked.authority:
        disclosure.authority_note_id = content.write_note(
            session, clock, case, keys, user_id, AUTHORITY_NOTE, asked.authority
        ).id
    disclosure.reasons_note_id = content.write_note(
        session, clock, case, keys, user_id, REASONS_NOTE, asked.reasons
    ).id
    if asked.withhold_notice:
        disclosure.withheld_note_id = content.write_note(
            session, clock, case, keys, user_id, WITHHELD_NOTE, asked.withheld_reason
        ).id


def _record_requested(
    session: Session,
    clock: Clock,
    case: Case,
    user_id: int,
    disclosure: IdentityDisclosure,
    asked: _Asked,
) -> None:
    audit.record(
        session,
        clock,
        action="identity.disclosure_requested",
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={
            "disclosure": disclosure.id,
            "recipient": asked.recipient,
            "ground": asked.ground,
            "notice": disclosure.notice,
            "counsel": asked.counsel.id if asked.counsel is not None else None,
            "authority_note": disclosure.authority_note_id,
        },
    )


def _tell_reporter(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    disclosure: IdentityDisclosure,
    asked: _Asked,
) -> None:
    """The notice, or the request for consent, in the reporter's mailbox, linked to the
    disclosure. (post_message commits the message with everything before it.)"""

    def link(message: Message) -> None:
        disclosure.message_id = message.id

    # The reporter reads the authority's name first, then the reasons: the mailbox
    # introduces them in the reader's language (templates/reporting/mailbox.html).
    post_message(
        session,
        clock,
        store,
        case,
        keys.content,
        author=Author.HANDLER,
        body=f"{asked.authority}\n\n{asked.reasons}" if asked.authority else asked.reasons,
        user_id=user_id,
        kind="consent_request" if asked.ground == "consent" else "disclosure_notice",
        with_message=link,
    )


def decide(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    disclosure_id: int,
    *,
    approve: bool,
) -> None:
    """A unit lead's decision on a disclosure without notice to the reporter, with its audit
    entry, and commit.

    The caller checks the lead role; here: it must be a second person, one who can read the
    reasons (the case's notes key)."""
    disclosure = find_disclosure(session, case, disclosure_id)
    if disclosure.status != "awaiting_approval":
        raise Refused("disclosure", _l("This disclosure is not waiting for approval."))
    if disclosure.requested_by == user_id:
        raise Refused(
            "disclosure",
            _l("A second person must decide: you asked for this disclosure yourself."),
        )
    if keys.notes is None:
        raise NoAccess
    with unit_of_work(session):
        disclosure.status = "ready" if approve else "refused"
        disclosure.decided_by = user_id
        disclosure.decided_on = clock.now().date()
        audit.record(
            session,
            clock,
            action="identity.disclosure_approved" if approve else "identity.disclosure_refused",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"disclosure": disclosure.id},
        )


def withdraw(session: Session, clock: Clock, case: Case, user_id: int, disclosure_id: int) -> None:
    """The unit drops a disclosure that has not been used, with its audit entry, and
    commit."""
    disclosure = find_disclosure(session, case, disclosure_id)
    if disclosure.status not in OPEN:
        raise Refused("disclosure", _l("This disclosure can no longer be withdrawn."))
    with unit_of_work(session):
        disclosure.status = "withdrawn"
        audit.record(
            session,
            clock,
            action="identity.disclosure_withdrawn",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"disclosure": disclosure.id},
        )


def retire_old_rule(session: Session, clock: Clock, case: Case) -> int:
    """Withdraw the case's unused disclosures to counsel on a legal ground, each with an audit
    entry, and commit when there were any; returns how many.

    Migration 0018 withdraws those that existed when it ran; this catches one an app process
    of the old version made after it (the page calls it on every visit)."""
    rows = session.scalars(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id,
            IdentityDisclosure.status.in_(OPEN),
            made_under_old_rule(),
        )
    ).all()
    if not rows:
        return 0
    with unit_of_work(session):
        for row in rows:
            row.status = WITHDRAWN_OLD_RULE
            audit.record(
                session,
                clock,
                action="identity.disclosure_withdrawn_old_rule",
                org_id=case.org_id,
                case=case,
                detail={"disclosure": row.id},
            )
    return len(rows)
