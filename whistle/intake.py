"""Intake: a report becomes an encrypted case (REQUIREMENTS.md C1-C6, K1, K3, D1).

Who can read what, decided here and in :mod:`whistle.case_access`:

- the report and the attachments: content key, held by the entitled handlers, the recovery
  key, and the reporter (wrapped under Argon2id of the case code);
- a named reporter's name and contact details: identity key, handlers and recovery only;
- the optional e-mail address for "there is news" nudges: notes key, handlers only, never
  shown in the interface, used only when a handler acts.

The server keeps in clear only what it acts on: category, channel, anonymous or not, whether a
meeting was requested, the day of receipt and the deadlines.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    CaseKeys,
    KeyKind,
    case_code_lookup_tag,
    encrypt_field,
    generate_case_code,
    wrap_case_key_for_reporter,
)
from whistle import audit
from whistle.case_access import add_sealed_keys, certified_members, seal_for_recipients
from whistle.clock import Clock
from whistle.contexts import identity_context, nudge_context, report_context
from whistle.conversation import PreparedFile, add_file_rows, write_files
from whistle.db import upsert_insert
from whistle.deadlines import acknowledge_due, feedback_due
from whistle.meetings import open_meeting_task
from whistle.models import Case, CaseStatus, Category, Organisation, ReferenceCounter, User
from whistle.notify import queue_case_event
from whistle.storage import FileStore

RELATIONS = (
    "employee",
    "former-employee",
    "applicant",
    "self-employed",
    "shareholder-board",
    "volunteer-trainee",
    "contractor-supplier",
    "other",
)


class IntakeError(ValueError):
    """The report cannot be accepted as it is; ``field`` names the form field."""

    def __init__(self, field: str, message: object) -> None:
        self.field = field
        self.message = message
        super().__init__(f"report rejected: {field}")


@dataclass(frozen=True, repr=False)
class ReportInput:
    """What the reporter typed. SECRET: never log or repr it."""

    category_id: int
    what: str
    relation: str | None = None
    when_where: str = ""
    who: str = ""
    how_known: str = ""
    anonymous: bool = True
    name: str = ""
    contact: str = ""
    excluded_handler_ids: frozenset[int] = frozenset()
    meeting_requested: bool = False
    nudge_email: str = ""

    def __repr__(self) -> str:
        return "ReportInput(<secret>)"


@dataclass(frozen=True, repr=False)
class Submission:
    case: Case
    code: str  # SECRET: shown once to the reporter, never stored or logged
    content_key: bytes  # SECRET: for the reporter's session, never stored in clear
    stored_files: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Submission(reference={self.case.reference!r})"


def allocate_reference(session: Session, org_id: int, year: int) -> str:
    """The next case reference of ``org_id`` for ``year`` ("2026-0001"), not yet committed.

    The counter row stays locked until the caller's transaction ends (PostgreSQL), and a
    rolled-back report gives its number back, so references have no gaps from failures.
    """
    counter = ReferenceCounter
    take = (
        update(counter)
        .where(counter.org_id == org_id, counter.year == year)
        .values(last=counter.last + 1)
        .returning(counter.last)
        .execution_options(synchronize_session=False)
    )
    number = session.execute(take).scalar_one_or_none()
    if number is None:  # the organisation's first report of the year: make its counter
        session.execute(
            upsert_insert(session)(counter)
            .values(org_id=org_id, year=year, last=0)
            .on_conflict_do_nothing()
        )
        number = session.execute(take).scalar_one()
    return f"{year}-{number:04d}"


def _validate(session: Session, org: Organisation, report: ReportInput) -> None:
    from flask_babel import lazy_gettext as _l

    category = session.get(Category, report.category_id)
    if category is None or category.org_id != org.id or not category.is_active:
        raise IntakeError("category", _l("Choose a category from the list."))
    if not report.what.strip():
        raise IntakeError("what", _l("Describe what happened."))
    if report.relation is not None and report.relation not in RELATIONS:
        raise IntakeError("relation", _l("Choose your relation from the list."))
    if report.anonymous and not org.accepts_anonymous:
        raise IntakeError("anonymous", _l("This organisation does not accept anonymous reports."))
    if not report.anonymous and not report.name.strip():
        raise IntakeError("name", _l("Give your name, or choose to report anonymously."))


def submit_report(
    session: Session,
    clock: Clock,
    org: Organisation,
    report: ReportInput,
    files: Sequence[PreparedFile],
    *,
    pepper: bytes,
    argon2: Argon2Params,
    store: FileStore,
    unit: Sequence[User] | None = None,
    before_commit: Callable[[Case, bytes, str], None] | None = None,
) -> Submission:
    """Encrypt and store a new report; return the case and its code. Commits.

    ``unit`` is the members the report form offered for exclusion
    (:func:`~whistle.case_access.certified_members`); the report is sealed only to those of
    them still certified now. Raises :class:`~whistle.certification.KeysNotTrusted`, having
    written nothing, when the organisation's recovery or certification key does not match
    its pin in the instance folder. ``before_commit(case, content_key, code)`` runs inside the
    transaction just before the commit (the web form signs the reporter in there), so what it
    writes is stored with the report or not at all.

    Attachment files are written before the database commit and removed again if anything
    before the commit fails, so a report is either stored whole or not at all (a crash, or a
    commit that fails with its connection, can leave an unreferenced file, which
    ``whistle doctor`` removes).
    """
    _validate(session, org, report)
    keys = CaseKeys.generate()
    case_uid = str(uuid.uuid4())
    code = generate_case_code()
    received = clock.now().date()
    excluded = set(report.excluded_handler_ids)
    # Sealed only to members whose keys are certified now and, when the form listed the unit
    # for exclusion, whom it offered: the reporter saw exactly who could read the report.
    offered = None if unit is None else {u.id for u in unit}
    recipients = [
        u
        for u in certified_members(session, org.id)
        if u.id not in excluded and (offered is None or u.id in offered)
    ]

    content = {
        "v": 1,
        "relation": report.relation,
        "what": report.what,
        "when_where": report.when_where,
        "who": report.who,
        "how_known": report.how_known,
        "excluded_handlers": sorted(excluded),
        "meeting_requested": report.meeting_requested,
    }
    identity = None
    if not report.anonymous:
        identity = encrypt_field(
            keys.identity,
            json.dumps({"v": 1, "name": report.name, "contact": report.contact}).encode(),
            context=identity_context(case_uid),
        )
    nudge = None
    if report.nudge_email.strip():
        nudge = encrypt_field(
            keys.notes, report.nudge_email.strip().encode(), context=nudge_context(case_uid)
        )

    # Everything costly happens before the first write: the Argon2id derivation behind the
    # reporter's key, the HPKE seals and the file encryption. The reference number is taken
    # last, with a row lock held only for the few inserts before the commit, so concurrent
    # reports neither wait on each other's key derivation nor race for a number.
    reporter_key = wrap_case_key_for_reporter(
        keys.content, code, case_id=case_uid, kind=KeyKind.CONTENT, params=argon2
    )
    sealed = seal_for_recipients(
        session, org_id=org.id, case_uid=case_uid, keys=keys, users=recipients
    )
    report_blob = encrypt_field(
        keys.content, json.dumps(content).encode(), context=report_context(case_uid)
    )
    stored: list[str] = []
    try:
        written = write_files(store, case_uid, keys.content, files, stored=stored)
        case = Case(
            uid=case_uid,
            org_id=org.id,
            reference=allocate_reference(session, org.id, received.year),
            status=CaseStatus.NEW,
            category_id=report.category_id,
            channel="web",
            anonymous=report.anonymous,
            meeting_requested=report.meeting_requested,
            received_on=received,
            acknowledge_due=acknowledge_due(received),
            feedback_due=feedback_due(received, None),
            reporter_tag=case_code_lookup_tag(pepper, code),
            reporter_key=reporter_key,
            report=report_blob,
            identity=identity,
            nudge_address=nudge,
            unread_for_handlers=True,
            unread_for_reporter=False,
        )
        session.add(case)
        session.flush()
        add_sealed_keys(session, org_id=org.id, case_id=case.id, sealed=sealed)
        add_file_rows(session, case, written, author="reporter", added_on=received)
        if report.meeting_requested:
            # Directive art. 9(2): the request becomes a task for the unit, with a due date.
            open_meeting_task(session, clock, case, requested_on=received)
        queue_case_event(session, clock, case, "new_report", user_ids=[u.id for u in recipients])
        audit.record(
            session,
            clock,
            action="case.received",
            day_only=True,
            org_id=org.id,
            case=case,
            detail={"files": len(written), "meeting": report.meeting_requested},
        )
        if before_commit is not None:
            before_commit(case, keys.content, code)
        session.flush()
    except BaseException:
        session.rollback()
        for name in stored:
            store.delete(name)
        raise
    try:
        session.commit()
    except BaseException:
        # A failed commit may still have been made (the connection broke after the server
        # committed): the files stay, as a stored case needs them; unneeded, they are only
        # unreadable orphans that `whistle doctor --repair` removes.
        session.rollback()
        raise
    return Submission(case=case, code=code, content_key=keys.content, stored_files=stored)
