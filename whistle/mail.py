"""Handing finished e-mails to an SMTP server.

:class:`Transport` is all that :mod:`whistle.notify` needs, so tests pass a recording or failing
stand-in. :class:`SmtpTransport` is the real one: one connection kept for a whole
``whistle notify send`` run, opened on the first mail and opened again after any failure.

``starttls`` refuses to go on when the server does not offer STARTTLS, and ``tls`` (implicit TLS)
verifies the certificate against the system's trust store: a notification, and above all a
reporter's address, never crosses the network in clear unless the operator chose ``none``.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from whistle.settings import Settings


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
