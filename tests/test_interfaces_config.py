"""The interfaces' configuration: the unit file's [hl7_out] and [adt_in] tables and
MONITOR_HL7_OUT over them."""

from __future__ import annotations

import pytest

from monitor.config import Settings, UnitConfig
from monitor.domain.errors import ConfigError
from monitor.interop.wiring import Interfaces, hl7_out_config


def test_interfaces_config_tables_and_the_environment(monkeypatch):
    unit = UnitConfig.from_mapping({"hl7_out": {"host": "10.1.2.40", "port": 2575,
                                                "interval_s": 30},
                                    "adt_in": {"port": 2576}})
    assert unit.adt_in is not None and unit.adt_in.host == "127.0.0.1"
    cfg = hl7_out_config(Settings(), unit)
    assert cfg is not None and (cfg.host, cfg.port, cfg.interval_s) == ("10.1.2.40", 2575, 30)
    monkeypatch.setenv("MONITOR_HL7_OUT", "127.0.0.1:3575")
    cfg = hl7_out_config(Settings(), unit)
    assert cfg is not None and (cfg.host, cfg.port, cfg.interval_s) == ("127.0.0.1", 3575, 30)
    cfg = hl7_out_config(Settings(), UnitConfig())
    assert cfg is not None and (cfg.port, cfg.interval_s, cfg.facility) == (3575, 60, "SPU")
    monkeypatch.delenv("MONITOR_HL7_OUT")
    assert hl7_out_config(Settings(), UnitConfig()) is None


@pytest.mark.parametrize("table, message", [
    ({"hl7_out": {"host": "h"}}, "hl7_out.port"),
    ({"hl7_out": {"host": "h", "port": 1, "interval": 5}}, "hl7_out.interval"),
    ({"hl7_out": {"host": "h", "port": 1, "facility": "a|b"}}, "hl7_out.facility"),
    ({"adt_in": {"port": 99999}}, "adt_in.port"),
])
def test_interfaces_config_mistakes_name_the_field(table, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        UnitConfig.from_mapping(table)


def test_interfaces_config_bad_environment_and_nothing_configured(monkeypatch):
    monkeypatch.setenv("MONITOR_HL7_OUT", "nohost")
    with pytest.raises(ValueError, match="host:port"):
        Settings()
    monkeypatch.delenv("MONITOR_HL7_OUT")
    from monitor.live.bus import Bus

    interfaces = Interfaces(Bus(), None, Settings(), UnitConfig())  # type: ignore[arg-type]
    assert interfaces.parts() == [] and interfaces.hl7_health() is None
