"""``whistle recovery grant``: the offline recovery procedure for a case nobody can open.

The organisation's recovery key (printed once at setup, kept offline) is typed or pasted on
standard input; it never touches the database or the disk. See docs/recovery.md.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from crypto import InvalidRecoveryKey, OpenError, PrivateKey, import_recovery_key
from whistle.casefile.access import NoAccess
from whistle.casefile.sharing import restore_with_recovery
from whistle.core.models import Case, User
from whistle.core.org_keys import recovery_public_key
from whistle.core.organisations import find_by_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.core.trust import KeysNotTrusted

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
