"""an organisation's texts are Markdown (issue 16)

Until now ``org_texts.body`` held sanitised HTML, which the administrator edited as HTML. The
texts are now written in Markdown and rendered (then sanitised) when shown
(``whistle/admin/markup.py``). This revision turns every stored text into Markdown that shows
the same (``html_to_markdown``); the schema does not change. Downgrading turns them back into
the sanitised HTML they show as.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from whistle.admin.markup import html_to_markdown, render

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TEXTS = sa.table(
    "org_texts",
    sa.column("org_id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("locale", sa.String),
    sa.column("body", sa.Text),
)


def _convert(change: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(TEXTS.c.org_id, TEXTS.c.key, TEXTS.c.locale, TEXTS.c.body)
    ).all()
    for org_id, key, locale, body in rows:
        connection.execute(
            sa.update(TEXTS)
            .where(TEXTS.c.org_id == org_id, TEXTS.c.key == key, TEXTS.c.locale == locale)
            .values(body=change(body))
        )


def upgrade() -> None:
    _convert(html_to_markdown)


def downgrade() -> None:
    _convert(lambda body: str(render(body)))
