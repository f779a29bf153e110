"""The case's identity disclosures and its disclosure register (K2), as the unit reads them:
every disclosure with its reasons, and every entry of what left the unit (a case file to
counsel, the identity handed over to an authority), to whom, when, by whom and on what
ground. Disclosures made to counsel under the old rule (before migration 0018) are marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile.access import OpenedKeys
from whistle.core.models import Case, CaseExport, Disclosure, IdentityDisclosure
from whistle.disclosure.rules import LEGAL_GROUNDS


@dataclass(frozen=True)
class DisclosureStep:
    """One identity disclosure as the unit sees it: the register's entry and its reasons."""

    id: int
    recipient_kind: str  # "authority" or "counsel"
    recipient: str  # counsel's name, or the authority's ("" without the notes key)
    ground: str
    notice: str
    status: str
    requested_by: str
    requested_by_id: int | None
    requested_on: date
    decided_by: str
    decided_on: date | None
    reasons: str  # "" without the notes key
    withheld_reason: str
    export_id: int | None
    handed_over_by: str = ""
    handed_over_on: date | None = None
    old_rule: bool = False  # to counsel on a legal ground, as allowed before migration 0018


def steps(session: Session, case: Case, keys: OpenedKeys | None) -> list[DisclosureStep]:
    """The case's identity disclosures, oldest first, with their reasons and the authorities'
    names when ``keys`` hold the notes key."""
    rows = session.scalars(
        select(IdentityDisclosure)
        .where(IdentityDisclosure.case_id == case.id)
        .order_by(IdentityDisclosure.id)
    ).all()
    people = {r.recipient_user_id for r in rows} | {r.requested_by for r in rows}
    people |= {r.decided_by for r in rows} | {r.handed_over_by for r in rows}
    names = content.user_names(session, {p for p in people if p})
    texts = _note_texts(session, case, keys, rows)
    return [_step(r, names, texts) for r in rows]


def _note_texts(
    session: Session, case: Case, keys: OpenedKeys | None, rows: Sequence[IdentityDisclosure]
) -> dict[int, str]:
    """The reasons, withheld-notice reasons and authorities' names of ``rows``, by note id
    (empty without the notes key)."""
    if keys is None or keys.notes is None:
        return {}
    wanted = {
        n for r in rows for n in (r.reasons_note_id, r.withheld_note_id, r.authority_note_id) if n
    }
    return {
        n.id: n.body
        for n in content.notes(session, case, keys)
        if n.id in wanted and n.purged_on is None
    }


def _step(r: IdentityDisclosure, names: dict[int, str], texts: dict[int, str]) -> DisclosureStep:
    return DisclosureStep(
        id=r.id,
        recipient_kind=r.recipient,
        recipient=(
            texts.get(r.authority_note_id or 0, "")
            if r.recipient == "authority"
            else names.get(r.recipient_user_id or 0, "?")
        ),
        ground=r.ground,
        notice=r.notice,
        status=r.status,
        requested_by=names.get(r.requested_by or 0, "?"),
        requested_by_id=r.requested_by,
        requested_on=r.requested_on,
        decided_by=names.get(r.decided_by or 0, ""),
        decided_on=r.decided_on,
        reasons=texts.get(r.reasons_note_id or 0, ""),
        withheld_reason=texts.get(r.withheld_note_id or 0, ""),
        export_id=r.export_id,
        handed_over_by=names.get(r.handed_over_by or 0, ""),
        handed_over_on=r.handed_over_on,
        old_rule=r.recipient == "counsel" and r.ground in LEGAL_GROUNDS,
    )


@dataclass(frozen=True)
class RegisterEntry:
    """One entry of the case's disclosure register (K2): what left the unit, to whom, when,
    by whom, and, where the reporter's identity went with it, on what ground."""

    disclosed_on: date
    kind: str  # "export" (a case file to counsel) or "authority" (the identity handed over)
    recipient: str  # counsel's name, or the authority's ("" without the notes key)
    by: str
    includes_notes: bool
    includes_identity: bool
    ground: str | None  # the identity disclosure's ground, when the identity went out
    old_rule: bool  # the identity went to counsel on a legal ground, before migration 0018


def register(session: Session, case: Case, keys: OpenedKeys | None) -> list[RegisterEntry]:
    """The case's disclosure register, oldest first; the authorities are named when ``keys``
    hold the notes key."""
    rows = session.execute(
        select(Disclosure, CaseExport.includes_notes)
        .outerjoin(CaseExport, CaseExport.id == Disclosure.export_id)
        .where(Disclosure.case_id == case.id)
        .order_by(Disclosure.id)
    ).all()
    identity = {s.id: s for s in steps(session, case, keys)}
    by_export = {s.export_id: s for s in identity.values() if s.export_id is not None}
    names = content.user_names(
        session,
        {p for d, _notes in rows for p in (d.recipient_user_id, d.by_user_id) if p is not None},
    )
    return [
        _entry(d, bool(notes), _identity_step(d, identity, by_export), names) for d, notes in rows
    ]


def _identity_step(
    d: Disclosure, identity: dict[int, DisclosureStep], by_export: dict[int, DisclosureStep]
) -> DisclosureStep | None:
    """The identity disclosure an entry used, when the identity went out with it."""
    if not d.includes_identity:
        return None
    if d.kind == "authority":
        return identity.get(d.identity_disclosure_id or 0)
    return by_export.get(d.export_id or 0)


def _entry(
    d: Disclosure, includes_notes: bool, step: DisclosureStep | None, names: dict[int, str]
) -> RegisterEntry:
    return RegisterEntry(
        disclosed_on=d.disclosed_on,
        kind=d.kind,
        recipient=(
            (step.recipient if step else "")
            if d.kind == "authority"
            else names.get(d.recipient_user_id or 0, "?")
        ),
        by=names.get(d.by_user_id or 0, ""),
        includes_notes=includes_notes,
        includes_identity=d.includes_identity,
        ground=step.ground if step else None,
        old_rule=bool(step and step.old_rule),
    )
