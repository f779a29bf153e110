"""Handling a case: the unit's actions, each one a domain function (REQUIREMENTS.md D1-D5, K1-K3,
S6).

Reading anything needs the handler's private key: :func:`open_keys` opens the handler's own
sealed copies of the case keys, and a handler without a copy simply cannot read, whatever a
view allows. Every action here is a whole unit of work: it writes its audit entry in the same
transaction (whistle/core/audit.py) and commits (``unit_of_work``, whistle/core/db.py), so an
action and its record stand or fall together; a refused action rolls back before the refusal
leaves.

What the reporter sees goes into the conversation (content key); what only the unit sees is an
internal note (notes key); the reporter's identity is behind the identity key and comes out only
through :func:`reveal_identity`, which needs a reason and is logged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from crypto import decrypt_field
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.content import (
    MAX_TEXT,
    Identity,
    read_identity,
    required_text,
    write_note,
)
from whistle.casefile.conversation import PreparedFile, add_message
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import nudge_context
from whistle.core.db import unit_of_work, unit_of_work_with_files
from whistle.core.deadlines import feedback_due
from whistle.core.models import (
    AuditEntry,
    Author,
    Case,
    CaseNote,
    CaseStatus,
    WebSession,
)
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.notify.outbox import AddressRejected, queue_nudge

SCOPES = ("in_scope", "outside_scope")
HEARINGS = ("held", "not_needed")


def add_note(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, body: str
) -> CaseNote:
    """An internal note: the unit's own record, never shown to the reporter, and commit."""
    with unit_of_work(session):
        text = required_text(body, "body", _l("Write the note."))
        note = write_note(session, clock, case, keys, user_id, "note", text)
        audit.record(
            session,
            clock,
            action="case.note_added",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"note": note.id},
        )
    return note


def message_to_reporter(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    kind: str,
    body: str,
    files: Sequence[PreparedFile] = (),
    action: str,
    stored: list[str],
    nudge_key: bytes | None = None,
) -> None:
    """A handler's message to the reporter, with its nudge and audit entry, inside the
    caller's unit of work (flushes, never commits; ``stored`` as
    :func:`~whistle.core.db.unit_of_work_with_files` yields it)."""
    if case.status == CaseStatus.CLOSED:
        raise Refused("body", _l("The case is closed."))
    # The message and its files first: the files are encrypted and stored before this
    # transaction writes anything, so it holds no lock meanwhile (the audit head's, below, is
    # the whole deployment's; on SQLite a file store in the database writes on connections of
    # its own, which a written row here would block). One commit carries all of it.
    add_message(
        session,
        clock,
        store,
        case,
        keys.content,
        author=Author.HANDLER,
        body=body,
        files=files,
        user_id=user_id,
        kind=kind,
        stored=stored,
    )
    if nudge_key is not None:
        _queue_nudge(session, clock, case, keys, nudge_key)
    audit.record(
        session,
        clock,
        action=action,
        org_id=case.org_id,
        actor_user_id=user_id,
        case=case,
        detail={"kind": kind, "files": len(files)},
    )


def _queue_nudge(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, instance_key: bytes
) -> None:
    """The reporter's optional "there is news" mail, sent because a handler acted (never by
    the server alone): the address opens only with the notes key the handler holds."""
    if case.nudge_address is None or keys.notes is None:
        return
    address = decrypt_field(
        keys.notes.at(0), case.nudge_address, context=nudge_context(case.uid)
    ).decode()
    with contextlib.suppress(AddressRejected):
        queue_nudge(session, clock, case, address, instance_key=instance_key)


def acknowledge(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    body: str,
    *,
    nudge_key: bytes | None = None,
) -> None:
    """Acknowledge receipt to the reporter (D1), which starts the 3-month feedback period, and
    commit."""
    with unit_of_work_with_files(session, store) as stored:
        text = required_text(body, "body", _l("Write the acknowledgement."))
        if case.acknowledged_on is not None:
            raise Refused("body", _l("Receipt has already been acknowledged."))
        today = clock.now().date()
        case.acknowledged_on = today
        case.feedback_due = feedback_due(case.received_on, today)
        if case.status == CaseStatus.NEW:
            case.status = CaseStatus.OPEN
        message_to_reporter(
            session,
            clock,
            store,
            case,
            keys,
            user_id,
            kind="acknowledgement",
            body=text,
            action="case.acknowledged",
            nudge_key=nudge_key,
            stored=stored,
        )


def send_message(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    body: str,
    *,
    question: bool = False,
    files: Sequence[PreparedFile] = (),
    nudge_key: bytes | None = None,
) -> None:
    """A message (or a question) to the reporter, with files, and commit."""
    with unit_of_work_with_files(session, store) as stored:
        text = body.strip()
        if not text and not files:
            raise Refused("body", _l("Write a message or add a file."))
        if len(text) > MAX_TEXT:
            raise Refused("body", _l("Use at most %(n)d characters.", n=MAX_TEXT))
        message_to_reporter(
            session,
            clock,
            store,
            case,
            keys,
            user_id,
            kind="question" if question else "message",
            body=text,
            files=files,
            action="case.message_sent",
            nudge_key=nudge_key,
            stored=stored,
        )


def feedback_text(done: str, why: str) -> str:
    """The reporter's feedback: what was done or will be done, and why (D3)."""
    return f"{done}\n\n{why}"


def give_feedback(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    done: str,
    why: str,
    final: bool,
    nudge_key: bytes | None = None,
) -> None:
    """Interim feedback or the final outcome (D2, D3): both parts are required, and commit.

    The first feedback meets the 3-month deadline; there is no "postpone".
    """
    with unit_of_work_with_files(session, store) as stored:
        what = required_text(done, "done", _l("Say what has been done or will be done."))
        reason = required_text(why, "why", _l("Say why."))
        if case.status == CaseStatus.NEW:
            raise Refused("done", _l("Acknowledge receipt before giving feedback."))
        if case.feedback_on is None:
            case.feedback_on = clock.now().date()
        message_to_reporter(
            session,
            clock,
            store,
            case,
            keys,
            user_id,
            kind="final_outcome" if final else "interim_feedback",
            body=feedback_text(what, reason),
            action="case.final_outcome" if final else "case.interim_feedback",
            nudge_key=nudge_key,
            stored=stored,
        )


def assess_scope(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    scope: str,
    reason: str,
) -> None:
    """Record whether the report falls within the Act (§ 12(3)), with the reason, and commit."""
    with unit_of_work(session):
        if scope not in SCOPES:
            raise Refused("scope", _l("Choose an assessment."))
        text = required_text(reason, "reason", _l("Give the reason for the assessment."))
        note = write_note(session, clock, case, keys, user_id, "scope", text)
        case.scope = scope
        audit.record(
            session,
            clock,
            action="case.scope_assessed",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"scope": scope, "note": note.id},
        )


def record_hearing(
    session: Session,
    clock: Clock,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    hearing: str,
    account: str,
) -> None:
    """The person concerned was heard, or why no hearing is needed (S6), and commit."""
    with unit_of_work(session):
        if hearing not in HEARINGS:
            raise Refused("hearing", _l("Choose whether the person concerned was heard."))
        text = required_text(account, "account", _l("Describe the hearing, or why none is needed."))
        note = write_note(session, clock, case, keys, user_id, "hearing", text)
        case.hearing = hearing
        audit.record(
            session,
            clock,
            action="case.hearing_recorded",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"hearing": hearing, "note": note.id},
        )


def reveal_identity(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, reason: str
) -> Identity:
    """The named reporter's identity, for a stated reason; the reveal is logged (K1), and
    commit."""
    with unit_of_work(session):
        if case.identity is None:
            raise Refused("reason", _l("The reporter is anonymous."))
        if keys.identity is None:
            raise NoAccess
        text = required_text(reason, "reason", _l("Say why you need to see the identity."))
        identity = read_identity(case, keys)
        note = write_note(session, clock, case, keys, user_id, "identity_reveal", text)
        audit.record(
            session,
            clock,
            action="identity.revealed",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
            detail={"note": note.id},
        )
    return identity


def mark_read_by_handlers(session: Session, case: Case) -> None:
    """A handler has seen the reporter's latest messages: the case is marked read, and commit
    (nothing to do when it was)."""
    if case.unread_for_handlers:
        with unit_of_work(session):
            case.unread_for_handlers = False


def record_opened(
    session: Session,
    clock: Clock,
    case: Case,
    user_id: int,
    *,
    browser_session_id: int | None = None,
) -> bool:
    """Opening a case is logged (who read what, when), once per sign-in: the first time
    ``user_id`` opens ``case`` in the browser session ``browser_session_id``, not at every page
    load, so the case history, the audit log and the counsel PDF say who read the case in each
    sign-in without a line per click. Every file downloaded and every action is still logged
    on its own. Returns whether an entry was written, and commits.
    """
    with unit_of_work(session):
        if browser_session_id is not None and _opened_since_sign_in(
            session, case, user_id, browser_session_id
        ):
            return False
        audit.record(
            session,
            clock,
            action="case.opened",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
        )
    return True


def _opened_since_sign_in(
    session: Session, case: Case, user_id: int, browser_session_id: int
) -> bool:
    started = session.scalar(
        select(WebSession.created_at).where(
            WebSession.id == browser_session_id, WebSession.user_id == user_id
        )
    )
    if started is None:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    AuditEntry.case_id == case.id,
                    AuditEntry.action == "case.opened",
                    AuditEntry.actor_user_id == user_id,
                    AuditEntry.at >= started,
                )
            )
        )
    )


def record_file_downloaded(session: Session, clock: Clock, case: Case, user_id: int) -> None:
    """A handler downloads a file of the case: logged (who read what, when), and commit."""
    with unit_of_work(session):
        audit.record(
            session,
            clock,
            action="case.file_downloaded",
            org_id=case.org_id,
            actor_user_id=user_id,
            case=case,
        )
