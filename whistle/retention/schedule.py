"""Retention: when a closed case is deleted (REQUIREMENTS.md R2; DESIGN.md "Deadlines and
retention").

**Presets.** Closing a case sets the day it is deleted, from the organisation's preset for the
outcome: a number of days after the reporter was told, a number of months after the closure,
or a date the handler sets (for cases that go on to disciplinary or legal follow-up). Defaults
follow R2: outside the scope 30 days after the reporter is told, not substantiated 2 months
after closure, the others until a set date. Organisations change them in their settings
(``retention.<outcome>``: ``30d``, ``2m`` or ``date``).

Deletion is announced :data:`WARNING_DAYS` ahead to the case's handlers
(:func:`deletions_soon`); the deletion itself is whistle/retention/deletion.py, and a legal
hold that stops it whistle/retention/legal_hold.py.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.dates import ShownDay
from whistle.core.db import unit_of_work
from whistle.core.deadlines import add_months
from whistle.core.models import Case, CaseKey, CaseOutcome, CaseStatus, OrgSetting
from whistle.core.refusals import Refused

SETTING_PREFIX = "retention."
# Deletion is announced to the case's handlers (inbox and e-mail) this many days ahead.
WARNING_DAYS = 7
# A date set by hand may lie at most this far ahead: a longer keep is a legal hold.
MAX_KEEP_YEARS = 10


class Unit(enum.StrEnum):
    DAYS = "d"  # days after the reporter was told the outcome
    MONTHS = "m"  # months after the closure
    DATE = "date"  # until a date the handler sets at closing


@dataclass(frozen=True)
class Preset:
    unit: Unit
    amount: int = 0

    def __str__(self) -> str:
        return self.unit.value if self.unit is Unit.DATE else f"{self.amount}{self.unit.value}"

    @classmethod
    def parse(cls, value: str) -> Preset:
        """``"30d"``, ``"2m"`` or ``"date"``; ValueError otherwise."""
        value = value.strip().lower()
        if value == Unit.DATE.value:
            return cls(Unit.DATE)
        number, unit = value[:-1], value[-1:]
        if unit not in (Unit.DAYS.value, Unit.MONTHS.value) or not number.isdigit():
            raise ValueError("a retention preset is a number of days (30d), months (2m), or date")
        amount = int(number)
        limit = MAX_KEEP_YEARS * (366 if unit == Unit.DAYS.value else 12)
        if not 0 <= amount <= limit:
            raise ValueError(f"a retention preset keeps a case at most {MAX_KEEP_YEARS} years")
        return cls(Unit(unit), amount)


DEFAULT_PRESETS: dict[CaseOutcome, Preset] = {
    CaseOutcome.OUTSIDE_SCOPE: Preset(Unit.DAYS, 30),
    CaseOutcome.NOT_SUBSTANTIATED: Preset(Unit.MONTHS, 2),
    CaseOutcome.KNOWINGLY_FALSE: Preset(Unit.DATE),
    CaseOutcome.SUBSTANTIATED: Preset(Unit.DATE),
    CaseOutcome.REFERRED: Preset(Unit.DATE),
}


def presets(session: Session, org_id: int) -> dict[CaseOutcome, Preset]:
    """The organisation's preset for every outcome (its settings over the defaults)."""
    found = dict(DEFAULT_PRESETS)
    rows = session.execute(
        select(OrgSetting.key, OrgSetting.value).where(
            OrgSetting.org_id == org_id, OrgSetting.key.startswith(SETTING_PREFIX)
        )
    )
    for key, value in rows:
        try:
            outcome = CaseOutcome(key.removeprefix(SETTING_PREFIX))
            found[outcome] = Preset.parse(value)
        except ValueError:
            continue  # an unknown or damaged setting: the default stands
    return found


def set_preset(session: Session, org_id: int, outcome: CaseOutcome, preset: Preset) -> None:
    """Store the organisation's preset for ``outcome``. Flushes, never commits."""
    key = SETTING_PREFIX + outcome.value
    row = session.get(OrgSetting, (org_id, key))
    if row is None:
        session.add(OrgSetting(org_id=org_id, key=key, value=str(preset)))
    else:
        row.value = str(preset)
    session.flush()


def record_preset(
    session: Session,
    clock: Clock,
    org_id: int,
    outcome: CaseOutcome,
    preset: Preset,
    *,
    actor_user_id: int | None = None,
) -> None:
    """Store the organisation's preset for ``outcome`` and record the change in the audit log.
    Flushes, never commits."""
    set_preset(session, org_id, outcome, preset)
    audit.record(
        session,
        clock,
        action="settings.retention_changed",
        org_id=org_id,
        actor_user_id=actor_user_id,
        detail={"outcome": outcome.value, "preset": str(preset)},
    )


def store_presets(
    session: Session,
    clock: Clock,
    org_id: int,
    changes: Sequence[tuple[CaseOutcome, Preset]],
) -> None:
    """Store each preset of ``changes`` in order, each change audited, and commit."""
    with unit_of_work(session):
        for outcome, preset in changes:
            record_preset(session, clock, org_id, outcome, preset)


@dataclass(frozen=True)
class Retention:
    delete_on: date
    rule: str  # "outside_scope:30d", "not_substantiated:2m", "substantiated:date", ...


def retention_for(
    preset: Preset,
    outcome: CaseOutcome,
    *,
    closed_on: date,
    told_on: date | None,
    keep_until: date | None,
) -> Retention:
    """The deletion day a closure gets under ``preset`` (Refused for a bad date).

    ``told_on`` is the day the reporter was sent the final outcome (for presets in days);
    ``keep_until`` the date a handler chose, needed when the preset says so and allowed to
    lengthen any preset (never to shorten it: a shorter keep is refused, as the preset is the
    organisation's decision; R3 purges single items that are irrelevant).
    """
    rule = f"{outcome.value}:{preset}"
    latest = add_months(closed_on, 12 * MAX_KEEP_YEARS)
    if keep_until is not None and not closed_on < keep_until <= latest:
        raise Refused(
            "keep_until",
            _l(
                "Choose a date after today and at most %(years)d years ahead; "
                "keep a case longer with a legal hold.",
                years=MAX_KEEP_YEARS,
            ),
        )
    if preset.unit is Unit.DATE:
        if keep_until is None:
            raise Refused(
                "keep_until",
                _l(
                    "Choose the date until which the case is kept (for example, the end of "
                    "the disciplinary or legal follow-up)."
                ),
            )
        return Retention(keep_until, rule)
    if preset.unit is Unit.DAYS:
        computed = (told_on or closed_on) + timedelta(days=preset.amount)
    else:
        computed = add_months(closed_on, preset.amount)
    if keep_until is None or keep_until == computed:
        return Retention(computed, rule)
    if keep_until < computed:
        raise Refused(
            "keep_until",
            _l(
                "For this outcome the case is kept until %(day)s; choose a later date or "
                "leave the field empty.",
                day=ShownDay(computed),
            ),
        )
    return Retention(keep_until, f"{outcome.value}:date")


@dataclass(frozen=True)
class DeletionSoon:
    reference: str
    delete_on: date


def deletions_soon(session: Session, org_id: int, user_id: int, today: date) -> list[DeletionSoon]:
    """Closed cases ``user_id`` holds a key to that are deleted within ``WARNING_DAYS``
    (or are due and wait for the next run), soonest first: the inbox's warning."""
    rows = session.execute(
        select(Case.reference, Case.delete_on)
        .where(
            Case.delete_on.is_not(None),
            Case.delete_on <= today + timedelta(days=WARNING_DAYS),
            Case.hold_since.is_(None),
            Case.org_id == org_id,
            Case.status == CaseStatus.CLOSED.value,
            select(CaseKey.case_id)
            .where(CaseKey.case_id == Case.id, CaseKey.user_id == user_id)
            .exists(),
        )
        .order_by(Case.delete_on, Case.id)
        .limit(100)
    )
    return [DeletionSoon(reference, day) for reference, day in rows if day is not None]
