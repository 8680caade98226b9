"""Per-patient alarm settings on the admission.

Revision ID: 0003_patient_alarm_settings
Revises: 0002_sessions_alarms
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_patient_alarm_settings"
down_revision = "0002_sessions_alarms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admissions") as batch:
        batch.add_column(sa.Column("alarm_settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admissions") as batch:
        batch.drop_column("alarm_settings")
