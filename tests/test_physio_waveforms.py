"""Real ECG from a PhysioNet record travels through a waveform-carrying protocol intact."""

from __future__ import annotations

import pytest

import drivers
from monitor.domain.models import Observation, Waveform
from simulators.ge_s5 import GeS5DeviceCodec
from tests.conftest import recordings_dir

pytestmark = pytest.mark.recordings


def loopback(device: GeS5DeviceCodec, host: drivers.HostCodec) -> None:
    for chunk in host.data_to_send():
        device.receive_data(chunk)


def test_mitdb_ecg_through_ge_s5_is_the_recorded_ecg() -> None:
    from simulators.physio import recording_scenario

    scenario = recording_scenario(str(recordings_dir() / "mitdb" / "100"))
    device = GeS5DeviceCodec()
    clock0 = 1_790_000_000.0
    device.waveform_source = scenario.samples
    device.scenario_clock0 = clock0
    host = drivers.codec("ge_s5", device_id="bed-1")
    host.start()
    loopback(device, host)
    for step in range(0, 241):  # 12 s in 50 ms ticks (the HR needs 10 beats)
        t = step * 0.05
        device.advance(clock0 + t, scenario.at(t))
        for chunk in device.data_to_send():
            host.receive_data(chunk)
    events = host.events_received()
    ecg = [s for e in events if isinstance(e, Waveform) and e.metric == "ECG" for s in e.samples]
    assert len(ecg) >= 600
    expected = scenario.samples("ECG", 0.0, len(ecg) / 300.0, 300.0)
    assert expected is not None
    # Gaps stay gaps; elsewhere the wire carries 10 µV steps, so the trace is the
    # record's to within half of one.
    assert [a is None for a in ecg] == [b is None for b in expected]
    assert max(abs(a - b) for a, b in zip(ecg, expected, strict=True)
               if a is not None and b is not None) <= 0.0051
    assert max(ecg) - min(ecg) > 0.5  # real QRS complexes, not a flat line
    hr = [e.value for e in events
          if isinstance(e, Observation) and e.metric == "HR" and e.value is not None]
    assert hr and all(70 <= v <= 85 for v in hr)  # record 100: 73-80 bpm
