"""Full-disclosure storage benchmark: bytes per bed-hour and codec speed of the waveform codec.

Encodes real and simulated ECG (300 Hz) and pleth (100 Hz) in blocks of
``BLOCK_SECONDS``, checks every block decodes bit-exact, and prints bytes per second,
per bed-hour and per 4-hour session, plus encode/decode CPU microseconds per second of
signal, and what encoding 64 beds costs.
Prints figures; asserts nothing. Run: ``.venv/bin/python benchmarks/disclosure_size.py``.

Streams:
- ``mitdb/NNN GE``: the MIT-BIH record's ECG through the GE S/5 simulator and driver, as
  a GE monitor would send it: resampled (linearly) to 300 Hz, on the wire in 10 µV counts,
  published as ``round(raw * 0.01, 6)`` mV.
- ``mitdb/NNN 360``: the record as stored, 360 Hz, ``adc / 200`` mV (5 µV steps), as a
  driver reading the ADC values would publish it.
- ``mitdb/NNN 360 10uV``: the same samples rounded to the GE's 10 µV step, not resampled:
  its bits per sample check that the linear resampling of the GE stream does not make
  the ECG look smoother than a monitor sampling at 300 Hz would.
- ``a103l pleth GE``: the real pleth of PhysioNet record a103l (250 Hz) resampled to
  100 Hz and scaled like the GE S/5 pleth (1/100 counts); MIT-BIH has no pleth.
- ``simulator GE``: the GE S/5 simulator's synthetic ECG and pleth (``stable`` scenario)
  through the driver. Synthetic beats are noiseless and nearly repeat, so these compress
  far better than real signals: a floor, not a forecast.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import drivers  # noqa: E402
from drivers.ge_s5 import frames  # noqa: E402
from monitor.domain.models import Waveform  # noqa: E402
from monitor.storage.waveform_codec import (  # noqa: E402
    BLOCK_SECONDS,
    block_length,
    decode_block,
    encode_block,
)
from simulators.ge_s5 import GeS5DeviceCodec  # noqa: E402
from simulators.physio import DEFAULT_RECORDINGS, import_wfdb, recording_scenario  # noqa: E402
from simulators.scenarios import scenario  # noqa: E402

SESSION_HOURS = 4
BEDS = 64
MITDB_RECORDS = ("100", "106", "201", "205")
TICK = 0.05

Samples = list[float | None]
WaveSource = Callable[[str, float, float, float], "Samples | None"]


@dataclass
class Result:
    """What one stream cost."""

    name: str
    rate: float
    seconds: float
    nbytes: int
    encode_us: float
    decode_us: float
    exact: bool

    @property
    def per_second(self) -> float:
        """Bytes per second of signal."""
        return self.nbytes / self.seconds


def ge_stream(seconds: float, source: WaveSource | None = None) -> dict[str, Samples]:
    """ECG and pleth samples of the GE S/5 simulator through the GE S/5 driver."""
    clock0 = 1_790_000_000.0
    device = GeS5DeviceCodec()
    device.waveform_source = source
    device.scenario_clock0 = clock0
    host = drivers.codec("ge_s5", device_id="bed-1")
    host.start()
    for chunk in host.data_to_send():
        device.receive_data(chunk)
    vitals = scenario("stable")
    out: dict[str, Samples] = {"ECG": [], "PLETH": []}
    for step in range(round(seconds / TICK)):
        t = step * TICK
        device.advance(clock0 + t, vitals.at(t))
        for chunk in device.data_to_send():
            host.receive_data(chunk)
        for event in host.events_received():
            if isinstance(event, Waveform):
                out[event.metric].extend(event.samples)
    return out


def ge_scaled(values: Sequence[float | None], scale: float) -> Samples:
    """Values as the GE driver publishes them: wire counts of ``scale``, scaled back."""
    return [frames.value_or_none(frames.to_raw(v, scale), scale) for v in values]


def bits(samples: Sequence[float | None]) -> list[bytes | None]:
    """Samples as their float64 bit patterns, for a bit-exact comparison."""
    return [None if v is None else struct.pack("<d", v) for v in samples]


def measure(name: str, rate: float, samples: Samples, repeat: int = 3) -> Result:
    """Encode ``samples`` in full blocks; the CPU time of the best of ``repeat`` runs
    (process time: other work on a shared machine does not count)."""
    n = block_length(rate)
    chunks = [samples[i : i + n] for i in range(0, len(samples), n)]
    encode_s = decode_s = float("inf")
    blocks: list[bytes] = []
    for _ in range(repeat):
        t0 = time.process_time()
        blocks = [encode_block(c) for c in chunks]
        t1 = time.process_time()
        decoded = [decode_block(b) for b in blocks]
        t2 = time.process_time()
        encode_s, decode_s = min(encode_s, t1 - t0), min(decode_s, t2 - t1)
    exact = all(bits(d) == bits(c) for d, c in zip(decoded, chunks, strict=True))
    seconds = len(samples) / rate
    return Result(name, rate, seconds, sum(len(b) for b in blocks),
                  encode_s / seconds * 1e6, decode_s / seconds * 1e6, exact)


def mitdb_streams(recordings: Path, seconds: float) -> list[Result]:
    """Each MIT-BIH record through the GE simulator (300 Hz) and as stored (360 Hz)."""
    wfdb = import_wfdb()
    results = []
    for record in MITDB_RECORDS:
        path = recordings / "mitdb" / record
        scen = recording_scenario(str(path))
        ecg = ge_stream(seconds, scen.samples)["ECG"]
        results.append(measure(f"mitdb/{record} GE ECG", 300.0, ecg))
        raw = wfdb.rdrecord(str(path), physical=False, channels=[0])
        adc = raw.d_signal[: round(seconds * raw.fs), 0] - raw.baseline[0]
        physical = (adc.astype(float) / raw.adc_gain[0]).tolist()
        results.append(measure(f"mitdb/{record} 360 ECG", float(raw.fs), physical))
        # 200 adu/mV -> 10 µV counts, in integers (a float round would give -0.0).
        counts = np.rint(adc / 2).astype(np.int64)
        coarse = (counts / 100).tolist()
        results.append(measure(f"mitdb/{record} 360 10uV ECG", float(raw.fs), coarse))
    return results


def pleth_stream(recordings: Path) -> Result:
    """The real pleth of record a103l, at 100 Hz in GE pleth counts."""
    scen = recording_scenario(str(recordings / "physionet" / "a103l"))
    values = scen.samples("PLETH", 0.0, scen.period, 100.0)
    assert values is not None
    return measure("a103l GE PLETH", 100.0, ge_scaled(values, frames.PLETH_PER_UNIT))


def print_results(results: list[Result]) -> None:
    print(f"{'stream':<24} {'Hz':>5} {'s':>6} {'B/s':>7} {'bit/smp':>7} "
          f"{'MB/bed-h':>8} {'enc us/s':>8} {'dec us/s':>8}  exact")
    for r in results:
        print(f"{r.name:<24} {r.rate:>5.0f} {r.seconds:>6.0f} {r.per_second:>7.1f} "
              f"{8 * r.per_second / r.rate:>7.2f} {r.per_second * 3600 / 1e6:>8.3f} "
              f"{r.encode_us:>8.1f} {r.decode_us:>8.1f}  {'yes' if r.exact else 'NO'}")


def session(label: str, ecg: Result, pleth: Result) -> None:
    """One bed's projected session: ECG plus pleth for SESSION_HOURS, and the CPU cost."""
    per_s = ecg.per_second + pleth.per_second
    total = per_s * SESSION_HOURS * 3600
    cpu = BEDS * (ecg.encode_us + pleth.encode_us) / 1e6 * 100
    print(f"{label:<44} {per_s * 3600 / 1e6:6.3f} MB/bed-h  {total / 1e6:6.2f} MB per "
          f"{SESSION_HOURS}-h session  encode {BEDS} beds: {cpu:.2f} % of a core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="seconds of each stream (MIT-BIH records hold 1805 s)")
    parser.add_argument("--recordings", type=Path, default=DEFAULT_RECORDINGS)
    args = parser.parse_args()
    print(f"blocks of {BLOCK_SECONDS:g} s; {args.seconds:g} s per stream\n")
    synth = ge_stream(args.seconds)
    sim_ecg = measure("simulator GE ECG", 300.0, synth["ECG"])
    sim_pleth = measure("simulator GE PLETH", 100.0, synth["PLETH"])
    results = [sim_ecg, sim_pleth]
    have = (args.recordings / "mitdb").is_dir()
    if have:
        results += mitdb_streams(args.recordings, args.seconds)
        pleth = pleth_stream(args.recordings)
        results.append(pleth)
    print_results(results)
    print()
    session("simulator GE ECG + simulator GE pleth", sim_ecg, sim_pleth)
    if not have:
        print(f"real recordings absent ({args.recordings}): synthetic streams only")
        return
    for r in results:
        if "mitdb" in r.name and "10uV" not in r.name:
            session(f"{r.name} + a103l GE pleth", r, pleth)
    ge = [r for r in results if r.name.endswith("GE ECG") and "mitdb" in r.name]
    worst = max(ge, key=lambda r: r.per_second)
    session(f"worst GE ECG ({worst.name}) + a103l pleth", worst, pleth)


if __name__ == "__main__":
    main()
