"""Admissions and clinical events, the alarm log, the audit log, rules-engine state.

Revision ID: 0002_sessions_alarms
Revises: 0001_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_sessions_alarms"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admissions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("patient_label", sa.String(120), nullable=False),
        sa.Column("patient_ref", sa.String(64), nullable=True),
        sa.Column("infusion_day", sa.Integer(), nullable=True),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("admitted_at", sa.Float(), nullable=False),
        sa.Column("admitted_by", sa.String(64), nullable=False),
        sa.Column("infusion_started_at", sa.Float(), nullable=True),
        sa.Column("infusion_started_by", sa.String(64), nullable=True),
        sa.Column("infusion_stopped_at", sa.Float(), nullable=True),
        sa.Column("infusion_stopped_by", sa.String(64), nullable=True),
        sa.Column("discharged_at", sa.Float(), nullable=True),
        sa.Column("discharged_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_admissions_bed", "admissions", ["bed_id", "discharged_at"])
    op.create_table(
        "clinical_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("admission_id", _ID, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_clinical_events_admission", "clinical_events", ["admission_id", "time"])
    op.create_table(
        "alarm_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("alarm_id", sa.String(64), nullable=True),
        sa.Column("rule", sa.String(32), nullable=True),
        sa.Column("priority", sa.String(8), nullable=True),
        sa.Column("technical", sa.Boolean(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("delay", sa.Float(), nullable=True),
        sa.Column("worst_value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("user", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("target", sa.String(32), nullable=True),
    )
    op.create_index("ix_alarm_log_bed_time", "alarm_log", ["bed_id", "time"])
    op.create_index("ix_alarm_log_alarm", "alarm_log", ["alarm_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("bed_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"])
    op.create_table(
        "rules_state",
        sa.Column("bed_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ("rules_state", "audit_log", "alarm_log", "clinical_events", "admissions"):
        op.drop_table(table)
