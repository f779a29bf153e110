"""The categories a reporter chooses from, as the administrator keeps them: added, renamed,
reordered, offered or no longer offered, and deleted only when no case ever had them (so the
record of reports and the statistics keep every category they name). "Not sure" is always
offered, and always last: a category added or moved goes before it, and it does not move. A
refusal is a :class:`~whistle.core.refusals.Refused` naming the form field.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import CATEGORY_ORDER, NOT_SURE, Case, CaseTombstone, Category
from whistle.core.organisations import suggest_slug
from whistle.core.refusals import Refused


@dataclass(frozen=True)
class CategoryRow:
    category: Category
    used: bool  # a case or a deleted case's tombstone refers to it: it is never deleted

    @property
    def always_on(self) -> bool:
        return self.category.code == NOT_SURE


def categories(session: Session, org_id: int) -> list[CategoryRow]:
    """The organisation's categories in the form's order ("Not sure" last), with whether each
    is in use."""
    used_by_case = exists().where(Case.category_id == Category.id)
    used_by_tombstone = exists().where(CaseTombstone.category_id == Category.id)
    rows = session.execute(
        select(Category, used_by_case | used_by_tombstone)
        .where(Category.org_id == org_id)
        .order_by(*CATEGORY_ORDER)
    ).all()
    return [CategoryRow(category, bool(used)) for category, used in rows]


def _renumber(ordered: list[Category]) -> None:
    """Positions 0, 1, 2... in the order given, "Not sure" last whatever its place there."""
    last = [c for c in ordered if c.code == NOT_SURE]
    for position, row in enumerate([c for c in ordered if c.code != NOT_SURE] + last):
        row.position = position


def category(session: Session, org_id: int, category_id: int) -> Category:
    """The category ``category_id`` of ``org_id``; LookupError otherwise."""
    found = session.get(Category, category_id)
    if found is None or found.org_id != org_id:
        raise LookupError(category_id)
    return found


def _labels(label_da: str, label_en: str) -> tuple[str, str]:
    da, en = " ".join(label_da.split()), " ".join(label_en.split())
    message = _l("Give a name of 2 to 200 characters.")
    if not 2 <= len(da) <= 200:
        raise Refused("label_da", message)
    if not 2 <= len(en) <= 200:
        raise Refused("label_en", message)
    return da, en


def _free_code(session: Session, org_id: int, label_en: str) -> str:
    """A code for a new category, made from its English name and unused in ``org_id``."""
    taken = set(session.scalars(select(Category.code).where(Category.org_id == org_id)))
    base = suggest_slug(label_en)[:56].strip("-") or "category"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    return code


def _record(
    session: Session, clock: Clock, action: str, org_id: int, actor_id: int, **detail: int
) -> None:
    audit.record(
        session,
        clock,
        action=action,
        org_id=org_id,
        actor_user_id=actor_id,
        detail=detail,
    )


def add_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, label_da: str, label_en: str
) -> Category:
    """A new active category, last in the list but before "Not sure", and commit."""
    with unit_of_work(session):
        da, en = _labels(label_da, label_en)
        code = _free_code(session, org_id, en)
        ordered = [r.category for r in categories(session, org_id)]
        added = Category(
            org_id=org_id,
            code=code,
            label_da=da,
            label_en=en,
            position=len(ordered),
            is_active=True,
        )
        session.add(added)
        _renumber([*ordered, added])
        session.flush()
        _record(session, clock, "settings.category_added", org_id, actor_id, category=added.id)
        return added


def rename_category(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    category_id: int,
    label_da: str,
    label_en: str,
) -> bool:
    """New names in both languages (cases keep their category: it is the same one), and
    commit; True when changed."""
    with unit_of_work(session):
        found = category(session, org_id, category_id)
        da, en = _labels(label_da, label_en)
        if (da, en) == (found.label_da, found.label_en):
            return False
        found.label_da, found.label_en = da, en
        _record(session, clock, "settings.category_renamed", org_id, actor_id, category=category_id)
        session.flush()
        return True


def move_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int, step: int
) -> bool:
    """Move a category one place up (``step`` -1) or down (+1), and commit; False at either
    end, and for "Not sure", which stays last."""
    with unit_of_work(session):
        found = category(session, org_id, category_id)
        if found.code == NOT_SURE:
            return False
        every = categories(session, org_id)
        rows = [r.category for r in every if not r.always_on]
        index = next(i for i, c in enumerate(rows) if c.id == found.id)
        target = index + step
        if step not in (-1, 1) or not 0 <= target < len(rows):
            return False
        if NOT_SURE in (rows[index].code, rows[target].code):
            return False
        rows[index], rows[target] = rows[target], rows[index]
        _renumber(rows + [r.category for r in every if r.always_on])
        _record(
            session,
            clock,
            "settings.category_moved",
            org_id,
            actor_id,
            category=category_id,
            position=target,
        )
        session.flush()
        return True


def set_category_active(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int, active: bool
) -> bool:
    """Offer a category on the form again, or no longer (its cases keep it), and commit. "Not
    sure" is always offered. True when changed."""
    with unit_of_work(session):
        found = category(session, org_id, category_id)
        if found.code == NOT_SURE and not active:
            raise Refused("active", _l("“Not sure” is always offered to reporters."))
        if found.is_active == active:
            return False
        found.is_active = active
        action = "settings.category_reactivated" if active else "settings.category_deactivated"
        _record(session, clock, action, org_id, actor_id, category=category_id)
        session.flush()
        return True


def delete_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int
) -> None:
    """Delete a category no case ever had (a typo, say), and commit; one in use is only
    deactivated, so that the record of reports and the statistics keep it."""
    with unit_of_work(session):
        row = next((r for r in categories(session, org_id) if r.category.id == category_id), None)
        if row is None:
            raise LookupError(category_id)
        if row.always_on:
            raise Refused("category", _l("“Not sure” is always offered to reporters."))
        if row.used:
            raise Refused(
                "category",
                _l("Reports have this category, so it cannot be deleted. Deactivate it instead."),
            )
        session.execute(delete(Category).where(Category.id == category_id))
        _record(session, clock, "settings.category_deleted", org_id, actor_id, category=category_id)
        session.flush()
