"""Review: full disclosure (every bed's waveforms in compressed blocks of a few seconds,
each with its bed, session, device, metric, time span and size) and trend minutes (the
median of each continuous parameter's valid samples per bed and minute), so that an alarm
strip and a past session's trends load at once.

Revision ID: 0008_review
Revises: 0007_hl7_outbox
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_review"
down_revision = "0007_hl7_outbox"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "waveform_blocks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("session_id", _ID, nullable=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_waveform_blocks_bed_time", "waveform_blocks",
                    ["bed_id", "metric", "time"])
    op.create_index("ix_waveform_blocks_session", "waveform_blocks", ["session_id"])
    op.create_index("ix_waveform_blocks_end", "waveform_blocks", ["end"])
    op.create_table(
        "trend_minutes",
        sa.Column("bed_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("minute", sa.Float(), primary_key=True),
        sa.Column("median", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trend_minutes")
    op.drop_table("waveform_blocks")
