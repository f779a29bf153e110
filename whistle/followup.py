"""The reporter's way back into a case: the case code, and nothing else.

Wrong codes, malformed codes and codes of another organisation all end in the same
:class:`UnknownCode`, so the answer never tells a guesser anything.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto import (
    InvalidCaseCode,
    KeyKind,
    OpenError,
    case_code_lookup_tag,
    open_case_key_for_reporter,
)
from whistle.clock import Clock
from whistle.models import Author, Case, Message


class UnknownCode(Exception):
    """No case opens with this code (or the text is not a code)."""


def open_with_code(session: Session, org_id: int, code: str, pepper: bytes) -> tuple[Case, bytes]:
    """The case and its content key for ``code``; :class:`UnknownCode` otherwise."""
    try:
        tag = case_code_lookup_tag(pepper, code)
    except InvalidCaseCode:
        raise UnknownCode from None
    case = session.scalar(select(Case).where(Case.reporter_tag == tag, Case.org_id == org_id))
    if case is None:
        raise UnknownCode
    try:
        key = open_case_key_for_reporter(
            case.reporter_key, code, case_id=case.uid, kind=KeyKind.CONTENT
        )
    except (OpenError, InvalidCaseCode):
        raise UnknownCode from None
    return case, key


def mark_read_by_reporter(session: Session, clock: Clock, case: Case) -> None:
    """The reporter has seen every handler message. Commits."""
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
    session.commit()
