"""Data-subject rights: what a person asking for access receives (REQUIREMENTS.md S3; GDPR
art. 15).

**Access never releases the reporter.** :func:`access_export` takes only the report's account
of events and the conversation, never the identity (not even decrypted), leaves out restricted
items, and blanks every text the handler marked for redaction (the reporter's name written
into the report, a colleague's). It is released only after a recorded assessment and decision
(DPA-DK § 22 allows limiting access to protect the reporter or the investigation, S3;
whistle/rights/decisions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from crypto import PrivateKey
from whistle.casefile import content
from whistle.casefile.access import KeyRing, NoAccess, OpenedKeys, open_keys
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Case, RightsRequest
from whistle.core.refusals import Refused
from whistle.rights.linked_cases import REPORT_FIELDS, linked_cases, live_messages, restricted_items
from whistle.rights.requests import notes, record, require_open, write_note

MAX_TEXT = content.MAX_TEXT
REDACTED = "[…]"


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


# --- Redaction -------------------------------------------------------------------------------


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
    """Store the texts to blank out of the export, one per line, and commit."""
    with unit_of_work(session):
        require_open(request)
        terms = sorted(
            {line.strip() for line in text.splitlines() if line.strip()}, key=str.casefold
        )
        if len(text) > MAX_TEXT:
            raise Refused("terms", _l("Use at most %(n)d characters.", n=MAX_TEXT))
        note = write_note(
            session,
            clock,
            request,
            key,
            user_id,
            "redactions",
            json.dumps(terms, ensure_ascii=False),
        )
        record(
            session,
            clock,
            request,
            user_id,
            "rights.redactions_set",
            terms=len(terms),
            note=note.id,
        )
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


# --- The export ------------------------------------------------------------------------------


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
        sections.append(_section(session, case, keys, terms))
    return AccessExport(sections)


def _section(session: Session, case: Case, keys: OpenedKeys, terms: Sequence[str]) -> ExportSection:
    """One linked case's part of the export: its report and conversation, less what is
    restricted, with ``terms`` blanked."""
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
    for message in live_messages(session, case, keys.content):
        if ("message", message.id) in restricted:
            left_out += 1
            continue
        items.append(ExportItem(message.kind, message.sent_on, redact(message.body, terms)))
    return ExportSection(case.reference, case.received_on, items, left_out)
