"""``whistle sessions sweep``'s unit of work: deleting the browser sessions that have ended.

Every staff sign-in and reporter code entry sweeps too (whistle/core/vault.py), inside its own
request; this is the sweep on its own, for cron on a quiet instance.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from whistle.core import vault
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.settings import Settings


def sweep_ended_sessions(session: Session, clock: Clock, settings: Settings) -> int:
    """Delete every session that has ended under ``settings``' lifetimes (idle, or past its
    absolute lifetime), and commit; return how many."""
    with unit_of_work(session):
        return vault.sweep(session, clock, vault.lifetimes(settings))
