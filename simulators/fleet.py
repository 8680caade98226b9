"""Run many simulated devices at once, each on its own pty with a stable symlink.

Used by ``spu-monitor demo`` as a child process (``python -m simulators.fleet DIR PLAN``),
so the simulators load the second core and the server reads real serial ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from simulators import device_codec
from simulators.port import PtyPort, run_scenario, run_until_stopped
from simulators.scenarios import Patient, scenario

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimulatedDevice:
    """One device of the fleet: where it appears, what it speaks, what it shows."""

    name: str
    protocol: str
    scenario: str
    patient: Patient
    options: dict[str, object]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        p = self.patient
        return {"name": self.name, "protocol": self.protocol, "scenario": self.scenario,
                "options": self.options,
                "patient": {"hr": p.hr, "spo2": p.spo2, "sys": p.sys, "dia": p.dia,
                            "pi": p.pi, "seed": p.seed}}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> SimulatedDevice:
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["name"]), str(d["protocol"]), str(d["scenario"]),
                   Patient(**d["patient"]),  # type: ignore[arg-type]
                   dict(d.get("options") or {}))  # type: ignore[call-overload]


async def run_fleet(directory: Path, devices: list[SimulatedDevice], speed: float = 1.0) -> None:
    """Create a pty per device at ``directory/<name>`` and run them until cancelled, or
    until the process that started the fleet is gone."""
    ports = [PtyPort(link=str(directory / d.name)) for d in devices]
    try:
        async with asyncio.TaskGroup() as tg:
            running = [tg.create_task(run_scenario(device_codec(d.protocol, **d.options),
                                                   scenario(d.scenario), port,
                                                   patient=d.patient, speed=speed))
                       for d, port in zip(devices, ports, strict=True)]
            await _parent_gone()
            for task in running:
                task.cancel()
    finally:
        for port in ports:
            port.close()


async def _parent_gone() -> None:
    # The demo's server is our parent: when it dies we must not linger holding ptys.
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m simulators.fleet``."""
    parser = argparse.ArgumentParser(prog="python -m simulators.fleet",
                                     description="Run simulated devices on ptys.")
    parser.add_argument("directory", type=Path, help="where the stable port links go")
    parser.add_argument("plan", help="JSON list of devices (see SimulatedDevice.to_dict)")
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args(argv)
    devices = [SimulatedDevice.from_dict(d) for d in json.loads(args.plan)]
    logging.basicConfig(level=logging.WARNING, format="fleet %(levelname)s %(message)s")
    # SIGTERM (the demo's terminate()) and SIGINT cancel the fleet: ports close, links go.
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C before the loop runs
        run_until_stopped(run_fleet(args.directory, devices, args.speed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
