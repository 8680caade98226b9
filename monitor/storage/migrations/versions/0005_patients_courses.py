"""Patients and their courses; sessions (admissions) belong to a course day; infusion
steps; corrections of charted entries; the alarm log's session; the study's episodes.

Revision ID: 0005_patients_courses
Revises: 0004_users_auth
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_patients_courses"
down_revision = "0004_users_auth"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _patients() -> None:
    op.create_table(
        "patients",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.String(64), nullable=False, unique=True),
        sa.Column("family_name", sa.String(80), nullable=False),
        sa.Column("given_name", sa.String(80), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("asa_class", sa.Integer(), nullable=True),
        sa.Column("diagnosis", sa.String(120), nullable=True),
        sa.Column("crps_type", sa.String(4), nullable=True),
        sa.Column("affected_limb", sa.String(32), nullable=True),
        sa.Column("medications", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False, server_default="manual"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_patients_family_name", "patients", ["family_name"])


def _courses() -> None:
    op.create_table(
        "courses",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("patient_id", _ID, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("protocol", sa.String(64), nullable=False),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("dose_start_mg", sa.Float(), nullable=False),
        sa.Column("dose_step_mg", sa.Float(), nullable=False),
        sa.Column("dose_max_mg", sa.Float(), nullable=False),
        sa.Column("max_rate_mg_per_h", sa.Float(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("duration_h", sa.Float(), nullable=False),
        sa.Column("premedication", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_on", sa.String(10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_courses_patient", "courses", ["patient_id"])


def _sessions() -> None:
    with op.batch_alter_table("admissions") as batch:
        batch.add_column(sa.Column("patient_id", _ID, nullable=True))
        batch.add_column(sa.Column("course_id", _ID, nullable=True))
        batch.add_column(sa.Column("planned_dose_mg", sa.Float(), nullable=True))
        batch.add_column(sa.Column("dose_deviation_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("infusion_stop_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("devices", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("baseline", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("cancelled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("episodes_at", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_admissions_patient", "patients", ["patient_id"], ["id"])
        batch.create_foreign_key("fk_admissions_course", "courses", ["course_id"], ["id"])
    # A patient is in at most one bed; a course day happens once (a session cancelled
    # before its infusion started frees its day).
    op.create_index("ux_admissions_open_patient", "admissions", ["patient_id"], unique=True,
                    sqlite_where=sa.text("discharged_at IS NULL AND patient_id IS NOT NULL"),
                    postgresql_where=sa.text("discharged_at IS NULL AND patient_id IS NOT NULL"))
    op.create_index("ux_admissions_course_day", "admissions", ["course_id", "infusion_day"],
                    unique=True,
                    sqlite_where=sa.text("NOT cancelled AND course_id IS NOT NULL"),
                    postgresql_where=sa.text("NOT cancelled AND course_id IS NOT NULL"))
    op.create_table(
        "infusion_steps",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("session_id", _ID, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_infusion_steps_session", "infusion_steps", ["session_id", "time"])


def _charting() -> None:
    with op.batch_alter_table("clinical_events") as batch:
        batch.alter_column("admission_id", existing_type=_ID, nullable=True)
        batch.alter_column("bed_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("course_id", _ID, nullable=True))
        batch.add_column(sa.Column("follow_up_week", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("late", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("supersedes_id", _ID, nullable=True))
        batch.add_column(sa.Column("superseded_by_id", _ID, nullable=True))
        batch.add_column(sa.Column("correction_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("voided_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("voided_by", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_clinical_events_course", "courses", ["course_id"], ["id"])
    op.create_index("ix_clinical_events_course", "clinical_events", ["course_id", "kind"])


def upgrade() -> None:
    _patients()
    _courses()
    _sessions()
    _charting()
    with op.batch_alter_table("alarm_log") as batch:
        batch.add_column(sa.Column("session_id", _ID, nullable=True))
    op.create_index("ix_alarm_log_session", "alarm_log", ["session_id", "time"])
    op.create_table(
        "episodes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("session_id", _ID, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("worst", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False, server_default=""),
    )
    op.create_index("ix_episodes_session", "episodes", ["session_id", "kind"])


def downgrade() -> None:
    op.drop_table("episodes")
    op.drop_index("ix_alarm_log_session", "alarm_log")
    with op.batch_alter_table("alarm_log") as batch:
        batch.drop_column("session_id")
    op.drop_index("ix_clinical_events_course", "clinical_events")
    with op.batch_alter_table("clinical_events") as batch:
        batch.drop_constraint("fk_clinical_events_course", type_="foreignkey")
        for column in ("voided_by", "voided_at", "correction_reason", "superseded_by_id",
                       "supersedes_id", "late", "follow_up_week", "course_id"):
            batch.drop_column(column)
    op.drop_table("infusion_steps")
    op.drop_index("ux_admissions_course_day", "admissions")
    op.drop_index("ux_admissions_open_patient", "admissions")
    with op.batch_alter_table("admissions") as batch:
        batch.drop_constraint("fk_admissions_course", type_="foreignkey")
        batch.drop_constraint("fk_admissions_patient", type_="foreignkey")
        for column in ("episodes_at", "cancelled", "baseline", "devices", "infusion_stop_reason",
                       "dose_deviation_reason", "planned_dose_mg", "course_id", "patient_id"):
            batch.drop_column(column)
    op.drop_table("courses")
    op.drop_table("patients")
