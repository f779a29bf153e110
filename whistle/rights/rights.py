"""Data-subject rights: the handlers' workbench (REQUIREMENTS.md S1-S5; GDPR art. 12-21).

A person asks to see, correct, erase, restrict or object to what the scheme holds about them.
The unit registers the request, finds the cases that mention the person, assesses, decides
with a legal basis, and answers within a month (GDPR art. 12(3)), or within up to two more
months when the requester is told why within the first.

- **Confidential like a case, and no wider than its cases.** Who asked and every text about the
  request (assessment, reasons, statements, redactions) is encrypted under the request's own
  key, sealed to the unit's handlers and the recovery key. The server keeps in clear only kind,
  dates, status, decision and legal basis: what the registers and the deadlines need. A
  request is derived from the cases it is linked to, so only those who hold *every* linked
  case may open or act on it (:func:`open_key` asks each case, whistle/casefile/access.py), and
  its key follows the cases' holders: linking a case, or someone leaving a linked case or the
  organisation, renews the request's key for those who remain (a new key epoch, as a case
  gets), so a handler kept out of a case reads nothing of a request about it, also not from
  an old copy of the database.
- **Search decrypts in memory only.** :func:`search_cases` opens each case the handler can
  read, looks for the name in the report, the conversation and the notes, and keeps nothing:
  no index of names exists anywhere.
- **Access never releases the reporter.** :func:`access_export` takes only the report's
  account of events and the conversation, never the identity (not even decrypted), leaves out
  restricted items, and blanks every text the handler marked for redaction (the reporter's
  name written into the report, a colleague's). It is released only after a recorded
  assessment and decision (DPA-DK § 22 allows limiting access to protect the reporter or the
  investigation, S3).
- **Decisions act.** A granted erasure or objection sets the linked (closed) cases' retention
  date to today, so the next ``whistle retention run`` deletes them; a granted rectification
  adds the person's statement to each linked case as a note, never rewriting the report (S5);
  a restriction flags items, which every export then leaves out.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crypto import (
    PrivateKey,
    decrypt_field,
    encrypt_field,
)
from whistle.casefile import content
from whistle.casefile.access import KeyRing, NoAccess, OpenedKeys, open_keys
from whistle.casefile.conversation import MessageView, conversation
from whistle.casefile.holders import certified_members, holds, holds_clause
from whistle.casefile.request_keys import (
    new_request_key,
    renew_request_key,
    request_holder_ids,
    seal_request_key,
)
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import (
    rights_note_context,
    rights_subject_context,
)
from whistle.core.deadlines import add_months
from whistle.core.models import (
    Case,
    CaseStatus,
    ItemRestriction,
    Message,
    RightsNote,
    RightsRequest,
    RightsRequestCase,
    RightsRequestKey,
)
from whistle.core.refusals import Refused

ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2
MIN_SEARCH = 3
MAX_TEXT = content.MAX_TEXT
# The report fields a person concerned may see; never "excluded_handlers" or the identity.
REPORT_FIELDS = ("what", "when_where", "who", "how_known")
REDACTED = "[…]"


class Kind(enum.StrEnum):
    ACCESS = "access"  # art. 15
    RECTIFICATION = "rectification"  # art. 16
    ERASURE = "erasure"  # art. 17
    RESTRICTION = "restriction"  # art. 18
    OBJECTION = "objection"  # art. 21


class Decision(enum.StrEnum):
    GRANTED = "granted"
    PARTLY_GRANTED = "partly_granted"
    REFUSED = "refused"


# The legal bases a decision may rest on (identifiers; the pages show their names).
LEGAL_BASES = (
    "gdpr_15",  # access given (art. 15)
    "gdpr_16",  # rectification, as the person's statement (art. 16)
    "gdpr_17",  # erasure (art. 17(1))
    "gdpr_17_3",  # erasure refused: needed for legal claims or a legal duty (art. 17(3))
    "gdpr_18",  # restriction (art. 18)
    "gdpr_21",  # objection (art. 21): compelling legitimate grounds weighed
    "gdpr_12_5",  # manifestly unfounded or excessive (art. 12(5))
    "dpa_22",  # access limited to protect the reporter or the investigation (DPA-DK § 22)
    "act_22",  # processing needed to handle the report (Whistleblower Act § 22)
)


# --- Registering and opening -----------------------------------------------------------------


def due_on(received_on: date) -> date:
    """The answer is due one month after receipt (GDPR art. 12(3)), clamped at month ends."""
    return add_months(received_on, ANSWER_MONTHS)


def answer_due(request: RightsRequest) -> date:
    return request.extended_to or request.due_on


def register(
    session: Session,
    clock: Clock,
    org_id: int,
    user_id: int,
    *,
    kind: str,
    subject: str,
    received_on: date | None,
) -> RightsRequest:
    """Register a request: who asked (encrypted) and when; due one month later. Commits."""
    try:
        chosen = Kind(kind)
    except ValueError:
        raise Refused("kind", _l("Choose what the person asks for.")) from None
    who = content.required_text(subject, "subject", _l("Say who made the request."))
    today = clock.now().date()
    if received_on is None:
        raise Refused("received_on", _l("Give the day the request was received."))
    if received_on > today:
        raise Refused("received_on", _l("The day of receipt cannot be in the future."))
    key = new_request_key()
    uid = str(uuid.uuid4())
    request = RightsRequest(
        uid=uid,
        org_id=org_id,
        kind=chosen.value,
        received_on=received_on,
        due_on=due_on(received_on),
        status="open",
        created_by=user_id,
        subject=encrypt_field(key, who.encode(), context=rights_subject_context(uid)),
    )
    session.add(request)
    session.flush()
    seal_request_key(session, request, key, 0, certified_members(session, org_id))
    _audit(session, clock, request, user_id, "rights.registered", kind=chosen.value)
    session.commit()
    return request


def subject_of(request: RightsRequest, key: KeyRing) -> str:
    return decrypt_field(
        key.at(0), request.subject, context=rights_subject_context(request.uid)
    ).decode()


@dataclass(frozen=True, repr=False)
class NoteView:
    kind: str
    created_on: date
    author_user_id: int | None
    body: str

    def __repr__(self) -> str:
        return f"NoteView(kind={self.kind!r})"


def notes(session: Session, request: RightsRequest, key: KeyRing) -> list[NoteView]:
    rows = session.scalars(
        select(RightsNote).where(RightsNote.request_id == request.id).order_by(RightsNote.id)
    )
    return [
        NoteView(
            row.kind,
            row.created_on,
            row.author_user_id,
            decrypt_field(
                key.at(row.key_epoch), row.body, context=rights_note_context(request.uid, row.uid)
            ).decode(),
        )
        for row in rows
    ]


def _write_note(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    kind: str,
    body: str,
) -> RightsNote:
    uid = str(uuid.uuid4())
    note = RightsNote(
        uid=uid,
        org_id=request.org_id,
        request_id=request.id,
        kind=kind,
        author_user_id=user_id,
        created_on=clock.now().date(),
        body=encrypt_field(
            key.current, body.encode(), context=rights_note_context(request.uid, uid)
        ),
        key_epoch=key.epoch,
    )
    session.add(note)
    session.flush()
    return note


def _audit(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    user_id: int | None,
    action: str,
    **detail: str | int | bool | None,
) -> None:
    audit.record(
        session,
        clock,
        action=action,
        org_id=request.org_id,
        actor_user_id=user_id,
        detail={"request": request.id, **detail},
    )


def _open(request: RightsRequest) -> None:
    if request.status != "open":
        raise Refused("decision", _l("The request has been decided."))


# --- Extension ---------------------------------------------------------------------------------


def extend(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    *,
    until: date | None,
    reason: str,
    notice_on: date | None,
) -> None:
    """Extend the answer deadline by up to two months (GDPR art. 12(3)). Commits.

    Only within the first month, with the reasons written down and the day the requester was
    told them (that day must fall within the first month too).
    """
    _open(request)
    today = clock.now().date()
    if request.extended_to is not None:
        raise Refused("until", _l("The deadline has already been extended."))
    if today > request.due_on:
        raise Refused(
            "until", _l("The month has passed: a deadline can only be extended within it.")
        )
    latest = add_months(request.due_on, MAX_EXTENSION_MONTHS)
    if until is None or not request.due_on < until <= latest:
        raise Refused(
            "until",
            _l(
                "Choose a new deadline after %(due)s and no later than %(latest)s.",
                due=request.due_on.isoformat(),
                latest=latest.isoformat(),
            ),
        )
    text = content.required_text(reason, "reason", _l("Give the reasons for the extension."))
    if notice_on is None or not request.received_on <= notice_on <= min(today, request.due_on):
        raise Refused(
            "notice_on",
            _l(
                "Give the day the requester was told of the extension and its reasons; it "
                "must lie within the first month and not in the future."
            ),
        )
    note = _write_note(session, clock, request, key, user_id, "extension", text)
    request.extended_to = until
    request.extension_notice_on = notice_on
    _audit(
        session,
        clock,
        request,
        user_id,
        "rights.extended",
        until=until.isoformat(),
        note=note.id,
    )
    session.commit()


# --- Finding the person in cases -------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    case_id: int
    reference: str
    places: tuple[str, ...]  # "report", "message", "note"


def _readable_cases(
    session: Session, org_id: int, user_id: int, private_key: PrivateKey
) -> list[tuple[Case, OpenedKeys]]:
    cases = session.scalars(
        select(Case)
        .where(Case.org_id == org_id, holds_clause(Case.id, user_id))
        .order_by(Case.received_on.desc(), Case.id.desc())
    ).all()
    found = []
    for case in cases:
        try:
            found.append((case, open_keys(session, case, user_id, private_key)))
        except NoAccess:
            continue
    return found


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def search_cases(
    session: Session, org_id: int, user_id: int, private_key: PrivateKey, term: str
) -> list[Match]:
    """The cases ``user_id`` can read whose report, conversation or notes mention ``term``
    (case and spacing ignored). Decrypts in memory; stores nothing."""
    needle = _fold(term)
    if len(needle) < MIN_SEARCH:
        raise Refused("term", _l("Search for at least %(n)d characters of the name.", n=MIN_SEARCH))
    matches = []
    for case, keys in _readable_cases(session, org_id, user_id, private_key):
        places = []
        report = content.read_report(case, keys)
        if any(needle in _fold(str(report.get(f) or "")) for f in REPORT_FIELDS):
            places.append("report")
        if any(needle in _fold(m.body) for m in _messages(session, case, keys.content)):
            places.append("message")
        if any(needle in _fold(n.body) for n in content.notes(session, case, keys)):
            places.append("note")
        if places:
            matches.append(Match(case.id, case.reference, tuple(places)))
    return matches


def link_case(
    session: Session, clock: Clock, request: RightsRequest, case: Case, user_id: int
) -> None:
    """Record that the request concerns ``case`` (the user must hold it). Commits.

    From now on only those who hold the case as well may open the request: its key is renewed
    without the others."""
    _open(request)
    if case.org_id != request.org_id or not holds(session, case.id, user_id):
        raise NoAccess
    exists = session.get(RightsRequestCase, (request.id, case.id))
    if exists is None:
        session.add(RightsRequestCase(request_id=request.id, case_id=case.id, org_id=case.org_id))
        session.flush()
        outside = {
            u for u in request_holder_ids(session, request.id) if not holds(session, case.id, u)
        }
        renew_request_key(
            session, clock, request, outside, actor_user_id=user_id, reason="case_linked"
        )
        _audit(session, clock, request, user_id, "rights.case_linked", case=case.id)
    session.commit()


def unlink_case(
    session: Session, clock: Clock, request: RightsRequest, case_id: int, user_id: int
) -> None:
    _open(request)
    session.execute(
        delete(RightsRequestCase).where(
            RightsRequestCase.request_id == request.id, RightsRequestCase.case_id == case_id
        )
    )
    _audit(session, clock, request, user_id, "rights.case_unlinked", case=case_id)
    session.commit()


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
    disclosure while it stands. Commits."""
    if request.kind != Kind.RESTRICTION:
        raise Refused("item", _l("Only a request for restriction restricts items."))
    if session.get(RightsRequestCase, (request.id, case.id)) is None:
        raise Refused("item", _l("Link the case to the request first."))
    if item_kind == "report":
        item_id = 0
    elif item_kind == "message":
        owner = session.scalar(select(Message.case_id).where(Message.id == item_id))
        if owner != case.id:
            raise Refused("item", _l("Choose an item of this case."))
    else:
        raise Refused("item", _l("Choose an item of this case."))
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
        _audit(
            session, clock, request, user_id, "rights.item_restricted", case=case.id, item=item_kind
        )
    session.commit()


# --- Access export ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ExportItem:
    label: str  # "what", "when_where", "who", "how_known", or a message kind
    day: date | None
    text: str

    def __repr__(self) -> str:
        return f"ExportItem(label={self.label!r})"


@dataclass(frozen=True, repr=False)
class ExportSection:
    reference: str
    received_on: date
    items: list[ExportItem] = field(default_factory=list)
    left_out: int = 0  # restricted items


@dataclass(frozen=True, repr=False)
class AccessExport:
    sections: list[ExportSection]

    def __repr__(self) -> str:
        return f"AccessExport(sections={len(self.sections)})"


def _messages(session: Session, case: Case, content: KeyRing) -> list[MessageView]:
    """The conversation without purged messages (whistle/casefile/conversation.py decrypts it)."""
    return [m for m in conversation(session, case, content) if m.purged_on is None]


def redactions(session: Session, request: RightsRequest, key: KeyRing) -> list[str]:
    """The texts the handlers marked for redaction (latest list)."""
    latest = [n for n in notes(session, request, key) if n.kind == "redactions"]
    if not latest:
        return []
    terms: list[str] = json.loads(latest[-1].body)
    return terms


def set_redactions(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    text: str,
) -> list[str]:
    """Store the texts to blank out of the export, one per line. Commits."""
    _open(request)
    terms = sorted({line.strip() for line in text.splitlines() if line.strip()}, key=str.casefold)
    if len(text) > MAX_TEXT:
        raise Refused("terms", _l("Use at most %(n)d characters.", n=MAX_TEXT))
    note = _write_note(
        session, clock, request, key, user_id, "redactions", json.dumps(terms, ensure_ascii=False)
    )
    _audit(
        session, clock, request, user_id, "rights.redactions_set", terms=len(terms), note=note.id
    )
    session.commit()
    return terms


def redact(text: str, terms: Sequence[str]) -> str:
    """``text`` with every occurrence of each term blanked, case and spacing ignored."""
    for term in sorted(terms, key=len, reverse=True):
        words = term.split()
        if not words:
            continue
        pattern = r"\s+".join(re.escape(w) for w in words)
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return text


def access_export(
    session: Session,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    private_key: PrivateKey,
) -> AccessExport:
    """What the person may receive from the linked cases, redacted (built in memory).

    Never the reporter's identity (it is not even decrypted), never internal notes, never a
    restricted item, and every marked text blanked.
    """
    terms = redactions(session, request, key)
    sections = []
    for case in linked_cases(session, request):
        try:
            keys = open_keys(session, case, user_id, private_key)
        except NoAccess:
            continue
        restricted = restricted_items(session, case.id)
        items: list[ExportItem] = []
        left_out = 0
        if ("report", 0) in restricted:
            left_out += 1
        else:
            report = content.read_report(case, keys)
            for name in REPORT_FIELDS:
                value = str(report.get(name) or "").strip()
                if value:
                    items.append(ExportItem(name, case.received_on, redact(value, terms)))
        for message in _messages(session, case, keys.content):
            if ("message", message.id) in restricted:
                left_out += 1
                continue
            items.append(ExportItem(message.kind, message.sent_on, redact(message.body, terms)))
        sections.append(ExportSection(case.reference, case.received_on, items, left_out))
    return AccessExport(sections)


# --- Decision and answer ---------------------------------------------------------------------


def decide(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    private_key: PrivateKey,
    *,
    decision: str,
    legal_basis: str,
    assessment: str,
    statement: str = "",
) -> None:
    """Record the assessment and the decision with its legal basis, and carry it out. Commits.

    - erasure or objection granted (or partly): every linked case must be closed; each gets
      today as its retention date (rule ``erasure_request`` / ``objection_request``), so the
      next retention run deletes it unless a legal hold stands;
    - rectification granted (or partly): ``statement``, the person's own account, is added to
      each linked case as an internal note (the report is never rewritten, S5).
    """
    _open(request)
    try:
        chosen = Decision(decision)
    except ValueError:
        raise Refused("decision", _l("Choose the decision.")) from None
    if legal_basis not in LEGAL_BASES:
        raise Refused("legal_basis", _l("Choose the legal basis of the decision."))
    text = content.required_text(
        assessment, "assessment", _l("Write down the assessment behind the decision.")
    )
    cases = linked_cases(session, request)
    granted = chosen is not Decision.REFUSED
    today = clock.now().date()
    if granted and request.kind in (Kind.ERASURE, Kind.OBJECTION):
        if not cases:
            raise Refused("decision", _l("Link the cases the request concerns first."))
        if any(c.status != CaseStatus.CLOSED for c in cases):
            raise Refused(
                "decision",
                _l("Close the cases first: a case still being handled cannot be deleted."),
            )
        for case in cases:
            case.delete_on = today
            case.retention_rule = f"{request.kind}_request"
    written = ""
    if granted and request.kind == Kind.RECTIFICATION:
        written = content.required_text(
            statement, "statement", _l("Give the person's statement to add to the cases.")
        )
        if not cases:
            raise Refused("decision", _l("Link the cases the request concerns first."))
        for case in cases:
            keys = open_keys(session, case, user_id, private_key)
            added = content.write_note(
                session, clock, case, keys, user_id, "rectification_statement", written
            )
            audit.record(
                session,
                clock,
                action="case.statement_added",
                org_id=case.org_id,
                actor_user_id=user_id,
                case=case,
                detail={"note": added.id, "request": request.id},
            )
    note = _write_note(session, clock, request, key, user_id, "assessment", text)
    if written:
        _write_note(session, clock, request, key, user_id, "statement", written)
    request.status = "decided"
    request.decision = chosen.value
    request.legal_basis = legal_basis
    request.decided_on = today
    _audit(
        session,
        clock,
        request,
        user_id,
        "rights.decided",
        decision=chosen.value,
        basis=legal_basis,
        note=note.id,
    )
    session.commit()


def record_answer(session: Session, clock: Clock, request: RightsRequest, user_id: int) -> None:
    """The answer (the export, or the refusal with the right to complain) went out. Commits."""
    if request.status != "decided":
        raise Refused("answer", _l("Record the assessment and the decision before answering."))
    if request.answered_on is None:
        request.answered_on = clock.now().date()
        _audit(
            session,
            clock,
            request,
            user_id,
            "rights.answered",
            late=request.answered_on > answer_due(request),
        )
    session.commit()


def record_release(session: Session, clock: Clock, request: RightsRequest, user_id: int) -> None:
    """The access export was downloaded for the requester (audited each time). Commits."""
    if request.decision not in (Decision.GRANTED, Decision.PARTLY_GRANTED):
        raise Refused("answer", _l("Access has not been granted."))
    _audit(session, clock, request, user_id, "rights.export_released")
    session.commit()


def open_requests(session: Session, org_id: int, user_id: int) -> list[RightsRequest]:
    """Requests not yet answered that ``user_id`` may open, the most urgent first (no
    decryption): a request about a case someone does not hold is not even listed for them."""
    held = (
        select(RightsRequestKey.request_id)
        .where(
            RightsRequestKey.request_id == RightsRequest.id,
            RightsRequestKey.user_id == user_id,
            RightsRequestKey.epoch == RightsRequest.key_epoch,
        )
        .exists()
    )
    return list(
        session.scalars(
            select(RightsRequest)
            .where(RightsRequest.org_id == org_id, RightsRequest.answered_on.is_(None), held)
            .order_by(
                func.coalesce(RightsRequest.extended_to, RightsRequest.due_on), RightsRequest.id
            )
        )
    )
