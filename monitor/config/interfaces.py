"""The unit file's interface tables: ``[hl7_out]`` (results and alarms to a receiver over
MLLP) and ``[adt_in]`` (admissions received over MLLP). See docs/interfaces.md."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HD = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


class Hl7OutConfig(BaseModel):
    """Where observation results and alarms go (HL7 v2 over MLLP, IHE PCD-01/PCD-04)."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(ge=1, le=65535)
    interval_s: float = Field(60.0, ge=1.0, le=3600.0)
    """Numerics go out as the median of each interval's valid samples (1 minute)."""
    facility: str = "SPU"
    """MSH-4 (sending facility) and the facility of PV1-3."""
    application: str = "SPU_MONITOR"
    """MSH-3 (sending application)."""
    stall_after_s: float = Field(120.0, ge=5.0, le=86400.0)
    """A message waiting longer than this raises the unit-wide ``hl7_out`` condition."""

    @field_validator("facility", "application")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _HD.match(v):
            raise ValueError("1-20 letters, digits, '_', '.' or '-'")
        return v

    @field_validator("host")
    @classmethod
    def _check_host(cls, v: str) -> str:
        if not v.strip() or any(c.isspace() for c in v):
            raise ValueError("must be a host name or address")
        return v


class AdtInConfig(BaseModel):
    """The listener for ADT admissions (A01/A04/A08/A03) over MLLP."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    """Loopback by default: exposing the listener is a deliberate choice."""
    port: int = Field(ge=0, le=65535)


def parse_host_port(text: str) -> tuple[str, int]:
    """``host:port`` (``MONITOR_HL7_OUT``) as its parts.

    Raises:
        ValueError: not ``host:port`` with a port from 1 to 65535.
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {text!r}")
    return host, int(port)
