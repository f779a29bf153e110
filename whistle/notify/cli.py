"""``whistle notify``: send the outbox (``send``) and queue the deadline reminders and notice
reviews (``deadlines``), for cron or a systemd timer."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from whistle.core.runtime import runtime
from whistle.notify.mail import MailNotConfigured, SmtpTransport, deployment_config
from whistle.notify.reminders import queue_daily_reminders
from whistle.notify.sending import send_pending

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


@notify_cli.command("deadlines")
def deadlines_command() -> None:
    """Queue reminders of deadlines due soon or overdue and of deletions (run daily)."""
    rt = runtime()
    with rt.sessions() as session:
        queued = queue_daily_reminders(session, rt.clock)
    click.echo(f"queued {queued} deadline reminders")
