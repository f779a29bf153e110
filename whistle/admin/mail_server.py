"""The deployment's mail server as an administrator of every organisation here sets it, and
the test mail that shows it works. The server is stored by :mod:`whistle.notify.mail` (its
password encrypted); an empty host means the instance folder's server again. A refusal is a
:class:`~whistle.core.refusals.Refused` naming the form field.
"""

from __future__ import annotations

import re
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Organisation
from whistle.core.refusals import Refused
from whistle.core.settings import SMTP_SECURITY
from whistle.notify import mail

# A host name or IPv4 address, or an IPv6 address (no brackets: smtplib takes it bare).
HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f]*:[0-9A-Fa-f:]+")
SENDER_RE = re.compile(r"[^@\s<>\",]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _check(session: Session, settings: mail.StoredMail, password: str) -> None:
    if not HOST_RE.fullmatch(settings.host):
        raise Refused("host", _l("Give the server's name, such as smtp.example.org."))
    if not 1 <= settings.port <= 65535:
        raise Refused("port", _l("Give a port from 1 to 65535, usually 587 or 465."))
    if settings.security not in SMTP_SECURITY:
        raise Refused("security", _l("Choose how the connection is protected."))
    if not SENDER_RE.fullmatch(settings.sender):
        raise Refused("sender", _l("Enter an e-mail address such as name@example.org."))
    if len(settings.username) > 254 or any(c in settings.username for c in "\r\n"):
        raise Refused("username", _l("Give the user name of at most 254 characters."))
    if len(password) > 1000 or any(c in password for c in "\r\n"):
        raise Refused("password", _l("The password is too long or contains a line break."))
    previous = mail.stored(session)
    if settings.username and not password and not (previous and previous.has_password):
        raise Refused("password", _l("Give the password that goes with the user name."))


def change_mail(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    settings: mail.StoredMail,
    password: str,
    *,
    instance_key: bytes,
) -> None:
    """Save the deployment's mail server (an empty host: back to the instance folder's), and
    commit. An empty ``password`` keeps the stored one."""
    with unit_of_work(session):
        if not settings.host:
            mail.forget_stored(session)
            audit.record(
                session, clock, action="settings.mail_reset", org_id=org_id, actor_user_id=actor_id
            )
            session.flush()
            return
        _check(session, settings, password)
        mail.save_stored(session, settings, password or None, instance_key=instance_key)
        audit.record(
            session,
            clock,
            action="settings.mail_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={
                "port": settings.port,
                "security": settings.security,
                "login": bool(settings.username),
                "new_password": bool(password),
            },
        )
        session.flush()


def trial_message(*, to: str, organisation: str, now: datetime) -> EmailMessage:
    """The test mail: says where it comes from and nothing else."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = _("Test mail from Whistle")
    message["Date"] = format_datetime(now)
    message.set_content(
        _(
            "This is a test mail from the whistleblower scheme of %(organisation)s. "
            "Mail from Whistle reaches you. Nothing needs to be done.",
            organisation=" ".join(organisation.split()),
        )
        + "\n"
    )
    return message


def _try_send(transport: mail.Transport, message: EmailMessage) -> str | None:
    """None when the server took ``message``, else the kind of failure (an exception's type
    name: never its text, which may quote the server)."""
    try:
        transport.send(message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return type(exc).__name__
    return None


def send_test_mail(
    session: Session,
    clock: Clock,
    org: Organisation,
    actor_id: int,
    config: mail.SmtpConfig,
    *,
    to: str,
) -> str | None:
    """Send the test mail to ``to`` through the server ``config`` names, record that it was
    tried, and commit; None when the server took it, else the kind of failure (an exception's
    type name: never its text, which may quote the server)."""
    with unit_of_work(session), mail.SmtpTransport(config) as transport:
        failure = _try_send(transport, trial_message(to=to, organisation=org.name, now=clock.now()))
        audit.record(
            session,
            clock,
            action="settings.mail_tested",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={"sent": failure is None},
        )
        session.flush()
    return failure
