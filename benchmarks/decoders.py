"""Decoder throughput per protocol and variant, as multiples of the line rate (target 1000x).

Prints figures; asserts nothing. Run: ``.venv/bin/python benchmarks/decoders.py``
(``--seconds`` of device time per stream, ``--repeat`` runs, ``--scenario``,
``--protocol`` to measure one). See :mod:`simulators.throughput` for the method.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import drivers  # noqa: E402
from simulators.throughput import TARGET, Throughput, measure, measure_all  # noqa: E402


def row(t: Throughput) -> str:
    """One line of the table."""
    mark = "" if t.ratio >= TARGET else "  below target"
    return (f"{t.name:<18} {t.line_rate:>7.0f} {t.stream_rate:>7.0f} {t.bytes:>9d} "
            f"{t.chunks:>7d} {t.rate / 1e3:>10.0f} {t.ratio:>8.0f}x{mark}")


def main(argv: list[str] | None = None) -> int:
    """Measure and print; exit status 0 (figures, not a test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="device seconds per stream (default 300)")
    parser.add_argument("--repeat", type=int, default=5, help="runs, best counts (default 5)")
    parser.add_argument("--scenario", default="stable", help="simulated patient (default stable)")
    parser.add_argument("--protocol", default=None, help="only this protocol")
    args = parser.parse_args(argv)
    if args.protocol:
        variants = drivers.codec_class(args.protocol).conformance.variants
        results = [measure(args.protocol, v, scenario=args.scenario, seconds=args.seconds,
                           repeat=args.repeat) for v in variants]
    else:
        results = measure_all(scenario=args.scenario, seconds=args.seconds,
                              repeat=args.repeat)
    print(f"{'protocol':<18} {'line':>7} {'stream':>7} {'bytes':>9} {'reads':>7} "
          f"{'kB/s CPU':>10} {'x line':>9}")
    print(f"{'':<18} {'B/s':>7} {'B/s':>7}")
    for t in results:
        print(row(t))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
