"""Disclosing a named reporter's identity (REQUIREMENTS.md K2; Act § 26, Directive art. 16).

The identity leaves the unit only in a case file for counsel (whistle/export.py), and only
through a disclosure made here first, one per recipient and export:

- **ground**: the reporter's explicit consent, or a legal ground: disclosure required to a
  public authority to counter violations, or to secure the rights of defence of a person
  concerned;
- **notice**: the reporter is told beforehand, in their mailbox, with the handler's written
  reasons. With consent, the notice *is* the request: the reporter answers it with a button
  and the disclosure is ready only once they agree (they may withdraw until it is used).
  With a legal ground, the notice goes out and the disclosure is ready at once, or, where
  telling the reporter would jeopardise the investigation (art. 16(3)), no notice goes out
  and a second person, a unit lead other than the one asking, must approve first;
- **register**: every step is in the audit log, and the disclosure with its ground, notice
  and approval is listed in the case's disclosure register.

The reasons are case notes under the notes key; the server stores no reason in clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle import audit, handling
from whistle.case_access import certified_members
from whistle.clock import Clock
from whistle.conversation import post_message
from whistle.handling import MAX_TEXT, ActionRefused, NoAccess, OpenedKeys
from whistle.models import (
    Author,
    Case,
    IdentityDisclosure,
    Message,
    Role,
    User,
)
from whistle.storage import FileStore

GROUNDS = ("consent", "authority", "defence")
# A disclosure in one of these states still stands in the way of a second to the same recipient.
OPEN = ("awaiting_consent", "awaiting_approval", "ready")
REASONS_NOTE = "disclosure_reasons"
WITHHELD_NOTE = "disclosure_withheld"
NOTE_KINDS = (REASONS_NOTE, WITHHELD_NOTE)


class UnknownDisclosure(LookupError):
    """No disclosure with this id or uid in this case."""


def counsel_of(session: Session, org_id: int) -> list[User]:
    """Active counsel users of the organisation whose key a unit lead certified, by name: the
    people a case file, and so an identity, can be disclosed to (whistle/certification.py)."""
    return certified_members(session, org_id, roles=(Role.COUNSEL,))


def _recipient(session: Session, case: Case, counsel_id: int) -> User:
    found = next((u for u in counsel_of(session, case.org_id) if u.id == counsel_id), None)
    if found is None:
        raise ActionRefused("counsel", _l("Choose counsel from the list."))
    return found


def _text(value: str, field: str, missing: object) -> str:
    text = handling.required_text(value, field, missing)
    if len(text) > MAX_TEXT:
        raise ActionRefused(field, _l("Use at most %(n)d characters.", n=MAX_TEXT))
    return text


def request(
    session: Session,
    clock: Clock,
    store: FileStore,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    counsel_id: int,
    ground: str,
    reasons: str,
    withhold_notice: bool = False,
    withhold_reason: str = "",
) -> IdentityDisclosure:
    """Start a disclosure of the reporter's identity to counsel ``counsel_id``. Commits.

    With ``withhold_notice`` the reporter is not told (the investigation would be put at
    risk) and the disclosure waits for a unit lead's approval; otherwise the reporter gets the
    reasons in their mailbox now (as a request for consent when ``ground`` is consent).
    """
    if case.identity is None:
        raise ActionRefused(
            "ground", _l("The reporter is anonymous: there is no identity to disclose.")
        )
    if keys.identity is None or keys.notes is None:
        raise NoAccess
    if ground not in GROUNDS:
        raise ActionRefused("ground", _l("Choose the ground for the disclosure."))
    counsel = _recipient(session, case, counsel_id)
    text = _text(reasons, "reasons", _l("Write the reasons the reporter will be given."))
    withheld_text = ""
    if withhold_notice:
        if ground == "consent":
            raise ActionRefused(
                "withhold_notice",
                _l("Consent is asked of the reporter, so the reporter is always told."),
            )
        withheld_text = _text(
            withhold_reason,
            "withhold_reason",
            _l("Say why telling the reporter would jeopardise the investigation."),
        )
    pending = session.scalar(
        select(IdentityDisclosure.id).where(
            IdentityDisclosure.case_id == case.id,
            IdentityDisclosure.recipient_user_id == counsel.id,
            IdentityDisclosure.status.in_(OPEN),
        )
    )
    if pending is not None:
        raise ActionRefused(
            "counsel",
            _l("A disclosure to this counsel is already under way: finish or withdraw it first."),
        )
    today = clock.now().date()
    disclosure = IdentityDisclosure(
        uid=str(uuid.uuid4()),
        org_id=case.org_id,
        case_id=case.id,
        recipient_user_id=counsel.id,
        ground=ground,
        notice="withheld" if withhold_notice else ("consent" if ground == "consent" else "sent"),
        status=(
            "awaiting_approval"
            if withhold_notice
            else ("awaiting_consent" if ground == "consent" else "ready")
        ),
        requested_by=user_id,
        requested_on=today,
    )
    try:
        disclosure.reasons_note_id = handling.write_note(
            session, clock, case, keys, user_id, REASONS_NOTE, text
        ).id
        if withhold_notice:
            disclosure.withheld_note_id = handling.write_note(
                session, clock, case, keys, user_id, WITHHELD_NOTE, withheld_text
            ).id
        session.add(disclosure)
        session.flush()
        audit.record(
            session,
            clock,
            action="identity.disclosure_requested",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={
                "disclosure": disclosure.id,
                "ground": ground,
                "notice": disclosure.notice,
                "counsel": counsel.id,
            },
        )
        if withhold_notice:
            from whistle.notify import queue_disclosure_approval

            queue_disclosure_approval(session, clock, case, disclosure)
            session.commit()
        else:

            def link(message: Message) -> None:
                disclosure.message_id = message.id

            post_message(
                session,
                clock,
                store,
                case,
                keys.content,
                author=Author.HANDLER,
                body=text,
                user_id=user_id,
                kind="consent_request" if ground == "consent" else "disclosure_notice",
                with_message=link,
            )
    except BaseException:
        session.rollback()
        raise
    return disclosure


def _find(session: Session, case: Case, disclosure_id: int) -> IdentityDisclosure:
    found = session.get(IdentityDisclosure, disclosure_id)
    if found is None or found.case_id != case.id:
        raise ActionRefused("disclosure", _l("There is no such disclosure in this case."))
    return found


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
    """A unit lead's decision on a disclosure without notice to the reporter. Commits.

    The caller checks the lead role; here: it must be a second person, one who can read the
    reasons (the case's notes key)."""
    disclosure = _find(session, case, disclosure_id)
    if disclosure.status != "awaiting_approval":
        raise ActionRefused("disclosure", _l("This disclosure is not waiting for approval."))
    if disclosure.requested_by == user_id:
        raise ActionRefused(
            "disclosure",
            _l("A second person must decide: you asked for this disclosure yourself."),
        )
    if keys.notes is None:
        raise NoAccess
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
    session.commit()


def withdraw(session: Session, clock: Clock, case: Case, user_id: int, disclosure_id: int) -> None:
    """The unit drops a disclosure that has not been used. Commits."""
    disclosure = _find(session, case, disclosure_id)
    if disclosure.status not in OPEN:
        raise ActionRefused("disclosure", _l("This disclosure can no longer be withdrawn."))
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
    session.commit()


# --- The reporter's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentRequest:
    """What the reporter's mailbox shows beside a consent request or a notice."""

    uid: str
    recipient: str
    ground: str
    status: str
    can_consent: bool
    can_refuse: bool


def for_reporter(session: Session, case: Case) -> dict[int, ConsentRequest]:
    """The disclosures the reporter was told about, by the id of the message that told them."""
    rows = session.scalars(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id, IdentityDisclosure.message_id.is_not(None)
        )
    ).all()
    names = handling.user_names(session, {r.recipient_user_id for r in rows if r.recipient_user_id})
    return {
        int(r.message_id or 0): ConsentRequest(
            r.uid,
            names.get(r.recipient_user_id or 0, ""),
            r.ground,
            r.status,
            can_consent=r.ground == "consent" and r.status == "awaiting_consent",
            can_refuse=r.ground == "consent" and r.status in ("awaiting_consent", "ready"),
        )
        for r in rows
    }


def answer(session: Session, clock: Clock, case: Case, uid: str, *, consent: bool) -> str:
    """The reporter gives or refuses (or, before it is used, withdraws) consent. Commits.

    Returns what happened: "given", "refused" or "unchanged" (answered already, in another
    window, or the unit withdrew the request meanwhile)."""
    disclosure = session.scalar(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id,
            IdentityDisclosure.uid == uid,
            IdentityDisclosure.ground == "consent",
        )
    )
    if disclosure is None:
        raise UnknownDisclosure(uid)
    if consent and disclosure.status == "awaiting_consent":
        disclosure.status = "ready"
        action, outcome = "identity.consent_given", "given"
    elif not consent and disclosure.status in ("awaiting_consent", "ready"):
        disclosure.status = "declined"
        action, outcome = "identity.consent_refused", "refused"
    else:
        return "unchanged"
    disclosure.decided_on = clock.now().date()
    case.unread_for_handlers = True
    audit.record(
        session,
        clock,
        action=action,
        org_id=case.org_id,
        case=case,
        detail={"disclosure": disclosure.id},
    )
    from whistle.notify import queue_case_event

    queue_case_event(session, clock, case, "reporter_message")
    session.commit()
    return outcome


# --- Use in an export, and the register ---------------------------------------------------------


def ready_for(session: Session, case_id: int, counsel_id: int) -> IdentityDisclosure | None:
    """The disclosure that lets the next export to ``counsel_id`` carry the identity."""
    return session.scalar(
        select(IdentityDisclosure)
        .where(
            IdentityDisclosure.case_id == case_id,
            IdentityDisclosure.recipient_user_id == counsel_id,
            IdentityDisclosure.status == "ready",
        )
        .order_by(IdentityDisclosure.id)
        .limit(1)
    )


@dataclass(frozen=True)
class DisclosureStep:
    """One identity disclosure as the unit sees it: the register's entry and its reasons."""

    id: int
    recipient: str
    ground: str
    notice: str
    status: str
    requested_by: str
    requested_by_id: int | None
    requested_on: date
    decided_by: str
    decided_on: date | None
    reasons: str  # "" without the notes key
    withheld_reason: str
    export_id: int | None


def steps(session: Session, case: Case, keys: OpenedKeys | None) -> list[DisclosureStep]:
    """The case's identity disclosures, oldest first, with their reasons when ``keys`` hold the
    notes key."""
    rows = session.scalars(
        select(IdentityDisclosure)
        .where(IdentityDisclosure.case_id == case.id)
        .order_by(IdentityDisclosure.id)
    ).all()
    people = {r.recipient_user_id for r in rows} | {r.requested_by for r in rows}
    people |= {r.decided_by for r in rows}
    names = handling.user_names(session, {p for p in people if p})
    texts: dict[int, str] = {}
    if keys is not None and keys.notes is not None:
        wanted = {n for r in rows for n in (r.reasons_note_id, r.withheld_note_id) if n}
        texts = {
            n.id: n.body
            for n in handling.notes(session, case, keys)
            if n.id in wanted and n.purged_on is None
        }
    return [
        DisclosureStep(
            id=r.id,
            recipient=names.get(r.recipient_user_id or 0, "?"),
            ground=r.ground,
            notice=r.notice,
            status=r.status,
            requested_by=names.get(r.requested_by or 0, "?"),
            requested_by_id=r.requested_by,
            requested_on=r.requested_on,
            decided_by=names.get(r.decided_by or 0, ""),
            decided_on=r.decided_on,
            reasons=texts.get(r.reasons_note_id or 0, ""),
            withheld_reason=texts.get(r.withheld_note_id or 0, ""),
            export_id=r.export_id,
        )
        for r in rows
    ]
