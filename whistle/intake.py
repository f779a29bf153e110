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
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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
from whistle.case_access import seal_to_recipients, unit_members
from whistle.clock import Clock
from whistle.contexts import identity_context, nudge_context, report_context
from whistle.conversation import PreparedFile, store_files
from whistle.deadlines import acknowledge_due, feedback_due
from whistle.models import Case, CaseStatus, Category, Organisation
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


def _next_reference(session: Session, org_id: int, year: int) -> str:
    prefix = f"{year}-"
    existing = session.scalars(
        select(Case.reference).where(Case.org_id == org_id, Case.reference.like(f"{prefix}%"))
    ).all()
    numbers = [int(r[len(prefix) :]) for r in existing if r[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


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
) -> Submission:
    """Encrypt and store a new report; return the case and its code. Commits.

    Attachment files are written before the database commit and removed again if anything
    fails, so a report is either stored whole or not at all (a crash between the two can leave
    an unreferenced file, which the store's consistency check removes).
    """
    _validate(session, org, report)
    keys = CaseKeys.generate()
    case_uid = str(uuid.uuid4())
    code = generate_case_code()
    received = clock.now().date()
    excluded = set(report.excluded_handler_ids)
    recipients = [u for u in unit_members(session, org.id) if u.id not in excluded]

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

    stored: list[str] = []
    try:
        for attempt in range(5):
            try:
                case = Case(
                    uid=case_uid,
                    org_id=org.id,
                    reference=_next_reference(session, org.id, received.year),
                    status=CaseStatus.NEW,
                    category_id=report.category_id,
                    channel="web",
                    anonymous=report.anonymous,
                    meeting_requested=report.meeting_requested,
                    received_on=received,
                    acknowledge_due=acknowledge_due(received),
                    feedback_due=feedback_due(received, None),
                    reporter_tag=case_code_lookup_tag(pepper, code),
                    reporter_key=wrap_case_key_for_reporter(
                        keys.content, code, case_id=case_uid, kind=KeyKind.CONTENT, params=argon2
                    ),
                    report=encrypt_field(
                        keys.content,
                        json.dumps(content).encode(),
                        context=report_context(case_uid),
                    ),
                    identity=identity,
                    nudge_address=nudge,
                    unread_for_handlers=True,
                    unread_for_reporter=False,
                )
                session.add(case)
                session.flush()
                break
            except IntegrityError:
                # Two reports took the same reference at once: take the next number.
                session.rollback()
                if attempt == 4:
                    raise
        seal_to_recipients(
            session,
            org_id=org.id,
            case_id=case.id,
            case_uid=case_uid,
            keys=keys,
            users=recipients,
        )
        store_files(
            session,
            store,
            case,
            keys.content,
            files,
            author="reporter",
            added_on=received,
            stored=stored,
        )
        session.commit()
    except BaseException:
        session.rollback()
        for name in stored:
            store.delete(name)
        raise
    return Submission(case=case, code=code, content_key=keys.content, stored_files=stored)
