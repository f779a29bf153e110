"""Sending the outbox (``whistle notify send``) and the mails it renders.

Each row is rendered when it is sent, in the organisation's default language, from the
templates in ``templates/notify/`` (a Jinja environment of this module's own, with the app's
translations: no request and no web layer is involved). A row whose reminder no longer holds
is dropped (whistle/notify/reminders.py); a failed transport is retried on later runs (see
:data:`RETRY_AFTER`), then given up.
"""

from __future__ import annotations

import functools
import logging
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field
from whistle.core import dates
from whistle.core.clock import Clock
from whistle.core.contexts import outbox_address_context
from whistle.core.joblock import begin_writing, rows_changed
from whistle.core.models import (
    Case,
    CaseKey,
    Membership,
    Organisation,
    OutboxMail,
    Role,
    User,
)
from whistle.core.settings import Settings
from whistle.notify.claims import claimant, give_up_interrupted, held_by
from whistle.notify.mail import MailNotConfigured, SmtpTransport, Transport
from whistle.notify.mail import deployment_config as mail_config
from whistle.notify.outbox import (
    CASE_EVENTS,
    HELD_UNTIL_NEXT_DAY,
    AddressRejected,
    MailKind,
    clean_address,
    may_hear,
)

log = logging.getLogger(__name__)

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
# How long a mail about a reporter's act waits after the start of its day (its queueing time).
HOLD = timedelta(days=1)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@functools.cache
def _mail_templates() -> Environment:
    """The plain-text mail templates, with ``_()`` translating in the current locale as on
    the pages (Flask-Babel's newstyle gettext); never autoescaped: mail is text."""
    env = Environment(  # nosec B701  (plain-text mail, never HTML)
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # noqa: S701
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


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

    Needs an app context (for the catalogs). Takes only what a mail may say:
    the organisation, the case reference and a due date; nothing else reaches a template.
    """
    base = base_url.rstrip("/")
    name = _one_line(organisation.name)
    with force_locale(organisation.default_locale):
        subject = _subject(kind, name, case_reference)
        body = (
            _mail_templates()
            .get_template(f"notify/{kind.value}.txt")
            .render(
                organisation=name,
                reference=case_reference,
                due=dates.day(due, organisation.default_locale),
                sign_in_url=f"{base}/staff/",
                mailbox_url=f"{base}/o/{organisation.slug}/case/open",
            )
            .strip()
        )
    return RenderedMail(subject=_one_line(subject), body=body + "\n")


@dataclass
class SendReport:
    """Counts of one sending run (never addresses)."""

    sent: int = 0
    deferred: int = 0  # the transport failed; tried again on a later run
    failed: int = 0  # the transport failed for the last time; given up
    dropped: int = 0  # no longer to be sent: user deactivated or unentitled, reminder met


def _ready(now: datetime) -> ColumnElement[bool]:
    """Rows not sent, not given up, whose next attempt is due (see ``RETRY_AFTER``). A mail
    about a reporter's act, queued at the start of its day, waits a day more: not before the
    next midnight (UTC), so its delivery tells no more than the day (whistle/notify/outbox.py)."""
    held = OutboxMail.kind.in_([kind.value for kind in HELD_UNTIL_NEXT_DAY])
    waits = [
        and_(
            OutboxMail.attempts == attempt,
            or_(
                and_(held, OutboxMail.created_at <= now - wait - HOLD),
                and_(~held, OutboxMail.created_at <= now - wait),
            ),
        )
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
        select(exists().where(CaseKey.user_id == user.id, may_hear(case.id, case.org_id)))
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
    """Send up to ``limit`` queued mails, oldest first. Commits after each step.

    Needs an app context (templates, catalogs). A sent staff mail keeps its row with
    ``sent_at`` (so a reminder's ``dedup_key`` goes on blocking repeats); a sent nudge is
    deleted. A transport error counts an attempt and stores only the exception's type name
    (its text may quote an address); after ``MAX_ATTEMPTS`` the mail is given up, and a nudge
    is deleted then too. A mail that should no longer go (user deactivated or no longer
    entitled, reminder met, case gone) is deleted unsent.

    Several runs at once (every machine's timer) send each mail at most once: it is claimed
    before it is handed over, and a claim left by a run that stopped then is given up, never
    sent again (whistle/notify/claims.py says how, and why at most once).
    """
    report = SendReport()
    me = claimant()
    report.failed += give_up_interrupted(
        session, clock.now(), max_attempts=MAX_ATTEMPTS, deleted_kinds=_GONE_WHEN_DONE
    )
    last_id = 0
    for _attempt in range(limit):
        now = clock.now()
        begin_writing(session)
        row = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id > last_id, _ready(now), OutboxMail.claimed_at.is_(None))
            .order_by(OutboxMail.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            session.commit()
            break
        last_id = row.id
        row_id, kind, attempts = row.id, MailKind(row.kind), row.attempts
        org = session.get(Organisation, row.org_id)
        composed: _Composed | None = None
        if org is not None:
            if kind == MailKind.NUDGE:
                composed = _compose_nudge(row, org, base_url=base_url, instance_key=instance_key)
            elif kind == MailKind.KEY_WARNING:
                composed = _compose_key_warning(session, row, org, base_url=base_url)
            else:
                composed = _compose_staff(session, row, org, base_url=base_url, today=now.date())
        if composed is None:
            session.execute(delete(OutboxMail).where(OutboxMail.id == row_id))
            session.commit()
            report.dropped += 1
            continue
        claimed = rows_changed(
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == row_id, OutboxMail.claimed_at.is_(None))
                .values(claimed_by=me, claimed_at=now)
            )
        )
        session.commit()
        if claimed != 1:  # cannot happen while the row is locked; never send unclaimed
            continue
        session.expunge(row)
        try:
            transport.send(_message(composed, now))
        # Any failure, a malformed stored address included, is a failed attempt: one bad mail
        # must not stop the others.
        except Exception as exc:  # noqa: BLE001
            attempts += 1
            if attempts < MAX_ATTEMPTS:
                report.deferred += 1
            else:
                report.failed += 1
            if attempts >= MAX_ATTEMPTS and kind in _GONE_WHEN_DONE:
                session.execute(delete(OutboxMail).where(held_by(row_id, me)))
            else:
                session.execute(
                    update(OutboxMail)
                    .where(held_by(row_id, me))
                    .values(
                        attempts=OutboxMail.attempts + 1,
                        last_error=type(exc).__name__[:200],
                        claimed_by=None,
                        claimed_at=None,
                    )
                )
            session.commit()
            continue
        if kind in _GONE_WHEN_DONE:
            session.execute(delete(OutboxMail).where(held_by(row_id, me)))
        else:
            session.execute(
                update(OutboxMail)
                .where(held_by(row_id, me))
                .values(sent_at=now, last_error=None, claimed_by=None, claimed_at=None)
            )
        session.commit()
        report.sent += 1
    return report


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
            _mail_templates()
            .get_template("notify/invitation.txt")
            .render(organisation=name, link=link)
            .strip()
        )
    mail = RenderedMail(subject=_one_line(subject), body=body + "\n")
    transport.send(_message(_Composed(to=clean_address(to), mail=mail), now))


def mail_invitation_now(
    session: Session,
    settings: Settings,
    organisation: Organisation,
    *,
    to: str,
    link: str,
    now: datetime,
) -> str:
    """Mail an invitation at once if this deployment's mail is set up: "sent", "off" (no
    mail server: the link is shown to whoever invited instead) or "failed" (logged by its
    kind, never with the address or the link)."""
    try:
        config = mail_config(session, settings)
    except MailNotConfigured:
        return "off"
    try:
        with SmtpTransport(config) as transport:
            send_invitation(transport, organisation, to=to, link=link, now=now)
    except (OSError, smtplib.SMTPException, AddressRejected) as exc:
        log.warning("invitation mail not sent: %s", type(exc).__name__)
        return "failed"
    return "sent"
