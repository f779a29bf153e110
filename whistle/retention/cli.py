"""``whistle retention``: the deletion run for cron or a systemd timer (``run``) and an
organisation's retention presets (``presets``)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from whistle.core.keystore_errors import KeyStoreError
from whistle.core.models import CaseOutcome
from whistle.core.runtime import runtime
from whistle.retention.deletion import run
from whistle.retention.schedule import Preset, presets, store_presets

retention_cli = AppGroup("retention", help="Retention: delete closed cases when their day comes.")


@retention_cli.command("run")
def run_command() -> None:
    """Delete every closed case whose retention date has passed and that is not on hold."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            report = run(session, rt.clock, rt.file_store(), keystore=rt.keystore)
        except KeyStoreError as exc:
            click.echo(f"{exc}; the next run destroys the keys of what was deleted", err=True)
            sys.exit(1)
    click.echo(
        f"deleted {report.deleted} cases, {report.files} files and {report.keys} keys; "
        f"{report.held} due cases kept on legal hold"
    )
    if report.keys_unfinished:
        click.echo(
            "the key store could not be scrubbed (busy): destroyed keys may remain in its "
            "files until the next run",
            err=True,
        )
        sys.exit(1)


@retention_cli.command("presets")
@click.argument("slug")
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="OUTCOME=PRESET",
    help="Change a preset, e.g. outside_scope=30d, not_substantiated=2m, referred=date.",
)
def presets_command(slug: str, changes: tuple[str, ...]) -> None:
    """Show (and with --set, change) an organisation's retention presets."""
    from whistle.core.organisations import find_by_slug

    rt = runtime()
    with rt.sessions() as session:
        org = find_by_slug(session, slug)
        if org is None:
            click.echo(f"No organisation with the address {slug!r}.", err=True)
            sys.exit(1)
        parsed: list[tuple[CaseOutcome, Preset]] = []
        for change in changes:
            name, _sep, value = change.partition("=")
            try:
                parsed.append((CaseOutcome(name.strip()), Preset.parse(value)))
            except ValueError as exc:
                click.echo(f"{change!r}: {exc}", err=True)
                sys.exit(1)
        store_presets(session, rt.clock, org.id, parsed)
        for outcome, preset in presets(session, org.id).items():
            click.echo(f"{outcome.value}: {preset}")
