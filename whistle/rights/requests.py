"""Data-subject rights: the request itself (REQUIREMENTS.md S1-S2; GDPR art. 12-21).

A person asks to see, correct, erase, restrict or object to what the scheme holds about them.
The unit registers the request, finds the cases that mention the person
(whistle/rights/case_search.py), links them (whistle/rights/linked_cases.py), assesses, decides
with a legal basis (whistle/rights/decisions.py), and answers within a month (GDPR art.
12(3)), or within up to two more months when the requester is told why within the first.

This module owns what every step shares: the kinds and decisions, the deadlines, registering,
the request's encrypted notes and audit entries, the extension, and the list of open requests.

**Confidential like a case, and no wider than its cases.** Who asked and every text about the
request (assessment, reasons, statements, redactions) is encrypted under the request's own
key, sealed to the unit's handlers and the recovery key. The server keeps in clear only kind,
dates, status, decision and legal basis: what the registers and the deadlines need. A request
is derived from the cases it is linked to, so only those who hold *every* linked case may open
or act on it (:func:`whistle.casefile.request_keys.open_key` asks each case,
whistle/casefile/access.py), and its key follows the cases' holders: linking a case, or
someone leaving a linked case or the organisation, renews the request's key for those who
remain (a new key epoch, as a case gets), so a handler kept out of a case reads nothing of a
request about it, also not from an old copy of the database.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto import decrypt_field, encrypt_field
from whistle.casefile import content
from whistle.casefile.access import KeyRing
from whistle.casefile.holders import certified_members
from whistle.casefile.request_keys import new_request_key, seal_request_key
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import rights_note_context, rights_subject_context
from whistle.core.dates import ShownDay
from whistle.core.db import unit_of_work
from whistle.core.deadlines import add_months
from whistle.core.models import RightsNote, RightsRequest, RightsRequestKey
from whistle.core.refusals import Refused

ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2


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
    """Register a request: who asked (encrypted) and when; due one month later; and commit."""
    with unit_of_work(session):
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
        record(session, clock, request, user_id, "rights.registered", kind=chosen.value)
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


def write_note(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    key: KeyRing,
    user_id: int,
    kind: str,
    body: str,
) -> RightsNote:
    """Add a note to the request, encrypted under its current key. Flushes, never commits."""
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


def record(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    user_id: int | None,
    action: str,
    **detail: str | int | bool | None,
) -> None:
    """The audit entry of an action on the request (its id, never its content)."""
    audit.record(
        session,
        clock,
        action=action,
        org_id=request.org_id,
        actor_user_id=user_id,
        detail={"request": request.id, **detail},
    )


def require_open(request: RightsRequest) -> None:
    """Refused once the request has been decided: its file is closed."""
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
    """Extend the answer deadline by up to two months (GDPR art. 12(3)), and commit.

    Only within the first month, with the reasons written down and the day the requester was
    told them (that day must fall within the first month too).
    """
    with unit_of_work(session):
        require_open(request)
        today = clock.now().date()
        until = _extended_to(request, today, until)
        text = content.required_text(reason, "reason", _l("Give the reasons for the extension."))
        if notice_on is None or not request.received_on <= notice_on <= min(today, request.due_on):
            raise Refused(
                "notice_on",
                _l(
                    "Give the day the requester was told of the extension and its reasons; it "
                    "must lie within the first month and not in the future."
                ),
            )
        note = write_note(session, clock, request, key, user_id, "extension", text)
        request.extended_to = until
        request.extension_notice_on = notice_on
        record(
            session,
            clock,
            request,
            user_id,
            "rights.extended",
            until=until.isoformat(),
            note=note.id,
        )


def _extended_to(request: RightsRequest, today: date, until: date | None) -> date:
    """``until``, the new deadline; Refused unless the deadline may still be extended to it."""
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
                due=ShownDay(request.due_on),
                latest=ShownDay(latest),
            ),
        )
    return until


# --- The list ----------------------------------------------------------------------------------


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
