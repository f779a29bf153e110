"""``whistle keystore``: the key store's operations side (docs/operations.md, "Backups")."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from whistle.core.keystore import KeyStoreError
from whistle.core.runtime import runtime

keystore_cli = AppGroup("keystore", help="The key store: keys outside the database.")


@keystore_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path) -> None:
    """Write a consistent copy of the key store to TARGET, a new SQLite file (mode 0600).

    Works for both backends while the app runs. Keep these copies only as long as the backup
    rotation says: a deleted case is gone for good once every key-store copy older than the
    deletion is gone."""
    rt = runtime()
    try:
        copied = rt.keystore.backup(target)
    except KeyStoreError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"wrote {copied} keys to {target.resolve()} (mode 0600)")
    click.echo(
        "cases deleted after this copy can be opened with it and an older database backup: "
        "keep it no longer than your key-store rotation (docs/operations.md, Backups)"
    )
