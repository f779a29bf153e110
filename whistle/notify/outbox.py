"""E-mail notifications through an outbox (REQUIREMENTS.md K5, D1, D2).

Mail is queued as :class:`~whistle.core.models.OutboxMail` rows inside the transaction of whatever
caused it, and sent later by ``whistle notify send`` (cron or a systemd timer), so a slow or
broken mail server never slows down or breaks a report, a reply or a page.

What a mail may say is decided here, and it is deliberately little:

- staff mails name the organisation, the case reference and, for reminders, the due date; never
  report text, category, the reporter's identity or anything else a person typed. They are
  addressed by user id, so the outbox holds no staff address; the address is read when sending.
  Only handlers entitled to the case get them: the active handlers and leads holding the case's
  content key (an excluded or recused handler holds none, admins, auditors and counsel are never
  handlers of a case);
- a reporter's optional nudge ("there is news for you") names only the organisation and links to
  its public mailbox page, because someone else may read the reporter's mail. The address is
  sealed under the instance key (a database copy alone reads none), the row carries no case
  reference or id, and it is deleted as soon as it is sent or given up.

A case event announces what a reporter did (a report, a reply, an approval), so the outbox
keeps its time no finer than the audit log does: ``created_at`` is the start of the UTC day
(:func:`whistle.core.audit.reporter_time`), and the mail is not sent before the next UTC
midnight (:data:`HELD_UNTIL_NEXT_DAY`, whistle/notify/sending.py). A mail sent minutes after a
reply would carry its time to the minute into the handlers' mailboxes and the mail server's
logs; held to midnight, all of a day's events leave together after it, and the delivery says
only which day, as the audit log does. Midnight UTC, not another hour: a batch running from
06:00 to 06:00, say, crossed with the audit log's day, would narrow the act to six hours. The
cost: handlers hear of a report or reply up to a day later, against deadlines counted in days
(7 days to acknowledge, 3 months for feedback); the inbox shows it at once to anyone who looks.
Within a day the rows keep the order of their ids, which the audit log's sequence numbers
show as well.

Case events and nudges are queued here; deadline reminders and reviews of deferred notices by
whistle/notify/reminders.py, which also says at sending time whether one still holds. Rows are
rendered in the organisation's default language when they are sent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    exists,
    insert,
    select,
)
from sqlalchemy.orm import Session

from crypto import KeyKind, encrypt_field
from whistle.casefile.holders import HANDLING_ROLES, HOLDER_EPOCH
from whistle.core.audit import reporter_time
from whistle.core.clock import Clock
from whistle.core.contexts import outbox_address_context
from whistle.core.db import upsert_insert
from whistle.core.models import (
    Case,
    CaseKey,
    IdentityDisclosure,
    Membership,
    OutboxMail,
    Role,
    User,
)


class MailKind(enum.StrEnum):
    """What an outbox row announces; also the name of its template in ``templates/notify/``."""

    NEW_REPORT = "new_report"
    REPORTER_MESSAGE = "reporter_message"
    ACK_SOON = "ack_soon"
    ACK_OVERDUE = "ack_overdue"
    FEEDBACK_SOON = "feedback_soon"
    FEEDBACK_OVERDUE = "feedback_overdue"
    DELETION_SOON = "deletion_soon"
    NOTICE_REVIEW = "notice_review"
    DISCLOSURE_APPROVAL = "disclosure_approval"
    NUDGE = "nudge"
    KEY_WARNING = "key_warning"


# The Core table: inserts through it report their row counts on every driver (ORM inserts do not).
OUTBOX = cast(Table, OutboxMail.__table__)

CASE_EVENTS = frozenset({MailKind.NEW_REPORT, MailKind.REPORTER_MESSAGE})
# Mails about a reporter's act: queued at the start of the day, sent from the next day on.
HELD_UNTIL_NEXT_DAY = CASE_EVENTS


class AddressRejected(ValueError):
    """The reporter's nudge address is not a mailable address; nothing was queued."""


# --- Who may be told ----------------------------------------------------------------------


def may_hear(case_id: Any, org_id: Any) -> ColumnElement[bool]:
    """The SQL condition "CaseKey/User row is an entitled handler of the case".

    Entitled means holding the case's content key as a user (so an excluded or recused handler,
    who holds none, is left out) while active and a handler or lead of the organisation (so a
    key that reached someone in another role, such as counsel, does not count).
    """
    return and_(
        CaseKey.case_id == case_id,
        CaseKey.kind == KeyKind.CONTENT.value,
        CaseKey.epoch == HOLDER_EPOCH,  # one row per holder (whistle/casefile/holders.py)
        CaseKey.recipient == "user",
        User.id == CaseKey.user_id,
        User.is_active.is_(True),
        exists().where(
            Membership.org_id == org_id,
            Membership.user_id == CaseKey.user_id,
            Membership.role.in_([role.value for role in HANDLING_ROLES]),
        ),
    )


def entitled_handler_ids(session: Session, case: Case) -> list[int]:
    """Ids of the users who are told about ``case``: its entitled active handlers and leads."""
    return list(
        session.scalars(
            select(User.id)
            .select_from(CaseKey)
            .join(User, User.id == CaseKey.user_id)
            .where(may_hear(case.id, case.org_id))
            .order_by(User.id)
        )
    )


def insert_once(session: Session, insert: Any) -> int:
    """Run an ``INSERT ... ON CONFLICT DO NOTHING`` and count the rows it really inserted
    (counted from ``RETURNING``: the driver's row count is not reliable for it everywhere)."""
    return len(session.execute(insert.returning(OUTBOX.c.id)).all())


# --- Queueing (inside the caller's transaction) -------------------------------------------


def queue_case_event(
    session: Session,
    clock: Clock,
    case: Case,
    kind: str,
    *,
    user_ids: Sequence[int] | None = None,
) -> int:
    """Queue "new activity in case X" for every entitled handler of ``case``; return how many.

    ``kind`` is ``"new_report"`` or ``"reporter_message"``. Intake passes ``user_ids``, the
    handlers it has just sealed the case to, which are exactly the entitled ones; the case is
    created in the same transaction, so no earlier mail can exist and the rows go in with a
    plain multi-row insert. Runs inside
    the caller's transaction (flushes, never commits), so the mail exists exactly when the
    event does. While a mail of
    the same kind for the same case and handler is still waiting, no second one is queued: ten
    replies in an hour make one mail, not ten.
    """
    event = MailKind(kind)
    if event not in CASE_EVENTS:
        raise ValueError(f"not a case event: {kind!r}")
    new_case = user_ids is not None
    if user_ids is None:
        session.flush()  # the caller's case and key rows must be visible to the query below
        user_ids = entitled_handler_ids(session, case)
    if not user_ids:
        return 0
    # A reporter's act: its day only, as in the audit log (see the module's docstring).
    day = reporter_time(clock.now())
    rows = [
        {
            "org_id": case.org_id,
            "kind": event.value,
            "user_id": user_id,
            "case_reference": case.reference,
            "dedup_key": f"{event.value}:{case.id}:{user_id}",
            "created_at": day,
            "attempts": 0,
        }
        for user_id in user_ids
    ]
    if new_case:
        session.execute(insert(OUTBOX), rows)
        return len(rows)
    return insert_once(
        session, upsert_insert(session)(OUTBOX).values(rows).on_conflict_do_nothing()
    )


def queue_disclosure_approval(
    session: Session, clock: Clock, case: Case, disclosure: IdentityDisclosure
) -> int:
    """Ask the unit leads who hold ``case`` (all but the one who asked) to decide on a
    disclosure of the reporter's identity without notice (whistle/disclosure/asking.py). The
    mail names the case, never the disclosure's content. Flushes, never commits."""
    session.flush()
    leads = session.scalars(
        select(User.id)
        .select_from(CaseKey)
        .join(User, User.id == CaseKey.user_id)
        .where(
            may_hear(case.id, case.org_id),
            User.id != (disclosure.requested_by or 0),
            exists().where(
                Membership.org_id == case.org_id,
                Membership.user_id == User.id,
                Membership.role == Role.LEAD.value,
            ),
        )
        .order_by(User.id)
    ).all()
    if not leads:
        return 0
    now = clock.now()
    rows = [
        {
            "org_id": case.org_id,
            "kind": MailKind.DISCLOSURE_APPROVAL.value,
            "user_id": user_id,
            "case_reference": case.reference,
            "dedup_key": f"disclosure-approval:{disclosure.id}:{user_id}",
            "created_at": now,
            "attempts": 0,
        }
        for user_id in leads
    ]
    session.execute(insert(OUTBOX), rows)
    return len(rows)


def queue_key_warning(
    session: Session, clock: Clock, org_id: int, warning_id: int, lead_ids: Sequence[int]
) -> int:
    """Tell the unit leads that something about the organisation's keys needs them
    (whistle/keys/warnings.py). The mail names only the organisation. Flushes, never commits."""
    rows = [
        {
            "org_id": org_id,
            "kind": MailKind.KEY_WARNING.value,
            "user_id": user_id,
            "case_reference": None,
            "dedup_key": f"key-warning:{warning_id}:{user_id}",
            "created_at": clock.now(),
            "attempts": 0,
        }
        for user_id in lead_ids
    ]
    if rows:
        session.execute(insert(OUTBOX), rows)
    return len(rows)


def _nudge_dedup_key(instance_key: bytes, org_id: int, address: str) -> str:
    # A keyed hash, so the key reveals neither the address nor (without the instance key)
    # anything but "the same address again"; and no case id, so the row stays unlinked.
    subkey = hmac.new(instance_key, b"whistle outbox nudge dedup v1", hashlib.sha256).digest()
    tag = hmac.new(subkey, f"{org_id}\x00{address.lower()}".encode(), hashlib.sha256)
    return f"nudge:{tag.hexdigest()}"


def clean_address(address: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(address) > 254
        or any(c.isspace() or ord(c) < 32 or c in '<>",;' for c in address)
    ):
        raise AddressRejected("not a mailable address")
    return address


def queue_nudge(
    session: Session, clock: Clock, case: Case, address: str, *, instance_key: bytes
) -> bool:
    """Queue the reporter's optional "there is news for you" mail to ``address``.

    Call it when a handler has written to the reporter, with the address opened from
    ``Case.nudge_address`` (notes key). The row names only the organisation: no case reference,
    no case id; the address is sealed under the instance key and the row is deleted once sent.
    Returns False when a nudge to the same address of the organisation is already waiting (one
    mail says it all). Raises :class:`AddressRejected` for an address that cannot be mailed.
    Flushes, never commits.
    """
    clean = clean_address(address)
    inserted = insert_once(
        session,
        upsert_insert(session)(OUTBOX)
        .values(
            org_id=case.org_id,
            kind=MailKind.NUDGE.value,
            user_id=None,
            sealed_address=encrypt_field(
                instance_key, clean.encode(), context=outbox_address_context(case.org_id)
            ),
            case_reference=None,
            dedup_key=_nudge_dedup_key(instance_key, case.org_id, clean),
            created_at=clock.now(),
            attempts=0,
        )
        .on_conflict_do_nothing(),
    )
    return inserted == 1


# --- Rendering -----------------------------------------------------------------------------


# --- Sending -------------------------------------------------------------------------------


# --- Command line --------------------------------------------------------------------------


# --- Invitations ---------------------------------------------------------------------------
