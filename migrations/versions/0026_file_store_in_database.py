"""the file store's database backend (issue 18)

Several app machines share nothing but the database and the file store. ``store_files`` and
``store_chunks`` hold the file store inside the application database for deployments that set
``file_store_backend = "database"`` (whistle/core/db_storage.py): each file as ordered chunks of
at most 1 MiB, visible only once ``store_files.complete`` is set. With the default local
folder the tables stay empty.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_files",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_files")),
    )
    op.create_table(
        "store_chunks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"],
            ["store_files.name"],
            name=op.f("fk_store_chunks_name_store_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", "seq", name=op.f("pk_store_chunks")),
    )


def downgrade() -> None:
    op.drop_table("store_chunks")
    op.drop_table("store_files")
