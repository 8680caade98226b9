"""``spu-monitor bench`` in its short mode, as CI runs it: the figures are printed (the
capacity targets are measured on a quiet machine and recorded in docs/performance.md, not
asserted here); the command must run the whole path and report every figure."""

from __future__ import annotations

import json
import subprocess
import sys

KEYS = {"beds", "seconds", "server_cpu_cores", "simulator_cpu_cores", "rss_mb",
        "samples_per_s", "dropped", "alarm_latency_ms", "disclosure_bytes_per_bed_hour",
        "alarm_window_ms", "trend_load_ms", "decoders"}


def test_bench_short_mode_reports_every_figure() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "bench", "--beds", "2", "--probes", "1",
         "--seconds", "12", "--warmup", "4", "--decoder-seconds", "10", "--json"],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    # The figures go to the real terminal, past pytest's capture: CI's log shows them.
    sys.__stdout__.write(f"\nspu-monitor bench (short mode): {json.dumps(figures)}\n")
    assert KEYS <= set(figures)
    assert figures["beds"] == 2
    assert {"ECG", "PLETH"} <= set(figures["samples_per_s"]), "waveforms reached the client"
    assert figures["alarm_latency_ms"]["n"] >= 1, "a probe's desaturation alarm arrived"
    assert figures["trend_load_ms"]["n"] == 10 and figures["alarm_window_ms"]["n"] == 20
    assert figures["disclosure_bytes_per_bed_hour"] > 0, "waveforms were stored"
    assert {"ge_s5", "masimo", "intellivue"} <= set(figures["decoders"])
    for name, d in figures["decoders"].items():
        assert d["bytes_per_s"] > 0 and d["line_rate_bytes_per_s"] > 0, name
