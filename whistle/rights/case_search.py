"""Data-subject rights: finding the person in the cases (REQUIREMENTS.md S2).

**Search decrypts in memory only.** :func:`search_cases` opens each case the handler can read,
looks for the name in the report, the conversation and the notes, and keeps nothing: no index
of names exists anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import PrivateKey
from whistle.casefile import content
from whistle.casefile.access import NoAccess, OpenedKeys, open_keys
from whistle.casefile.holders import holds_clause
from whistle.core.models import Case
from whistle.core.refusals import Refused
from whistle.rights.linked_cases import REPORT_FIELDS, live_messages

MIN_SEARCH = 3


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
        if any(needle in _fold(m.body) for m in live_messages(session, case, keys.content)):
            places.append("message")
        if any(needle in _fold(n.body) for n in content.notes(session, case, keys)):
            places.append("note")
        if places:
            matches.append(Match(case.id, case.reference, tuple(places)))
    return matches
