"""Disclosing a named reporter's identity (REQUIREMENTS.md K2; Act § 26, Directive art. 16).

The identity leaves the unit only through a disclosure made here first, one per recipient
and use:

- **recipient**: a **public authority** the handler names (the police, the prosecution
  service, Datatilsynet, a court), to whom a handler holding the identity key hands the
  identity over on a page of its own (:func:`hand_over`); or, **only with the reporter's
  consent**, a counsel user, in the next case file (whistle/counsel/export.py). The authority's name
  is typed by a person, so it is a case note under the notes key, never a clear column;
- **ground**: the reporter's explicit consent, or a legal ground: disclosure required to a
  public authority to counter violations, or to secure the rights of defence. A legal
  ground never reaches counsel (the Act allows it to public authorities only);
- **notice**: the reporter is told beforehand, in their mailbox, with the handler's written
  reasons (and the authority's name). With consent, the notice *is* the request: the
  reporter answers it with a button and the disclosure is ready only once they agree (they
  may withdraw until it is used). With a legal ground, the notice goes out and the
  disclosure is ready at once, or, where telling the reporter would jeopardise the
  investigation (art. 16(3)), no notice goes out and a second person, a unit lead other than
  the one asking, must approve first;
- **register**: every step is in the audit log (ids only), and every use is an entry of the
  case's disclosure register (:func:`register`): which authority or counsel, when, by whom,
  on what ground.

Disclosures to counsel on a legal ground, made before that rule (migration 0018), are
withdrawn while unused (status "withdrawn_old_rule") and marked as made under the old rule
once used.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.content import MAX_TEXT
from whistle.casefile.conversation import post_message
from whistle.casefile.holders import certified_members
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.models import (
    Author,
    Case,
    CaseExport,
    Disclosure,
    IdentityDisclosure,
    Message,
    Role,
    User,
)
from whistle.core.refusals import Refused
from whistle.core.storage import FileStore

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


class UnknownDisclosure(LookupError):
    """No disclosure with this id or uid in this case."""


def counsel_of(session: Session, org_id: int) -> list[User]:
    """Active counsel users of the organisation whose key a unit lead certified, by name: the
    people a case file, and so an identity, can be disclosed to (whistle/keys/certification.py)."""
    return certified_members(session, org_id, roles=(Role.COUNSEL,))


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


def _authorities(session: Session, case: Case, keys: OpenedKeys) -> dict[int, str]:
    """The authorities' names, by note id (empty without the notes key)."""
    if keys.notes is None:
        return {}
    return {
        n.id: n.body
        for n in content.notes(session, case, keys)
        if n.kind == AUTHORITY_NOTE and n.purged_on is None
    }


def request(
    session: Session,
    clock: Clock,
    store: FileStore,
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
    the reporter's consent). Commits.

    With ``withhold_notice`` the reporter is not told (the investigation would be put at
    risk) and the disclosure waits for a unit lead's approval; otherwise the reporter gets the
    reasons (after the authority's name) in their mailbox now, as a request for consent when
    ``ground`` is consent.
    """
    if case.identity is None:
        raise Refused("ground", _l("The reporter is anonymous: there is no identity to disclose."))
    if keys.identity is None or keys.notes is None:
        raise NoAccess
    if recipient not in RECIPIENTS:
        raise Refused("recipient", _l("Choose to whom the identity is disclosed."))
    if ground not in GROUNDS:
        raise Refused("ground", _l("Choose the ground for the disclosure."))
    counsel: User | None = None
    authority_name = ""
    if recipient == "counsel":
        if ground != "consent":
            raise Refused(
                "ground",
                _l(
                    "Without the reporter's consent the identity may be disclosed only to a "
                    "public authority, never to counsel: choose a public authority, or ask "
                    "for the reporter's consent."
                ),
            )
        counsel = _recipient(session, case, counsel_id)
    else:
        authority_name = _authority_name(authority)
    text = _text(reasons, "reasons", _l("Write the reasons the reporter will be given."))
    withheld_text = ""
    if withhold_notice:
        if ground == "consent":
            raise Refused(
                "withhold_notice",
                _l("Consent is asked of the reporter, so the reporter is always told."),
            )
        withheld_text = _text(
            withhold_reason,
            "withhold_reason",
            _l("Say why telling the reporter would jeopardise the investigation."),
        )
    under_way = select(IdentityDisclosure).where(
        IdentityDisclosure.case_id == case.id, IdentityDisclosure.status.in_(OPEN)
    )
    if counsel is not None:
        if session.scalar(under_way.where(IdentityDisclosure.recipient_user_id == counsel.id)):
            raise Refused(
                "counsel",
                _l(
                    "A disclosure to this counsel is already under way: finish or withdraw it "
                    "first."
                ),
            )
    else:
        named = _authorities(session, case, keys)
        open_notes = {
            d.authority_note_id
            for d in session.scalars(under_way.where(IdentityDisclosure.recipient == "authority"))
        }
        if any(named.get(n or 0, "").casefold() == authority_name.casefold() for n in open_notes):
            raise Refused(
                "authority",
                _l(
                    "A disclosure to this authority is already under way: finish or withdraw "
                    "it first."
                ),
            )
    today = clock.now().date()
    disclosure = IdentityDisclosure(
        uid=str(uuid.uuid4()),
        org_id=case.org_id,
        case_id=case.id,
        recipient=recipient,
        recipient_user_id=counsel.id if counsel is not None else None,
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
        if authority_name:
            disclosure.authority_note_id = content.write_note(
                session, clock, case, keys, user_id, AUTHORITY_NOTE, authority_name
            ).id
        disclosure.reasons_note_id = content.write_note(
            session, clock, case, keys, user_id, REASONS_NOTE, text
        ).id
        if withhold_notice:
            disclosure.withheld_note_id = content.write_note(
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
                "recipient": recipient,
                "ground": ground,
                "notice": disclosure.notice,
                "counsel": counsel.id if counsel is not None else None,
                "authority_note": disclosure.authority_note_id,
            },
        )
        if withhold_notice:
            from whistle.notify.outbox import queue_disclosure_approval

            queue_disclosure_approval(session, clock, case, disclosure)
            session.commit()
        else:

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
                body=f"{authority_name}\n\n{text}" if authority_name else text,
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
        raise Refused("disclosure", _l("There is no such disclosure in this case."))
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
        raise Refused("disclosure", _l("This disclosure is not waiting for approval."))
    if disclosure.requested_by == user_id:
        raise Refused(
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
        raise Refused("disclosure", _l("This disclosure can no longer be withdrawn."))
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


def retire_old_rule(session: Session, clock: Clock, case: Case) -> int:
    """Withdraw the case's unused disclosures to counsel on a legal ground, each with an audit
    entry; returns how many. Commits when there were any.

    Migration 0018 withdraws those that existed when it ran; this catches one an app process
    of the old version made after it (the page calls it on every visit)."""
    rows = session.scalars(
        select(IdentityDisclosure).where(
            IdentityDisclosure.case_id == case.id,
            IdentityDisclosure.status.in_(OPEN),
            made_under_old_rule(),
        )
    ).all()
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
    if rows:
        session.commit()
    return len(rows)


# --- The reporter's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentRequest:
    """What the reporter's mailbox shows beside a consent request or a notice."""

    uid: str
    recipient: str  # counsel's name; "" for an authority (named in the message itself)
    to_authority: bool
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
    names = content.user_names(session, {r.recipient_user_id for r in rows if r.recipient_user_id})
    return {
        int(r.message_id or 0): ConsentRequest(
            r.uid,
            names.get(r.recipient_user_id or 0, ""),
            r.recipient == "authority",
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
    from whistle.notify.outbox import queue_case_event

    queue_case_event(session, clock, case, "reporter_message")
    session.commit()
    return outcome


# --- Use: in a case file to counsel, or handed over to an authority ---------------------------


def ready_for(session: Session, case_id: int, counsel_id: int) -> IdentityDisclosure | None:
    """The ready disclosure to counsel ``counsel_id``, if any. Whether it may carry the
    identity into a case file is decided by whistle/counsel/export.py (consent only)."""
    return session.scalar(
        select(IdentityDisclosure)
        .where(
            IdentityDisclosure.case_id == case_id,
            IdentityDisclosure.recipient == "counsel",
            IdentityDisclosure.recipient_user_id == counsel_id,
            IdentityDisclosure.status == "ready",
        )
        .order_by(IdentityDisclosure.id)
        .limit(1)
    )


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
    found = _find(session, case, disclosure_id)
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
        authority=_authorities(session, case, keys).get(found.authority_note_id or 0, ""),
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
    """Hand the reporter's identity over to the public authority a ready disclosure names.
    Commits. Used once: the disclosure is then "used", and the register records which
    authority, when, by whom and on what ground; the audit entry holds ids only.

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
    try:
        # Claimed with a conditional update: of two handovers racing, only one is recorded.
        claimed = session.execute(
            update(IdentityDisclosure)
            .where(IdentityDisclosure.id == found.id, IdentityDisclosure.status == "ready")
            .values(status="used", handed_over_by=user_id, handed_over_on=today)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Refused("disclosure", _l("This disclosure has already been handed over."))
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
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return handed


# --- The register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureStep:
    """One identity disclosure as the unit sees it: the register's entry and its reasons."""

    id: int
    recipient_kind: str  # "authority" or "counsel"
    recipient: str  # counsel's name, or the authority's ("" without the notes key)
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
    handed_over_by: str = ""
    handed_over_on: date | None = None
    old_rule: bool = False  # to counsel on a legal ground, as allowed before migration 0018


def steps(session: Session, case: Case, keys: OpenedKeys | None) -> list[DisclosureStep]:
    """The case's identity disclosures, oldest first, with their reasons and the authorities'
    names when ``keys`` hold the notes key."""
    rows = session.scalars(
        select(IdentityDisclosure)
        .where(IdentityDisclosure.case_id == case.id)
        .order_by(IdentityDisclosure.id)
    ).all()
    people = {r.recipient_user_id for r in rows} | {r.requested_by for r in rows}
    people |= {r.decided_by for r in rows} | {r.handed_over_by for r in rows}
    names = content.user_names(session, {p for p in people if p})
    texts: dict[int, str] = {}
    if keys is not None and keys.notes is not None:
        wanted = {
            n
            for r in rows
            for n in (r.reasons_note_id, r.withheld_note_id, r.authority_note_id)
            if n
        }
        texts = {
            n.id: n.body
            for n in content.notes(session, case, keys)
            if n.id in wanted and n.purged_on is None
        }
    return [
        DisclosureStep(
            id=r.id,
            recipient_kind=r.recipient,
            recipient=(
                texts.get(r.authority_note_id or 0, "")
                if r.recipient == "authority"
                else names.get(r.recipient_user_id or 0, "?")
            ),
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
            handed_over_by=names.get(r.handed_over_by or 0, ""),
            handed_over_on=r.handed_over_on,
            old_rule=r.recipient == "counsel" and r.ground in LEGAL_GROUNDS,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class RegisterEntry:
    """One entry of the case's disclosure register (K2): what left the unit, to whom, when,
    by whom, and, where the reporter's identity went with it, on what ground."""

    disclosed_on: date
    kind: str  # "export" (a case file to counsel) or "authority" (the identity handed over)
    recipient: str  # counsel's name, or the authority's ("" without the notes key)
    by: str
    includes_notes: bool
    includes_identity: bool
    ground: str | None  # the identity disclosure's ground, when the identity went out
    old_rule: bool  # the identity went to counsel on a legal ground, before migration 0018


def register(session: Session, case: Case, keys: OpenedKeys | None) -> list[RegisterEntry]:
    """The case's disclosure register, oldest first; the authorities are named when ``keys``
    hold the notes key."""
    rows = session.execute(
        select(Disclosure, CaseExport.includes_notes)
        .outerjoin(CaseExport, CaseExport.id == Disclosure.export_id)
        .where(Disclosure.case_id == case.id)
        .order_by(Disclosure.id)
    ).all()
    identity = {s.id: s for s in steps(session, case, keys)}
    by_export = {s.export_id: s for s in identity.values() if s.export_id is not None}
    names = content.user_names(
        session,
        {p for d, _notes in rows for p in (d.recipient_user_id, d.by_user_id) if p is not None},
    )
    entries = []
    for d, notes in rows:
        step = (
            identity.get(d.identity_disclosure_id or 0)
            if d.kind == "authority"
            else by_export.get(d.export_id or 0)
        )
        if not d.includes_identity:
            step = None
        entries.append(
            RegisterEntry(
                disclosed_on=d.disclosed_on,
                kind=d.kind,
                recipient=(
                    (step.recipient if step else "")
                    if d.kind == "authority"
                    else names.get(d.recipient_user_id or 0, "?")
                ),
                by=names.get(d.by_user_id or 0, ""),
                includes_notes=bool(notes),
                includes_identity=d.includes_identity,
                ground=step.ground if step else None,
                old_rule=bool(step and step.old_rule),
            )
        )
    return entries
