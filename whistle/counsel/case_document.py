"""The case as data for counsel's case file: the JSON document of the bundle
(docs/export-format.md), the attachments to add beside it, and the identity section a
reporter's consent allows.

Left out always: the nudge address, restricted and purged items (counted in ``left_out``);
internal notes unless the handler includes them; the identity unless
:func:`identity_section` allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.conversation import FileView, conversation, report_files
from whistle.core import audit
from whistle.core.models import Case, Category, IdentityDisclosure, Organisation
from whistle.core.refusals import Refused
from whistle.counsel.bundle_format import FORMAT, VERSION
from whistle.disclosure.consent import ready_for
from whistle.rights import linked_cases


@dataclass(frozen=True)
class Part:
    """An attachment that goes into the bundle: its path there and its name in the store."""

    path: str
    storage_name: str


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name).strip(" .")
    return cleaned[:120] or "file"


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


class _Collected:
    """The attachments chosen so far, and what was left out, while the document is built."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.left_out = {"restricted": 0, "purged": 0}

    def file(self, view: FileView) -> dict[str, Any] | None:
        """The document's entry for a file, which joins the bundle; None if it was purged."""
        if view.purged_on is not None:
            self.left_out["purged"] += 1
            return None
        path = f"files/{len(self.parts) + 1:03d}-{_safe(view.name)}"
        self.parts.append(Part(path, view.storage_name))
        return {
            "path": path,
            "name": view.name,
            "size": view.size,
            "author": view.author,
            "metadata_outcome": view.metadata_outcome,
        }

    def files(self, views: list[FileView]) -> list[dict[str, Any]]:
        return [f for v in views if (f := self.file(v))]


def case_document(
    session: Session,
    org: Organisation,
    case: Case,
    keys: OpenedKeys,
    *,
    include_notes: bool,
    today: date,
    identity: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Part]]:
    """The case as the JSON document of the bundle, and the files to add (docs/export-format.md)."""
    restricted = linked_cases.restricted_items(session, case.id)
    collected = _Collected()
    report_part, files_with_report = _report_section(session, case, keys, restricted, collected)
    messages = _conversation_section(session, case, keys, restricted, collected)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_on": today.isoformat(),
        "organisation": {"name": org.name, "slug": org.slug},
        "case": _case_section(session, case),
        "report": report_part,
        "report_files": files_with_report,
        "conversation": messages,
        "notes": _notes_section(session, case, keys) if include_notes else None,
        "timeline": _timeline(session, case),
        "identity": identity,
        "left_out": collected.left_out,
    }
    return document, collected.parts


def _case_section(session: Session, case: Case) -> dict[str, Any]:
    """What the server keeps in clear about the case: dates, status, outcome, retention."""
    category = session.get(Category, case.category_id) if case.category_id else None
    return {
        "reference": case.reference,
        "received_on": case.received_on.isoformat(),
        "category": (
            {
                "code": category.code,
                "label_da": category.label_da,
                "label_en": category.label_en,
            }
            if category
            else None
        ),
        "channel": case.channel,
        "anonymous": case.anonymous,
        "status": case.status,
        "scope": case.scope,
        "hearing": case.hearing,
        "outcome": case.outcome,
        "acknowledge_due": case.acknowledge_due.isoformat(),
        "acknowledged_on": _day(case.acknowledged_on),
        "feedback_due": case.feedback_due.isoformat(),
        "feedback_on": _day(case.feedback_on),
        "closed_on": _day(case.closed_on),
        "delete_on": _day(case.delete_on),
        "retention_rule": case.retention_rule,
        "legal_hold_since": _day(case.hold_since),
    }


def _report_section(
    session: Session,
    case: Case,
    keys: OpenedKeys,
    restricted: set[tuple[str, int]],
    collected: _Collected,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The report and the files sent with it, unless the report is restricted."""
    if ("report", 0) in restricted:
        collected.left_out["restricted"] += 1
        return None, []
    report = content.read_report(case, keys)
    report_part = {
        k: report.get(k)
        for k in ("relation", "what", "when_where", "who", "how_known", "meeting_requested")
    }
    return report_part, collected.files(report_files(session, case, keys.content))


def _conversation_section(
    session: Session,
    case: Case,
    keys: OpenedKeys,
    restricted: set[tuple[str, int]],
    collected: _Collected,
) -> list[dict[str, Any]]:
    """The messages with their files, less restricted and purged ones."""
    messages = []
    for message in conversation(session, case, keys.content):
        if ("message", message.id) in restricted:
            collected.left_out["restricted"] += 1
            continue
        if message.purged_on is not None:
            collected.left_out["purged"] += 1
            continue
        messages.append(
            {
                "id": message.id,
                "author": message.author,
                "kind": message.kind,
                "sent_on": message.sent_on.isoformat(),
                "body": message.body,
                "files": collected.files(message.files),
            }
        )
    return messages


def _notes_section(session: Session, case: Case, keys: OpenedKeys) -> list[dict[str, Any]]:
    """The internal notes not purged."""
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "author": n.author,
            "created_on": n.created_on.isoformat(),
            "body": n.body,
        }
        for n in content.notes(session, case, keys)
        if n.purged_on is None
    ]


def _timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """The case's audit trail, with the names of the staff who acted."""
    trail = audit.case_trail(session, case.id)
    names = content.user_names(session, {e.actor_user_id for e in trail if e.actor_user_id})
    return [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "by": names.get(e.actor_user_id, "") if e.actor_user_id else "",
        }
        for e in trail
    ]


def identity_section(
    session: Session, case: Case, keys: OpenedKeys, counsel_id: int
) -> tuple[IdentityDisclosure, dict[str, Any]]:
    """The ready consent disclosure to ``counsel_id`` and the identity section it allows."""
    if case.identity is None:
        raise Refused(
            "include_identity", _l("The reporter is anonymous: there is no identity to include.")
        )
    if keys.identity is None:
        raise NoAccess
    ready = ready_for(session, case.id, counsel_id)
    # Act § 26: without the reporter's consent only a public authority may receive the
    # identity, never counsel (who may be the employer's own lawyer).
    if ready is None or ready.ground != "consent":
        raise Refused(
            "include_identity",
            _l(
                "The identity can be included only once the reporter has consented to its "
                "disclosure to this counsel. Without consent it may go only to a public "
                'authority. Start a disclosure under "Disclose the reporter\'s identity".'
            ),
        )
    identity = content.read_identity(case, keys)
    approver = content.user_names(session, {ready.decided_by} if ready.decided_by else set())
    section = {
        "name": identity.name,
        "contact": identity.contact,
        "disclosure": {
            "ground": ready.ground,
            "notice": ready.notice,
            "requested_on": ready.requested_on.isoformat(),
            "decided_on": _day(ready.decided_on),
            "approved_by": approver.get(ready.decided_by or 0),
        },
    }
    return ready, section
