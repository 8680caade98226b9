"""Database tables (SQLAlchemy ORM). The schema itself is created by the migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base of every table."""


class ObservationRow(Base):
    """One stored numeric reading."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(16))
    time: Mapped[float] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(String(255), default="")


class DeviceEventRow(Base):
    """One device connection or sensor state change."""

    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    time: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
