"""Handing finished e-mails to an SMTP server.

:class:`Transport` is all that :mod:`whistle.notify.outbox` needs, so tests pass a recording or
failing
stand-in. :class:`SmtpTransport` is the real one: one connection kept for a whole
``whistle notify send`` run, opened on the first mail and opened again after any failure.

``starttls`` refuses to go on when the server does not offer STARTTLS, and ``tls`` (implicit TLS)
verifies the certificate against the system's trust store: a notification, and above all a
reporter's address, never crosses the network in clear unless the operator chose ``none``.

Where mail goes is set either in the instance folder (``smtp_*`` in config.toml and the
``smtp_password`` file) or, overriding it, in the admin console (:func:`save_stored`): one
server for the whole deployment, kept in ``instance_settings`` with its password sealed under
the instance key. :func:`deployment_config` is what every sender asks.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field, encrypt_field
from whistle.core.contexts import SMTP_PASSWORD_CONTEXT
from whistle.core.models import InstanceSetting
from whistle.core.settings import Settings

log = logging.getLogger(__name__)

# The ``instance_settings`` row of the mail server chosen in the admin console.
STORED_KEY = "mail.smtp"


class MailNotConfigured(Exception):
    """``smtp_host`` is empty: this deployment sends no mail."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` (its ``To`` header says to whom) or raise."""
        ...


@dataclass(frozen=True, repr=False)
class SmtpConfig:
    """Where and how to hand mail over; ``password`` is secret (``repr`` hides it)."""

    host: str
    port: int
    security: str  # "starttls", "tls" or "none"
    sender: str
    username: str = ""
    password: str = ""
    timeout: float = 30

    def __repr__(self) -> str:
        return f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """The deployment's SMTP settings; :class:`MailNotConfigured` when there is no host."""
        if not settings.smtp_host:
            raise MailNotConfigured
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )


@dataclass(frozen=True)
class StoredMail:
    """The mail server saved in the admin console, as the console shows it: whether a password
    is stored, never the password."""

    host: str
    port: int
    security: str
    sender: str
    username: str
    has_password: bool


def _stored_row(session: Session) -> dict[str, object] | None:
    row = session.get(InstanceSetting, STORED_KEY)
    if row is None:
        return None
    try:
        data = json.loads(row.value)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def stored(session: Session) -> StoredMail | None:
    """The mail server saved in the admin console, or None (the instance folder's applies)."""
    data = _stored_row(session)
    if data is None:
        return None
    try:
        port = int(str(data.get("port", 587)))
    except ValueError:
        port = 0  # damaged: shown as it is, and refused when mail is sent
    return StoredMail(
        host=str(data.get("host", "")),
        port=port,
        security=str(data.get("security", "starttls")),
        sender=str(data.get("sender", "")),
        username=str(data.get("username", "")),
        has_password=bool(data.get("password")),
    )


def save_stored(
    session: Session, mail: StoredMail, password: str | None, *, instance_key: bytes
) -> None:
    """Save the deployment's mail server. ``password`` None keeps the stored one; without a
    user name no password is kept. Flushes, never commits."""
    previous = _stored_row(session) or {}
    sealed = previous.get("password") if password is None else None
    if password:
        sealed = base64.b64encode(
            encrypt_field(instance_key, password.encode("utf-8"), context=SMTP_PASSWORD_CONTEXT)
        ).decode("ascii")
    value = {
        "host": mail.host,
        "port": mail.port,
        "security": mail.security,
        "sender": mail.sender,
        "username": mail.username,
        "password": sealed if mail.username else None,
    }
    row = session.get(InstanceSetting, STORED_KEY)
    text = json.dumps(value, sort_keys=True)
    if row is None:
        session.add(InstanceSetting(key=STORED_KEY, value=text))
    else:
        row.value = text
    session.flush()


def forget_stored(session: Session) -> None:
    """Go back to the instance folder's mail settings. Flushes, never commits."""
    row = session.get(InstanceSetting, STORED_KEY)
    if row is not None:
        session.delete(row)
        session.flush()


def deployment_config(session: Session, settings: Settings) -> SmtpConfig:
    """Where this deployment's mail goes: the admin console's server if one is saved, else the
    instance folder's; :class:`MailNotConfigured` when neither names a host.

    A saved password that no longer opens (the instance key was replaced) is logged and sends
    nothing, rather than falling back to another server unnoticed.
    """
    data = _stored_row(session)
    if data is None:
        return SmtpConfig.from_settings(settings)
    mail = stored(session)
    assert mail is not None
    if not mail.host:
        raise MailNotConfigured
    password = ""  # nosec B105 # no password until the sealed one is opened below
    sealed = data.get("password")
    if mail.username and isinstance(sealed, str) and sealed:
        try:
            password = decrypt_field(
                settings.instance_key, base64.b64decode(sealed), context=SMTP_PASSWORD_CONTEXT
            ).decode("utf-8")
        except (OpenError, binascii.Error, ValueError):
            log.warning("the saved mail server password does not open with this instance key")
            raise MailNotConfigured from None
    return SmtpConfig(
        host=mail.host,
        port=mail.port,
        security=mail.security,
        sender=mail.sender,
        username=mail.username,
        password=password,
        timeout=settings.smtp_timeout,
    )


class SmtpTransport:
    """Send through one SMTP connection, reconnecting after a failure. Close when done."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if config.security == "tls":
            connection = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            connection.ehlo()
            if config.security == "starttls":
                # Raises SMTPNotSupportedError when the server offers no STARTTLS: better
                # no mail than a reporter's address in clear on the network.
                connection.starttls(context=context)
                connection.ehlo()
            if config.username:
                connection.login(config.username, config.password)
        except BaseException:
            _close_quietly(connection)
            raise
        return connection

    def send(self, message: EmailMessage) -> None:
        """Send ``message`` from the configured sender; raise on any refusal or network error."""
        if "From" not in message:
            message["From"] = self.config.sender
        if "Message-ID" not in message:
            # The sender's domain, not this machine's host name, goes into the id.
            message["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2])
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.send_message(message)
        except BaseException:
            # The connection's state is unknown after a failure: start afresh next time.
            connection, self._connection = self._connection, None
            _close_quietly(connection)
            raise

    def close(self) -> None:
        """End the SMTP session, if one is open."""
        connection, self._connection = self._connection, None
        if connection is not None:
            _close_quietly(connection)


def _close_quietly(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()
