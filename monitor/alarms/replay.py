"""Replay a recording through the alarm engine in virtual time and print its alarm events.

``spu-monitor replay RECORDING`` (until the CLI wires it: ``python -m monitor.alarms.replay``)
prints one JSON object per line per alarm event::

    {"t": 75.0, "rule": "SPO2_LOW", "priority": "medium", "event": "onset", "value": 91.0}

Only ``onset``, ``escalation`` and ``end`` events are printed. ``t`` is seconds from the
recording's start (the CSV's ``time_s`` axis, or sample index / frequency for WFDB).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import pathlib
import statistics
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.alarms.baseline import Baseline, manual_bp_baseline, manual_hr_baseline
from monitor.alarms.engine import (
    BedState,
    RuleSet,
    evaluate,
    next_deadline,
    start_infusion,
    start_monitoring,
    tick,
)
from monitor.domain.errors import RuleError
from monitor.domain.models import AlarmEvent, Flag, Observation

METRICS = ("HR", "PR", "SPO2", "NIBP_SYS", "NIBP_DIA", "NIBP_MEAN", "ETCO2", "FICO2", "AWRR",
           "RR")
"""Metrics a replay CSV may hold."""

PRINTED_EVENTS = ("onset", "escalation", "end")
"""The event kinds replay prints."""

DEVICES = {"HR": "ecg", "PR": "oximeter", "SPO2": "oximeter",
           "NIBP_SYS": "nibp", "NIBP_DIA": "nibp", "NIBP_MEAN": "nibp",
           "ETCO2": "capnograph", "FICO2": "capnograph", "AWRR": "capnograph", "RR": "ecg"}
"""Virtual device per metric (DEVICE_LOST is per device)."""

WFDB_SIGNALS = {"HR": "HR", "PULSE": "PR", "SpO2": "SPO2", "NBPSys": "NIBP_SYS",
                "NBPDias": "NIBP_DIA", "NBPMean": "NIBP_MEAN"}
"""WFDB numerics signal name -> metric."""

BASELINE_LEAD = 300.0
"""Without an infusion start, the infusion is taken to start this long after the first sample."""

USER = "replay"
"""The user recorded for the replay's own actions (infusion start)."""

_HEADER = ["time_s", "metric", "value"]
_CONTINUOUS = ("HR", "PR", "SPO2", "ETCO2", "AWRR")


class RecordingError(ValueError):
    """The recording cannot be read (bad header, unknown metric, bad value...)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of a recording."""

    time: float
    metric: str
    value: float | None
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording as the engine sees it.

    Attributes:
        samples: in time order.
        infusion_start: seconds, from an ``INFUSION_START`` row, or ``None``.
        source: file name, for messages.
    """

    samples: tuple[Sample, ...]
    infusion_start: float | None = None
    source: str = ""

    def period(self) -> float | None:
        """The median interval between samples of one continuous metric, or ``None``."""
        gaps: list[float] = []
        for metric in _CONTINUOUS:
            times = [s.time for s in self.samples if s.metric == metric]
            gaps.extend(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
        return statistics.median(gaps) if gaps else None


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RecordingError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordingError(f"{where}: {what} {text!r} is not a finite number")
    return value


def read_csv(path: pathlib.Path) -> Recording:
    """Read a ``time_s,metric,value[,flags]`` CSV.

    ``INFUSION_START`` (empty value) marks the infusion start. An empty value is the
    device's invalid marker. ``flags`` holds :class:`~monitor.domain.models.Flag` values separated
    by ``;`` or spaces. Blank lines and lines starting with ``#`` are skipped. Rows need not
be in time order (they are sorted, stably).

    Raises:
        RecordingError: naming the file and line.
    """
    samples: list[Sample] = []
    infusion: float | None = None
    known_flags = {f.value for f in Flag}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header: list[str] | None = None
        for row in rows:
            where = f"{path.name} line {rows.line_num}"
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if header is None:
                if cells not in (_HEADER, [*_HEADER, "flags"]):
                    raise RecordingError(
                        f"{where}: expected the header 'time_s,metric,value' "
                        f"(optionally ',flags'), got {','.join(row)!r}")
                header = cells
                continue
            if len(cells) != len(header):
                raise RecordingError(
                    f"{where}: expected {len(header)} fields, got {len(cells)}")
            time = _number(cells[0], "time", where)
            metric = cells[1]
            if metric == "INFUSION_START":
                if cells[2]:
                    raise RecordingError(f"{where}: INFUSION_START takes an empty value")
                if infusion is not None:
                    raise RecordingError(f"{where}: a second INFUSION_START")
                infusion = time
                continue
            if metric not in METRICS:
                raise RecordingError(
                    f"{where}: unknown metric {metric!r} (known: {', '.join(METRICS)}, "
                    "INFUSION_START)")
            value = _number(cells[2], "value", where) if cells[2] else None
            flags: frozenset[str] = frozenset()
            if len(cells) > 3 and cells[3]:
                flags = frozenset(cells[3].replace(";", " ").split())
                unknown = sorted(flags - known_flags)
                if unknown:
                    raise RecordingError(f"{where}: unknown flag(s) {', '.join(unknown)}")
            samples.append(Sample(time, metric, value, flags))
    if header is None:
        raise RecordingError(f"{path.name} line 1: empty file, expected the header "
                             "'time_s,metric,value'")
    samples.sort(key=lambda s: s.time)  # stable: rows at one time keep their file order
    return Recording(tuple(samples), infusion, path.name)


def read_wfdb(record: str) -> Recording:
    """Read a WFDB numerics record (path with or without ``.hea``/``.dat``).

    Signals HR, PULSE, SpO2, NBPSys, NBPDias, NBPMean are used. NaN means no sample. A 0
    means "no value": for HR, PULSE and SpO2 it becomes the invalid marker (an artifact,
    which stops the previous value holding); for NIBP it means no reading.

    Raises:
        RecordingError: the record cannot be read or holds none of those signals.
    """
    with warnings.catch_warnings():
        # wfdb's import trips pandas deprecation warnings (CI runs with them as errors)
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb  # imported here: only replay of WFDB records needs it

    path = record
    for ext in (".hea", ".dat"):
        if path.endswith(ext):
            path = path[: -len(ext)]
    try:
        rec = wfdb.rdrecord(path)
    except Exception as exc:  # wfdb raises many kinds (OSError, ValueError...)
        raise RecordingError(f"{record}: cannot read WFDB record: {exc}") from exc
    columns = {name: i for i, name in enumerate(rec.sig_name or []) if name in WFDB_SIGNALS}
    if not columns or rec.p_signal is None:
        raise RecordingError(
            f"{record}: none of the signals {', '.join(WFDB_SIGNALS)} in the record")
    fs = float(rec.fs)
    samples: list[Sample] = []
    for i, row in enumerate(rec.p_signal):
        t = i / fs
        for name, col in columns.items():
            metric = WFDB_SIGNALS[name]
            raw = float(row[col])
            if math.isnan(raw):
                continue
            if raw == 0:
                if metric.startswith("NIBP"):
                    continue
                samples.append(Sample(t, metric, None))
            else:
                samples.append(Sample(t, metric, raw))
    return Recording(tuple(samples), None, pathlib.Path(path).name)


def load(recording: str) -> Recording:
    """Read a CSV (``*.csv``) or a WFDB record (anything else)."""
    path = pathlib.Path(recording)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise RecordingError(f"{recording}: no such file")
        return read_csv(path)
    return read_wfdb(recording)


def sparse_overrides(period: float | None) -> dict[str, Any]:
    """Site overrides that let a value hold until the next sample of sparse data.

    For data coarser than 1 Hz, ``hold_max``, ``artifact_gap`` and the DEVICE_LOST no-data
    delay become 1.5 x the sampling period (at least their defaults), so a once-a-minute
    value holds until the next minute's sample and a silent minute is not "device lost".
    """
    if period is None or period <= 1.5:
        return {}
    hold = max(10.0, 1.5 * period)
    return {"data": {"hold_max": hold, "artifact_gap": hold},
            "rules": {"DEVICE_LOST": {"delay": min(hold, 600.0)}}}


def replay(
    recording: Recording,
    rules: RuleSet,
    *,
    bed_id: str = "replay",
    infusion_start: float | None = None,
    hr_baseline: Baseline | None = None,
    bp_baseline: Baseline | None = None,
    no_infusion: bool = False,
) -> Iterator[AlarmEvent]:
    """Run the engine over ``recording`` as fast as possible; yield every event.

    Monitoring starts at the first sample. The infusion starts at ``infusion_start``, else
    the recording's INFUSION_START, else :data:`BASELINE_LEAD` s after the first sample
    (unless ``no_infusion``); baselines come from the data before it unless given. Between
    samples, :func:`~monitor.alarms.engine.tick` is called at each
    :func:`~monitor.alarms.engine.next_deadline`, so delays and escalations fire at their exact
    virtual time while sparse data costs nothing in between. Replay ends at the last sample.
    """
    samples = recording.samples
    if not samples:
        return
    first = samples[0].time
    start_at: float | None = None
    if not no_infusion:
        start_at = infusion_start if infusion_start is not None else recording.infusion_start
        if start_at is None:
            start_at = first + BASELINE_LEAD
    state = BedState.new(bed_id)
    state, events = start_monitoring(rules, state, first, USER)
    yield from events
    for sample in samples:
        if start_at is not None and start_at <= sample.time:
            state, events = _ticks_until(rules, state, start_at)
            yield from events
            state, events = start_infusion(rules, state, start_at, USER,
                                           hr_baseline=hr_baseline, bp_baseline=bp_baseline)
            yield from events
            start_at = None
        state, events = _ticks_until(rules, state, sample.time)
        yield from events
        obs = Observation.of(sample.metric, sample.value, sample.time,
                             DEVICES[sample.metric], sample.flags)
        state, events = evaluate(rules, state, obs)
        yield from events
    state, events = tick(rules, state, samples[-1].time)
    yield from events


def _ticks_until(
    rules: RuleSet, state: BedState, until: float
) -> tuple[BedState, list[AlarmEvent]]:
    """Tick at every deadline before ``until`` (one at ``until`` comes with the input)."""
    events: list[AlarmEvent] = []
    while (due := next_deadline(rules, state)) is not None and due < until:
        state, new = tick(rules, state, due)
        events.extend(new)
    return state, events


def to_line(event: AlarmEvent) -> dict[str, Any]:
    """The printed form of an event: exactly t, rule, priority, event, value."""
    value = event.value
    return {"t": round(event.time, 3), "rule": event.rule, "priority": event.priority,
            "event": event.event,
            "value": None if value is None or not math.isfinite(value) else round(value, 3)}


_EPILOG = """\
recordings:
  CSV   header time_s,metric,value (optional 4th column flags, e.g. "artifact;motion");
        metrics HR (ECG), PR (oximeter pulse rate), SPO2, NIBP_SYS, NIBP_DIA, NIBP_MEAN,
        and capnography ETCO2, FICO2 (mmHg), AWRR (airway rate), RR (impedance rate,
        not alarmed); an empty value is the device's invalid marker; a row "T,INFUSION_START," marks
        the infusion start. Errors (bad header, unknown metric, non-numeric value) exit 2.
  WFDB  a numerics record path, with or without .hea (HR, PULSE, SpO2, NBPSys, NBPDias,
        NBPMean); 0 means no value, NaN no sample.

behaviour:
  Monitoring starts at the first sample. The infusion (and the baseline freeze) happens at
  INFUSION_START, else --infusion-start, else 300 s after the first sample, so baselines
  come from the first 5 minutes (HR: median, needs 2 min of valid data; BP: needs a
  reading). Missing baselines mean absolute limits only and a NO_BASELINE condition.
  --no-infusion runs absolute limits only. A value holds until the next sample of its
  metric; for data coarser than 1 Hz it holds up to 1.5 x the sampling period (--hold
  overrides), so a once-a-minute low SpO2 sample counts as 60 s of low SpO2.
  Nobody acknowledges in replay: medium alarms escalate after 60 s, high after 30 s, and
  latching alarms (BP_RISE, APNEA) never end. Replay stops at the last sample's time.

output: one JSON object per line per onset / escalation / end event:
  {"t": seconds from the recording start, "rule": ..., "priority": ..., "event": ...,
   "value": ...}
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the replay arguments to ``parser``."""
    parser.description = "Replay a recording through the alarm rules in virtual time."
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("recording", help="CSV file or WFDB record path")
    parser.add_argument("--baseline-hr", type=float, metavar="BPM",
                        help="heart-rate baseline instead of the computed one")
    parser.add_argument("--baseline-sys", type=float, metavar="MMHG",
                        help="systolic baseline instead of the computed one")
    parser.add_argument("--baseline-dia", type=float, metavar="MMHG",
                        help="diastolic baseline (with --baseline-sys)")
    parser.add_argument("--infusion-start", type=float, metavar="SECONDS",
                        help="infusion start, seconds from the recording start")
    parser.add_argument("--no-infusion", action="store_true",
                        help="never start the infusion: absolute limits only")
    parser.add_argument("--hold", type=float, metavar="SECONDS",
                        help="how long a sample's value holds (default: 10 s, or 1.5 x "
                             "the sampling period for sparse data)")
    parser.add_argument("--rules", metavar="JSON",
                        help="site rule configuration: a JSON mapping, inline or a file "
                             "(see docs/alarms.md)")


def coverage_overrides(recording: Recording) -> dict[str, Any]:
    """Switch off watchdogs for parameters the recording never carries.

    A recording without any NIBP is a recording of other signals, not a bed whose cuff
    stopped: NIBP_OVERDUE would only add false alarms to the output.
    """
    metrics = {s.metric for s in recording.samples}
    if metrics.isdisjoint(("NIBP_SYS", "NIBP_DIA", "NIBP_MEAN")):
        return {"rules": {"NIBP_OVERDUE": {"enabled": False}}}
    return {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Run a replay as configured by :func:`configure_parser`; 0, or 2 on bad input."""
    prog = "spu-monitor replay"
    try:
        recording = load(args.recording)
        config: dict[str, Any] = {}
        if args.rules:
            text = args.rules
            if not text.lstrip().startswith("{"):
                text = pathlib.Path(args.rules).read_text(encoding="utf-8")
            config = json.loads(text)
        rules = RuleSet.from_mapping(config)
        overrides = sparse_overrides(recording.period())
        if args.hold is not None:
            overrides = {"data": {"hold_max": args.hold, "artifact_gap": args.hold}}
        overrides = _merge(overrides, coverage_overrides(recording))
        if overrides:
            rules = rules.with_overrides(overrides, patient=False)
        hr_b = bp_b = None
        if args.baseline_hr is not None:
            hr_b = manual_hr_baseline(args.baseline_hr, 0.0, reason="--baseline-hr")
        if args.baseline_dia is not None and args.baseline_sys is None:
            raise ValueError("--baseline-dia needs --baseline-sys")
        if args.baseline_sys is not None:
            bp_b = manual_bp_baseline(args.baseline_sys, args.baseline_dia, 0.0,
                                      reason="--baseline-sys/--baseline-dia")
    except (RecordingError, RuleError, ValueError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    out = sys.stdout
    try:
        for event in replay(recording, rules, infusion_start=args.infusion_start,
                            hr_baseline=hr_b, bp_baseline=bp_b, no_infusion=args.no_infusion):
            if event.event in PRINTED_EVENTS:
                out.write(json.dumps(to_line(event)) + "\n")
        out.flush()
    except BrokenPipeError:  # the consumer stopped reading (| head): not an error
        return 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monitor.alarms.replay`` entry point."""
    parser = argparse.ArgumentParser(prog="spu-monitor replay")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
