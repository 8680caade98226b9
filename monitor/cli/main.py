"""The ``spu-monitor`` command: serve, demo, users, records, report, simulate, record,
replay."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from monitor.config import BedConfig, DeviceConfig, Settings, UnitConfig
from monitor.domain.errors import ConfigError, MonitorError

_LOGGER = logging.getLogger("spu-monitor")

DISCLAIMER = ("SPU Monitor is a secondary alarm display beside the bedside monitors, "
              "not a certified medical device.")

# Demo beds cycle through these so the first two minutes show the product at work.
DEMO_SCENARIOS = ["stable", "desaturation", "hr_rise", "hypertension", "motion_artifact",
                  "sensor_off", "disconnect", "apnea"]


def _add_server_args(p: argparse.ArgumentParser, default_port: int = 8000) -> None:
    p.add_argument("--host", default=None,
                   help="address to bind (default 127.0.0.1; env MONITOR_HOST)")
    p.add_argument("--port", type=int, default=None,
                   help=f"HTTP port (default {default_port}; env MONITOR_PORT)")
    p.add_argument("--db", default=None,
                   help="SQLite file path or SQLAlchemy URL (default spu-monitor.db; "
                        "env MONITOR_DB)")
    p.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                   help="reverse proxies (comma-separated addresses) whose X-Forwarded-For "
                        "and X-Forwarded-Proto are believed (default none: those headers "
                        "are ignored; env MONITOR_FORWARDED_ALLOW_IPS)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to keep the docs true to the code)."""
    parser = argparse.ArgumentParser(
        prog="spu-monitor",
        description="Real-time vital-sign central station for a short procedure unit. "
        + DISCLAIMER,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server on the devices of a unit file",
                           description="Run the monitoring server: read every device of the "
                           "unit file, store, alarm and serve the dashboard.")
    _add_server_args(serve)
    serve.add_argument("--config", default=None,
                       help="unit file (TOML) mapping serial ports to beds and protocols "
                            "(env MONITOR_CONFIG)")

    simulate = sub.add_parser(
        "simulate", help="run a simulated device on a virtual or real serial port",
        description="Write a simulated device's byte-exact output onto a port.")
    simulate.add_argument("--protocol", default="masimo", help="protocol name (default masimo)")
    simulate.add_argument("--scenario", default="stable",
                          help="scenario name (default stable; see docs/simulators.md)")
    where = simulate.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true",
                       help="create a virtual serial port and print its path (default)")
    where.add_argument("--port", dest="serial_port", metavar="PATH",
                       help="write to an existing serial port instead")
    simulate.add_argument("--link", metavar="PATH",
                          help="with --pty: also make PATH a stable symlink to the port")
    simulate.add_argument("--speed", type=float, default=1.0,
                          help="scenario seconds per real second (default 1)")
    simulate.add_argument("--duration", type=float, default=None,
                          help="stop after this many scenario seconds (default: run for ever)")
    simulate.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                          help="device option, e.g. model=radical7 (repeatable)")
    simulate.add_argument("--seed", type=int, default=1, help="patient variation seed")
    simulate.add_argument("--record", metavar="WFDB",
                          help="play a real PhysioNet record (e.g. mitdb/100 or a record "
                               "path) instead of a scenario, through --protocol")
    from simulators.recording import configure_record_parser, replay_options

    replay_options(simulate)

    record = sub.add_parser(
        "record", help="capture a device's raw bytes with timestamps",
        description="Record the raw bytes a device sends (with timestamps) to a "
        "*.raw.jsonl file that `simulate --replay` plays back byte-exact.")
    configure_record_parser(record)

    demo = sub.add_parser(
        "demo", help="server plus N simulated beds on virtual serial ports",
        description="Start the server with N simulated beds. Each simulator writes to its "
        "own pty that the server's driver reads: the real serial path.")
    _add_server_args(demo)
    demo.add_argument("--beds", type=int, default=8, help="number of beds (default 8, max 64)")

    from monitor.cli import users as users_cli

    users = sub.add_parser(
        "users", help="manage users, passwords and API tokens (no default account exists)",
        description="Manage who may sign in. Passwords are read from standard input.")
    users_cli.configure_parser(users)

    from monitor.cli import records as records_cli

    records_cli.configure_records(sub.add_parser(
        "records", help="import or export the study's records as a research CSV",
        description="The research CSV: one row per patient and course day."))
    records_cli.configure_report(sub.add_parser(
        "report", help="unit, course or session reports as JSON or PDF",
        description="Reports from the records: the unit's study table, a patient's course, "
        "one session."))

    from monitor.cli import bench as bench_cli

    bench_cli.configure_parser(sub.add_parser(
        "bench", help="measure the whole path: N beds, K clients, full disclosure",
        description="N simulated beds (GE S/5 and an oximeter each) on real ptys, the real "
        "server with full disclosure, K WebSocket clients: prints one JSON object with "
        "CPU, memory, samples per second, drops, alarm latency, disclosure size, review "
        "load times and each decoder's throughput against its line rate."))

    from monitor.cli import audit as audit_cli

    audit_cli.configure_parser(sub.add_parser(
        "audit", help="verify that the audit trail and the alarm log are intact",
        description="The audit trail and the alarm log are hash-chained."))

    from monitor.alarms import replay

    replay_parser = sub.add_parser(
        "replay", help="run the alarm rules over a recording in virtual time",
        description="Run the alarm engine over a recording as fast as possible and print "
        "one JSON object per line per alarm onset, escalation and end.")
    replay.configure_parser(replay_parser)
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    values = {k: getattr(args, k) for k in ("host", "port", "db", "forwarded_allow_ips")
              if getattr(args, k, None) is not None}
    values.update({k: v for k, v in extra.items() if v is not None})
    return Settings(**values)


def _serve(settings: Settings, unit: UnitConfig, log_level: str,
           on_started: Any = None) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from monitor.api import create_app

    app = create_app(settings, unit, on_started)
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        _LOGGER.warning("binding to %s: the dashboard is reachable from the network",
                        settings.host)
    print(f"SPU Monitor on http://{settings.host}:{settings.port}/  ({len(unit.beds)} beds)",
          flush=True)
    print(DISCLAIMER, flush=True)
    server = uvicorn.Server(uvicorn_config(app, settings, log_level))
    logging.getLogger("uvicorn.error").addFilter(_KnownStartupFailure(app))
    try:
        server.run()
    except SystemExit as exc:
        if exc.code != STARTUP_FAILURE:
            raise
    if not server.started:
        # The lifespan failed (an unreachable database, say), or the port was taken.
        failure = app.state.startup_error
        why = str(failure) if isinstance(failure, MonitorError) else "see the log above"
        raise MonitorError(f"the server did not start: {why}")
    return 0


def uvicorn_config(app: Any, settings: Settings, log_level: str, **options: Any) -> Any:
    """The uvicorn configuration ``serve`` and ``demo`` run ``app`` with (the tests' live
    server too): forwarded headers are believed only from the proxies the operator named
    (``--forwarded-allow-ips``); without one, uvicorn's default of believing loopback is
    off, so a client cannot claim another address with ``X-Forwarded-For``.
    """
    import uvicorn

    proxies = settings.forwarded_allow_ips
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                          access_log=False, proxy_headers=proxies is not None,
                          forwarded_allow_ips=proxies or "", server_header=False, **options)


class _KnownStartupFailure(logging.Filter):
    """Drops uvicorn's traceback of a start-up failure the project raised on purpose (one
    clear line is printed instead); a bug keeps its traceback."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        known = isinstance(self.app.state.startup_error, MonitorError)
        return not (known and record.getMessage().startswith("Traceback"))


def cmd_serve(args: argparse.Namespace) -> int:
    """``spu-monitor serve``."""
    settings = _settings(args, config=args.config)
    unit = (UnitConfig.load(settings.config, require_beds=True) if settings.config
            else UnitConfig())
    if not unit.beds:
        _LOGGER.warning("no beds configured: pass --config UNIT.toml (see docs/configuration.md)")
    return _serve(settings, unit, args.log_level)


def _parse_options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def cmd_simulate(args: argparse.Namespace) -> int:
    """``spu-monitor simulate``."""
    from simulators import device_codec
    from simulators.port import PtyPort, SerialPort, run_scenario, run_until_stopped
    from simulators.scenarios import Patient, scenario

    chosen: Any
    if args.replay:
        from simulators.recording import read_raw_header

        try:
            header = read_raw_header(args.replay)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot replay {args.replay}: {exc}") from None
        protocol = str(header.get("protocol") or args.protocol)
        what = f"replay of {args.replay}"
    elif args.record:
        from simulators.physio import recording_scenario

        try:
            chosen = recording_scenario(args.record)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot play record {args.record}: {exc}") from None
        protocol = args.protocol
        what = f"PhysioNet record {args.record}"
    else:
        try:
            chosen = scenario(args.scenario)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        protocol = args.protocol
        what = f"{chosen.name}: {chosen.description}"
    codec = device_codec(protocol, **_parse_options(args.option))

    async def run() -> None:
        port: PtyPort | SerialPort
        if args.serial_port:
            port = await SerialPort.open(args.serial_port, codec)
        else:
            port = PtyPort(link=args.link)
            print(port.path, flush=True)
        print(f"simulating {protocol} ({what}) on {port.path}, "
              f"{codec.serial_settings.describe()}", file=sys.stderr, flush=True)
        try:
            if args.replay:
                from simulators.recording import run_replay

                await run_replay(args, port)
            else:
                await run_scenario(codec, chosen, port, patient=Patient(seed=args.seed),
                                   speed=args.speed, duration=args.duration)
        finally:
            port.close()

    with contextlib.suppress(KeyboardInterrupt):
        run_until_stopped(run())  # SIGTERM and SIGINT close the port and remove its link
    return 0


def demo_plan(beds: int) -> list[dict[str, Any]]:
    """The simulated devices of a demo unit: a mix of scenarios and protocols."""
    import drivers
    from simulators import DEVICE_CODECS
    from simulators.fleet import SimulatedDevice
    from simulators.scenarios import Patient

    def protocol_for(scenario_name: str, i: int) -> str:
        # A multiparameter monitor (ECG + NIBP + SpO2) where the scenario needs ECG or NIBP
        # (the first stable bed a Philips IntelliVue, the others GE S/5); a capnograph
        # (GE S/5's CO2) for the apnea bed; oximeters for the rest.
        known = set(DEVICE_CODECS) & set(drivers.PROTOCOLS)
        if scenario_name == "stable" and i == 0 and "intellivue" in known:
            return "intellivue"
        if scenario_name in ("hr_rise", "hypertension", "stable", "disconnect", "apnea") \
                and "ge_s5" in known:
            return "ge_s5"
        oximeters = [p for p in ("masimo", "nonin", "nellcor") if p in known]
        return oximeters[i % len(oximeters)]

    plan = []
    for i in range(beds):
        name = DEMO_SCENARIOS[i % len(DEMO_SCENARIOS)]
        patient = Patient(hr=62 + (i * 7) % 24, spo2=97 + i % 3, sys=112 + (i * 5) % 28,
                          dia=70 + (i * 3) % 14, seed=i + 1)
        protocol = protocol_for(name, i)
        # Nonin in data format #2 sends its pleth waveform (75 Hz), so the tile has a strip.
        options: dict[str, object] = {"data_format": 2} if protocol == "nonin" else {}
        plan.append(SimulatedDevice(f"bed-{i + 1}", protocol, name, patient,
                                    options).to_dict())
    return plan


def cmd_demo(args: argparse.Namespace) -> int:
    """``spu-monitor demo``."""
    if not 1 <= args.beds <= 64:
        raise ConfigError("--beds must be between 1 and 64")
    settings = _settings(args)
    plan = demo_plan(args.beds)
    # uvicorn handles SIGTERM while it serves, then raises it again: with this handler that
    # ends the process through the clean-up below (the simulators stopped, the ports'
    # folder removed) instead of killing it there.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="spu-demo-") as tmp:
        ports = Path(tmp)
        unit = UnitConfig(name="SPU demo", beds=[
            BedConfig(id=d["name"], label=f"Bed {i + 1}", devices=[
                DeviceConfig(id=f"{d['name']}-{d['protocol']}", protocol=d["protocol"],
                             port=str(ports / d["name"]))])
            for i, d in enumerate(plan)
        ])
        # Its own session: a Ctrl-C in the terminal stops the server first (devices are
        # not "lost" on the way out); the server then stops the simulators.
        fleet = subprocess.Popen(
            [sys.executable, "-m", "simulators.fleet", str(ports), json.dumps(plan)],
            env={**os.environ, "PYTHONPATH": _pythonpath()}, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not all(
                    (ports / d["name"]).exists() for d in plan):
                if fleet.poll() is not None:
                    raise MonitorError("the simulators exited at start-up")
                time.sleep(0.05)
            for i, d in enumerate(plan):
                print(f"  Bed {i + 1}: {d['protocol']:<8} {d['scenario']}", flush=True)

            async def admit_demo_patients(service: Any) -> None:
                await seed_demo(service, plan)

            return _serve(settings, unit, args.log_level, admit_demo_patients)
        finally:
            fleet.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                fleet.wait(5)


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


DEMO_USER = "demo"


async def seed_demo(service: Any, plan: list[dict[str, Any]]) -> None:
    """Register a made-up patient for every demo bed, admit them to the next day of their
    course, take the simulated patient's resting values as baseline and start the infusion,
    so alarms against baseline show at once.

    The last bed stays before its infusion, collecting its baseline, to show that phase.
    Open sessions left by an earlier demo on the same database are closed first; a demo
    patient whose course is done starts a new one.
    """
    from monitor.records import courses

    for i, d in enumerate(plan):
        bed = d["name"]
        if bed in service.admissions:
            await service.discharge(bed, DEMO_USER)
        patient = await _demo_patient(service, i)
        course = await courses.active(service.store, patient.id)
        if course is not None and len(course.days_done) >= course.plan.planned_sessions:
            await courses.close(service.store, course.id, "completed", DEMO_USER, time.time())
        await service.admit_patient(bed, DEMO_USER, patient.id)
        if i == len(plan) - 1 and len(plan) > 1:
            continue
        p = d["patient"]
        await service.rebaseline(bed, DEMO_USER, "demo: resting values of the simulated patient",
                                 hr=p["hr"], sys=p["sys"], dia=p["dia"])
        await service.start_infusion(bed, DEMO_USER)


async def _demo_patient(service: Any, i: int) -> Any:
    from monitor.records import patients

    identifier = f"DEMO-{i + 1:03d}"
    found = await patients.by_identifier(service.store, identifier)
    if found is not None:
        return found
    return await patients.create(service.store, {
        "identifier": identifier, "family_name": f"Demo patient {i + 1}",
        "birth_date": f"{1960 + (i * 7) % 40}-0{1 + i % 9}-1{i % 9}", "sex": "FM"[i % 5 == 4],
        "weight_kg": 60.0 + (i * 3) % 30, "height_cm": 160.0 + (i * 2) % 25,
        "asa_class": 1 + i % 2,
        "diagnosis": "CRPS", "crps_type": "I" if i % 3 else "II",
        "affected_limb": ("left_arm", "right_leg", "right_arm", "left_leg")[i % 4],
    }, DEMO_USER, time.time(), source="demo")


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root


def cmd_record(args: argparse.Namespace) -> int:
    """``spu-monitor record``."""
    from simulators.recording import run_record

    return run_record(args)


def cmd_replay(args: argparse.Namespace) -> int:
    """``spu-monitor replay``."""
    from monitor.alarms import replay

    return replay.run(args)


def cmd_users(args: argparse.Namespace) -> int:
    """``spu-monitor users``."""
    from monitor.cli import users as users_cli

    return users_cli.run(args)


def cmd_records(args: argparse.Namespace) -> int:
    """``spu-monitor records``."""
    from monitor.cli import records as records_cli

    return records_cli.run_records(args)


def cmd_report(args: argparse.Namespace) -> int:
    """``spu-monitor report``."""
    from monitor.cli import records as records_cli

    return records_cli.run_report(args)


def cmd_audit(args: argparse.Namespace) -> int:
    """``spu-monitor audit``."""
    from monitor.cli import audit as audit_cli

    return audit_cli.run(args)


def cmd_bench(args: argparse.Namespace) -> int:
    """``spu-monitor bench``."""
    from monitor.cli import bench as bench_cli

    return bench_cli.run(args)


QUIET_LOGGERS = ("alembic", "aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg",
                 "httpx")
"""Kept at WARNING whatever ``--log-level`` says: migrations announce every plugin at INFO
(noise), the database drivers log each statement with its parameters at DEBUG
(patients' names and identifiers, password hashes, token digests), and httpx each request
(with its URL) at INFO."""


def configure_logging(level: str) -> None:
    """The command's logging: ``level`` for the project and uvicorn, never below WARNING
    for :data:`QUIET_LOGGERS`."""
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


COMMANDS = {"serve": cmd_serve, "simulate": cmd_simulate, "demo": cmd_demo,
            "audit": cmd_audit, "bench": cmd_bench,
            "records": cmd_records, "report": cmd_report,
            "users": cmd_users, "replay": cmd_replay, "record": cmd_record}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``spu-monitor``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "log_level", "info"))
    try:
        return COMMANDS[args.command](args)
    except (MonitorError, ValueError) as exc:
        print(f"spu-monitor {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
