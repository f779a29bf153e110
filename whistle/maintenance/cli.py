"""The operator's commands: ``whistle doctor`` (the consistency of the database, the file
store and the key store), ``whistle sessions sweep`` (ended sessions, for cron) and
``whistle keystore backup`` (docs/operations.md, "Backups").

Every staff sign-in and reporter code entry sweeps sessions too, but a quiet instance may see
none for weeks; until its row is deleted, an ended session's cookie plus a copy of the
database still opens its secret (a handler's private key, a case content key). The sweep's
schedule bounds that time.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from whistle.core import throttle
from whistle.core.joblock import run_lock
from whistle.core.keystore_errors import KeyStoreError
from whistle.core.runtime import Runtime, runtime
from whistle.core.storage import FileStore
from whistle.maintenance.doctor_files import MIN_AGE, check, describe, repair
from whistle.maintenance.doctor_keys import check_keys, describe_keys, repair_keys
from whistle.maintenance.sessions import sweep_ended_sessions


@click.command("doctor")
@click.option("--repair", is_flag=True, help="Remove what can be removed (default: report only).")
@click.option(
    "--all",
    "include_recent",
    is_flag=True,
    help="Include files younger than an hour (only while the app is stopped).",
)
@with_appcontext
def doctor_command(repair: bool, include_recent: bool) -> None:
    """Check the database, the file store and the key store against each other, and with
    --repair fix them."""
    rt = runtime()
    # One doctor at a time across every machine (whistle/core/joblock.py): a second one waits,
    # then checks what the first left, so both report the state they really saw, and no
    # repair (a half-stored case's removal and its audit entry) is done twice.
    with run_lock(rt.engine, "doctor"):
        _doctor(rt, repair, include_recent)


def _doctor(rt: Runtime, repair: bool, include_recent: bool) -> None:
    store = rt.file_store()
    min_age = timedelta(0) if include_recent else MIN_AGE
    if isinstance(store, FileStore) and not store.root.exists():
        click.echo(f"the file store {store.root} does not exist (yet)")
    with rt.sessions() as session:
        findings = check(session, store, min_age=min_age)
        keys = check_keys(session, rt.keystore, now=rt.clock.now(), min_age=min_age)
        for line in describe(findings, min_age) + describe_keys(keys, min_age):
            click.echo(line)
        remaining = findings.problems + keys.problems
        if repair and (findings.repairable or keys.repairable):
            if findings.repairable:
                done = repair_store(session, rt.clock, store, findings)
                click.echo(
                    f"repaired: removed {done.orphans} orphan files, {done.partials} .partial "
                    f"files, {done.pending} listed files and {done.cases} half-stored cases "
                    f"(with {done.case_files} files); dropped {done.pending_dropped} listings "
                    "of files in use"
                )
            # After the files: a half-stored case removed there lists its keys.
            try:
                fixed = repair_keys(session, rt.clock, rt.keystore, keys)
            except KeyStoreError as exc:
                click.echo(f"key store not repaired: {exc}", err=True)
            else:
                click.echo(
                    f"repaired: destroyed {fixed.orphans} ownerless keys and {fixed.pending} "
                    f"listed keys; dropped {fixed.pending_dropped} listings of keys in use"
                )
                if fixed.incomplete:
                    click.echo(
                        "the key store could not be scrubbed (busy): run the repair again",
                        err=True,
                    )
            after = check(session, store, min_age=min_age)
            after_keys = check_keys(session, rt.keystore, now=rt.clock.now(), min_age=min_age)
            remaining = after.problems + after_keys.problems
        elif findings.repairable or keys.repairable:
            click.echo("run `whistle doctor --repair` to remove what can be removed")
    if findings.unrepairable:
        click.echo(
            "missing files and damaged cases cannot be repaired here: restore them from a backup",
            err=True,
        )
    if keys.unrepairable:
        click.echo("the key store's problems cannot be repaired here (see above)", err=True)
    if remaining:
        verdict = "remain after the repair" if repair else "found"
        click.echo(f"{remaining} problems {verdict}", err=True)
        sys.exit(1)
    if findings.recent_orphans or findings.recent_partials or keys.recent_orphans:
        click.echo("no problems found, apart from the recent files and keys left alone")
    else:
        click.echo("the database, the file store and the key store are consistent")


repair_store = repair  # inside the command, its ``--repair`` flag shadows the name


sessions_cli = AppGroup("sessions", help="Browser sessions of staff and reporters.")


@sessions_cli.command("sweep")
def sweep_command() -> None:
    """Delete every session that has ended (idle, or past its absolute lifetime), and the
    throttle counts that have run out."""
    rt = runtime()
    with rt.sessions() as session:
        swept = sweep_ended_sessions(session, rt.clock, rt.settings)
        pruned = throttle.prune(session, throttle.seconds(rt.clock.now()))
    click.echo(f"swept {swept} ended sessions, {pruned} expired throttle counts")


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
