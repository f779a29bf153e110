"""Telling the unit leads that something is wrong with the organisation's keys.

Two things raise a warning: a staff member's private key that does not match the public key
stored for them (found at sign-in: the public key was replaced, or the row was tampered
with), and organisation keys that no longer match the pins in the instance folder (found at
intake or whenever something would be sealed). Each is audited, shown to every unit lead of
the organisation in the app until one of them dismisses it, and mailed to them through the
outbox: a content-free mail that names only the organisation. While a warning of the same kind
about the same person is open, no second one is raised (a reporter retrying the form makes one
warning, not fifty), but every occurrence is audited.
"""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import KeyWarning, Membership, Role, User
from whistle.notify.outbox import queue_key_warning


class WarningKind(enum.StrEnum):
    KEY_MISMATCH = "key_mismatch"  # a staff key did not match at sign-in
    PINS_MISMATCH = "pins_mismatch"  # organisation keys differ from the instance folder's pins


LABELS = {
    WarningKind.KEY_MISMATCH: _l(
        "The private key of %(name)s did not match the public key stored for them when they "
        "signed in, so sign-in was refused. Someone may have replaced their public key in the "
        "database. Their key is no longer certified: compare fingerprints with them before you "
        "certify it again, and have the database checked."
    ),
    WarningKind.PINS_MISMATCH: _l(
        "The organisation's recovery key or certification key in the database no longer "
        "matches the fingerprint pinned in the instance folder, so no report is accepted. "
        "Someone may have replaced the key in the database. Ask the operator to compare the "
        "fingerprints below with the printed recovery key and the pins."
    ),
}


def leads_of(session: Session, org_id: int) -> list[int]:
    """The active unit leads of ``org_id``."""
    return list(
        session.scalars(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.org_id == org_id,
                Membership.role == Role.LEAD.value,
                User.is_active.is_(True),
            )
            .distinct()
            .order_by(User.id)
        )
    )


def warn_leads(
    session: Session,
    clock: Clock,
    org_id: int,
    kind: WarningKind,
    *,
    user_id: int | None = None,
    actor_user_id: int | None = None,
) -> KeyWarning:
    """Audit the event and warn ``org_id``'s leads (in the app and by mail), unless the same
    warning is still open. Flushes, never commits."""
    audit.record(
        session,
        clock,
        action=f"key.{kind.value}",
        org_id=org_id,
        actor_user_id=actor_user_id,
        detail={"user": user_id},
    )
    found = session.scalar(
        select(KeyWarning).where(
            KeyWarning.org_id == org_id,
            KeyWarning.kind == kind.value,
            KeyWarning.dismissed_at.is_(None),
            KeyWarning.user_id.is_(None) if user_id is None else KeyWarning.user_id == user_id,
        )
    )
    if found is not None:
        return found
    warning = KeyWarning(org_id=org_id, kind=kind.value, user_id=user_id, created_at=clock.now())
    session.add(warning)
    session.flush()
    queue_key_warning(session, clock, org_id, warning.id, leads_of(session, org_id))
    return warning


def warn_key_mismatch(session: Session, clock: Clock, user: User) -> None:
    """A staff member's private key did not match their stored public key: warn the leads of
    every organisation they work for, and drop their certifications there (the key is not
    theirs, or not what was certified), and commit."""
    from whistle.keys.certification import forget

    with unit_of_work(session):
        orgs = sorted(
            set(session.scalars(select(Membership.org_id).where(Membership.user_id == user.id)))
        )
        if not orgs:
            audit.record(
                session, clock, action="key.key_mismatch", org_id=None, actor_user_id=user.id
            )
        for org_id in orgs:
            forget(session, org_id, user.id)
            warn_leads(
                session,
                clock,
                org_id,
                WarningKind.KEY_MISMATCH,
                user_id=user.id,
                actor_user_id=user.id,
            )


def warn_pins_mismatch(session: Session, clock: Clock, org_id: int) -> None:
    """The organisation's keys differ from the pins: warn its leads, and commit."""
    with unit_of_work(session):
        warn_leads(session, clock, org_id, WarningKind.PINS_MISMATCH)


def refuse_untrusted_keys(session: Session, clock: Clock, org_id: int) -> None:
    """Something was about to be sealed to organisation keys that no longer match the pins
    (whistle/core/trust.py ``KeysNotTrusted``): drop whatever the refused request had written
    (nothing was sealed), then warn the leads, and commit."""
    session.rollback()
    warn_pins_mismatch(session, clock, org_id)


def open_warnings(session: Session, org_id: int) -> list[KeyWarning]:
    """The organisation's warnings no lead has dismissed yet, newest first."""
    return list(
        session.scalars(
            select(KeyWarning)
            .where(KeyWarning.org_id == org_id, KeyWarning.dismissed_at.is_(None))
            .order_by(KeyWarning.created_at.desc(), KeyWarning.id.desc())
        )
    )


def dismiss(session: Session, clock: Clock, org_id: int, lead_id: int, warning_id: int) -> None:
    """A lead has looked into a warning: mark it dismissed, and commit. LookupError for
    another organisation's."""
    warning = session.get(KeyWarning, warning_id)
    if warning is None or warning.org_id != org_id:
        raise LookupError(warning_id)
    with unit_of_work(session):
        if warning.dismissed_at is None:
            warning.dismissed_at = clock.now()
            warning.dismissed_by = lead_id
            audit.record(
                session,
                clock,
                action="key.warning_dismissed",
                org_id=org_id,
                actor_user_id=lead_id,
                detail={"warning": warning.id, "kind": warning.kind},
            )
