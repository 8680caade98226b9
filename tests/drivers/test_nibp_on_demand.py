"""NIBP on demand: no supported protocol lets the host start a cuff measurement."""

from __future__ import annotations

import pytest

import drivers
from drivers.base import HostCodec
from monitor.domain.errors import DriverError


def test_nibp_on_demand_is_off_by_default() -> None:
    assert HostCodec.can_start_nibp is False


@pytest.mark.parametrize("name", ["ge_s5", "hl7", "masimo", "nonin", "nellcor"])
def test_no_supported_protocol_can_start_nibp(name: str) -> None:
    # docs/devices/README.md gives the answer per device with its sources.
    codec = drivers.codec(name, device_id="bed-1")
    assert codec.can_start_nibp is False
    with pytest.raises(DriverError, match="no command to start an NIBP"):
        codec.request_nibp()
    assert codec.data_to_send() == []  # nothing was queued
