"""How long closed cases are kept, per outcome, as the administrator sets it (the presets
themselves are :mod:`whistle.retention.schedule`'s). A refusal is a
:class:`~whistle.core.refusals.Refused` on the outcome's field.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import CaseOutcome
from whistle.core.refusals import Refused
from whistle.retention import schedule


def _parsed(chosen: Mapping[CaseOutcome, str]) -> dict[CaseOutcome, schedule.Preset]:
    parsed: dict[CaseOutcome, schedule.Preset] = {}
    for outcome, value in chosen.items():
        try:
            parsed[outcome] = schedule.Preset.parse(value)
        except ValueError:
            raise Refused(
                outcome.value,
                _l(
                    "Give a number of days or months up to %(years)d years, or choose a date "
                    "set at closing.",
                    years=schedule.MAX_KEEP_YEARS,
                ),
            ) from None
    return parsed


def change_presets(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    chosen: Mapping[CaseOutcome, str],
) -> int:
    """Set the retention preset of each outcome (``30d``, ``2m`` or ``date``), and commit;
    cases already closed keep their day. Return how many changed."""
    with unit_of_work(session):
        parsed = _parsed(chosen)
        current = schedule.presets(session, org_id)
        changed = 0
        for outcome, preset in parsed.items():
            if current.get(outcome) == preset:
                continue
            schedule.record_preset(session, clock, org_id, outcome, preset, actor_user_id=actor_id)
            changed += 1
        session.flush()
        return changed
