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

Case events and nudges are queued here; deadline reminders and reviews of deferred notices by
whistle/notify/reminders.py, which also says at sending time whether one still holds. Rows are
rendered in the organisation's default language when they are sent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, cast

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session

from crypto import KeyKind, OpenError, decrypt_field, encrypt_field
from whistle.casefile.access import HANDLING_ROLES, HOLDER_EPOCH
from whistle.core.clock import Clock
from whistle.core.db import upsert_insert
from whistle.core.models import (
    Case,
    CaseKey,
    IdentityDisclosure,
    Membership,
    Organisation,
    OutboxMail,
    Role,
    User,
)
from whistle.core.runtime import runtime
from whistle.notify.mail import MailNotConfigured, SmtpTransport, Transport, deployment_config


class MailKind(enum.StrEnum):
    """What an outbox row announces; also the name of its template in ``templates/mail/``."""

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
# Rows deleted once sent (or given up): a nudge holds an address, and a case event's times
# say when a reporter acted, which the case itself keeps only to the day. Reminders stay, as
# their dedup keys stop them being queued again (their times are the daily run's).
_GONE_WHEN_DONE = CASE_EVENTS | {MailKind.NUDGE}

MAX_ATTEMPTS = 5
# How long after queueing each attempt may be made: a mail server that is down for a few hours
# (an upgrade, a night) does not lose the notification, and a dead one is not hammered.
RETRY_AFTER = (
    timedelta(0),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
)
assert len(RETRY_AFTER) == MAX_ATTEMPTS


class AddressRejected(ValueError):
    """The reporter's nudge address is not a mailable address; nothing was queued."""


# --- Who may be told ----------------------------------------------------------------------


def _entitled(case_id: Any, org_id: Any) -> ColumnElement[bool]:
    """The SQL condition "CaseKey/User row is an entitled handler of the case".

    Entitled means holding the case's content key as a user (so an excluded or recused handler,
    who holds none, is left out) while active and a handler or lead of the organisation (so a
    key that reached someone in another role, such as counsel, does not count).
    """
    return and_(
        CaseKey.case_id == case_id,
        CaseKey.kind == KeyKind.CONTENT.value,
        CaseKey.epoch == HOLDER_EPOCH,  # one row per holder (whistle/casefile/access.py)
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
            .where(_entitled(case.id, case.org_id))
            .order_by(User.id)
        )
    )


def _inserted(session: Session, insert: Any) -> int:
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
    now = clock.now()
    rows = [
        {
            "org_id": case.org_id,
            "kind": event.value,
            "user_id": user_id,
            "case_reference": case.reference,
            "dedup_key": f"{event.value}:{case.id}:{user_id}",
            "created_at": now,
            "attempts": 0,
        }
        for user_id in user_ids
    ]
    if new_case:
        session.execute(insert(OUTBOX), rows)
        return len(rows)
    return _inserted(session, upsert_insert(session)(OUTBOX).values(rows).on_conflict_do_nothing())


def queue_disclosure_approval(
    session: Session, clock: Clock, case: Case, disclosure: IdentityDisclosure
) -> int:
    """Ask the unit leads who hold ``case`` (all but the one who asked) to decide on a
    disclosure of the reporter's identity without notice (whistle/disclosure/disclosure.py). The
    mail
    names the case, never the disclosure's content. Flushes, never commits."""
    session.flush()
    leads = session.scalars(
        select(User.id)
        .select_from(CaseKey)
        .join(User, User.id == CaseKey.user_id)
        .where(
            _entitled(case.id, case.org_id),
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


def _compose_key_warning(
    session: Session, row: OutboxMail, org: Organisation, *, base_url: str
) -> _Composed | None:
    user = session.get(User, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active:
        return None
    still_lead = session.scalar(
        select(
            exists().where(
                Membership.org_id == org.id,
                Membership.user_id == user.id,
                Membership.role == Role.LEAD.value,
            )
        )
    )
    if not still_lead:
        return None
    return _Composed(to=user.email, mail=render_mail(MailKind.KEY_WARNING, org, base_url=base_url))


def outbox_address_context(org_id: int) -> tuple[str, str]:
    """What a sealed nudge address is bound to: the outbox's purpose and the organisation."""
    return ("outbox-nudge-address", str(org_id))


def _nudge_dedup_key(instance_key: bytes, org_id: int, address: str) -> str:
    # A keyed hash, so the key reveals neither the address nor (without the instance key)
    # anything but "the same address again"; and no case id, so the row stays unlinked.
    subkey = hmac.new(instance_key, b"whistle outbox nudge dedup v1", hashlib.sha256).digest()
    tag = hmac.new(subkey, f"{org_id}\x00{address.lower()}".encode(), hashlib.sha256)
    return f"nudge:{tag.hexdigest()}"


def _clean_address(address: str) -> str:
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
    clean = _clean_address(address)
    inserted = _inserted(
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


def _subject(kind: MailKind, organisation: str, reference: str | None) -> str:
    values = {"organisation": organisation, "reference": reference or ""}
    if kind is MailKind.NEW_REPORT:
        text = _("New report: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.REPORTER_MESSAGE:
        text = _("New activity in case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.ACK_SOON:
        text = _("Acknowledgement due soon: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.ACK_OVERDUE:
        text = _("Acknowledgement overdue: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.FEEDBACK_SOON:
        text = _("Feedback due soon: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.FEEDBACK_OVERDUE:
        text = _("Feedback overdue: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.DELETION_SOON:
        text = _("To be deleted soon: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.DISCLOSURE_APPROVAL:
        text = _("Approval needed: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.NOTICE_REVIEW:
        text = _("Deferred notice to review: case %(reference)s at %(organisation)s", **values)
    elif kind is MailKind.KEY_WARNING:
        text = _("Key warning at %(organisation)s: a unit lead must look into it", **values)
    else:
        text = _("News from %(organisation)s", organisation=organisation)
    return str(text)


def _one_line(text: str) -> str:
    # An organisation name is typed by an admin: it must not be able to add mail headers.
    return " ".join(text.split())


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def render_mail(
    kind: MailKind,
    organisation: Organisation,
    *,
    base_url: str,
    case_reference: str | None = None,
    due: date | None = None,
) -> RenderedMail:
    """Subject and plain-text body of one mail, in the organisation's default language.

    Needs an app context (for the templates and the catalogs). Takes only what a mail may say:
    the organisation, the case reference and a due date; nothing else reaches a template.
    """
    base = base_url.rstrip("/")
    name = _one_line(organisation.name)
    with force_locale(organisation.default_locale):
        subject = _subject(kind, name, case_reference)
        body = (
            current_app.jinja_env.get_template(f"mail/{kind.value}.txt")
            .render(
                organisation=name,
                reference=case_reference,
                due=format_date(due, format="long") if due is not None else "",
                sign_in_url=f"{base}/staff/",
                mailbox_url=f"{base}/o/{organisation.slug}/case/open",
            )
            .strip()
        )
    return RenderedMail(subject=_one_line(subject), body=body + "\n")


# --- Sending -------------------------------------------------------------------------------


@dataclass
class SendReport:
    """Counts of one sending run (never addresses)."""

    sent: int = 0
    deferred: int = 0  # the transport failed; tried again on a later run
    failed: int = 0  # the transport failed for the last time; given up
    dropped: int = 0  # no longer to be sent: user deactivated or unentitled, reminder met


def _ready(now: datetime) -> ColumnElement[bool]:
    """Rows not sent, not given up, whose next attempt is due (see ``RETRY_AFTER``)."""
    waits = [
        and_(OutboxMail.attempts == attempt, OutboxMail.created_at <= now - wait)
        for attempt, wait in enumerate(RETRY_AFTER)
    ]
    return and_(OutboxMail.sent_at.is_(None), or_(false(), *waits))


@dataclass(frozen=True)
class _Composed:
    to: str
    mail: RenderedMail


def _compose_staff(
    session: Session, row: OutboxMail, org: Organisation, *, base_url: str, today: date
) -> _Composed | None:
    user = session.get(User, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active or row.case_reference is None:
        return None
    case = session.scalar(
        select(Case).where(Case.org_id == row.org_id, Case.reference == row.case_reference)
    )
    if case is None:  # deleted (retention) meanwhile
        return None
    # Entitlement is checked again: a handler who recused since the mail was queued, or who
    # lost the handler role, is not told about the case any more.
    entitled = session.scalar(
        select(exists().where(CaseKey.user_id == user.id, _entitled(case.id, case.org_id)))
    )
    if not entitled:
        return None
    kind = MailKind(row.kind)
    # Imported here, not at the top: whistle/notify/reminders.py queues into this outbox and imports
    # this module, while only sending needs it back.
    from whistle.notify.reminders import holds_at_sending

    holds, due = holds_at_sending(
        session, kind, case, dedup_key=row.dedup_key, user_id=user.id, today=today
    )
    if not holds:
        return None  # met, closed, decided or moved since it was queued
    mail = render_mail(kind, org, base_url=base_url, case_reference=case.reference, due=due)
    return _Composed(to=user.email, mail=mail)


def _compose_nudge(
    row: OutboxMail, org: Organisation, *, base_url: str, instance_key: bytes
) -> _Composed | None:
    if row.sealed_address is None:
        return None
    try:
        address = decrypt_field(
            instance_key, row.sealed_address, context=outbox_address_context(row.org_id)
        ).decode()
    except OpenError:  # sealed under another instance key, or moved to another organisation
        return None
    return _Composed(to=address, mail=render_mail(MailKind.NUDGE, org, base_url=base_url))


def _message(composed: _Composed, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["To"] = Address(addr_spec=composed.to)
    message["Subject"] = composed.mail.subject
    message["Date"] = format_datetime(now)
    # RFC 3834: an automatic notice; out-of-office replies are not sent back to it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(composed.mail.body, cte="quoted-printable")
    return message


def send_pending(
    session: Session,
    clock: Clock,
    transport: Transport,
    *,
    base_url: str,
    instance_key: bytes,
    limit: int = 200,
) -> SendReport:
    """Send up to ``limit`` queued mails, oldest first. Commits after each mail.

    Needs an app context (templates, catalogs). Each row is claimed with ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL, so two senders never send the same mail; on SQLite run one sender
    at a time (docs/operations.md). A sent staff mail keeps its row with ``sent_at`` (so a
    reminder's ``dedup_key`` goes on blocking repeats); a sent nudge is deleted. A transport
    error counts an attempt and stores only the exception's type name (its text may quote an
    address); after ``MAX_ATTEMPTS`` the mail is given up, and a nudge is deleted then too. A
    mail that should no longer go (user deactivated or no longer entitled, reminder met, case
    gone) is deleted unsent.
    """
    report = SendReport()
    last_id = 0
    for _attempt in range(limit):
        now = clock.now()
        row = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id > last_id, _ready(now))
            .order_by(OutboxMail.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            break
        last_id = row.id
        org = session.get(Organisation, row.org_id)
        composed: _Composed | None = None
        if org is not None:
            if row.kind == MailKind.NUDGE:
                composed = _compose_nudge(row, org, base_url=base_url, instance_key=instance_key)
            elif row.kind == MailKind.KEY_WARNING:
                composed = _compose_key_warning(session, row, org, base_url=base_url)
            else:
                composed = _compose_staff(session, row, org, base_url=base_url, today=now.date())
        if composed is None:
            session.execute(delete(OutboxMail).where(OutboxMail.id == row.id))
            session.commit()
            report.dropped += 1
            continue
        try:
            transport.send(_message(composed, now))
        # Any failure, a malformed stored address included, is a failed attempt: one bad mail
        # must not stop the others.
        except Exception as exc:  # noqa: BLE001
            row.attempts += 1
            row.last_error = type(exc).__name__[:200]
            if row.attempts < MAX_ATTEMPTS:
                report.deferred += 1
            else:
                report.failed += 1
                if MailKind(row.kind) in _GONE_WHEN_DONE:
                    session.delete(row)
            session.commit()
            continue
        if MailKind(row.kind) in _GONE_WHEN_DONE:
            session.delete(row)
        else:
            row.sent_at = now
            row.last_error = None
        session.commit()
        report.sent += 1
    return report


# --- Command line --------------------------------------------------------------------------


notify_cli = AppGroup("notify", help="E-mail notifications: send the outbox, queue reminders.")


@notify_cli.command("send")
@click.option("--limit", default=200, show_default=True, help="Most mails to send in this run.")
def send_command(limit: int) -> None:
    """Send queued notifications through the configured SMTP server."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            config = deployment_config(session, rt.settings)
    except MailNotConfigured:
        click.echo(
            "Mail is not configured (no server in the admin console, and smtp_host is empty; "
            "see docs/operations.md): nothing sent.",
            err=True,
        )
        sys.exit(1)
    with rt.sessions() as session, SmtpTransport(config) as transport:
        report = send_pending(
            session,
            rt.clock,
            transport,
            base_url=rt.settings.base_url,
            instance_key=rt.settings.instance_key,
            limit=limit,
        )
    click.echo(
        f"sent {report.sent}, deferred {report.deferred}, failed {report.failed}, "
        f"dropped {report.dropped}"
    )


# --- Invitations ---------------------------------------------------------------------------


def send_invitation(
    transport: Transport, organisation: Organisation, *, to: str, link: str, now: datetime
) -> None:
    """Mail the invitation at once (the link, the organisation; nothing about any case).

    The link is a secret (only its hash is stored), so it is never queued in the outbox: it
    is handed to the mail server now or shown to the admin only. Raises what ``transport``
    raises, and :class:`AddressRejected` for an address that cannot be mailed.
    """
    name = _one_line(organisation.name)
    with force_locale(organisation.default_locale):
        subject = _("Invitation to the whistleblower scheme of %(organisation)s", organisation=name)
        body = (
            current_app.jinja_env.get_template("mail/invitation.txt")
            .render(organisation=name, link=link)
            .strip()
        )
    mail = RenderedMail(subject=_one_line(subject), body=body + "\n")
    transport.send(_message(_Composed(to=_clean_address(to), mail=mail), now))
