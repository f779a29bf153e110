"""The ``whistle`` command: Flask's CLI bound to the app factory, plus Whistle's own commands.

Background work (retention, reminders, mail) runs as commands here, for cron or systemd timers.
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException

from whistle.app import create_app
from whistle.audit.cli import audit_cli
from whistle.core.instance import init_instance
from whistle.core.keystore_errors import KeyStoreError
from whistle.core.runtime import runtime
from whistle.core.schema import upgrade
from whistle.core.settings import SettingsError, default_instance_path
from whistle.counsel.cli import export_cli
from whistle.keys.cli import keys_cli, recovery_cli, upgrade_trust_command_output
from whistle.maintenance.cli import doctor_command, keystore_cli, sessions_cli
from whistle.notify.cli import notify_cli
from whistle.operators.cli import operator_cli, org_cli
from whistle.reporting.cli import receipt_cli
from whistle.retention.cli import retention_cli
from whistle.setup.onboarding import SetupUnavailable, issue_token, setup_complete


def _make_app() -> Flask:
    try:
        return create_app()
    except SettingsError as exc:
        # Flask prints the traceback of any other error while it lists the commands (even for
        # `whistle --help` before `whistle init`); this one it shows as a message alone.
        raise NoAppException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_make_app, add_version_option=False)
def cli() -> None:
    """Whistle: confidential whistleblower reporting."""


@cli.command("init", with_appcontext=False)
def init_command() -> None:
    """Create the instance folder, its secrets, the database schema and the key store (safe to
    run again)."""
    path = default_instance_path()
    os.umask(0o077)  # the SQLite database and anything else created here: owner only
    report = init_instance(path)
    for name in report.created:
        click.echo(f"created {path / name}")
    for name in report.kept:
        click.echo(f"kept    {path / name} (already there)")
    app = create_app(instance_path=path)
    upgrade(runtime(app).engine)
    click.echo(f"database schema is up to date ({runtime(app).settings.database_url_safe})")
    try:
        runtime(app).keystore.ensure()
    except KeyStoreError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"key store is ready ({runtime(app).settings.keystore_url_safe})")
    with app.app_context():
        _upgrade_trust()


@cli.command("setup-link")
@click.option("--base-url", default=None, help="Public address to print the link with.")
def setup_link_command(base_url: str | None) -> None:
    """Print a one-time link for creating the first organisation and admin in the browser."""
    rt = runtime()
    with rt.sessions() as session:
        if setup_complete(session):
            click.echo("Setup is complete; the setup link is no longer available.")
            return
        try:
            token = issue_token(session, rt.clock)
        except SetupUnavailable:
            click.echo("Setup is complete; the setup link is no longer available.")
            return
    base = (base_url or rt.settings.base_url).rstrip("/")
    click.echo("")
    click.echo("  Finish setting up Whistle in your browser (this link works once):")
    # The token after "#": browsers never send it, so no access log holds it.
    click.echo(f"  {base}/setup/#{token}")
    click.echo("")


@cli.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
def db_upgrade_command() -> None:
    """Apply every pending migration."""
    upgrade(runtime().engine)
    click.echo("database schema is up to date")
    _upgrade_trust()


def _upgrade_trust() -> None:
    # After the migrations, from Python: it needs the instance folder (the key pins).
    for line in upgrade_trust_command_output():
        click.echo(line)


cli.add_command(audit_cli)
cli.add_command(recovery_cli)
cli.add_command(notify_cli)
cli.add_command(retention_cli)
cli.add_command(keystore_cli)
cli.add_command(export_cli)
cli.add_command(receipt_cli)
cli.add_command(doctor_command)
cli.add_command(sessions_cli)
cli.add_command(keys_cli)
cli.add_command(org_cli)
cli.add_command(operator_cli)


def main() -> None:
    """Entry point of the ``whistle`` console script."""
    try:
        cli.main(prog_name="whistle")
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
