"""TODO: say what this module holds."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import decrypt_field
from whistle.casefile import records
from whistle.casefile.access import KeyRing, NoAccess, OpenedKeys
from whistle.core.clock import Clock
from whistle.core.contexts import identity_context, report_context
from whistle.core.models import (
    Case,
    CaseNote,
    User,
)
from whistle.core.refusals import Refused

NOTE_KINDS = (
    "note",
    "scope",
    "hearing",
    "identity_reveal",
    "closure",
    "access",
    "legal_hold",
    "hold_lifted",
    "purge",
    "disclosure_reasons",
    "disclosure_withheld",
    "disclosure_authority",
)


MAX_TEXT = 20_000


def read_report(case: Case, keys: OpenedKeys) -> dict[str, Any]:
    """The report as the reporter wrote it (epoch 0: it is written at intake)."""
    return report_of(case, keys.content)


def report_of(case: Case, content: KeyRing) -> dict[str, Any]:
    """The report, opened with a content key ring (a handler's or the reporter's)."""
    data: dict[str, Any] = json.loads(
        decrypt_field(content.at(0), case.report, context=report_context(case.uid))
    )
    return data


def required_text(value: str, field: str, message: object) -> str:
    text = value.strip()
    if not text:
        raise Refused(field, message)
    if len(text) > MAX_TEXT:
        raise Refused(field, _l("Use at most %(n)d characters.", n=MAX_TEXT))
    return text


def write_note(
    session: Session, clock: Clock, case: Case, keys: OpenedKeys, user_id: int, kind: str, body: str
) -> CaseNote:
    if keys.notes is None:
        raise NoAccess
    note = CaseNote(
        uid=str(uuid.uuid4()),
        org_id=case.org_id,
        case_id=case.id,
        author_user_id=user_id,
        kind=kind,
        created_on=clock.now().date(),
    )
    records.seal_note(session, keys.notes, case.uid, note, body)
    session.add(note)
    session.flush()
    return note


@dataclass(frozen=True, repr=False)
class NoteView:
    id: int
    kind: str
    author: str
    created_on: date
    body: str  # "" once purged
    purged_on: date | None = None  # purged as manifestly irrelevant (whistle/retention/purge.py)


def notes(session: Session, case: Case, keys: OpenedKeys) -> list[NoteView]:
    """The internal notes of the case, oldest first, decrypted in memory."""
    if keys.notes is None:
        return []
    rows = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
    ).all()
    names = user_names(session, {r.author_user_id for r in rows if r.author_user_id})
    items = records.item_keys(
        session, [n for r in rows if r.purged_on is None and (n := records.note_item(r))]
    )
    return [
        NoteView(
            row.id,
            row.kind,
            names.get(row.author_user_id or 0, "?"),
            row.created_on,
            ""
            if row.purged_on is not None
            else records.open_note(keys.notes, case.uid, row, items),
            row.purged_on,
        )
        for row in rows
    ]


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names of the given users (for notes and the case history)."""
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {int(user_id): str(name) for user_id, name in rows.all()}


@dataclass(frozen=True, repr=False)
class Identity:
    name: str
    contact: str

    def __repr__(self) -> str:
        return "Identity(<secret>)"


def read_identity(case: Case, keys: OpenedKeys) -> Identity:
    """The named reporter's identity, decrypted with the identity key (callers log why)."""
    if case.identity is None or keys.identity is None:
        raise NoAccess
    data = json.loads(
        decrypt_field(keys.identity.at(0), case.identity, context=identity_context(case.uid))
    )
    return Identity(str(data.get("name", "")), str(data.get("contact", "")))
