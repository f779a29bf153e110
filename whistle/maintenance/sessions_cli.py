"""``whistle sessions sweep``: delete the sessions that have ended, for cron or a systemd timer.

Every staff sign-in and reporter code entry sweeps too, but a quiet instance may see none for
weeks; until its row is deleted, an ended session's cookie plus a copy of the database still
opens its secret (a handler's private key, a case content key). The schedule bounds that time.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from whistle.core import vault
from whistle.core.runtime import runtime

sessions_cli = AppGroup("sessions", help="Browser sessions of staff and reporters.")


@sessions_cli.command("sweep")
def sweep_command() -> None:
    """Delete every session that has ended (idle, or past its absolute lifetime)."""
    rt = runtime()
    with rt.sessions() as session:
        swept = vault.sweep(session, rt.clock, vault.lifetimes(rt.settings))
        session.commit()
    click.echo(f"swept {swept} ended sessions")
