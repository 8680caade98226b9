"""The HL7 outbox: every outgoing message until its receiver acknowledges it.

Revision ID: 0007_hl7_outbox
Revises: 0006_audit_chain
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_hl7_outbox"
down_revision = "0006_audit_chain"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hl7_outbox",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("session_id", _ID, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False, unique=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="waiting"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_attempt_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("ack_code", sa.String(2), nullable=True),
        sa.Column("ack_text", sa.Text(), nullable=True),
        sa.Column("acked_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_hl7_outbox_state_id", "hl7_outbox", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_hl7_outbox_state_id", table_name="hl7_outbox")
    op.drop_table("hl7_outbox")
