"""The upgrade to keys outside the database (issue 14): existing cases get their
key-encryption key in the key store, and their sealed keys and reporter key are wrapped under
it, so that deleting them later is final also for backups taken after the upgrade.

Run by ``whistle init`` and ``whistle db upgrade`` after the migrations (it needs the key
store, which the migrations do not reach), idempotent: a row already wrapped is left alone, so
a second run changes nothing. Until it has run, bare rows keep opening as before
(whistle/casefile/key_wrapping.py ``unwrap_sealed``). Backups taken *before* the upgrade hold
the bare rows: deleting such a case cannot make those backups unreadable (docs/operations.md).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from whistle.casefile.key_wrapping import (
    BARE_REPORTER,
    BARE_SEALED,
    case_kek,
    wrap_reporter_key,
    wrap_sealed,
)
from whistle.core.db import unit_of_work
from whistle.core.models import Case, CaseKey

BATCH = 500


def wrap_bare_keys(session: Session) -> int:
    """Wrap every sealed key and reporter key stored bare under its case's key-encryption key
    (made in the key store where missing); return how many cases changed. Commits per batch."""
    changed = 0
    last = 0
    while True:
        cases = list(
            session.scalars(select(Case).where(Case.id > last).order_by(Case.id).limit(BATCH))
        )
        if not cases:
            return changed
        with unit_of_work(session):
            for case in cases:
                last = case.id
                bare = [
                    (row_id, sealed)
                    for row_id, sealed in session.execute(
                        select(CaseKey.id, CaseKey.sealed).where(CaseKey.case_id == case.id)
                    )
                    if bytes(sealed[:4]) == BARE_SEALED
                ]
                reporter_bare = bytes(case.reporter_key[:4]) == BARE_REPORTER
                if not bare and not reporter_bare:
                    continue
                kek = case_kek(session, case.uid, create=True)
                assert kek is not None
                for row_id, sealed in bare:
                    session.execute(
                        update(CaseKey)
                        .where(CaseKey.id == row_id)
                        .values(sealed=wrap_sealed(kek, case.uid, bytes(sealed)))
                    )
                if reporter_bare:
                    case.reporter_key = wrap_reporter_key(kek, case.uid, bytes(case.reporter_key))
                changed += 1


def upgrade_output(session: Session) -> list[str]:
    """The upgrade, with what it says to the person running it."""
    changed = wrap_bare_keys(session)
    if not changed:
        return []
    return [f"wrapped the case keys of {changed} case(s) under keys in the key store"]
