"""The reporter's way back into a case: the case code, and nothing else.

Wrong codes, malformed codes and codes of another organisation all end in the same
:class:`UnknownCode`, so the answer never tells a guesser anything.

The code opens the seed of the reporter's own key pair (crypto/case_codes.py), to which every
key epoch's content key is sealed (whistle/casefile/access.py). A case received before key epochs
has no key pair yet: its code opens the content key itself. At that reporter's next sign-in
the case gets its key pair (the code is known for that one request), and if someone left the
case in the meantime its content key is renewed then, before the reporter can write anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    InvalidCaseCode,
    KeyKind,
    OpenError,
    PrivateKey,
    case_code_lookup_tag,
    generate_symmetric_key,
    open_case_key_for_reporter,
    open_reporter_seed,
    wrap_reporter_seed,
)
from whistle.casefile.access import KeyRing
from whistle.casefile.content import report_of
from whistle.casefile.conversation import PreparedFile, post_message
from whistle.casefile.epochs import renew_keys
from whistle.casefile.key_wrapping import case_kek, unwrap_reporter_key, wrap_reporter_key
from whistle.casefile.sealing import seal_content_to_reporter
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Author, Case, CaseStatus, Category, Message
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.notify.outbox import queue_case_event

CLOSED = _l(
    "Your message was not sent: the case handler has closed this case, so it takes no new "
    "messages or files. What you wrote is shown below, so that you can keep it."
)


class UnknownCode(Exception):
    """No case opens with this code (or the text is not a code)."""


def open_with_code(
    session: Session,
    clock: Clock,
    org_id: int,
    code: str,
    pepper: bytes,
    *,
    argon2: Argon2Params,
) -> tuple[Case, bytes]:
    """The case and the seed of its reporter's key pair for ``code``; :class:`UnknownCode`
    otherwise. Gives an older case its reporter key pair on the way (commits then)."""
    try:
        tag = case_code_lookup_tag(pepper, code, scope=org_id)
    except InvalidCaseCode:
        raise UnknownCode from None
    case = session.scalar(select(Case).where(Case.reporter_tag == tag, Case.org_id == org_id))
    if case is None:
        raise UnknownCode
    wrapped = unwrap_reporter_key(session, case)
    if wrapped is None:
        raise UnknownCode
    try:
        if case.reporter_public_key is not None:
            return case, open_reporter_seed(wrapped, code, case_id=case.uid)
        content_key = open_case_key_for_reporter(
            wrapped, code, case_id=case.uid, kind=KeyKind.CONTENT
        )
    except (OpenError, InvalidCaseCode):
        raise UnknownCode from None
    return case, give_key_pair(session, clock, case, content_key, code, argon2=argon2)


def give_key_pair(
    session: Session,
    clock: Clock,
    case: Case,
    content_key: bytes,
    code: str,
    *,
    argon2: Argon2Params,
) -> bytes:
    """Give an older case (no reporter key pair) its reporter key pair; return its seed.
    Commits.

    ``content_key`` is what the code opened: the case's content key, unchanged since intake
    (an epoch change on such a case renews only the notes and identity keys, see
    whistle/casefile/access.py). It is sealed to the new key pair, the code now opens the pair's
    seed, and a content-key renewal that had to wait for this is done now.
    """
    with unit_of_work(session):
        seed = generate_symmetric_key()
        public = PrivateKey.from_seed(seed).public_key()
        kek = case_kek(session, case.uid, create=True)
        assert kek is not None
        case.reporter_key = wrap_reporter_key(
            kek, case.uid, wrap_reporter_seed(seed, code, case_id=case.uid, params=argon2)
        )
        case.reporter_public_key = public.to_bytes()
        seal_content_to_reporter(session, case, public, KeyRing({0: content_key}))
        if case.content_rotation_pending:
            renew_keys(session, clock, case, actor_user_id=None, reason="reporter_key_pair")
        audit.record(
            session,
            clock,
            action="case.reporter_key_pair",
            day_only=True,
            org_id=case.org_id,
            case=case,
        )
    return seed


def mark_read_by_reporter(session: Session, clock: Clock, case: Case) -> None:
    """The reporter has seen every handler message. Commits."""
    with unit_of_work(session):
        session.execute(
            update(Message)
            .where(
                Message.case_id == case.id,
                Message.author == Author.HANDLER.value,
                Message.read_by_reporter_on.is_(None),
            )
            .values(read_by_reporter_on=clock.now().date())
        )
        case.unread_for_reporter = False


def reply(
    session: Session,
    clock: Clock,
    store: Store,
    case: Case,
    content: KeyRing,
    *,
    body: str,
    files: Sequence[PreparedFile] = (),
) -> Message:
    """The reporter writes to the unit (with files). Commits; on failure nothing stays.

    K5: the entitled handlers hear, in the same transaction, that something happened, never
    what (whistle/notify/outbox.py). A closed case takes nothing more: :class:`Refused` (a
    mailbox page left open from before the closing still posts)."""
    if case.status == CaseStatus.CLOSED:
        raise Refused("body", CLOSED)
    return post_message(
        session,
        clock,
        store,
        case,
        content,
        author=Author.REPORTER,
        body=body,
        files=files,
        with_message=lambda _message: _tell_handlers(session, clock, case),
    )


def _tell_handlers(session: Session, clock: Clock, case: Case) -> None:
    queue_case_event(session, clock, case, "reporter_message")


@dataclass(frozen=True, repr=False)
class YourReport:
    """The report as its reporter sent it, opened with the reporter's own keys: what the
    mailbox shows him to re-read. His name and contact details, if he gave them, are under the
    identity key, which only the handlers hold: he is told only whether he gave them."""

    received_on: date
    category_da: str  # "" when the category was deleted since
    category_en: str
    relation: str  # a code of whistle/core/labels.py RELATION_LABELS, or ""
    what: str
    when_where: str
    who: str
    how_known: str
    anonymous: bool
    meeting_requested: bool

    def __repr__(self) -> str:
        return "YourReport(<secret>)"


def your_report(session: Session, case: Case, content: KeyRing) -> YourReport:
    """What the reporter wrote, opened with his key ring (``content``)."""
    data = report_of(case, content)
    category = session.get(Category, case.category_id) if case.category_id is not None else None
    return YourReport(
        received_on=case.received_on,
        category_da=category.label_da if category is not None else "",
        category_en=category.label_en if category is not None else "",
        relation=str(data.get("relation") or ""),
        what=str(data.get("what") or ""),
        when_where=str(data.get("when_where") or ""),
        who=str(data.get("who") or ""),
        how_known=str(data.get("how_known") or ""),
        anonymous=case.anonymous,
        meeting_requested=bool(data.get("meeting_requested", case.meeting_requested)),
    )
