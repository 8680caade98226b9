"""The two registries (drivers.PROTOCOLS, simulators.DEVICE_CODECS) and their one lookup."""

from __future__ import annotations

import pytest

import drivers
import simulators
from drivers.base import HostCodec
from drivers.registry import load_class
from monitor.domain.errors import DriverUnavailableError, UnknownProtocolError
from simulators.base import DeviceCodec


def test_registry_every_protocol_loads():
    for name in drivers.PROTOCOLS:
        cls = drivers.codec_class(name)
        assert issubclass(cls, HostCodec) and cls.name == name
        assert isinstance(drivers.codec(name, device_id="x"), cls)
    for name in simulators.DEVICE_CODECS:
        assert isinstance(simulators.device_codec(name), DeviceCodec)
        assert simulators.device_codec_class(name).name == name


@pytest.mark.parametrize("lookup", [drivers.codec_class, simulators.device_codec_class])
def test_registry_unknown_name(lookup):
    with pytest.raises(UnknownProtocolError, match="'nope'.*known: .*masimo") as info:
        lookup("nope")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(("registry", "attach"), [
    (drivers.PROTOCOLS, drivers.codec_class),
    (simulators.DEVICE_CODECS, simulators.device_codec_class),
])
@pytest.mark.parametrize("target", ["drivers.no_such_module:X", "drivers.base:NoSuchClass"])
def test_registry_import_failure_is_chained(monkeypatch, registry, attach, target):
    monkeypatch.setitem(registry, "broken", target)
    with pytest.raises(DriverUnavailableError, match="'broken' cannot be loaded") as info:
        attach("broken")
    assert isinstance(info.value.__cause__, ImportError | AttributeError)


def test_registry_rejects_a_class_of_the_wrong_kind():
    with pytest.raises(DriverUnavailableError, match="not a DeviceCodec"):
        load_class({"x": "drivers.base:HostCodec"}, "x", DeviceCodec)
