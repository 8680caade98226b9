"""Unit file and settings: valid files load, mistakes give errors that name the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, UnitConfig, database_url
from monitor.domain.errors import ConfigError

GOOD = """
[unit]
name = "SPU east"

[[beds]]
id = "bed-1"
label = "Bed 1"
devices = [
  { id = "bed-1-oximeter", protocol = "masimo", port = "/dev/serial/by-id/usb-FTDI-if00-port0" },
]

[[beds]]
id = "bed-2"

[[beds.devices]]
id = "bed-2-oximeter"
protocol = "masimo"
port = "socket://127.0.0.1:4001"
options = { baudrate = 9600 }
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "unit.toml"
    p.write_text(text)
    return p


def test_config_loads_unit_file(tmp_path: Path) -> None:
    unit = UnitConfig.load(write(tmp_path, GOOD))
    assert unit.name == "SPU east"
    assert [b.id for b in unit.beds] == ["bed-1", "bed-2"]
    assert unit.device_beds() == {"bed-1-oximeter": "bed-1", "bed-2-oximeter": "bed-2"}
    assert unit.beds[1].title == "bed-2"


@pytest.mark.parametrize(("text", "message"), [
    ('[[beds]]\nid = "bed-1"\ndevices = [{ id = "d", protocol = "masimoo", port = "/dev/x" }]',
     "beds['bed-1'].devices['d'].protocol: unknown protocol 'masimoo'"),
    ('[[beds]]\nid = "bed 1"', "beds['bed 1'].id: must be 1-64 letters"),
    ('[[beds]]\nid = "a"\n[[beds]]\nid = "a"', "bed id 'a' is used twice"),
    ('[[beds]]\nid = "a"\ndevices = [{ id = "d1", protocol = "masimo", port = "/dev/x" },'
     ' { id = "d2", protocol = "masimo", port = "/dev/x" }]',
     "port '/dev/x' is given to both 'd1' and 'd2'"),
    ('[[beds]]\nid = "a"\ndevices = [{ id = "d1", protocol = "masimo" }]',
     "devices['d1'].port: Field required"),
    ('[[beds]]\nid = "a"\ncolour = "red"', "beds['a'].colour: Extra inputs are not permitted"),
    ('[wards]\nx = 1', "unknown top-level key(s): wards"),
    ("[[beds]\n", "not valid TOML"),
])
def test_config_errors_name_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        UnitConfig.load(write(tmp_path, text))
    assert message in str(info.value)


def test_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        UnitConfig.load(tmp_path / "nope.toml")


def test_settings_bind_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_HOST", raising=False)
    assert Settings().host == "127.0.0.1"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_PORT", "9001")
    monkeypatch.setenv("MONITOR_DB", "/var/lib/spu/monitor.db")
    s = Settings()
    assert s.port == 9001
    assert s.db_url == "sqlite+aiosqlite:////var/lib/spu/monitor.db"


@pytest.mark.parametrize(("db", "url"), [
    ("monitor.db", "sqlite+aiosqlite:///monitor.db"),
    ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
])
def test_database_url(db: str, url: str) -> None:
    assert database_url(db) == url


def test_settings_forwarded_headers_are_off_unless_proxies_are_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_FORWARDED_ALLOW_IPS", raising=False)
    assert Settings().forwarded_allow_ips is None
    assert Settings(forwarded_allow_ips="").forwarded_allow_ips is None
    monkeypatch.setenv("MONITOR_FORWARDED_ALLOW_IPS", "10.1.2.3, 10.9.0.0/16")
    assert Settings().forwarded_allow_ips == "10.1.2.3,10.9.0.0/16"
    with pytest.raises(ValueError, match="'proxy.local' is not an IP address"):
        Settings(forwarded_allow_ips="proxy.local")


def test_config_alarm_setting_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[beds]]\nid = "a"\n[alarms.rules.SPO2_LOW]\ndelay = -5\n')
    with pytest.raises(ConfigError) as info:
        UnitConfig.load(path)
    assert str(info.value).startswith(f"unit file {path}: [alarms]")


def test_config_a_file_without_beds_is_refused_where_beds_are_needed(tmp_path: Path) -> None:
    path = write(tmp_path, '[alarms.rules.SPO2_LOW]\ndelay = 20\n')
    assert UnitConfig.load(path).beds == []  # reports need only the alarm settings
    with pytest.raises(ConfigError, match="has no beds"):
        UnitConfig.load(path, require_beds=True)
