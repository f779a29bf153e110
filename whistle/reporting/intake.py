"""Intake: a report becomes an encrypted case (REQUIREMENTS.md C1-C6, K1, K3, D1).

Who can read what, decided here and in :mod:`whistle.casefile.access`:

- the report and the attachments: content key, held by the entitled handlers, the recovery
  key, and the reporter (sealed to the reporter's own key pair, whose seed is wrapped under
  Argon2id of the case code, so later key epochs reach the reporter too);
- a named reporter's name and contact details: identity key, handlers and recovery only;
- the optional e-mail address for "there is news" nudges: notes key, handlers only, never
  shown in the interface, used only when a handler acts.

The server keeps in clear only what it acts on: category, channel, anonymous or not, whether a
meeting was requested, the day of receipt and the deadlines.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    CaseKeys,
    PrivateKey,
    PublicKey,
    case_code_lookup_tag,
    encrypt_field,
    generate_case_code,
    generate_symmetric_key,
    wrap_reporter_seed,
)
from whistle.casefile.access import single_epoch
from whistle.casefile.conversation import PreparedFile, StoredFile, add_file_rows, write_files
from whistle.casefile.holders import certified_members
from whistle.casefile.key_wrapping import case_kek, wrap_reporter_key
from whistle.casefile.records import REPORT_OWNER
from whistle.casefile.sealing import SealedKey, add_sealed_keys, seal_for_recipients
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import identity_context, nudge_context, report_context
from whistle.core.db import unit_of_work_with_files, upsert_insert
from whistle.core.deadlines import acknowledge_due, feedback_due
from whistle.core.keystore import of_session
from whistle.core.keystore_errors import KeyStoreError
from whistle.core.models import Case, CaseStatus, Category, Organisation, ReferenceCounter, User
from whistle.core.refusals import Refused
from whistle.core.shredding import case_key_name, file_key_name
from whistle.core.storage import Store
from whistle.meetings.tasks import open_meeting_task
from whistle.notify.outbox import queue_case_event
from whistle.reporting.receipts import SALT_FIELD, new_salt

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


# A new code whose lookup part another case of the organisation already has is drawn again
# (1 in a million per case already there); this many draws in a row cannot happen by chance.
MAX_CODE_DRAWS = 20


@dataclass(frozen=True, repr=False)
class Submission:
    case: Case
    code: str  # SECRET: shown once to the reporter, never stored or logged
    reporter_seed: bytes  # SECRET: the reporter's key pair, for their session; never stored
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
        raise Refused("category", _l("Choose a category from the list."))
    if not report.what.strip():
        raise Refused("what", _l("Describe what happened."))
    if report.relation is not None and report.relation not in RELATIONS:
        raise Refused("relation", _l("Choose your relation from the list."))
    if report.anonymous and not org.accepts_anonymous:
        raise Refused("anonymous", _l("This organisation does not accept anonymous reports."))
    if not report.anonymous and not report.name.strip():
        raise Refused("name", _l("Give your name, or choose to report anonymously."))


def new_case_code(session: Session, org_id: int, pepper: bytes) -> tuple[str, bytes]:
    """A fresh case code and its lookup tag, the tag not used by another case of ``org_id``.

    The tag covers only the code's lookup part (crypto/case_codes.py), so it must be unique
    for the case to be found; the unique index on ``reporter_tag`` guards the rare race of two
    reports drawing the same part at once (the second fails and is not stored).
    """
    for _attempt in range(MAX_CODE_DRAWS):
        code = generate_case_code()
        tag = case_code_lookup_tag(pepper, code, scope=org_id)
        if session.scalar(select(Case.id).where(Case.reporter_tag == tag)) is None:
            return code, tag
    raise RuntimeError("no free case-code lookup part")  # pragma: no cover


def submit_report(
    session: Session,
    clock: Clock,
    org: Organisation,
    report: ReportInput,
    files: Sequence[PreparedFile],
    *,
    pepper: bytes,
    argon2: Argon2Params,
    store: Store,
    unit: Sequence[User] | None = None,
    before_commit: Callable[[Case, bytes, str], None] | None = None,
) -> Submission:
    """Encrypt and store a new report, and commit; return the case and its code.

    ``unit`` is the members the report form offered for exclusion
    (:func:`~whistle.casefile.holders.certified_members`); the report is sealed only to those of
    them still certified now. Raises :class:`~whistle.core.trust.KeysNotTrusted`, having
    written nothing, when the organisation's recovery or certification key does not match
    its pin in the instance folder. ``before_commit(case, reporter_seed, code)`` runs inside
    the transaction just before the commit (the web form signs the reporter in there), so what
    it writes is stored with the report or not at all.

    Attachment files are written before the database commit and removed again if anything
    before the commit fails, so a report is either stored whole or not at all (a crash, or a
    commit that fails with its connection, can leave an unreferenced file, which
    ``whistle doctor`` removes).
    """
    _validate(session, org, report)
    keys = CaseKeys.generate()
    case_uid = str(uuid.uuid4())
    code, tag = new_case_code(session, org.id, pepper)
    reporter_seed = generate_symmetric_key()
    received = clock.now().date()
    recipients = _recipients(session, org, report, unit)
    # Everything costly happens before the first write: the Argon2id derivation behind the
    # reporter's key, the HPKE seals and the file encryption. The reference number is taken
    # last, with a row lock held only for the few inserts before the commit, so concurrent
    # reports neither wait on each other's key derivation nor race for a number.
    sealed = _seal(session, org, report, keys, case_uid, code, reporter_seed, recipients, argon2)
    with unit_of_work_with_files(
        session, store, on_rollback=lambda stored: _destroy_keys(session, case_uid, stored)
    ) as stored:
        written = write_files(
            session,
            store,
            case_uid,
            single_epoch(keys).content,
            files,
            stored=stored,
            author="reporter",
            owner=REPORT_OWNER,
        )
        case = _new_case(session, org, report, case_uid, tag, received, sealed)
        _record_case(session, clock, org, case, report, sealed, written, recipients)
        if before_commit is not None:
            before_commit(case, reporter_seed, code)
    return Submission(case=case, code=code, reporter_seed=reporter_seed, stored_files=stored)


def _recipients(
    session: Session, org: Organisation, report: ReportInput, unit: Sequence[User] | None
) -> list[User]:
    """Whom the report is sealed to: members whose keys are certified now and, when the form
    listed the unit for exclusion, whom it offered (the reporter saw exactly who could read
    the report), less those the reporter excluded."""
    excluded = report.excluded_handler_ids
    offered = None if unit is None else {u.id for u in unit}
    return [
        u
        for u in certified_members(session, org.id)
        if u.id not in excluded and (offered is None or u.id in offered)
    ]


@dataclass(frozen=True, repr=False)
class _Sealed:
    """A new case's encrypted parts, made before anything is written. SECRET-bearing."""

    reporter_public: PublicKey
    reporter_key: bytes
    keys: list[SealedKey]
    report: bytes
    identity: bytes | None
    nudge: bytes | None


def _seal(
    session: Session,
    org: Organisation,
    report: ReportInput,
    keys: CaseKeys,
    case_uid: str,
    code: str,
    reporter_seed: bytes,
    recipients: Sequence[User],
    argon2: Argon2Params,
) -> _Sealed:
    """Encrypt the report, the identity and the nudge address, wrap the reporter's seed and
    seal the case keys to ``recipients`` (the costly part, holding no lock)."""
    reporter_public = PrivateKey.from_seed(reporter_seed).public_key()
    # The case's key-encryption key, in the key store outside the database: every sealed key
    # and the reporter's wrapped seed are stored under it, and deleting the case destroys it.
    kek = case_kek(session, case_uid, create=True)
    assert kek is not None
    reporter_key = wrap_reporter_key(
        kek, case_uid, wrap_reporter_seed(reporter_seed, code, case_id=case_uid, params=argon2)
    )
    sealed = seal_for_recipients(
        session,
        org_id=org.id,
        case_uid=case_uid,
        keys=keys,
        users=recipients,
        reporter=reporter_public,
    )
    return _Sealed(
        reporter_public=reporter_public,
        reporter_key=reporter_key,
        keys=sealed,
        report=encrypt_field(
            keys.content,
            json.dumps(_report_content(report)).encode(),
            context=report_context(case_uid),
        ),
        identity=_encrypted_identity(report, keys, case_uid),
        nudge=_encrypted_nudge(report, keys, case_uid),
    )


def _report_content(report: ReportInput) -> dict[str, object]:
    """The report as its encrypted JSON document holds it."""
    return {
        "v": 1,
        "relation": report.relation,
        "what": report.what,
        "when_where": report.when_where,
        "who": report.who,
        "how_known": report.how_known,
        "excluded_handlers": sorted(report.excluded_handler_ids),
        "meeting_requested": report.meeting_requested,
        SALT_FIELD: new_salt(),  # the receipt's commitment salt (whistle/reporting/receipts.py)
    }


def _encrypted_identity(report: ReportInput, keys: CaseKeys, case_uid: str) -> bytes | None:
    """A named reporter's name and contact details under the identity key."""
    if report.anonymous:
        return None
    return encrypt_field(
        keys.identity,
        json.dumps({"v": 1, "name": report.name, "contact": report.contact}).encode(),
        context=identity_context(case_uid),
    )


def _encrypted_nudge(report: ReportInput, keys: CaseKeys, case_uid: str) -> bytes | None:
    """The optional "there is news" address under the notes key."""
    if not report.nudge_email.strip():
        return None
    return encrypt_field(
        keys.notes, report.nudge_email.strip().encode(), context=nudge_context(case_uid)
    )


def _new_case(
    session: Session,
    org: Organisation,
    report: ReportInput,
    case_uid: str,
    tag: bytes,
    received: date,
    sealed: _Sealed,
) -> Case:
    """The case row, with the next reference number (locking the counter until the commit);
    flushed."""
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
        reporter_tag=tag,
        reporter_key=sealed.reporter_key,
        reporter_public_key=sealed.reporter_public.to_bytes(),
        key_epoch=0,
        report=sealed.report,
        identity=sealed.identity,
        nudge_address=sealed.nudge,
        unread_for_handlers=True,
        unread_for_reporter=False,
    )
    session.add(case)
    session.flush()
    return case


def _record_case(
    session: Session,
    clock: Clock,
    org: Organisation,
    case: Case,
    report: ReportInput,
    sealed: _Sealed,
    written: Sequence[StoredFile],
    recipients: Sequence[User],
) -> None:
    """The rows that go with the new case: its sealed keys and files, the meeting task, the
    unit's notification and the audit entry."""
    received = case.received_on
    add_sealed_keys(session, org_id=org.id, case_id=case.id, case_uid=case.uid, sealed=sealed.keys)
    add_file_rows(session, case, written, added_on=received)
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


def _destroy_keys(session: Session, case_uid: str, stored: Sequence[str]) -> None:
    """The keys made for a case that was not stored, and for its files, own nothing now
    (``whistle doctor`` would destroy them later; done now when the key store answers)."""
    with contextlib.suppress(KeyStoreError):
        of_session(session).destroy([case_key_name(case_uid), *(file_key_name(n) for n in stored)])
