"""``whistle keys``: the organisation keys' fingerprints and pins, and certifying a unit lead
with the recovery key when no certified lead is left (whistle/keys/certification.py).

``whistle recovery grant``: the offline recovery procedure for a case nobody can open. The
organisation's recovery key (printed once at setup, kept offline) is typed or pasted on
standard input; it never touches the database or the disk. See docs/recovery.md.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import InvalidRecoveryKey, OpenError, PrivateKey, import_recovery_key
from whistle.casefile.access import NoAccess
from whistle.casefile.sharing import restore_with_recovery
from whistle.core import trust
from whistle.core.key_pins import PinsUnavailable, pins_of
from whistle.core.models import Case, Organisation, User
from whistle.core.org_keys import recovery_public_key
from whistle.core.organisations import find_by_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.trust import KeysNotTrusted
from whistle.keys import certification, first_use
from whistle.keys import status as key_status
from whistle.keys import upgrade as keys_upgrade

keys_cli = AppGroup("keys", help="Organisation key fingerprints, pins and certification.")


def _organisation(session: Session, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise click.ClickException(f"no organisation {slug!r}")
    return org


@keys_cli.command("show")
def show_command() -> None:
    """Print each organisation's key fingerprints and whether they match the pins."""
    rt = runtime()
    with rt.sessions() as session:
        for org in session.scalars(select(Organisation).order_by(Organisation.id)):
            click.echo(org.slug)
            for key in trust.organisation_fingerprints(session, org.id):
                state = "matches the pin" if key.matches else f"PIN {key.pinned or 'missing'}"
                click.echo(f"  {key.purpose.value:<14} {key.fingerprint or '-'}  {state}")


@keys_cli.command("pin")
@click.argument("slug")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an existing pin (only after checking the fingerprints against the paper).",
)
def pin_command(slug: str, replace: bool) -> None:
    """Pin an organisation's keys as the database has them now."""
    rt = runtime()
    with rt.sessions() as session:
        org = _organisation(session, slug)
        try:
            pins = trust.current_pins(session, org)
            written = trust.pin_organisation(session, org, replace=replace)
        except (LookupError, PinsUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"recovery      {pins.recovery}")
    click.echo(f"signing       {pins.signing}")
    click.echo(f"certification {pins.certification}")
    if written:
        click.echo(f"pinned {slug}")
    else:
        click.echo(f"{slug} is already pinned; use --replace to change the pin")


@keys_cli.command("certify")
@click.option("--org", "slug", required=True, help="The organisation's public address (slug).")
@click.option("--user", "email", required=True, help="E-mail address of the person.")
def certify_command(slug: str, email: str) -> None:
    """Certify a person's key with the recovery key (standard input), when no certified unit
    lead is left to do it. Compare the fingerprint printed here with the person first."""
    rt = runtime()
    with rt.sessions() as session:
        org = _organisation(session, slug)
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException("no user with that e-mail address")
        click.echo(f"fingerprint of the key: {key_status.fingerprint_of(user) or '-'}", err=True)
        key = read_recovery_key()
        try:
            roles = certification.certify_with_recovery(session, rt.clock, org.id, key, user)
        except Refused as exc:
            raise click.ClickException(str(exc.message)) from None
        except KeysNotTrusted:
            raise click.ClickException(
                "the organisation's keys do not match the pins; see `whistle keys show`"
            ) from None
    click.echo(f"certified user {user.id} for {', '.join(roles)}")


def upgrade_trust_command_output() -> list[str]:
    """Run the upgrade steps for the current app: certify existing keys and pin
    (whistle/keys/first_use.py), then wrap existing case keys under keys in the key store
    (whistle/keys/upgrade.py)."""
    rt = runtime()
    with rt.sessions() as session:
        pins_of(session)
        said = first_use.upgrade_trust(session, rt.clock, instance_key=rt.settings.instance_key)
        return said + keys_upgrade.upgrade_output(session)


recovery_cli = AppGroup("recovery", help="The organisation recovery key (offline procedure).")


@recovery_cli.command("grant")
@click.option("--org", "slug", required=True, help="The organisation's public address (slug).")
@click.option("--case", "reference", required=True, help="The case reference, e.g. 2026-0007.")
@click.option("--to", "email", required=True, help="E-mail address of the handler to receive it.")
def grant_command(slug: str, reference: str, email: str) -> None:
    """Give a handler a case through the recovery key, read from standard input."""
    rt = runtime()
    with rt.sessions() as session:
        org = find_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no active organisation {slug!r}")
        case = session.scalar(
            select(Case).where(Case.org_id == org.id, Case.reference == reference)
        )
        if case is None:
            raise click.ClickException(f"no case {reference!r} in {slug!r}")
        grantee = session.scalar(select(User).where(User.email == email.strip().lower()))
        if grantee is None:
            raise click.ClickException("no user with that e-mail address")
        key = read_recovery_key()
        if key.public_key() != recovery_public_key(session, org.id):
            raise click.ClickException("this is not the recovery key of this organisation")
        try:
            restore_with_recovery(session, rt.clock, case, key, grantee)
        except NoAccess:
            raise click.ClickException("the case has no recovery copy of its keys") from None
        except Refused as exc:
            raise click.ClickException(str(exc.message)) from None
        except KeysNotTrusted:
            raise click.ClickException(
                "the organisation's keys do not match the pins; see `whistle keys show`"
            ) from None
    click.echo(f"case {reference} can now be opened by user {grantee.id}")


def read_recovery_key() -> PrivateKey:
    """The organisation's recovery key, typed or pasted on standard input (never an argument,
    a file the command keeps, or a log line); a clear error for a typo."""
    if sys.stdin.isatty():
        click.echo("Type or paste the recovery key, then an empty line:", err=True)
        lines = []
        for line in sys.stdin:
            if not line.strip():
                break
            lines.append(line)
        text = "".join(lines)
    else:
        text = sys.stdin.read()
    try:
        return import_recovery_key(text)
    except (InvalidRecoveryKey, OpenError) as exc:
        raise click.ClickException(f"the recovery key could not be read: {exc}") from None
