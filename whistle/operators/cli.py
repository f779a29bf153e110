"""``whistle org`` and ``whistle operator``: the operator's pages as commands.

``whistle org list|create|invite-admin|suspend|reactivate|delete`` do what ``/operator`` does;
``whistle operator grant|revoke EMAIL`` names who runs the deployment (first-run setup makes
its person the operator; a deployment set up before needs ``grant`` once). Commands act as
nobody in particular: the audit log records them without an actor.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy.orm import Session

from whistle.core.organisations import suggest_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import runtime
from whistle.operators import organisations

org_cli = AppGroup("org", help="The deployment's organisations: add, suspend, delete.")
operator_cli = AppGroup("operator", help="Who runs the deployment (the operator role).")


def _refused(refused: Refused) -> None:
    # Commands speak English, as the rest of the command line does.
    with force_locale("en"):
        click.echo(str(refused.message), err=True)
    sys.exit(1)


def _state(row: organisations.OrganisationSummary) -> str:
    if not row.organisation.is_active:
        return "suspended"
    return "active" if row.has_keys else "waiting for its first administrator"


@org_cli.command("list")
def list_command() -> None:
    """Every organisation: address, state, people, open and all cases."""
    rt = runtime()
    with rt.sessions() as session:
        for row in organisations.summaries(session):
            click.echo(
                f"{row.organisation.slug}\t{row.organisation.name}\t{_state(row)}\t"
                f"{row.people} people\t{row.open_cases} open / {row.cases} cases"
            )


def _print_link(base_url: str | None, token: str) -> None:
    base = (base_url or runtime().settings.base_url).rstrip("/")
    click.echo("  Send this link to the administrator (it works once, for 7 days):")
    # The token after "#": browsers never send it, so no access log holds it.
    click.echo(f"  {base}/staff/invitation#{token}")


@org_cli.command("create")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--slug", default="", help="Its address (made from the name if not given).")
@click.option("--locale", type=click.Choice(["da", "en"]), default="da", show_default=True)
@click.option("--admin-email", required=True, help="Its first administrator's address.")
@click.option("--base-url", default=None, help="Public address to print the link with.")
def create_command(
    name: str, slug: str, locale: str, admin_email: str, base_url: str | None
) -> None:
    """Add an organisation and print its first administrator's invitation link."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            made = organisations.create(
                session,
                rt.clock,
                name=name,
                slug=slug.strip().lower() or suggest_slug(name),
                locale=locale,
                admin_email=admin_email,
                actor_id=None,
            )
        except Refused as refused:
            _refused(refused)
            return
        click.echo(f"Added {made.organisation.slug}. Its first administrator makes its keys.")
        _print_link(base_url, made.invitation_token)


@org_cli.command("invite-admin")
@click.argument("slug")
@click.option("--email", required=True, help="The administrator's address.")
@click.option("--base-url", default=None, help="Public address to print the link with.")
def invite_admin_command(slug: str, email: str, base_url: str | None) -> None:
    """A new administrator's invitation (the first was lost, or none is left)."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            token = organisations.invite_admin(session, rt.clock, slug, email=email, actor_id=None)
        except Refused as refused:
            _refused(refused)
            return
        _print_link(base_url, token)


def _act(change: Callable[[Session], object], done: str) -> None:
    """Run ``change`` in a session of its own; its refusal ends the command with exit 1."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            change(session)
        except Refused as refused:
            _refused(refused)
    click.echo(done)


@org_cli.command("suspend")
@click.argument("slug")
def suspend_command(slug: str) -> None:
    """Close an organisation's channel and staff pages; nothing is deleted."""
    _act(
        lambda session: organisations.suspend(session, runtime().clock, slug, actor_id=None),
        f"Suspended {slug}.",
    )


@org_cli.command("reactivate")
@click.argument("slug")
def reactivate_command(slug: str) -> None:
    """Open a suspended organisation again."""
    _act(
        lambda session: organisations.reactivate(session, runtime().clock, slug, actor_id=None),
        f"Reactivated {slug}.",
    )


@org_cli.command("delete")
@click.argument("slug")
@click.option("--confirm", required=True, help="The organisation's address again, to confirm.")
def delete_command(slug: str, confirm: str) -> None:
    """Delete a suspended organisation and all its cases for good."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            gone = organisations.delete_for_good(
                session,
                rt.clock,
                slug,
                confirm=confirm,
                store=rt.file_store(),
                keystore=rt.keystore,
                actor_id=None,
            )
        except Refused as refused:
            _refused(refused)
            return
    click.echo(
        f"Deleted {gone.slug}: {gone.cases} cases, {gone.keys} keys, {gone.files} files; "
        f"{gone.accounts_closed} accounts closed."
    )


@operator_cli.command("grant")
@click.argument("email")
def grant_command(email: str) -> None:
    """Make the account at EMAIL an operator of this deployment."""
    _act(
        lambda session: organisations.set_operator(session, runtime().clock, email, operator=True),
        "The account is an operator now.",
    )


@operator_cli.command("revoke")
@click.argument("email")
def revoke_command(email: str) -> None:
    """Take the operator role from the account at EMAIL (never from the last operator)."""
    _act(
        lambda session: organisations.set_operator(session, runtime().clock, email, operator=False),
        "The account is no longer an operator.",
    )
