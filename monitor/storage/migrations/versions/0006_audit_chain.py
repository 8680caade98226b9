"""A hash chain over the audit trail and the alarm log: each entry's hash covers the one
before it, so an entry altered, deleted or inserted afterwards is found by
``spu-monitor audit verify``.

Revision ID: 0006_audit_chain
Revises: 0005_patients_courses
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.storage.chain import GENESIS, digest

revision = "0006_audit_chain"
down_revision = "0005_patients_courses"
branch_labels = None
depends_on = None

CHAINED = ("audit_log", "alarm_log")


def _backfill(table: str) -> tuple[int, str, int]:
    """Chain the entries written before this migration, oldest first."""
    bind = op.get_bind()
    # Reflected, so that columns are read with their types (JSON, booleans) as the
    # application reads them when it verifies.
    model = sa.Table(table, sa.MetaData(), autoload_with=bind)
    rows = bind.execute(sa.select(model).order_by(model.c.id)).mappings().all()
    previous, last_id = GENESIS, 0
    for row in rows:
        value = digest(previous, table, int(row["id"]), row)
        bind.execute(sa.update(model).where(model.c.id == row["id"])
                     .values(prev_hash=previous, hash=value))
        previous, last_id = value, int(row["id"])
    return last_id, previous, len(rows)


def upgrade() -> None:
    for table in CHAINED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False,
                                       server_default=""))
            batch.add_column(sa.Column("hash", sa.String(64), nullable=False,
                                       server_default=""))
    heads = op.create_table(
        "chain_heads",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(heads, [
        dict(zip(("name", "last_id", "last_hash", "entries"), (table, *_backfill(table)),
                 strict=True))
        for table in CHAINED])


def downgrade() -> None:
    op.drop_table("chain_heads")
    for table in CHAINED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("hash")
            batch.drop_column("prev_hash")
