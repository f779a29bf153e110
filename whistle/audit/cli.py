"""``whistle audit``: check the audit chain (``verify``) and read it (``show``) from the
command line; the chain itself is whistle/core/audit.py."""

from __future__ import annotations

import sys
from datetime import UTC
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from whistle.core.audit import MAX_PAGE, newest_first, verify
from whistle.core.models import AuditEntry, Organisation
from whistle.core.runtime import runtime

audit_cli = AppGroup("audit", help="Audit log commands.")


def _database_unreachable(exc: SQLAlchemyError) -> NoReturn:
    # The exception's text may quote a statement; its type and the masked URL are enough.
    where = runtime().settings.database_url_safe
    click.echo(f"cannot read the audit log from {where} ({type(exc).__name__})", err=True)
    sys.exit(2)


@audit_cli.command("verify")
def verify_command() -> None:
    """Check the whole chain; exit 1 if any entry was changed, removed or added."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            result = verify(session)
    except SQLAlchemyError as exc:
        _database_unreachable(exc)
    if result.ok:
        click.echo(f"audit log intact: {result.checked} entries checked")
        return
    for seq, what in result.problems:
        click.echo(f"entry {seq}: {what}")
    click.echo(
        f"audit log damaged: {len(result.problems)} problems in {result.checked} entries checked"
    )
    sys.exit(1)


@audit_cli.command("show")
@click.option("--org", "slug", default=None, help="Only this organisation (its address).")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, MAX_PAGE), help="Entries."
)
def show_command(slug: str | None, limit: int) -> None:
    """Print the newest entries, oldest of them first (ids and kinds only, never content)."""
    rt = runtime()
    try:
        with rt.sessions() as session:
            query = select(AuditEntry)
            if slug is not None:
                org_id = session.scalar(select(Organisation.id).where(Organisation.slug == slug))
                if org_id is None:
                    click.echo(f"no organisation with the address {slug!r}", err=True)
                    sys.exit(1)
                query = query.where(AuditEntry.org_id == org_id)
            found = list(session.scalars(newest_first(query, None, limit)))
            org_ids = {e.org_id for e in found if e.org_id is not None}
            slugs = {
                row.id: row.slug
                for row in session.execute(
                    select(Organisation.id, Organisation.slug).where(Organisation.id.in_(org_ids))
                )
            }
    except SQLAlchemyError as exc:
        _database_unreachable(exc)
    for entry in reversed(found):
        detail = "" if entry.detail == "{}" else entry.detail
        org = slugs.get(entry.org_id, str(entry.org_id)) if entry.org_id is not None else "-"
        click.echo(
            "  ".join(
                (
                    str(entry.seq),
                    entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    org,
                    str(entry.actor_user_id) if entry.actor_user_id is not None else "-",
                    entry.action,
                    entry.case_reference or "-",
                    detail,
                )
            ).rstrip()
        )
