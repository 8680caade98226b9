"""Servers: the processes that share this database, each with its beds, a heartbeat and a
recent snapshot of its beds (several ``spu-monitor serve`` on one PostgreSQL database; see
docs/deployment.md).

Revision ID: 0009_servers
Revises: 0008_review
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_servers"
down_revision = "0008_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("beds", sa.JSON(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("snapshot_at", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("servers")
