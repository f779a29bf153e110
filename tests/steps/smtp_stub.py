"""A tiny SMTP server on the loopback for tests: enough of RFC 5321 for smtplib."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpReceiver(socketserver.ThreadingTCPServer):
    """A tiny SMTP server on the loopback: enough of RFC 5321 for smtplib."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.received: list[ReceivedMail] = []
        self.refuse_recipients = False

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _SmtpSession(socketserver.StreamRequestHandler):
    timeout = 10
    server: SmtpReceiver

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb, _, argument = line.decode().rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")  # and no STARTTLS
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = argument, []
                self.reply("250 OK")
            elif verb == "RCPT":
                if self.server.refuse_recipients:
                    self.reply("550 No such user")
                    continue
                recipients.append(argument)
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b".") else data)
                self.server.received.append(ReceivedMail(sender, recipients, b"".join(lines)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


@pytest.fixture
def smtp_server() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
