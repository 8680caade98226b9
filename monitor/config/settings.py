"""Settings (environment, ``MONITOR_`` prefix) and the unit file mapping ports to beds.

Precedence: explicit command-line arguments, then environment, then defaults. The unit
file is TOML::

    [unit]
    name = "SPU"

    [[beds]]
    id = "bed-1"
    label = "Bed 1"
    devices = [
      { id = "bed-1-ox", protocol = "masimo", port = "/dev/serial/by-id/usb-FTDI-if00-port0" },
    ]

Everything is validated before any port is opened; errors raise :class:`ConfigError`
naming the bed and field at fault.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.config.interfaces import AdtInConfig, Hl7OutConfig, parse_host_port
from monitor.domain.errors import ConfigError

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Settings(BaseSettings):
    """Service settings; each can be set as ``MONITOR_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", extra="ignore")

    host: str = "127.0.0.1"
    """Address to bind. Loopback by default: exposing the service is a deliberate choice."""
    port: int = Field(8000, ge=0, le=65535)
    db: str = "spu-monitor.db"
    """SQLite file path or a SQLAlchemy URL (``postgresql+asyncpg://...``)."""
    config: str | None = None
    """Path of the unit file (TOML)."""
    stale_after_s: float = Field(10.0, gt=0)
    """A connected device that sends nothing for this long is reported stale."""
    reconnect_max_s: float = Field(2.0, gt=0, le=60)
    """Longest wait between reconnection attempts."""
    store_batch_rows: int = Field(500, ge=1)
    store_flush_s: float = Field(1.0, gt=0)
    escalation_webhook: str | None = None
    """URL that receives alarms left unacknowledged (JSON POST), e.g. a pager gateway."""
    disclosure: bool = True
    """Store every bed's waveforms (full disclosure) for review."""
    disclosure_retention_days: float = Field(90, ge=0)
    """Waveform blocks older than this are deleted (0 keeps them for ever)."""
    session_idle_minutes: float = Field(720, gt=0, le=7 * 24 * 60)
    """A browser sign-in ends after this long without use (12 h: a shift)."""
    secure_cookies: bool = False
    """Mark the session cookie Secure even over plain HTTP, for a TLS proxy in front.
    (Requests that arrive over HTTPS always get a Secure cookie.)"""
    hl7_out: str | None = None
    """``host:port`` of the HL7 results receiver (overrides the unit file's ``[hl7_out]``
    host and port; see docs/interfaces.md)."""
    server_name: str | None = Field(None, max_length=128)
    """This server's name among several on one PostgreSQL database (default: the machine's
    name and the port, ``ward-a:8000``). See docs/deployment.md."""
    server_url: str | None = None
    """Where nurses reach this server, named when another server refuses an action on one
    of its beds (default ``http://HOST:PORT``; set it behind a TLS proxy)."""

    @field_validator("hl7_out")
    @classmethod
    def _check_hl7_out(cls, v: str | None) -> str | None:
        if v:
            parse_host_port(v)
        return v or None

    forwarded_allow_ips: str | None = None
    """The reverse proxies (comma-separated addresses or networks) whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed. None (the default): those
    headers are ignored, and the address a request came from is the peer's."""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = [p.strip() for p in v.split(",")]
        if not all(parts):
            raise ValueError("a comma-separated list of proxy addresses, e.g. 127.0.0.1")
        for part in parts:
            if part == "*":
                continue
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network") from None
        return ",".join(parts)

    @field_validator("escalation_webhook")
    @classmethod
    def _check_webhook(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v or None

    @property
    def cluster_name(self) -> str:
        """This server's name among the servers sharing its database."""
        return self.server_name or f"{socket.gethostname()}:{self.port}"

    @property
    def cluster_url(self) -> str:
        """Where nurses reach this server."""
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return self.server_url or f"http://{host}:{self.port}"

    @property
    def db_url(self) -> str:
        """The SQLAlchemy async URL for :attr:`db`."""
        return database_url(self.db)


def database_url(db: str) -> str:
    """Turn a file path or URL into a SQLAlchemy async URL.

    ``monitor.db`` -> ``sqlite+aiosqlite:///monitor.db``; ``:memory:`` stays in memory;
    ``postgresql://`` gets the asyncpg driver.
    """
    if "://" not in db:
        return f"sqlite+aiosqlite:///{db}"
    if db.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + db[len("sqlite://") :]
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+asyncpg://" + db.split("://", 1)[1]
    return db


class DeviceConfig(BaseModel):
    """One device plugged into a bed."""

    model_config = ConfigDict(extra="forbid")

    id: str
    protocol: str
    port: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("must be 1-64 letters, digits, '-', '_' or '.'")
        return v

    @field_validator("protocol")
    @classmethod
    def _check_protocol(cls, v: str) -> str:
        import drivers

        if v not in drivers.PROTOCOLS:
            known = ", ".join(sorted(drivers.PROTOCOLS))
            raise ValueError(f"unknown protocol {v!r} (known: {known})")
        return v

    @field_validator("port")
    @classmethod
    def _check_port(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class BedConfig(BaseModel):
    """One bed space and its devices."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: str = ""
    devices: list[DeviceConfig] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("must be 1-64 letters, digits, '-', '_' or '.'")
        return v

    @property
    def title(self) -> str:
        """Label for screens."""
        return self.label or self.id


class UnitConfig(BaseModel):
    """The unit: its name and beds."""

    model_config = ConfigDict(extra="forbid")

    name: str = "SPU"
    beds: list[BedConfig] = Field(default_factory=list)
    alarms: dict[str, Any] = Field(default_factory=dict)
    """Site alarm settings, the ``[alarms]`` table (see docs/alarms.md)."""
    hl7_out: Hl7OutConfig | None = None
    """The ``[hl7_out]`` table: results and alarms to a receiver (docs/interfaces.md)."""
    adt_in: AdtInConfig | None = None
    """The ``[adt_in]`` table: the ADT listener (docs/interfaces.md)."""

    @model_validator(mode="after")
    def _unique(self) -> UnitConfig:
        seen_beds: set[str] = set()
        seen_devices: set[str] = set()
        seen_ports: dict[str, str] = {}
        for bed in self.beds:
            if bed.id in seen_beds:
                raise ValueError(f"bed id {bed.id!r} is used twice")
            seen_beds.add(bed.id)
            for dev in bed.devices:
                if dev.id in seen_devices:
                    raise ValueError(f"device id {dev.id!r} is used twice")
                seen_devices.add(dev.id)
                if dev.port in seen_ports:
                    raise ValueError(
                        f"port {dev.port!r} is given to both {seen_ports[dev.port]!r} "
                        f"and {dev.id!r}"
                    )
                seen_ports[dev.port] = dev.id
        return self

    def device_beds(self) -> dict[str, str]:
        """Device id -> bed id."""
        return {d.id: b.id for b in self.beds for d in b.devices}

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "unit config") -> UnitConfig:
        """Validate a parsed unit file.

        Raises:
            ConfigError: with every problem, each naming its place.
        """
        flat: dict[str, Any] = {"beds": data.get("beds", []), "alarms": data.get("alarms", {})}
        flat.update({k: data[k] for k in ("hl7_out", "adt_in") if k in data})
        unit = data.get("unit", {})
        if not isinstance(unit, dict):
            raise ConfigError(f"{source}: [unit] must be a table")
        if "name" in unit:
            flat["name"] = unit["name"]
        unknown = set(data) - {"unit", "beds", "alarms", "hl7_out", "adt_in"}
        if unknown:
            raise ConfigError(f"{source}: unknown top-level key(s): {', '.join(sorted(unknown))}")
        try:
            unit = cls.model_validate(flat)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {_describe(exc, flat)}") from None
        try:
            unit.rule_set()  # validate now, before any port is opened
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return unit

    def rule_set(self) -> Any:
        """The site's alarm rules (defaults overridden by the ``[alarms]`` table).

        Raises:
            ConfigError: an invalid rule setting, naming it.
        """
        from monitor.alarms.engine import RuleSet
        from monitor.domain.errors import RuleError

        try:
            return RuleSet.from_mapping(self.alarms) if self.alarms else RuleSet.default()
        except RuleError as exc:
            raise ConfigError(f"[alarms]: {exc}") from None

    @classmethod
    def load(cls, path: str | Path, require_beds: bool = False) -> UnitConfig:
        """Read and validate a unit file.

        Args:
            path: the TOML file.
            require_beds: refuse a file without beds (the server needs some).

        Raises:
            ConfigError: ``unit file PATH: reason``, one line: missing, a directory,
                unreadable, not UTF-8, empty, bad TOML, invalid content, no beds.
        """
        p = Path(path)
        where = f"unit file {p}"
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{where}: does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"{where}: is a directory, not a file") from None
        except OSError as exc:
            raise ConfigError(f"{where}: cannot be read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                              f"offset {exc.start})") from None
        if not text.strip():
            raise ConfigError(f"{where}: is empty: it must list the unit's beds ([[beds]])")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: is not valid TOML: {exc}") from None
        unit = cls.from_mapping(data, where)
        if require_beds and not unit.beds:
            raise ConfigError(f"{where}: has no beds: list them with [[beds]]")
        return unit


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = []
        node: Any = data
        for part in loc:
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
                ident = node.get("id") if isinstance(node, dict) else None
                where.append(f"[{ident!r}]" if ident else f"[{part}]")
            else:
                node = node.get(part) if isinstance(node, dict) else None
                where.append(f".{part}")
        place = "".join(where).lstrip(".") or "config"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{place}: {msg}")
    return "; ".join(problems)
